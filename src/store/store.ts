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
 *
 * `open()` takes the data folder's lock (lock.ts) and recovers; `close()`
 * makes the journal's records durable in the package files and lets go.
 */
import type { Logger } from '../util/logger.js';
import { Mutex } from '../util/mutex.js';
import type { IncomingPart, OutgoingPackage, TransportCursor } from '../transports/transport.js';
import { removeArchivedBefore } from './archive.js';
import { CommittedState } from './committed-state.js';
import { ensureDir } from './fsutil.js';
import { HistoryWriter, type HistoryEntry } from './history-writer.js';
import { Inbox } from './inbox.js';
import { dataFolders, dataLayout, type DataLayout } from './layout.js';
import { lockDataDir, type DataDirLock } from './lock.js';
import { Outbox, type AppendPlan } from './outbox.js';
import { Quarantine } from './quarantine.js';
import { recover } from './recovery.js';
import type { ShiftRecord } from '../shifts/record.js';
import type { AgentState, InboxItem, PackageMeta } from './state.js';

export type { HistoryEntry } from './history-writer.js';

export interface StoreOptions {
  retentionDays: number;
  /** Set false for read-only inspection (`status`): no lock, no recovery writes. */
  readOnly?: boolean;
}

const DAY_MS = 86_400_000;

export class Store {
  readonly inboxDir: string;
  readonly outboxDir: string;
  readonly archiveDir: string;
  readonly historyDir: string;
  readonly quarantineDir: string;
  readonly tmpDir: string;
  readonly openPath: string;

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
    this.outboxDir = l.outbox;
    this.archiveDir = l.archive;
    this.historyDir = l.history;
    this.quarantineDir = l.quarantine;
    this.tmpDir = l.tmp;
    this.openPath = l.openPackage;
    this.committed = new CommittedState(dataDir, log);
    this.quarantine = new Quarantine(l.quarantine, log);
    this.history = new HistoryWriter(l.history);
    this.outbox = new Outbox({ layout: l, state: this.committed, quarantine: this.quarantine, history: this.history, log, retentionDays: opts.retentionDays });
    this.inbox = new Inbox(l.inbox, this.committed, this.quarantine, log);
  }

  /** The committed state. Treat as read-only; change it through `commit`. */
  get state(): Readonly<AgentState> {
    return this.committed.current;
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
      if (this.committed.unsaved && this.lock) await this.committed.save(this.committed.draft()).catch(() => undefined);
      await this.lock?.release();
      this.lock = undefined;
    });
  }

  /** Serialises a change of the state: `fn` edits a draft, which is saved before it becomes the state. */
  commit<T>(fn: (draft: AgentState) => T | Promise<T>): Promise<T> {
    return this.mutex.run(async () => {
      const draft = this.committed.draft();
      const result = await fn(draft);
      await this.committed.save(draft);
      return result;
    });
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
   */
  appendPlanned<T>(plan: AppendPlan<T>): Promise<T | undefined> {
    return this.mutex.run(() => this.outbox.appendPlanned(plan));
  }

  /**
   * Seals the open package: it gets the next number and never changes again.
   * `edit` is committed together with the seal (e.g. source progress).
   * Returns the package's meta, or undefined when the open package is empty.
   */
  seal(edit?: (draft: AgentState) => void): Promise<PackageMeta | undefined> {
    return this.mutex.run(() => this.outbox.seal(edit));
  }

  /** This POS's shifts, oldest first. A stand-in: the shift ledger replaces it. */
  shifts(): readonly ShiftRecord[] {
    return [];
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

  /** Persists transport notes for a package (before a step a crash must not repeat blindly). */
  saveNotes(number: number, notes: Record<string, unknown>): Promise<void> {
    return this.mutex.run(() => this.outbox.saveNotes(number, notes));
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

  /** Moves a bad item into quarantine with a `.why.txt` beside it (the caller counts it in its commit). Returns the quarantined path. */
  quarantineMove(path: string, label: string, reason: string): Promise<string> {
    return this.quarantine.move(path, label, reason);
  }

  /** Deletes archived packages and history days older than the retention period. */
  cleanup(now = Date.now()): Promise<{ packages: number; historyFiles: number }> {
    return this.mutex.run(async () => {
      // A journal record must never bring back an archived package that retention removed.
      await this.outbox.checkpoint();
      const limit = now - this.opts.retentionDays * DAY_MS;
      const packages = await removeArchivedBefore(this.layout, limit);
      const historyFiles = await this.history.removeOlderThan(limit);
      if (packages + historyFiles > 0) this.log.info('store.cleanup', { packages, historyFiles, retentionDays: this.opts.retentionDays });
      return { packages, historyFiles };
    });
  }
}
