/**
 * The durable data folder of one exchange:
 *
 *   state.a.json / state.b.json  counters, open package, inbox index, transport cursor (state-file.ts)
 *   inbox/<id>.<kind>            incoming parts staged in order, until delivered to the till
 *   outbox/open.rep              the open package (append-only; its committed length is in the state)
 *   outbox/<n>.rep + <n>.json    sealed packages, immutable, with their attempt notes
 *   outbox/journal.jsonl         notes and deliveries since the last checkpoint (outbox-journal.ts)
 *   archive/<n>.rep + <n>.json   delivered packages, kept `retentionDays`
 *   history/<YYYY-MM-DD>.jsonl   every attempt, kept `retentionDays`
 *   quarantine/                  bad input and damaged files, each with a .why.txt; never deleted by the agent
 *   tmp/                         downloads and merges in progress (emptied at start-up)
 *
 * Every change is crash-safe (fsutil.ts) and serialised through `commit`.
 * `open()` performs the start-up recovery and logs every repair it makes.
 */
import { createHash } from 'node:crypto';
import { renameSync, rmSync, writeFileSync } from 'node:fs';
import * as fs from 'node:fs/promises';
import { basename, join } from 'node:path';
import type { Logger } from '../util/logger.js';
import { failpoint } from '../util/failpoints.js';
import { eachLimited, inSlices } from '../util/each-limited.js';
import { Mutex } from '../util/mutex.js';
import type { IncomingPart, OutgoingPackage, TransportCursor } from '../transports/transport.js';
import {
  FILE_MODE,
  copyFileAtomic,
  ensureDir,
  fsyncDir,
  fsyncFile,
  isAtomicTemp,
  moveFile,
  statOrUndefined,
  syncHandle,
  tempNameFor,
  writeFileAtomic,
  writeJsonAtomic,
} from './fsutil.js';
import { lockDataDir, type DataDirLock } from './lock.js';
import { OutboxJournal, readJournal, writeAllSync, type JournalRecord } from './outbox-journal.js';
import { StateFile } from './state-file.js';
import { NotFoundError } from '../util/not-found.js';
import {
  agentStateSchema,
  emptyOpenPackage,
  newAgentState,
  packageMetaSchema,
  type AgentState,
  type InboxItem,
  type PackageMeta,
} from './state.js';

export interface HistoryEntry {
  at: string;
  /** `push`, `pull`, `deliver`, `resend`... */
  op: string;
  package?: number;
  attempt?: number;
  outcome: string;
  remoteName?: string;
  serverAnswer?: string;
  error?: string;
  errorKind?: string;
  transactions?: number;
  bytes?: number;
  durationMs?: number;
}

export interface StoreOptions {
  retentionDays: number;
  /** Set false for read-only inspection (`status`): no lock, no recovery writes. */
  readOnly?: boolean;
}

const DAY_MS = 86_400_000;
/** The outbox journal is checkpointed (its records made durable in the package files, then emptied) past this size: about 2,000 deliveries. */
const JOURNAL_CHECKPOINT_BYTES = 1 << 20;
/** File operations a checkpoint keeps in flight. */
const CHECKPOINT_PARALLEL = 8;

export class Store {
  readonly inboxDir: string;
  readonly outboxDir: string;
  readonly archiveDir: string;
  readonly historyDir: string;
  readonly quarantineDir: string;
  readonly tmpDir: string;
  readonly openPath: string;

  private current: AgentState = newAgentState();
  private readonly stateFile: StateFile<AgentState>;
  private readonly mutex = new Mutex();
  private lock?: DataDirLock;
  private sealed = new Map<number, PackageMeta>();
  /** In-memory state newer than the saved one (counters after a delivery); saved with the next commit or at close. */
  private dirty = false;
  private readonly journal: OutboxJournal;
  /** Delivered packages recorded in the journal whose files are still in the outbox: the next checkpoint archives them. */
  private readonly unarchived = new Map<number, PackageMeta>();
  /** Queued packages whose notes are in the journal only: the next checkpoint writes them into their metas. */
  private readonly notesJournaled = new Set<number>();
  /** Today's history file, kept open: one write per entry instead of an open and a close. */
  private history: { day: string; fh: fs.FileHandle } | undefined;

  constructor(
    readonly dataDir: string,
    private readonly opts: StoreOptions,
    private readonly log: Logger,
  ) {
    this.inboxDir = join(dataDir, 'inbox');
    this.outboxDir = join(dataDir, 'outbox');
    this.archiveDir = join(dataDir, 'archive');
    this.historyDir = join(dataDir, 'history');
    this.quarantineDir = join(dataDir, 'quarantine');
    this.tmpDir = join(dataDir, 'tmp');
    this.openPath = join(this.outboxDir, 'open.rep');
    this.journal = new OutboxJournal(join(this.outboxDir, 'journal.jsonl'));
    this.stateFile = new StateFile(dataDir, (raw) => agentStateSchema.parse(raw), log);
  }

  /** The committed state. Treat as read-only; change it through `commit`. */
  get state(): Readonly<AgentState> {
    return this.current;
  }

  // ---------------------------------------------------------------- lifecycle

  async open(): Promise<void> {
    if (this.opts.readOnly) {
      await this.loadReadOnly();
      return;
    }
    await ensureDir(this.dataDir);
    this.lock = await lockDataDir(this.dataDir, this.log);
    this.unarchived.clear();
    this.notesJournaled.clear();
    try {
      for (const d of [this.inboxDir, this.outboxDir, this.archiveDir, this.historyDir, this.quarantineDir, this.tmpDir]) await ensureDir(d);
      await this.recover();
    } catch (e) {
      await this.lock.release();
      this.lock = undefined;
      throw e;
    }
  }

  async close(): Promise<void> {
    await this.mutex.run(async () => {
      if (this.lock) await this.checkpointLocked().catch((e) => this.log.warn('store.checkpoint.failed', { error: (e as Error).message, note: 'the journal is replayed at the next start' }));
      await this.journal.close();
      await this.history?.fh.close().catch(() => undefined);
      this.history = undefined;
      if (this.dirty && this.lock) await this.saveState(structuredClone(this.current)).catch(() => undefined);
      await this.lock?.release();
      this.lock = undefined;
    });
  }

  private async loadReadOnly(): Promise<void> {
    const loaded = await this.stateFile.load(async () => {});
    this.current = loaded.state ?? newAgentState();
    this.sealed = await this.readMetas(this.outboxDir, false);
    for (const r of (await readJournal(this.journal.path)).records) {
      if (r.op === 'delivered') this.sealed.delete(r.meta.number);
      else if (this.sealed.has(r.n)) this.sealed.set(r.n, { ...this.sealed.get(r.n)!, notes: r.notes });
    }
  }

  /** Start-up recovery: every repair is explicit and logged; nothing is dropped silently. */
  private async recover(): Promise<void> {
    const loaded = await this.stateFile.load(async (file, reason) => {
      await this.quarantineCopy(file, `state slot ${basename(file)}: ${reason}`);
    });
    const fresh = loaded.state === undefined;
    this.current = loaded.state ?? newAgentState();
    if (fresh && loaded.damaged.length > 0) {
      this.log.error('store.state.lost', {
        dataDir: this.dataDir,
        note: 'no readable state slot: counters are rebuilt from the outbox and archive; the open package and inbox index start empty (their files are quarantined)',
      });
    }

    // tmp/ holds only work in progress: downloads that were never staged.
    for (const name of await fs.readdir(this.tmpDir)) await fs.rm(join(this.tmpDir, name), { recursive: true, force: true });

    const draft = structuredClone(this.current);
    let changed = false;

    // The outbox journal: deliveries recorded since the last checkpoint are completed first.
    const journal = await this.readJournalForRecovery();
    for (const r of journal) {
      if (r.op !== 'delivered') continue;
      await this.moveToArchive(r.meta);
      this.log.info('store.recover.journal', { package: r.meta.number, note: 'delivery recorded in the journal; archived now, not resent' });
    }

    // Sealed packages and the archive: the counter must never reuse a number.
    const archived = await this.readMetas(this.archiveDir, false);
    for (const name of await fs.readdir(this.outboxDir)) {
      const n = Number(/^(\d+)\.json$/.exec(name)?.[1] ?? NaN);
      if (Number.isNaN(n)) continue;
      if (archived.get(n)?.deliveredAt !== undefined) {
        // Delivered and archived; the outbox meta came back after a power cut (or its removal was cut short).
        await fs.rm(join(this.outboxDir, name), { force: true });
        await fs.rm(this.packagePath(n), { force: true });
        this.log.info('store.recover.archived', { package: n, note: 'already delivered; not resent' });
      } else if ((await statOrUndefined(this.packagePath(n))) === undefined && (await statOrUndefined(join(this.archiveDir, `${n}.rep`))) !== undefined) {
        // The bytes were moved to the archive but the delivery record was not written: back to
        // the queue; the transport's notes (or KKMTransfer's "already processed") settle it without a duplicate.
        await fs.rename(join(this.archiveDir, `${n}.rep`), this.packagePath(n));
        await fsyncDir(this.outboxDir);
        await fsyncDir(this.archiveDir);
        this.log.warn('store.recover.unarchived', { package: n, note: 'delivery was being recorded when the agent stopped; checked again with the back office' });
      }
    }
    this.sealed = await this.readMetas(this.outboxDir, true);
    // Transport notes from the journal (the last one per package wins) go into the package metas.
    const notes = new Map<number, Record<string, unknown>>();
    for (const r of journal) if (r.op === 'notes') notes.set(r.n, r.notes);
    for (const [n, value] of notes) {
      const meta = this.sealed.get(n);
      if (meta) await this.writeMeta({ ...meta, notes: value });
    }
    await this.journal.reset();
    for (const meta of [...this.sealed.values()]) {
      if (meta.deliveredAt !== undefined) {
        // Delivered, but the move to the archive was interrupted.
        await this.moveToArchive(meta);
        this.sealed.delete(meta.number);
        this.log.info('store.recover.archived', { package: meta.number, note: 'delivered before the crash; archived now, not resent' });
      }
    }
    const highest = Math.max(0, ...this.sealed.keys(), ...archived.keys());

    // The open package: cut an interrupted append, or finish an interrupted seal.
    const open = await statOrUndefined(this.openPath);
    if (open === undefined && draft.open.length > 0) {
      if (this.sealed.has(draft.nextPackage)) {
        this.log.info('store.recover.sealed', { package: draft.nextPackage, note: 'seal was interrupted after the rename; completed' });
        draft.nextPackage += 1;
        draft.open = emptyOpenPackage();
        changed = true;
      } else {
        this.log.error('store.recover.open-missing', { expectedBytes: draft.open.length, note: 'the open package file is gone; its transactions cannot be recovered from the store' });
        draft.open = emptyOpenPackage();
        changed = true;
      }
    } else if (open !== undefined && open.size > 0 && fresh && loaded.damaged.length > 0) {
      // No readable state: which part of the open package was committed is unknown, and its
      // sources are gone from the till. Keep it for a person rather than cut it or send it twice.
      const q = await this.quarantineCopy(this.openPath, `open package (${open.size} bytes) found with no readable state: whether its transactions were committed is unknown`);
      this.log.error('store.recover.open-quarantined', { bytes: open.size, quarantined: q, note: 'check it against the back office; it is not sent' });
      await fs.rm(this.openPath, { force: true });
      failpoint('store.recover.after-quarantine');
      draft.open = emptyOpenPackage();
      changed = true;
    } else if (open !== undefined && open.size > draft.open.length) {
      this.log.warn('store.recover.truncate-open', { bytes: open.size - draft.open.length, note: 'an append was interrupted before it was committed; its source is still in the till folder and is taken again' });
      await fs.truncate(this.openPath, draft.open.length);
      await fsyncFile(this.openPath);
    } else if (open !== undefined && open.size < draft.open.length) {
      const q = await this.quarantineCopy(this.openPath, `open package shorter (${open.size} bytes) than committed (${draft.open.length}): damaged by a power cut`);
      this.log.error('store.recover.open-damaged', { quarantined: q });
      await fs.rm(this.openPath, { force: true });
      failpoint('store.recover.after-quarantine');
      draft.open = emptyOpenPackage();
      changed = true;
    }
    // A meta written by an interrupted seal whose rename never happened.
    const strayMeta = join(this.outboxDir, `${draft.nextPackage}.json`);
    if (!this.sealed.has(draft.nextPackage) && (await statOrUndefined(strayMeta)) !== undefined) {
      await fs.rm(strayMeta, { force: true });
      this.log.info('store.recover.unsealed', { package: draft.nextPackage, note: 'seal was interrupted before the rename; the package stays open' });
    }
    if (draft.nextPackage <= highest) {
      this.log.warn('store.recover.counter', { from: draft.nextPackage, to: highest + 1, note: 'package counter behind the outbox/archive; moved forward so no number is reused' });
      draft.nextPackage = highest + 1;
      changed = true;
    }

    // The inbox: files staged but never committed are dropped (the remote still has them and they are fetched again).
    const indexed = new Set(draft.inbox.map((i) => i.file));
    for (const name of await fs.readdir(this.inboxDir)) {
      if (indexed.has(name)) continue;
      if (fresh && loaded.damaged.length > 0) {
        await this.quarantineMove(join(this.inboxDir, name), name, 'staged part found without a readable state; order unknown');
      } else {
        await fs.rm(join(this.inboxDir, name), { force: true });
        this.log.info('store.recover.unstaged', { file: name, note: 'staging was interrupted before it was committed; the part is fetched again' });
      }
    }
    const present = new Set(await fs.readdir(this.inboxDir));
    const missing = draft.inbox.filter((i) => !present.has(i.file));
    if (missing.length > 0) {
      this.log.error('store.recover.inbox-missing', { parts: missing.map((m) => m.remoteName), note: 'indexed parts whose files are gone; skipped' });
      draft.inbox = draft.inbox.filter((i) => present.has(i.file));
      changed = true;
    }

    for (const dir of [this.dataDir, this.outboxDir, this.archiveDir]) {
      for (const name of await fs.readdir(dir)) if (isAtomicTemp(name)) await fs.rm(join(dir, name), { force: true });
    }

    if (changed || fresh) await this.saveState(draft);
    this.log.info('store.opened', {
      dataDir: this.dataDir,
      nextPackage: this.current.nextPackage,
      queued: this.sealed.size,
      openTransactions: this.current.open.pkg.transactions,
      inbox: this.current.inbox.length,
      fresh,
    });
  }

  private async readMetas(dir: string, repair: boolean): Promise<Map<number, PackageMeta>> {
    const out = new Map<number, PackageMeta>();
    let names: string[];
    try {
      names = await fs.readdir(dir);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return out;
      throw e;
    }
    const reps = new Set(names.filter((n) => /^\d+\.rep$/.test(n)));
    for (const name of names) {
      const m = /^(\d+)\.json$/.exec(name);
      if (!m) continue;
      const n = Number(m[1]);
      const file = join(dir, name);
      let meta: PackageMeta;
      try {
        meta = packageMetaSchema.parse(JSON.parse(await fs.readFile(file, 'utf8')));
        if (meta.number !== n) throw new Error(`names package ${meta.number}`);
      } catch (e) {
        if (!repair) continue;
        // The package bytes are what matters; rebuild the meta from them.
        const rep = join(dir, `${n}.rep`);
        await this.quarantineCopy(file, `package ${n} meta unreadable: ${(e as Error).message}`);
        const st = await statOrUndefined(rep);
        if (st === undefined) {
          await fs.rm(file, { force: true });
          continue;
        }
        meta = packageMetaSchema.parse({ number: n, transactions: -1, bytes: st.size, sealedAt: st.mtime.toISOString(), lastError: 'meta rebuilt after damage' });
        await writeJsonAtomic(file, meta);
        this.log.warn('store.recover.meta-rebuilt', { package: n });
      }
      if (!reps.has(`${n}.rep`)) {
        if (repair && meta.deliveredAt === undefined) {
          // Meta without bytes: an interrupted seal (handled by the caller) or a damaged outbox.
          continue;
        }
        if (meta.deliveredAt === undefined) continue;
      }
      reps.delete(`${n}.rep`);
      out.set(n, meta);
    }
    if (repair) {
      for (const rep of reps) {
        // Bytes without meta: the meta write of a seal was lost; rebuild it.
        const n = Number(rep.slice(0, -4));
        const st = await fs.stat(join(dir, rep));
        const meta = packageMetaSchema.parse({ number: n, transactions: -1, bytes: st.size, sealedAt: st.mtime.toISOString() });
        await writeJsonAtomic(join(dir, `${n}.json`), meta);
        out.set(n, meta);
        this.log.warn('store.recover.meta-rebuilt', { package: n, note: 'package without its meta file' });
      }
    }
    return out;
  }

  // ------------------------------------------------------------------ commits

  /** Serialises a change of the state: `fn` edits a draft, which is saved before it becomes the state. */
  commit<T>(fn: (draft: AgentState) => T | Promise<T>): Promise<T> {
    return this.mutex.run(async () => {
      const draft = structuredClone(this.current);
      const result = await fn(draft);
      await this.saveState(draft);
      return result;
    });
  }

  /** Runs `fn` under the store's lock without a state change (e.g. reading files that a commit could move). */
  exclusive<T>(fn: () => Promise<T>): Promise<T> {
    return this.mutex.run(fn);
  }

  private async saveState(draft: AgentState): Promise<void> {
    await this.stateFile.save(draft);
    this.current = draft;
    this.dirty = false;
  }

  // ------------------------------------------------------------ open package

  /**
   * Appends `chunk` to the open package and commits `edit` with it. The bytes
   * are fsynced first; the committed length moves only afterwards, so an
   * interrupted append is cut off at start-up instead of being sent twice.
   */
  appendOpen(chunk: Buffer, edit: (draft: AgentState) => void): Promise<void> {
    return this.appendPlanned(() => ({ chunk, edit, result: undefined })).then(() => undefined);
  }

  /**
   * Like appendOpen, but the bytes are planned from the committed state under
   * the store's lock: nothing (a seal by the push flow, in particular) can come
   * between reading the open package's state and appending to it. `plan`
   * returns undefined to append nothing.
   */
  appendPlanned<T>(plan: (state: Readonly<AgentState>) => { chunk: Buffer; edit: (draft: AgentState) => void; result: T } | undefined): Promise<T | undefined> {
    return this.mutex.run(async () => {
      const planned = plan(this.current);
      if (!planned) return undefined;
      const { chunk, edit, result } = planned;
      const before = this.current.open.length;
      const fh = await fs.open(this.openPath, 'a', FILE_MODE);
      try {
        await fh.write(chunk);
        await syncHandle(fh);
      } finally {
        await fh.close();
      }
      failpoint('store.append.after-fsync');
      if (before === 0) await fsyncDir(this.outboxDir);
      const draft = structuredClone(this.current);
      draft.open.length = before + chunk.length;
      edit(draft);
      try {
        await this.saveState(draft);
      } catch (e) {
        await fs.truncate(this.openPath, before).catch(() => undefined);
        throw e;
      }
      return result;
    });
  }

  /**
   * Seals the open package: it gets the next number and never changes again.
   * `edit` is committed together with the seal (e.g. source progress).
   * Returns the package's meta, or undefined when the open package is empty.
   */
  seal(edit?: (draft: AgentState) => void): Promise<PackageMeta | undefined> {
    return this.mutex.run(async () => {
      const open = this.current.open;
      if (open.length === 0) return undefined;
      const number = this.current.nextPackage;
      const bytes = await fs.readFile(this.openPath);
      if (bytes.length !== open.length) throw new Error(`${this.openPath}: ${bytes.length} bytes on disk, ${open.length} committed; not sealed`);
      const meta = packageMetaSchema.parse({
        number,
        transactions: open.pkg.transactions,
        bytes: open.length,
        sha256: createHash('sha256').update(bytes).digest('hex'),
        sealedAt: new Date().toISOString(),
        uid: open.uid,
      });
      await writeJsonAtomic(join(this.outboxDir, `${number}.json`), meta);
      failpoint('store.seal.after-meta');
      await fs.rename(this.openPath, join(this.outboxDir, `${number}.rep`));
      await fsyncDir(this.outboxDir);
      failpoint('store.seal.after-rename');
      const draft = structuredClone(this.current);
      draft.nextPackage = number + 1;
      draft.open = emptyOpenPackage();
      draft.counters.packagesSealed += 1;
      edit?.(draft);
      await this.saveState(draft);
      this.sealed.set(number, meta);
      return meta;
    });
  }

  // ------------------------------------------------------------------ outbox

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
    return join(this.outboxDir, `${number}.rep`);
  }

  /** A queued package as a transport sees it. */
  outgoing(meta: PackageMeta): OutgoingPackage {
    return { number: meta.number, path: this.packagePath(meta.number), bytes: meta.bytes, transactions: meta.transactions, ...(meta.uid !== undefined ? { uid: meta.uid } : {}) };
  }

  private async writeMeta(meta: PackageMeta): Promise<void> {
    await writeJsonAtomic(join(this.outboxDir, `${meta.number}.json`), meta);
    this.sealed.set(meta.number, meta);
  }

  /** The journal's records at start-up; unreadable lines are kept in quarantine and reported (never silently dropped). */
  private async readJournalForRecovery(): Promise<JournalRecord[]> {
    const { records, bad } = await readJournal(this.journal.path);
    if (bad.length > 0) {
      const q = await this.quarantineCopy(this.journal.path, `outbox journal: unreadable line(s) ${bad.map((b) => `${b.line} (${b.error})`).join(', ')}`);
      this.log.error('store.recover.journal-damaged', { lines: bad.map((b) => b.line), quarantined: q, note: 'the readable records are applied; packages whose record was lost are checked with the back office again' });
    }
    return records;
  }

  /**
   * Makes durable in the package files what the journal says, then empties it:
   * delivered packages move to the archive (bytes, then meta; the metas are
   * written first and fsynced together, cheaper than one durable write each),
   * queued packages get their journaled notes in their metas. The exchange
   * calls it when a push run ends; it also runs at close, before retention
   * cleanup and resend, and when the journal passes its size limit.
   */
  checkpoint(): Promise<void> {
    return this.mutex.run(() => this.checkpointLocked());
  }

  private async checkpointLocked(): Promise<void> {
    if (this.unarchived.size + this.notesJournaled.size === 0) return;
    const delivered = [...this.unarchived.values()];
    // The moves are small metadata operations: done synchronously, a few dozen microseconds each, in
    // slices between which other work runs. The fsyncs go several at a time: fsyncs in flight together
    // share one commit of the file system's journal.
    await inSlices(delivered, (meta) => this.moveToArchiveSync(meta));
    await eachLimited(delivered, CHECKPOINT_PARALLEL, (meta) => fsyncFile(join(this.archiveDir, `${meta.number}.json`)));
    await fsyncDir(this.archiveDir);
    // The archive metas are durable: the outbox metas may go (should a power cut bring one back, recovery drops it).
    await inSlices(delivered, (meta) => rmSync(join(this.outboxDir, `${meta.number}.json`), { force: true }));
    await fsyncDir(this.outboxDir);
    const notes = [...this.notesJournaled].map((n) => this.sealed.get(n)).filter((m) => m !== undefined);
    await eachLimited(notes, CHECKPOINT_PARALLEL, (meta) => this.writeMeta(meta));
    failpoint('store.checkpoint.before-reset');
    await this.journal.reset();
    this.unarchived.clear();
    this.notesJournaled.clear();
  }

  /** Appends a journal record (see OutboxJournal.append for `sync`); past the size limit, checkpoints. Call inside the mutex. */
  private async journalAppend(record: JournalRecord, opts: { sync?: boolean } = {}): Promise<void> {
    await this.journal.append(record, opts);
    if (record.op === 'delivered') this.unarchived.set(record.meta.number, record.meta);
    else this.notesJournaled.add(record.n);
    if (this.journal.bytes > JOURNAL_CHECKPOINT_BYTES) await this.checkpointLocked();
  }

  /**
   * Checks a queued package's bytes against the size and SHA-256 taken when it
   * was sealed. A damaged one (a disk or a power cut that lied about fsync) is
   * moved to quarantine with its meta and an error line, and true is returned
   * only for an intact package: a damaged package is never sent as if whole, and
   * never holds up the ones behind it.
   */
  checkPackage(number: number): Promise<boolean> {
    return this.mutex.run(async () => {
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
      if (bytes !== undefined) await this.quarantineMove(this.packagePath(number), `package-${number}.rep`, reason);
      await this.quarantineCopy(join(this.outboxDir, `${number}.json`), reason);
      await fs.rm(join(this.outboxDir, `${number}.json`), { force: true });
      this.sealed.delete(number);
      const draft = structuredClone(this.current);
      draft.counters.quarantined += 1;
      await this.saveState(draft);
      this.log.error('package.damaged', { package: number, transactions: meta.transactions, reason });
      return false;
    });
  }

  /** Persists transport notes for a package (before a step a crash must not repeat blindly). */
  saveNotes(number: number, notes: Record<string, unknown>): Promise<void> {
    return this.mutex.run(async () => {
      const meta = this.mustGet(number);
      await this.journalAppend({ op: 'notes', n: number, notes });
      this.sealed.set(number, { ...meta, notes });
    });
  }

  /**
   * Counts an attempt. Kept in memory and written with the package's next meta
   * write (its notes, its failure or its delivery): an attempt count is for
   * people, and an fsync per attempt would halve the speed of a backlog drain.
   */
  beginAttempt(number: number): Promise<PackageMeta> {
    return this.mutex.run(async () => {
      const meta = this.mustGet(number);
      const at = new Date().toISOString();
      const next = { ...meta, attempts: meta.attempts + 1, lastAttemptAt: at, firstAttemptAt: meta.firstAttemptAt ?? at };
      this.sealed.set(number, next);
      return next;
    });
  }

  failAttempt(number: number, error: string, entry: Omit<HistoryEntry, 'at' | 'op' | 'package'>): Promise<void> {
    return this.mutex.run(async () => {
      const meta = this.mustGet(number);
      await this.writeMeta({ ...meta, lastError: error });
      await this.appendHistory({ at: new Date().toISOString(), op: 'push', package: number, ...entry });
    });
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
  delivered(number: number, result: { outcome: 'delivered' | 'duplicate'; remoteName: string; serverAnswer?: string }, entry: Omit<HistoryEntry, 'at' | 'op' | 'package' | 'outcome'>): Promise<void> {
    return this.mutex.run(async () => {
      const meta = this.mustGet(number);
      const done: PackageMeta = { ...meta, deliveredAt: new Date().toISOString(), remoteName: result.remoteName, outcome: result.outcome, lastError: undefined };
      await this.journalAppend({ op: 'delivered', meta: done }, { sync: false });
      failpoint('store.delivered.after-journal');
      this.sealed.delete(number);
      await this.appendHistory({ at: done.deliveredAt!, op: 'push', package: number, outcome: result.outcome, remoteName: result.remoteName, serverAnswer: result.serverAnswer, ...entry }, { sync: false });
      this.current = {
        ...this.current,
        counters: { ...this.current.counters, packagesDelivered: this.current.counters.packagesDelivered + 1 },
        lastPushOk: done.deliveredAt,
        lastPush: { at: done.deliveredAt!, ok: true },
      };
      this.dirty = true;
    });
  }

  /**
   * `resend`: puts an archived package back in the queue under a new number,
   * for a back office that lost it. The archived copy stays as it is.
   */
  requeueArchived(number: number): Promise<PackageMeta> {
    return this.mutex.run(async () => {
      await this.checkpointLocked();
      const archivedMeta = join(this.archiveDir, `${number}.json`);
      let old: PackageMeta;
      try {
        old = packageMetaSchema.parse(JSON.parse(await fs.readFile(archivedMeta, 'utf8')));
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new NotFoundError(`package ${number} is not in the archive (delivered packages are kept ${this.opts.retentionDays} days)`);
        throw e;
      }
      const n = this.current.nextPackage;
      await copyFileAtomic(join(this.archiveDir, `${number}.rep`), this.packagePath(n));
      const meta = packageMetaSchema.parse({
        number: n,
        transactions: old.transactions,
        bytes: old.bytes,
        sealedAt: new Date().toISOString(),
        ...(old.uid !== undefined ? { uid: old.uid } : {}),
        resendOf: number,
      });
      await writeJsonAtomic(join(this.outboxDir, `${n}.json`), meta);
      const draft = structuredClone(this.current);
      draft.nextPackage = n + 1;
      await this.saveState(draft);
      this.sealed.set(n, meta);
      await this.appendHistory({ at: meta.sealedAt, op: 'resend', package: n, outcome: 'queued', remoteName: `resend of package ${number}`, transactions: meta.transactions, bytes: meta.bytes });
      this.log.warn('package.resend', { package: n, resendOf: number, transactions: meta.transactions, bytes: meta.bytes, note: 'an archived package was put back in the queue by an operator' });
      return meta;
    });
  }

  /**
   * moveToArchive for a checkpoint's batch: synchronous, without the fsyncs and
   * without removing the outbox meta (checkpointLocked does both for the whole
   * batch).
   */
  private moveToArchiveSync(meta: PackageMeta): void {
    const n = meta.number;
    try {
      renameSync(this.packagePath(n), join(this.archiveDir, `${n}.rep`));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
    const target = join(this.archiveDir, `${n}.json`);
    const tmp = tempNameFor(target);
    writeFileSync(tmp, JSON.stringify(meta, null, 1) + '\n', { mode: FILE_MODE });
    renameSync(tmp, target);
  }

  /**
   * Bytes first, then the archive meta (durable, with its folder, which also
   * makes the move of the bytes durable): from then on the package counts as
   * delivered. The outbox meta left behind is removed without an fsync; should
   * a power cut bring it back, recovery sees the archive meta and drops it.
   * Used by start-up recovery; a running agent archives in checkpoints.
   */
  private async moveToArchive(meta: PackageMeta): Promise<void> {
    const n = meta.number;
    if ((await statOrUndefined(this.packagePath(n))) !== undefined) await fs.rename(this.packagePath(n), join(this.archiveDir, `${n}.rep`));
    await writeJsonAtomic(join(this.archiveDir, `${n}.json`), meta);
    await fs.rm(join(this.outboxDir, `${n}.json`), { force: true });
  }

  private mustGet(number: number): PackageMeta {
    const meta = this.sealed.get(number);
    if (!meta) throw new Error(`package ${number} is not in the outbox`);
    return meta;
  }

  // ------------------------------------------------------------------- inbox

  /**
   * Stages incoming parts in order and persists the transport cursor with them,
   * atomically: after a crash either both are there or neither. A part in
   * `unreadable` (its local path -> why) is quarantined instead of staged; the
   * rest keeps flowing.
   */
  stage(parts: IncomingPart[], cursor: TransportCursor, unreadable: ReadonlyMap<string, string> = new Map()): Promise<InboxItem[]> {
    return this.mutex.run(async () => {
      const draft = structuredClone(this.current);
      const staged: InboxItem[] = [];
      for (const part of parts) {
        await fsyncFile(part.localPath);
        const why = unreadable.get(part.localPath);
        if (why !== undefined) {
          await this.quarantineMove(part.localPath, part.remoteName, why);
          draft.counters.quarantined += 1;
          continue;
        }
        const id = draft.nextInboxId++;
        const file = `${String(id).padStart(8, '0')}.${part.kind}`;
        const st = await fs.stat(part.localPath);
        await fs.rename(part.localPath, join(this.inboxDir, file));
        failpoint('store.stage.after-move');
        const item: InboxItem = { id, file, remoteName: part.remoteName, kind: part.kind, uid: part.uid, bytes: st.size, stagedAt: new Date().toISOString() };
        draft.inbox.push(item);
        staged.push(item);
      }
      if (parts.length > 0) await fsyncDir(this.inboxDir);
      draft.cursor = cursor;
      draft.counters.partsStaged += staged.length;
      await this.saveState(draft);
      return staged;
    });
  }

  /** Keeps raw bytes of an unreadable incoming item in quarantine and persists the transport cursor past it. */
  quarantineIncoming(raw: Buffer, remoteName: string, reason: string, cursor: TransportCursor): Promise<string> {
    return this.mutex.run(async () => {
      const target = await this.quarantineTarget(remoteName);
      await writeFileAtomic(target, raw);
      await this.writeWhy(target, remoteName, reason);
      const draft = structuredClone(this.current);
      draft.cursor = cursor;
      draft.counters.quarantined += 1;
      await this.saveState(draft);
      this.log.error('quarantine.added', { item: remoteName, quarantined: target, reason });
      return target;
    });
  }

  inboxPath(item: InboxItem): string {
    return join(this.inboxDir, item.file);
  }

  // -------------------------------------------------------------- quarantine

  /** Moves a bad item into quarantine with a `.why.txt` beside it (the caller counts it in its commit). Returns the quarantined path. */
  async quarantineMove(path: string, label: string, reason: string): Promise<string> {
    const target = await this.quarantineTarget(label);
    await moveFile(path, target);
    await this.writeWhy(target, label, reason);
    this.log.error('quarantine.added', { item: label, quarantined: target, reason });
    return target;
  }

  /** Copies a damaged file into quarantine (the original is then repaired or replaced by the caller). */
  async quarantineCopy(path: string, reason: string): Promise<string> {
    const target = await this.quarantineTarget(basename(path));
    // The caller removes or rewrites the original next: the copy must be whole on disk first.
    await copyFileAtomic(path, target);
    await this.writeWhy(target, path, reason);
    this.log.error('quarantine.added', { item: path, quarantined: target, reason });
    return target;
  }

  private async quarantineTarget(label: string): Promise<string> {
    await ensureDir(this.quarantineDir);
    const safe = label.replace(/[\\/:*?"<>|]/g, '_');
    const stamp = new Date().toISOString().replace(/[:.]/g, '-');
    let target = join(this.quarantineDir, `${stamp}-${safe}`);
    for (let i = 1; (await statOrUndefined(target)) !== undefined; i++) target = join(this.quarantineDir, `${stamp}-${i}-${safe}`);
    return target;
  }

  private async writeWhy(target: string, item: string, reason: string): Promise<void> {
    await writeFileAtomic(`${target}.why.txt`, `item: ${item}\nat: ${new Date().toISOString()}\nreason: ${reason}\n`);
  }

  // ----------------------------------------------------------------- history

  /**
   * Appends one line to the attempt history (today's file, kept open). `sync:
   * false` for deliveries, whose durable record is the outbox journal: a power
   * cut may then cost the history its last lines, never an earlier one (a torn
   * line is skipped by `history`).
   */
  async appendHistory(entry: HistoryEntry, opts: { sync?: boolean } = {}): Promise<void> {
    const day = entry.at.slice(0, 10);
    if (this.history?.day !== day) {
      await this.history?.fh.close().catch(() => undefined);
      this.history = undefined;
      this.history = { day, fh: await fs.open(join(this.historyDir, `${day}.jsonl`), 'a', FILE_MODE) };
    }
    const { fh } = this.history;
    writeAllSync(fh.fd, Buffer.from(JSON.stringify(entry) + '\n'), null); // see OutboxJournal.append
    if (opts.sync !== false) await syncHandle(fh, 'datasync');
  }

  /** Deletes archived packages and history days older than the retention period. */
  cleanup(now = Date.now()): Promise<{ packages: number; historyFiles: number }> {
    return this.mutex.run(async () => {
      // A journal record must never bring back an archived package that retention removed.
      await this.checkpointLocked();
      const limit = now - this.opts.retentionDays * DAY_MS;
      let packages = 0;
      let historyFiles = 0;
      for (const [n, meta] of await this.readMetas(this.archiveDir, false)) {
        if (Date.parse(meta.deliveredAt ?? meta.sealedAt) < limit) {
          await fs.rm(join(this.archiveDir, `${n}.rep`), { force: true });
          await fs.rm(join(this.archiveDir, `${n}.json`), { force: true });
          packages++;
        }
      }
      for (const name of await fs.readdir(this.historyDir)) {
        const day = /^(\d{4}-\d{2}-\d{2})\.jsonl$/.exec(name)?.[1];
        if (day && Date.parse(day) + DAY_MS < limit) {
          await fs.rm(join(this.historyDir, name), { force: true });
          historyFiles++;
        }
      }
      if (packages + historyFiles > 0) this.log.info('store.cleanup', { packages, historyFiles, retentionDays: this.opts.retentionDays });
      return { packages, historyFiles };
    });
  }
}
