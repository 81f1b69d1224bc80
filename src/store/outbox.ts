/**
 * `outbox/`: the open package, sealed packages waiting for delivery, and the
 * journal of their notes and deliveries (outbox-journal.ts).
 *
 * - Append: the bytes are fsynced before the committed length moves, so an
 *   interrupted append is cut off at start-up, never sent twice.
 * - Seal: the meta (size, SHA-256) is durable before the rename that makes the
 *   package immutable; from then on its bytes never change.
 * - Push: notes and deliveries go to the journal (one appended line each); a
 *   checkpoint makes them durable in the package files and archives delivered
 *   packages (archive.ts), then empties the journal.
 * - A damaged package (its bytes no longer match its seal) is quarantined,
 *   never sent as if whole, and never holds up the ones behind it.
 *
 * Every method that changes something runs under the store's lock (store.ts).
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs/promises';
import type { Logger } from '../util/logger.js';
import { failpoint } from '../util/failpoints.js';
import { eachLimited, inSlices } from '../util/each-limited.js';
import { NotFoundError } from '../util/not-found.js';
import type { AheadNotes, OutgoingPackage } from '../transports/transport.js';
import { archivePackageSync } from './archive.js';
import type { CommittedState } from './committed-state.js';
import { FILE_MODE, copyFileAtomic, fsyncDir, fsyncFile, syncHandle, writeJsonAtomic } from '../util/fsutil.js';
import type { HistoryEntry, HistoryWriter } from './history-writer.js';
import { metaFile, packageFile, type DataLayout } from './layout.js';
import { OutboxJournal, readJournal, type JournalRecord } from './outbox-journal.js';
import { readMetas } from './packages.js';
import type { Quarantine } from './quarantine.js';
import * as change from './state-changes.js';
import { packageMetaSchema, type AgentState, type PackageMeta } from './state.js';
import { logShiftEvents } from '../shifts/log-events.js';

/** The outbox journal is checkpointed (its records made durable in the package files, then emptied) past this size: about 2,000 deliveries. */
const JOURNAL_CHECKPOINT_BYTES = 1 << 20;
/** File operations a checkpoint keeps in flight. */
const CHECKPOINT_PARALLEL = 8;

export type AppendPlan<T> = (state: Readonly<AgentState>) => { chunk: Buffer; edit: (draft: AgentState) => void; result: T } | undefined;

export interface OutboxDeps {
  layout: DataLayout;
  state: CommittedState;
  quarantine: Quarantine;
  history: HistoryWriter;
  log: Logger;
  retentionDays: number;
}

export class Outbox {
  readonly journal: OutboxJournal;
  private sealed = new Map<number, PackageMeta>();
  /** Delivered packages recorded in the journal whose files are still in the outbox: the next checkpoint archives them. */
  private readonly unarchived = new Map<number, PackageMeta>();
  /** Queued packages whose notes are in the journal only: the next checkpoint writes them into their metas. */
  private readonly notesJournaled = new Set<number>();
  private readonly l: DataLayout;

  constructor(private readonly d: OutboxDeps) {
    this.l = d.layout;
    this.journal = new OutboxJournal(d.layout.journal);
  }

  /** Takes the queue as start-up recovery left it (the journal emptied, its records applied). */
  restore(sealed: Map<number, PackageMeta>): void {
    this.sealed = sealed;
    this.unarchived.clear();
    this.notesJournaled.clear();
  }

  /** Deliveries the journal records, as read by `inspect` (the state file may not have them yet). */
  inspectedDeliveries: { number: number; at: string }[] = [];

  /** Read-only inspection (`status`): the queue as the files and the journal say, without writing. */
  async inspect(): Promise<void> {
    this.sealed = await readMetas(this.l.outbox);
    this.inspectedDeliveries = [];
    for (const r of (await readJournal(this.journal.path)).records) {
      if (r.op === 'delivered') this.inspectedDeliveries.push({ number: r.meta.number, at: r.meta.deliveredAt! });
      if (r.op === 'delivered') this.sealed.delete(r.meta.number);
      else if (this.sealed.has(r.n)) this.sealed.set(r.n, { ...this.sealed.get(r.n)!, notes: r.notes });
    }
  }

  // ------------------------------------------------------------ open package

  /**
   * Appends the bytes `plan` makes from the committed state and commits its
   * `edit` with them; nothing (a seal by the push flow, in particular) comes
   * between reading the state and appending. `plan` returns undefined to append
   * nothing.
   */
  async appendPlanned<T>(plan: AppendPlan<T>): Promise<T | undefined> {
    const planned = plan(this.d.state.current);
    if (!planned) return undefined;
    const { chunk, edit, result } = planned;
    const before = this.d.state.current.open.length;
    const fh = await fs.open(this.l.openPackage, 'a', FILE_MODE);
    try {
      await fh.write(chunk);
      await syncHandle(fh);
    } finally {
      await fh.close();
    }
    failpoint('store.append.after-fsync');
    if (before === 0) await fsyncDir(this.l.outbox);
    const draft = this.d.state.draft();
    change.openGrew(draft, before + chunk.length);
    edit(draft);
    try {
      await this.d.state.save(draft);
    } catch (e) {
      // The bytes past the committed length are cut again at the next start (recovery.ts); until then the open package cannot be sealed.
      await fs.truncate(this.l.openPackage, before).catch((cut) => this.d.log.error('store.append.cut-failed', { error: (cut as Error).message, committedBytes: before, note: 'the unsaved append is cut at the next start' }));
      throw e;
    }
    return result;
  }

  /** Seals the open package under the next number. Undefined when the open package is empty. */
  async seal(): Promise<PackageMeta | undefined> {
    const open = this.d.state.current.open;
    if (open.length === 0) return undefined;
    const number = this.d.state.current.nextPackage;
    const bytes = await fs.readFile(this.l.openPackage);
    if (bytes.length !== open.length) throw new Error(`${this.l.openPackage}: ${bytes.length} bytes on disk, ${open.length} committed; not sealed`);
    const meta = packageMetaSchema.parse({
      number,
      transactions: open.pkg.transactions,
      bytes: open.length,
      sha256: createHash('sha256').update(bytes).digest('hex'),
      sealedAt: new Date().toISOString(),
      uid: open.uid,
    });
    await writeJsonAtomic(metaFile(this.l.outbox, number), meta);
    failpoint('store.seal.after-meta');
    await fs.rename(this.l.openPackage, packageFile(this.l.outbox, number));
    await fsyncDir(this.l.outbox);
    failpoint('store.seal.after-rename');
    const draft = this.d.state.draft();
    change.sealed(draft, number);
    await this.d.state.save(draft);
    this.sealed.set(number, meta);
    return meta;
  }

  // ------------------------------------------------------------------- queue

  /** Sealed packages waiting for delivery, oldest first. */
  queued(): PackageMeta[] {
    return [...this.sealed.values()].sort((a, b) => a.number - b.number);
  }

  /** Up to `count` queued packages after `number`, in order (the ones a transport may start sending early). */
  queuedAfter(number: number, count: number): PackageMeta[] {
    // One pass keeping the `count` lowest (a few), not a sort of a queue that may hold thousands.
    const after: PackageMeta[] = [];
    for (const m of this.sealed.values()) {
      if (m.number <= number || (after.length === count && m.number > after[count - 1]!.number)) continue;
      after.push(m);
      after.sort((a, b) => a.number - b.number);
      if (after.length > count) after.pop();
    }
    return after;
  }

  packagePath(number: number): string {
    return packageFile(this.l.outbox, number);
  }

  /** A queued package as a transport sees it. */
  outgoing(meta: PackageMeta): OutgoingPackage {
    return { number: meta.number, path: this.packagePath(meta.number), bytes: meta.bytes, transactions: meta.transactions, ...(meta.uid !== undefined ? { uid: meta.uid } : {}) };
  }

  // -------------------------------------------------------------------- push

  /**
   * Checks a queued package's bytes against the size and SHA-256 taken when it
   * was sealed. A damaged one (a disk or a power cut that lied about fsync) is
   * moved to quarantine with its meta, counted, and logged; true is returned
   * only for an intact package.
   */
  async verifyOrQuarantine(number: number): Promise<boolean> {
    const meta = this.mustGet(number);
    let bytes: Buffer | undefined;
    try {
      bytes = await fs.readFile(this.packagePath(number));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
    const sha = bytes && createHash('sha256').update(bytes).digest('hex');
    const intact = bytes !== undefined && bytes.length === meta.bytes && (meta.sha256 === undefined || sha === meta.sha256);
    if (intact) return true;
    const found = bytes === undefined ? 'the file is missing' : `found ${bytes.length} bytes with SHA-256 ${sha}`;
    const reason = `package ${number} damaged on disk: sealed as ${meta.bytes} bytes with SHA-256 ${meta.sha256 ?? '(not recorded)'}, ${found}; its ${meta.transactions} transactions are not sent`;
    if (bytes !== undefined) await this.d.quarantine.move(this.packagePath(number), `package-${number}.rep`, reason);
    await this.d.quarantine.copy(metaFile(this.l.outbox, number), reason);
    await fs.rm(metaFile(this.l.outbox, number), { force: true });
    this.sealed.delete(number);
    const draft = this.d.state.draft();
    change.quarantined(draft);
    await this.d.state.save(draft);
    this.d.log.error('package.damaged', { package: number, transactions: meta.transactions, reason });
    return false;
  }

  /**
   * Persists transport notes for a package (before a step a crash must not repeat blindly).
   * `ahead`: first-attempt notes of queued packages, kept only for those that have no notes
   * yet (never replacing an attempt's); their records go first, unsynced, and the package's
   * own synced record makes them all durable: one sync for several packages of a drain.
   */
  async saveNotes(number: number, notes: Record<string, unknown>, ahead: readonly AheadNotes[] = []): Promise<void> {
    const records: { op: 'notes'; n: number; notes: Record<string, unknown> }[] = [];
    for (const a of ahead) {
      const m = this.sealed.get(a.number);
      if (m !== undefined && a.number !== number && Object.keys(m.notes).length === 0) records.push({ op: 'notes', n: a.number, notes: a.notes });
    }
    records.push({ op: 'notes', n: number, notes });
    this.mustGet(number);
    for (let i = 0; i < records.length; i++) await this.journal.append(records[i]!, { sync: i === records.length - 1 });
    // Only once all are durable do the metas in memory say so (a push trusts them and saves nothing more).
    for (const r of records) {
      this.sealed.set(r.n, { ...this.mustGet(r.n), notes: r.notes });
      this.notesJournaled.add(r.n);
    }
    if (this.journal.bytes > JOURNAL_CHECKPOINT_BYTES) await this.checkpoint();
  }

  /**
   * Counts an attempt. Kept in memory and written with the package's next meta
   * write (its notes, its failure or its delivery): an attempt count is for
   * people, and an fsync per attempt would halve the speed of a backlog drain.
   */
  beginAttempt(number: number): PackageMeta {
    const meta = this.mustGet(number);
    const at = new Date().toISOString();
    const next = { ...meta, attempts: meta.attempts + 1, lastAttemptAt: at, firstAttemptAt: meta.firstAttemptAt ?? at };
    this.sealed.set(number, next);
    return next;
  }

  async failAttempt(number: number, error: string, entry: Omit<HistoryEntry, 'at' | 'op' | 'package'>): Promise<void> {
    const meta = this.mustGet(number);
    await this.writeMeta({ ...meta, lastError: error });
    await this.d.history.append({ at: new Date().toISOString(), op: 'push', package: number, ...entry });
  }

  /**
   * Records delivery: one journal record, not synced on its own: it becomes
   * durable with the next synced record (the next package's notes) or at the
   * checkpoint that ends the push run, which moves the package to the archive.
   * Until then the package's files stay in the outbox, so should a power cut
   * lose the record, the package is simply queued again and its transport
   * settles it from its durable notes (the temporary file is gone: renamed;
   * KKMTransfer: "already loaded") without a second copy at the back office.
   * Counters and the last push time are committed with the next state change.
   */
  async delivered(number: number, result: { outcome: 'delivered' | 'duplicate'; remoteName: string; serverAnswer?: string }, entry: Omit<HistoryEntry, 'at' | 'op' | 'package' | 'outcome'>): Promise<void> {
    const meta = this.mustGet(number);
    const done: PackageMeta = { ...meta, deliveredAt: new Date().toISOString(), remoteName: result.remoteName, outcome: result.outcome, lastError: undefined };
    await this.journalAppend({ op: 'delivered', meta: done }, { sync: false });
    failpoint('store.delivered.after-journal');
    this.sealed.delete(number);
    await this.d.history.append({ at: done.deliveredAt!, op: 'push', package: number, outcome: result.outcome, remoteName: result.remoteName, serverAnswer: result.serverAnswer, ...entry }, { sync: false });
    const draft = this.d.state.draft();
    // The shifts it completes are delivered with the same record (recovery replays the journal into the ledger).
    const shiftEvents = change.delivered(draft, number, done.deliveredAt!);
    this.d.state.defer(draft);
    logShiftEvents(this.d.log, shiftEvents);
  }

  /**
   * `resend`: puts an archived package back in the queue under a new number,
   * for a back office that lost it. The archived copy stays as it is.
   */
  async requeueArchived(number: number): Promise<PackageMeta> {
    await this.checkpoint();
    let old: PackageMeta;
    try {
      old = packageMetaSchema.parse(JSON.parse(await fs.readFile(metaFile(this.l.archive, number), 'utf8')));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new NotFoundError(`package ${number} is not in the archive (delivered packages are kept ${this.d.retentionDays} days)`);
      throw e;
    }
    const n = this.d.state.current.nextPackage;
    await copyFileAtomic(packageFile(this.l.archive, number), this.packagePath(n));
    const meta = packageMetaSchema.parse({
      number: n,
      transactions: old.transactions,
      bytes: old.bytes,
      sealedAt: new Date().toISOString(),
      ...(old.uid !== undefined ? { uid: old.uid } : {}),
      resendOf: number,
    });
    await writeJsonAtomic(metaFile(this.l.outbox, n), meta);
    const draft = this.d.state.draft();
    change.requeued(draft, n);
    await this.d.state.save(draft);
    this.sealed.set(n, meta);
    await this.d.history.append({ at: meta.sealedAt, op: 'resend', package: n, outcome: 'queued', remoteName: `resend of package ${number}`, transactions: meta.transactions, bytes: meta.bytes });
    this.d.log.warn('package.resend', { package: n, resendOf: number, transactions: meta.transactions, bytes: meta.bytes, note: 'an archived package was put back in the queue by an operator' });
    return meta;
  }

  // -------------------------------------------------------------- checkpoint

  /**
   * Makes durable in the package files what the journal says, then empties it:
   * delivered packages move to the archive (archive.ts archivePackageSync: once
   * the journal's delivery records are durable, each outbox meta becomes its
   * archive meta; the metas are fsynced together, cheaper than one durable
   * write each), queued packages get their journaled notes in their metas. The
   * exchange calls it when a push run ends; it also runs at close, before
   * retention cleanup and resend, and when the journal passes its size limit.
   */
  async checkpoint(): Promise<void> {
    if (this.unarchived.size + this.notesJournaled.size === 0) return;
    const delivered = [...this.unarchived.values()];
    // The last delivery records were appended unsynced: from this sync on, the journal's replay
    // (recovery.ts) finishes any archive move a power cut leaves half done.
    if (delivered.length > 0) await this.journal.sync();
    // The moves are small metadata operations: done synchronously, a few dozen microseconds each, in
    // slices between which other work runs. The fsyncs go several at a time: fsyncs in flight together
    // share one commit of the file system's journal.
    await inSlices(delivered, (meta) => archivePackageSync(this.l, meta));
    await eachLimited(delivered, CHECKPOINT_PARALLEL, (meta) => fsyncFile(metaFile(this.l.archive, meta.number)));
    await fsyncDir(this.l.archive);
    // The renames out of the outbox are durable with the archive's; the journal is emptied only after.
    await fsyncDir(this.l.outbox);
    const notes = [...this.notesJournaled].map((n) => this.sealed.get(n)).filter((m) => m !== undefined);
    await eachLimited(notes, CHECKPOINT_PARALLEL, (meta) => this.writeMeta(meta));
    failpoint('store.checkpoint.before-reset');
    // What the journal's deliveries put in the state (counters, the shift ledger) is saved before the journal goes.
    if (this.d.state.unsaved) await this.d.state.save(this.d.state.draft());
    await this.journal.reset();
    this.unarchived.clear();
    this.notesJournaled.clear();
  }

  /** Appends a journal record (see OutboxJournal.append for `sync`); past the size limit, checkpoints. */
  private async journalAppend(record: JournalRecord, opts: { sync?: boolean } = {}): Promise<void> {
    await this.journal.append(record, opts);
    if (record.op === 'delivered') this.unarchived.set(record.meta.number, record.meta);
    else this.notesJournaled.add(record.n);
    if (this.journal.bytes > JOURNAL_CHECKPOINT_BYTES) await this.checkpoint();
  }

  private async writeMeta(meta: PackageMeta): Promise<void> {
    await writeJsonAtomic(metaFile(this.l.outbox, meta.number), meta);
    this.sealed.set(meta.number, meta);
  }

  private mustGet(number: number): PackageMeta {
    const meta = this.sealed.get(number);
    if (!meta) throw new Error(`package ${number} is not in the outbox`);
    return meta;
  }
}
