/**
 * The durable data folder of one exchange (layout.ts), behind one lock: every
 * change goes through here, one at a time, and is crash-safe (fsutil.ts).
 * The work is done by its rooms:
 *
 *   recovery.ts        start-up recovery, and the rules it follows
 *   committed-state.ts the state as committed (two slots, state-file.ts)
 *   outbox.ts          the open package, sealing, the queue, its journal and checkpoints, resend
 *   archive.ts         delivered packages, kept for resend
 *   inbox.ts           incoming parts staged in order
 *   quarantine.ts      bad input and damaged files, kept for a person
 *   history-writer.ts  the attempt history
 *   state-changes.ts   every change of the state, one function each
 *
 * The state changes only through the named operations below (record a pull,
 * take units of a till file, claim an flr answer, retire delivered parts...),
 * each one durable commit under the lock; readers get a read-only view
 * (`state`).
 * `open()` takes the data folder's lock (lock.ts) and recovers; `close()`
 * makes the journal's records durable in the package files and lets go.
 */
import { rm } from 'node:fs/promises';
import type { Logger } from '../util/logger.js';
import { Mutex } from '../util/mutex.js';
import { planBatch, type BatchPlan } from '../formats/batcher.js';
import type { ReportUnit } from '../formats/report.js';
import type { AheadNotes, IncomingPart, OutgoingPackage, TransportCursor } from '../transports/transport.js';
import { removeArchivedBefore } from './archive.js';
import { CommittedState } from './committed-state.js';
import { ensureDir } from '../util/fsutil.js';
import { HistoryWriter, type HistoryEntry } from './history-writer.js';
import { Inbox } from './inbox.js';
import { dataFolders, dataLayout, type DataLayout } from './layout.js';
import { lockDataDir, type DataDirLock } from './lock.js';
import { Outbox, type AppendPlan } from './outbox.js';
import { Quarantine } from './quarantine.js';
import { recover } from './recovery.js';
import * as change from './state-changes.js';
import type { Delivering, StateView } from './state-changes.js';
import type { AgentState, InboxItem, PackageMeta } from './state.js';
import { closesShift, deliveredPackage, openPackageHoldsClosedShift, shiftRecord, type ShiftEvent } from '../shifts/ledger.js';
import { logShiftEvents } from '../shifts/log-events.js';
import type { ShiftLayout } from '../config/schema.js';
import type { ShiftLedger } from '../shifts/ledger-state.js';
import type { ShiftRecord } from '../shifts/record.js';

export type { HistoryEntry } from './history-writer.js';

/** Count taken units in this POS's shift ledger with this layout; `sealOnShiftClose`: no package goes past a Z report. */
export interface ShiftCounting {
  pos: number;
  layout: ShiftLayout;
  sealOnShiftClose: boolean;
}
export type { Delivering, StateView } from './state-changes.js';

export interface StoreOptions {
  retentionDays: number;
  /** Set false for read-only inspection (`status`): no lock, no recovery writes. */
  readOnly?: boolean;
}

const DAY_MS = 86_400_000;

/**
 * Why a package is sealed: `full` (maxTransactions reached), `encoding` (the
 * next receipt is in another encoding), `flush` (batch.flushMs is over), `now`
 * (run --once / exchange-now sends what is open), `flr-answer` /
 * `before-flr-answer` (an flr answer travels in packages of its own).
 */
export type SealReason = 'full' | 'encoding' | 'flush' | 'now' | 'flr-answer' | 'before-flr-answer' | 'shift-closed';

export class Store {
  readonly inboxDir: string;
  readonly archiveDir: string;
  readonly quarantineDir: string;
  readonly tmpDir: string;

  private readonly layout: DataLayout;
  private readonly committed: CommittedState;
  private readonly mutex = new Mutex();
  private lock?: DataDirLock;
  private readonly quarantine: Quarantine;
  private readonly history: HistoryWriter;
  private readonly outbox: Outbox;
  private readonly inbox: Inbox;

  constructor(
    readonly dataDir: string,
    private readonly opts: StoreOptions,
    private readonly log: Logger,
  ) {
    const l = (this.layout = dataLayout(dataDir));
    this.inboxDir = l.inbox;
    this.archiveDir = l.archive;
    this.quarantineDir = l.quarantine;
    this.tmpDir = l.tmp;
    this.committed = new CommittedState(dataDir, log);
    this.quarantine = new Quarantine(l.quarantine, log);
    this.history = new HistoryWriter(l.history);
    this.outbox = new Outbox({ layout: l, state: this.committed, quarantine: this.quarantine, history: this.history, log, retentionDays: opts.retentionDays });
    this.inbox = new Inbox(l.inbox, this.committed, this.quarantine, log);
  }

  /** The committed state, read-only: it changes only through the operations below. */
  get state(): StateView {
    return this.committed.current;
  }

  /** What is still to go out or in: sealed packages queued, transactions in the open package, parts waiting for the till. */
  backlog(): { queued: number; openTransactions: number; inbox: number } {
    const s = this.committed.current;
    return { queued: this.outbox.queued().length, openTransactions: s.open.pkg.transactions, inbox: s.inbox.length };
  }

  // ---------------------------------------------------------------- lifecycle

  async open(): Promise<void> {
    if (this.opts.readOnly) {
      await this.committed.load(async () => {});
      await this.outbox.inspect();
      return;
    }
    await ensureDir(this.dataDir);
    this.lock = await lockDataDir(this.dataDir, this.log);
    try {
      for (const d of dataFolders(this.layout)) await ensureDir(d);
      await recover({ layout: this.layout, state: this.committed, outbox: this.outbox, quarantine: this.quarantine, log: this.log });
    } catch (e) {
      await this.lock.release();
      this.lock = undefined;
      throw e;
    }
  }

  async close(): Promise<void> {
    await this.mutex.run(async () => {
      if (this.lock) await this.outbox.checkpoint().catch((e) => this.log.warn('store.checkpoint.failed', { error: (e as Error).message, note: 'the journal is replayed at the next start' }));
      await this.outbox.journal.close();
      await this.history.close();
      if (this.committed.unsaved && this.lock) {
        // What is unsaved is the delivery counter and the last push time: the deliveries themselves are in the outbox journal.
        await this.committed.save(this.committed.draft()).catch((e) => this.log.warn('store.state.save-failed', { error: (e as Error).message, note: 'the deliveries are kept by the outbox journal; the delivered counter and last push time may stay behind' }));
      }
      await this.lock?.release();
      this.lock = undefined;
    });
  }

  /** Serialises a change of the state: `fn` edits a draft (with state-changes.ts), which is saved before it becomes the state. */
  private commit<T>(fn: (draft: AgentState) => T | Promise<T>): Promise<T> {
    return this.mutex.run(async () => {
      const draft = this.committed.draft();
      const result = await fn(draft);
      await this.committed.save(draft);
      return result;
    });
  }

  // ------------------------------------------------------- the exchange's log

  /** The outcome of a pull: ok, or the failure's message. */
  recordPull(error?: string): Promise<void> {
    return this.commit((d) => change.pullOutcome(d, new Date().toISOString(), error));
  }

  /**
   * A failed push attempt, for `status` (the package's own failure is `failAttempt`). When package `held.number`
   * was refused for what its shift holds, the problems go into that shift's anomalies (logged once each) in the
   * same state write.
   */
  async recordPushFailure(error: string, held?: { number: number; problems: readonly string[] }): Promise<void> {
    let events: ShiftEvent[] = [];
    await this.commit((d) => {
      change.pushFailed(d, new Date().toISOString(), error);
      if (held) events = change.packageHeld(d, held.number, held.problems);
    });
    logShiftEvents(this.log, events);
  }

  /**
   * This POS's shifts, oldest first (shifts/ledger.ts). Read-only inspection adds the deliveries
   * the outbox journal records and the state file does not have yet (a running agent saves them later).
   */
  shifts(): readonly ShiftRecord[] {
    const ledger = structuredClone(this.state.shiftLedger) as ShiftLedger;
    for (const d of this.outbox.inspectedDeliveries) deliveredPackage(ledger, d.number, d.at);
    return ledger.shifts.map(shiftRecord);
  }

  // ------------------------------------------------------------------ outbox

  /**
   * Appends to the open package the bytes `plan` makes from the committed
   * state, and commits its `edit` with them. The bytes are planned under the
   * store's lock: nothing (a seal by the push flow, in particular) can come
   * between reading the open package's state and appending to it. They are
   * fsynced first; the committed length moves only afterwards, so an
   * interrupted append is cut off at start-up instead of being sent twice.
   * `plan` returns undefined to append nothing.
   *
   * The primitive under `takeUnits`, which is how the agent appends; tests
   * and benchmarks use it directly to lay out an open package byte by byte.
   */
  appendPlanned<T>(plan: AppendPlan<T>): Promise<T | undefined> {
    return this.mutex.run(() => this.outbox.appendPlanned(plan));
  }

  /**
   * Takes units `from`.. of the taken report file `takenName` into the open
   * package, as many as fit (formats/batcher.ts `planBatch`, planned from the
   * committed state under the lock); the file's progress and the counts are
   * committed with the bytes (state-changes.ts `unitsTaken`), and so are the
   * shift ledger's counts when `opts.shifts` is given (`shiftsCounted`; with
   * `sealOnShiftClose` no package is planned past a Z report). Undefined when
   * not even the next unit fits: seal, then take again.
   */
  async takeUnits(
    takenName: string,
    units: readonly ReportUnit[],
    from: number,
    opts: { maxTransactions: number; startedAt: string; uid?: string; shifts?: ShiftCounting },
  ): Promise<BatchPlan | undefined> {
    const shifts = opts.shifts;
    const endsAfter = shifts?.sealOnShiftClose ? (u: ReportUnit) => closesShift(u, shifts.layout) : undefined;
    let events: ShiftEvent[] = [];
    const plan = await this.appendPlanned((state) => {
      const plan = planBatch(state.open.pkg, units, from, opts.maxTransactions, endsAfter);
      if (plan === undefined) return undefined;
      const edit = (d: AgentState) => {
        change.unitsTaken(d, takenName, plan, opts.startedAt, opts.uid);
        if (shifts) events = change.shiftsCounted(d, units.slice(from, plan.upTo), shifts.pos, shifts.layout);
      };
      return { chunk: plan.chunk, edit, result: plan };
    });
    logShiftEvents(this.log, events);
    return plan;
  }

  /** The open package holds a shift whose Z report it has: with `sealOnShiftClose` it is sealed before anything else goes in. */
  openHoldsClosedShift(): boolean {
    return openPackageHoldsClosedShift(this.state.shiftLedger);
  }


  /**
   * Seals the open package: it gets the next number and never changes again.
   * Returns the package's meta, or undefined when the open package is empty.
   * Logs `package.sealed` with `reason` (the one place that does).
   */
  seal(reason: SealReason = 'now'): Promise<PackageMeta | undefined> {
    return this.mutex.run(async () => {
      const meta = await this.outbox.seal();
      if (meta) this.log.info('package.sealed', { package: meta.number, transactions: meta.transactions, bytes: meta.bytes, reason });
      return meta;
    });
  }

  /** Sealed packages waiting for delivery, oldest first. */
  queued(): PackageMeta[] {
    return this.outbox.queued();
  }

  /** Up to `count` queued packages after `number`, in order (the ones a transport may start sending early). */
  queuedAfter(number: number, count: number): PackageMeta[] {
    return this.outbox.queuedAfter(number, count);
  }

  packagePath(number: number): string {
    return this.outbox.packagePath(number);
  }

  /** A queued package as a transport sees it. */
  outgoing(meta: PackageMeta): OutgoingPackage {
    return this.outbox.outgoing(meta);
  }

  /** True when a queued package's bytes match its seal; a damaged one is quarantined (and counted) and false returned (outbox.ts). */
  verifyOrQuarantine(number: number): Promise<boolean> {
    return this.mutex.run(() => this.outbox.verifyOrQuarantine(number));
  }

  /** Persists transport notes for a package (before a step a crash must not repeat blindly), and `ahead` for queued packages that have none yet, in one sync. */
  saveNotes(number: number, notes: Record<string, unknown>, ahead: readonly AheadNotes[] = []): Promise<void> {
    return this.mutex.run(() => this.outbox.saveNotes(number, notes, ahead));
  }

  /** Counts an attempt (kept in memory until the package's next meta write: see outbox.ts). */
  beginAttempt(number: number): Promise<PackageMeta> {
    return this.mutex.run(async () => this.outbox.beginAttempt(number));
  }

  failAttempt(number: number, error: string, entry: Omit<HistoryEntry, 'at' | 'op' | 'package'>): Promise<void> {
    return this.mutex.run(() => this.outbox.failAttempt(number, error, entry));
  }

  /** Records a delivery in the outbox journal (see outbox.ts for when it becomes durable). */
  delivered(number: number, result: { outcome: 'delivered' | 'duplicate'; remoteName: string; serverAnswer?: string }, entry: Omit<HistoryEntry, 'at' | 'op' | 'package' | 'outcome'>): Promise<void> {
    return this.mutex.run(() => this.outbox.delivered(number, result, entry));
  }

  /** `resend`: puts an archived package back in the queue under a new number; the archived copy stays. */
  requeueArchived(number: number): Promise<PackageMeta> {
    return this.mutex.run(() => this.outbox.requeueArchived(number));
  }

  /** Makes the journal's records durable in the package files and empties it; the exchange calls it when a push run ends. */
  checkpoint(): Promise<void> {
    return this.mutex.run(() => this.outbox.checkpoint());
  }

  // ------------------------------------------------------------------- inbox

  /**
   * Stages incoming parts in order and persists the transport cursor with them,
   * atomically: after a crash either both are there or neither. A part in
   * `unreadable` (its local path -> why) is quarantined instead of staged; the
   * rest keeps flowing.
   */
  stage(parts: IncomingPart[], cursor: TransportCursor, unreadable: ReadonlyMap<string, string> = new Map()): Promise<InboxItem[]> {
    return this.mutex.run(() => this.inbox.stage(parts, cursor, unreadable));
  }

  /** Keeps raw bytes of an unreadable incoming item in quarantine and persists the transport cursor past it. */
  quarantineIncoming(raw: Buffer, remoteName: string, reason: string, cursor: TransportCursor): Promise<string> {
    return this.mutex.run(() => this.inbox.quarantineIncoming(raw, remoteName, reason, cursor));
  }

  inboxPath(item: InboxItem): string {
    return this.inbox.path(item);
  }

  // -------------------------------------------------------------- quarantine

  // -------------------------------------------------------------- till files

  /** A taken report file that is not a report: moved into quarantine (a `.why.txt` beside it), its record dropped, counted. */
  async quarantineTaken(path: string, takenName: string, label: string, reason: string): Promise<string> {
    const target = await this.quarantine.move(path, label, reason);
    await this.commit((d) => change.takenQuarantined(d, takenName));
    return target;
  }

  /**
   * Taken report files done with (released, or gone before a crash): their records are dropped.
   * Call only once the files' removal is durable (their folder fsynced). The drop is saved with
   * the next state change (or at close), not on its own: should a power cut lose it, the record
   * names a file that is gone, and the next collect pass drops it again. So releasing a file
   * costs no state write on the way from a receipt to the back office.
   */
  releaseTaken(takenNames: readonly string[]): Promise<void> {
    if (takenNames.length === 0) return Promise.resolve();
    return this.mutex.run(async () => {
      const draft = this.committed.draft();
      change.takenReleased(draft, takenNames);
      this.committed.defer(draft);
    });
  }

  /** The taken report file `takenName` answers flr request `uid` (till/requests.ts). */
  claimAnswer(takenName: string, uid: string): Promise<void> {
    return this.commit((d) => change.answerClaimed(d, takenName, uid));
  }

  /** Kassir has taken the request file. */
  markRequestsTaken(): Promise<void> {
    const at = new Date().toISOString();
    return this.commit((d) => change.requestsTaken(d, at));
  }

  /** Records a file about to be renamed into the till folder (till/deliver.ts), before the rename. */
  startDelivery(delivering: Delivering): Promise<void> {
    return this.commit((d) => change.deliveryStarted(d, delivering));
  }

  /** A delivery interrupted before its rename: forgotten, it is made again from the inbox. */
  undoDelivery(): Promise<void> {
    return this.commit((d) => change.deliveryUndone(d));
  }

  /**
   * Parts whose file is in the till folder (or that were skipped) leave the
   * inbox, in one commit with what their delivery means (state-changes.ts
   * `partsRetired`); then their staged files go.
   */
  async retireParts(ids: readonly number[], kind: 'spr' | 'flr', uid?: string): Promise<void> {
    const retired = this.committed.current.inbox.filter((i) => ids.includes(i.id));
    await this.commit((d) => change.partsRetired(d, ids, kind, new Date().toISOString(), uid));
    for (const item of retired) await rm(this.inbox.path(item), { force: true });
  }

  // -------------------------------------------------------------- quarantine

  /** Deletes archived packages and history days older than the retention period. */
  cleanup(now = Date.now()): Promise<{ packages: number; historyFiles: number }> {
    return this.mutex.run(async () => {
      // A journal record must never bring back an archived package that retention removed.
      await this.outbox.checkpoint();
      const limit = now - this.opts.retentionDays * DAY_MS;
      const packages = await removeArchivedBefore(this.layout, limit);
      const historyFiles = await this.history.removeOlderThan(limit);
      // Shifts are kept as long as the history of their deliveries.
      let shifts = 0;
      if (this.state.shiftLedger.shifts.length > 0) {
        const draft = this.committed.draft();
        shifts = change.shiftsPruned(draft, limit);
        if (shifts > 0) await this.committed.save(draft);
      }
      if (packages + historyFiles + shifts > 0) this.log.info('store.cleanup', { packages, historyFiles, shifts, retentionDays: this.opts.retentionDays });
      return { packages, historyFiles };
    });
  }
}
