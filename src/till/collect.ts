/**
 * Takes Kassir's report files over and puts their transactions into packages,
 * losing nothing Kassir writes and taking nothing twice.
 *
 * How a file is taken over (the hard part):
 * 1. Finished: a matching file is taken only when it has not changed for
 *    `settleMs` (size and mtime stable, or an mtime already that old). Kassir
 *    opens, appends and closes the file per receipt.
 *    A file is *held* (left where it is, Kassir appends the rest to it) only
 *    when it ends inside a receipt that has receipt lines and no end line
 *    (55/56/58/655), or inside a tag block, for up to `openReceiptMs`, so a
 *    receipt is never split between two files and so between two packages.
 *    Extra-data lines (125, 300 and their blocks) after the last ended receipt
 *    never hold a file: one Kassir keeps appending 125 lines to is taken as
 *    soon as it has been quiet for `settleMs`. A held file is logged once
 *    (`till.report.held`, info) and listed by `heldFiles()` for `status`.
 * 2. Taken: it is renamed into `<till>/.kassir-agent/taken/` (same folder tree,
 *    so the rename is atomic). On Windows the rename fails while Kassir holds
 *    the file: we simply try again on the next pass. If Kassir writes again
 *    afterwards it creates a fresh file under the old name, which is taken later.
 * 3. Ingested: the taken file is parsed into units (receipts never split) that
 *    are appended to the open package. The number of units already in packages
 *    is committed with every append, so a crash resumes exactly where it
 *    stopped: nothing is appended twice, nothing skipped.
 *    A file is read into a pooled buffer (formats/pooled-read.ts), not a fresh
 *    one: its units are views of it, so it is given back only when the file is
 *    held or its ingest has finished (the package bytes are copies by then).
 * 4. Released: the taken file is deleted only when it still has the size we
 *    read and has been quiet for `settleMs`; on Linux a writer that still held
 *    the file open when it was renamed keeps writing into it, and those lines
 *    are picked up by the next pass instead of being deleted.
 *
 * Requests (KKMTransfer flr): a report file that answers a request (see
 * requests.ts) travels in packages of its own that carry the request's UID.
 */
import type { Stats } from 'node:fs';
import * as fs from 'node:fs/promises';
import { join } from 'node:path';
import { FormatError } from '../formats/errors.js';
import { planAppend } from '../formats/batcher.js';
import { readFilePooled } from '../formats/pooled-read.js';
import { parseReport, type ReportUnit } from '../formats/report.js';
import { END_TYPES_TEXT } from '../formats/transaction-types.js';
import type { SealReason, ShiftCounting, Store } from '../store/store.js';
import { ensureDir, fsyncDir, statOrUndefined } from '../util/fsutil.js';
import { failpoint } from '../util/failpoints.js';
import { globToRegExp } from '../util/glob.js';
import type { Logger } from '../util/logger.js';
import type { TillRequests } from './requests.js';
import { isTakenName, originalName, TAKEN_DIR, takenName as takenNameOf } from './taken.js';

export interface CollectorOptions {
  tillDir: string;
  reportFiles: string;
  settleMs: number;
  openReceiptMs: number;
  maxTransactions: number;
  /** The till's flr requests (the deliverer's, deliver.ts), to recognise a report that answers one. */
  requests?: TillRequests;
  /** Keep this POS's shift ledger (shifts/ledger.ts) with the layout given; `sealOnShiftClose`: seal right after a Z report. */
  shifts?: ShiftCounting;
  /**
   * Called as soon as a taken file's units are committed to the open package, before the file is
   * released: the push flow can seal and send them while the collector tidies up.
   */
  onUnitsTaken?: () => void;
}

export interface CollectResult {
  /** Files fully ingested and released in this pass. */
  files: number;
  transactions: number;
  /** Packages sealed because they were full (or closed an flr answer). */
  sealed: number[];
  /** Matching files still in the till folder that are not finished yet, or locked by Kassir. */
  waiting: number;
  /** Matching files held in the till folder because they end inside an open receipt (see heldFiles()). */
  held: number;
  /**
   * The earliest time (epoch ms) a waiting file will have been quiet for `settleMs`, or a held
   * file reaches its take-by time: the next pass is due then, with no file event needed.
   * Undefined when no file is waiting for either.
   */
  dueAt?: number;
}

/**
 * A report file the agent leaves in the till folder for now (the hold rule is
 * `holdReason` below; monitoring counts them and alerts on the oldest).
 */
export interface HeldFile {
  file: string;
  reason: string;
  /** ISO time since when it is held. */
  since: string;
  /** ISO time after which it is taken anyway, if any. */
  takeBy?: string;
}

interface Observation {
  size: number;
  mtimeMs: number;
  since: number;
}

type ParsedReport = ReturnType<typeof parseReport>;

/** A report file read and parsed when it was taken over, kept so ingesting it does not parse it again. */
interface ReadAhead {
  size: number;
  mtimeMs: number;
  /** A pooled buffer (formats/pooled-read.ts): released once nothing reads it or its units any more. */
  data: Buffer;
  release: () => void;
  parsed: { report: ParsedReport } | { error: unknown };
}

function parseOutcome(data: Buffer, name: string): ReadAhead['parsed'] {
  try {
    return { report: parseReport(data, name) };
  } catch (error) {
    return { error };
  }
}

/**
 * Why a report file must wait for Kassir to write the rest, or undefined when
 * it may be taken: the one rule for the collector and for `status` read from
 * disk. A file that is not a report is never held (ingest quarantines it).
 */
export function holdReason(data: Buffer, name: string): string | undefined {
  return holdReasonOf(parseOutcome(data, name));
}

function holdReasonOf(outcome: ReadAhead['parsed']): string | undefined {
  if (!('report' in outcome)) return undefined;
  const parsed = outcome.report;
  const last = parsed.units.at(-1);
  if (!last || last.complete) return undefined;
  if (parsed.openTag !== undefined) return `ends inside a <${parsed.openTag}> block with no </${parsed.openTag}> yet`;
  const f = last.lines[0]!.toString('latin1').split(';');
  return `open receipt ${f[5]?.trim()} (POS ${f[4]?.trim()}) has no end line (${END_TYPES_TEXT}) yet; open since ${f[1]} ${f[2]}`;
}

/**
 * The report files of a till folder that the collector would hold, read from
 * disk (for `status` when no agent runs). No agent watched them, so `since`
 * is the file's last write and `takeBy` that plus `openReceiptMs`: when a
 * running agent takes it anyway.
 */
export async function scanHeldFiles(opts: Pick<CollectorOptions, 'tillDir' | 'reportFiles' | 'openReceiptMs'>): Promise<HeldFile[]> {
  const pattern = globToRegExp(opts.reportFiles);
  const out: HeldFile[] = [];
  let names: string[];
  try {
    names = (await fs.readdir(opts.tillDir, { withFileTypes: true })).filter((e) => e.isFile() && pattern.test(e.name)).map((e) => e.name).sort();
  } catch {
    return out;
  }
  for (const file of names) {
    const path = join(opts.tillDir, file);
    const [st, data] = await Promise.all([statOrUndefined(path), fs.readFile(path).catch(() => undefined)]);
    if (!st || !data) continue;
    const reason = holdReason(data, file);
    if (reason !== undefined) out.push({ file, reason, since: new Date(st.mtimeMs).toISOString(), takeBy: new Date(st.mtimeMs + opts.openReceiptMs).toISOString() });
  }
  return out;
}

/** The error `e` with what it happened to in front of its message (its code kept): a read error names no file. */
function naming(e: unknown, what: string): Error {
  const error = e instanceof Error ? e : new Error(String(e));
  const code = (error as NodeJS.ErrnoException).code;
  return Object.assign(new Error(`${what}: ${error.message}`, { cause: error }), code !== undefined ? { code } : {});
}

export class ReportCollector {
  readonly takenDir: string;
  private readonly pattern: RegExp;
  private readonly observed = new Map<string, Observation>();
  /** Files held in the till folder, by name (logged once when first held). */
  private readonly held = new Map<string, HeldFile>();
  private takeSeq = 0;
  /** Files read by the hold check and then taken, by taken name: ingested without reading and parsing them again. */
  private readonly readAhead = new Map<string, ReadAhead>();
  private readonly requests: TillRequests | undefined;

  constructor(
    private readonly opts: CollectorOptions,
    private readonly store: Store,
    private readonly log: Logger,
    private readonly now: () => number = Date.now,
  ) {
    this.takenDir = join(opts.tillDir, TAKEN_DIR);
    this.pattern = globToRegExp(opts.reportFiles);
    this.requests = opts.requests;
  }

  /** One pass: take over finished report files, then ingest every taken file in the order it was taken. */
  async collect(): Promise<CollectResult> {
    await ensureDir(this.takenDir);
    const { waiting, dueAt, scanError } = await this.takeFinished();
    const result: CollectResult = { files: 0, transactions: 0, sealed: [], waiting, held: this.held.size, ...(dueAt !== undefined ? { dueAt } : {}) };
    const taken = (await fs.readdir(this.takenDir)).filter(isTakenName).sort();
    for (const name of taken) {
      const r = await this.ingest(name).catch((e: unknown) => {
        throw naming(e, `${originalName(name)} (taken over as ${join(this.takenDir, name)}, kept there for the next pass)`);
      });
      result.transactions += r.transactions;
      result.sealed.push(...r.sealed);
      if (r.released) result.files++;
    }
    // Records of taken files that are gone (released before a crash) are dropped.
    await this.store.releaseTaken(Object.keys(this.store.state.sources).filter((n) => !taken.includes(n)));
    // What was taken before is in packages now; what waits in the till folder is unknown: the pass failed.
    if (scanError) throw naming(scanError, `the till folder ${this.opts.tillDir} cannot be listed (its report files wait there; check till.dir and that the folder is reachable)`);
    return result;
  }

  private async takeFinished(): Promise<{ waiting: number; dueAt: number | undefined; scanError?: unknown }> {
    let waiting = 0;
    let dueAt: number | undefined;
    const due = (at: number) => void (dueAt = dueAt === undefined ? at : Math.min(dueAt, at));
    let entries: import('node:fs').Dirent[];
    try {
      failpoint('till.scan.list');
      entries = await fs.readdir(this.opts.tillDir, { withFileTypes: true });
    } catch (e) {
      // The files taken before are still ingested (collect); the failure is the pass's (till.collect.failed).
      return { waiting: 0, dueAt, scanError: e };
    }
    const now = this.now();
    const candidates: { name: string; mtimeMs: number; size: number }[] = [];
    const present = new Set<string>();
    for (const ent of entries) {
      if (!ent.isFile() || !this.pattern.test(ent.name)) continue;
      present.add(ent.name);
      const st = await statOrUndefined(join(this.opts.tillDir, ent.name));
      if (!st) continue;
      const prev = this.observed.get(ent.name);
      if (!prev || prev.size !== st.size || prev.mtimeMs !== st.mtimeMs) {
        // A file already quiet for settleMs (e.g. present at start-up) counts as settled from its mtime.
        this.observed.set(ent.name, { size: st.size, mtimeMs: st.mtimeMs, since: Math.min(now, st.mtimeMs) });
      }
      const obs = this.observed.get(ent.name)!;
      if (now - obs.since >= this.opts.settleMs) candidates.push({ name: ent.name, mtimeMs: st.mtimeMs, size: st.size });
      else {
        waiting++;
        due(obs.since + this.opts.settleMs);
      }
    }
    for (const name of this.observed.keys()) if (!present.has(name)) this.observed.delete(name);
    for (const name of this.held.keys()) if (!present.has(name)) this.held.delete(name);
    // Oldest first; files written in the same instant go in name order with numbers compared
    // as numbers (r9.rep before r10.rep), as a writer numbering its files means them.
    candidates.sort((a, b) => a.mtimeMs - b.mtimeMs || a.name.localeCompare(b.name, undefined, { numeric: true }));
    for (const c of candidates) {
      const read = await this.readForHold(c.name);
      if (this.mustHold(c.name, read?.parsed, now, c.mtimeMs)) {
        read?.release();
        due(c.mtimeMs + this.opts.openReceiptMs);
        continue;
      }
      const takenName = takenNameOf(this.now(), ++this.takeSeq, c.name);
      // What was read is what is ingested only if it was the whole file as stat saw it (checked again at ingest).
      if (read && read.data.length === c.size) this.readAhead.set(takenName, { ...read, size: c.size, mtimeMs: c.mtimeMs });
      else read?.release();
      try {
        await fs.rename(join(this.opts.tillDir, c.name), join(this.takenDir, takenName));
        failpoint('till.taken.after-rename');
        await fsyncDir(this.takenDir);
        await fsyncDir(this.opts.tillDir);
        this.observed.delete(c.name);
        this.held.delete(c.name);
        this.log.debug('till.report.taken', { file: c.name, as: takenName });
      } catch (e) {
        this.readAhead.get(takenName)?.release();
        this.readAhead.delete(takenName);
        const code = (e as NodeJS.ErrnoException).code;
        if (code === 'ENOENT') continue; // gone meanwhile (someone else took it)
        // EBUSY/EPERM/EACCES: Kassir holds the file (Windows). Try again next pass.
        this.log.debug('till.report.busy', { file: c.name, code });
        waiting++;
      }
    }
    return { waiting, dueAt };
  }

  /** The files held in the till folder now: each with why, since when, and when it is taken anyway. */
  heldFiles(): HeldFile[] {
    return [...this.held.values()].map((h) => ({ ...h }));
  }

  /** Reads and parses a candidate once; undefined when it is gone or locked (the rename decides). */
  private async readForHold(name: string): Promise<Pick<ReadAhead, 'data' | 'release' | 'parsed'> | undefined> {
    let file;
    try {
      file = await readFilePooled(join(this.opts.tillDir, name));
    } catch {
      return undefined;
    }
    return { data: file.data, release: file.release, parsed: parseOutcome(file.data, name) };
  }

  /** True while the file ends inside an open receipt that is young enough that Kassir may append the rest. */
  private mustHold(name: string, parsed: ReadAhead['parsed'] | undefined, now: number, mtimeMs: number): boolean {
    if (parsed === undefined) return false; // gone or locked: the rename decides
    const reason = holdReasonOf(parsed);
    if (reason === undefined) {
      this.held.delete(name);
      return false;
    }
    const quietMs = now - mtimeMs;
    if (quietMs >= this.opts.openReceiptMs) {
      this.log.warn('till.report.open-receipt', { file: name, quietMs, reason, note: 'taken as it is after till.openReceiptMs' });
      return false;
    }
    const takeBy = new Date(mtimeMs + this.opts.openReceiptMs).toISOString();
    const known = this.held.get(name);
    if (known === undefined) {
      const since = new Date(now).toISOString();
      this.held.set(name, { file: name, reason, since, takeBy });
      this.log.info('till.report.held', { file: name, reason, takeBy, note: 'left to Kassir to write the rest; taken at once when it does, or at takeBy as it is' });
    } else {
      known.reason = reason;
      known.takeBy = takeBy;
    }
    return true;
  }

  /** Ingests one taken file: its units into packages, then the file released if Kassir wrote nothing more to it. */
  private async ingest(takenName: string): Promise<{ transactions: number; sealed: number[]; released: boolean }> {
    const path = join(this.takenDir, takenName);
    const original = originalName(takenName);
    const read = await this.readTaken(takenName, path, original);
    try {
      return await this.ingestRead(takenName, path, original, read);
    } finally {
      read.release(); // units and data are views of it: nothing reads them past here
    }
  }

  private async ingestRead(takenName: string, path: string, original: string, { before, data, outcome }: { before: Stats; data: Buffer; outcome: ReadAhead['parsed'] }): Promise<{ transactions: number; sealed: number[]; released: boolean }> {
    if (!('report' in outcome)) {
      const e = outcome.error;
      if (!(e instanceof FormatError)) throw e;
      await this.store.quarantineTaken(path, takenName, original, e.message);
      return { transactions: 0, sealed: [], released: false };
    }
    const { units, skippedLoadedTransactions: skippedLoaded } = outcome.report;
    const done = this.store.state.sources[takenName]?.units ?? 0;
    const uid = await this.answerUid(takenName, done, before.mtimeMs);
    const { transactions, sealed } = await this.takeUnits(takenName, units, done, uid);
    if (transactions > 0 || sealed.length > 0) this.opts.onUnitsTaken?.();
    if (units.length === 0 && skippedLoaded === 0) {
      // Nothing to send, so nothing is lost by removing it; but say so: Kassir wrote a file for a reason.
      this.log.info('till.report.empty', { file: original, bytes: data.length, note: 'no transactions in it; removed from the till folder' });
    }
    if (units.length > done || skippedLoaded > 0) {
      this.log.info('till.report.collected', {
        file: original,
        transactions,
        units: units.length - done,
        skippedAlreadyLoaded: skippedLoaded,
        ...(uid !== undefined ? { uid } : {}),
        openTransactions: this.store.state.open.pkg.transactions,
        sealed,
      });
    }
    return { transactions, sealed, released: await this.release(takenName, path, before) };
  }

  /** The taken file's bytes and parse: the hold check's reading when the file has not changed since (Kassir only appends), else read now. */
  private async readTaken(takenName: string, path: string, original: string): Promise<{ before: Stats; data: Buffer; release: () => void; outcome: ReadAhead['parsed'] }> {
    const ahead = this.readAhead.get(takenName);
    this.readAhead.delete(takenName);
    let before: Stats;
    try {
      before = await fs.stat(path);
    } catch (e) {
      ahead?.release();
      throw e;
    }
    if (ahead && ahead.size === before.size && ahead.mtimeMs === before.mtimeMs) return { before, data: ahead.data, release: ahead.release, outcome: ahead.parsed };
    ahead?.release();
    const { data, release } = await readFilePooled(path);
    return { before, data, release, outcome: parseOutcome(data, original) };
  }

  /**
   * Takes units `done`.. into packages, sealing whenever one is full; an flr
   * answer (`uid`) travels in packages of its own.
   */
  private async takeUnits(takenName: string, units: readonly ReportUnit[], done: number, uid: string | undefined): Promise<{ transactions: number; sealed: number[] }> {
    const sealed: number[] = [];
    let transactions = 0;
    let i = done;
    const open = this.store.state.open;
    if (done === 0 && uid !== undefined && open.length > 0 && open.uid !== uid) {
      // An flr answer travels alone: close what is open first.
      await this.sealFor('before-flr-answer', sealed);
    }
    const shifts = this.opts.shifts;
    const sealAtZ = shifts?.sealOnShiftClose === true;
    /** The last take was refused and there was nothing to seal (see below). */
    let refusedWithNothingToSeal = false;
    while (i < units.length) {
      // A closed shift leaves in packages of its own (also when a crash came between its Z and the seal).
      if (sealAtZ && this.store.openHoldsClosedShift()) await this.sealFor('shift-closed', sealed);
      // As many units as the open package takes, planned by the store under its lock so a seal by the push flow cannot come between.
      const taken = await this.store.takeUnits(takenName, units, i, { maxTransactions: this.opts.maxTransactions, startedAt: new Date(this.now()).toISOString(), ...(uid !== undefined ? { uid } : {}), ...(shifts ? { shifts } : {}) });
      if (taken === undefined) {
        // The open package cannot take the next unit (full, or in another encoding): seal, then take again on an empty package.
        const why = planAppend(this.store.state.open.pkg, units[i]!, this.opts.maxTransactions).sealReason ?? 'full';
        if (!(await this.sealFor(why, sealed))) {
          // Nothing to seal: the push flow sealed the open package between the refusal and this seal (its flush,
          // once nothing older is queued), so the next take finds it empty. Refused again with nothing to seal
          // would be a bug: planAppend never refuses an empty package.
          if (refusedWithNothingToSeal) throw new Error(`${originalName(takenName)}: a unit does not fit an empty package`);
          refusedWithNothingToSeal = true;
        }
        continue;
      }
      refusedWithNothingToSeal = false;
      i = taken.upTo;
      transactions += taken.transactions;
      if (taken.full) await this.sealFor('full', sealed);
      else if (sealAtZ && this.store.openHoldsClosedShift()) await this.sealFor('shift-closed', sealed);
    }
    const after = this.store.state.open;
    if (uid !== undefined && after.uid === uid && after.length > 0) await this.sealFor('flr-answer', sealed);
    return { transactions, sealed };
  }

  /**
   * Deletes the taken file only if nothing was written to it since it was read
   * and it has been quiet for `settleMs` (see the module comment, step 4).
   */
  private async release(takenName: string, path: string, before: Stats): Promise<boolean> {
    const after = await statOrUndefined(path);
    const quiet = after !== undefined && after.size === before.size && after.mtimeMs === before.mtimeMs && this.now() - after.mtimeMs >= this.opts.settleMs;
    if (after !== undefined && !quiet) return false;
    await fs.rm(path, { force: true });
    await fsyncDir(this.takenDir);
    await this.store.releaseTaken([takenName]);
    return true;
  }

  /** Seals the open package (the store logs `package.sealed` with the reason). */
  private async sealFor(reason: SealReason, sealed: number[]): Promise<boolean> {
    const meta = await this.store.seal(reason);
    if (!meta) return false;
    sealed.push(meta.number);
    return true;
  }

  /** The UID of the flr request this taken file answers, if any (see till/requests.ts). */
  private async answerUid(takenName: string, done: number, mtimeMs: number): Promise<string | undefined> {
    const known = this.store.state.sources[takenName];
    if (known) return known.uid;
    if (done > 0) return undefined;
    return this.requests?.claimAnswer(takenName, mtimeMs);
  }
}
