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
 * 4. Released: the taken file is deleted only when it still has the size we
 *    read and has been quiet for `settleMs`; on Linux a writer that still held
 *    the file open when it was renamed keeps writing into it, and those lines
 *    are picked up by the next pass instead of being deleted.
 *
 * Requests (KKMTransfer flr): a report file that answers a request (see
 * requests.ts) travels in packages of its own that carry the request's UID.
 */
import * as fs from 'node:fs/promises';
import { join } from 'node:path';
import { FormatError } from '../formats/errors.js';
import { planAppend, planBatch } from '../formats/batcher.js';
import { parseReport, type ReportUnit } from '../formats/report.js';
import { END_TYPES_TEXT } from '../formats/transaction-types.js';
import type { ShiftLayout } from '../config/schema.js';
import { applyUnits, closesShift, openPackageHoldsClosedShift, type ShiftEvent } from '../shifts/ledger.js';
import { logShiftEvents } from '../shifts/log-events.js';
import type { HeldFile } from '../status.js';
import type { Store } from '../store/store.js';
import type { AgentState } from '../store/state.js';
import { ensureDir, fsyncDir, statOrUndefined } from '../store/fsutil.js';
import { failpoint } from '../util/failpoints.js';
import { globToRegExp } from '../util/glob.js';
import type { Logger } from '../util/logger.js';
import { TillRequests } from './requests.js';

export interface CollectorOptions {
  tillDir: string;
  reportFiles: string;
  settleMs: number;
  openReceiptMs: number;
  maxTransactions: number;
  /** The till's request file (KKMTransfer flr), to see whether Kassir has taken it. */
  requestFile?: string;
  /** Keep this POS's shift ledger (shifts/ledger.ts) with the layout given; `sealOnShiftClose`: seal right after a Z report. */
  shifts?: { pos: number; layout: ShiftLayout; sealOnShiftClose: boolean };
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
}

/** Folder inside the till folder where taken files wait until they are ingested. */
export const TAKEN_DIR = join('.kassir-agent', 'taken');

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
  data: Buffer;
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

export class ReportCollector {
  readonly takenDir: string;
  private readonly pattern: RegExp;
  private readonly observed = new Map<string, Observation>();
  /** Files held in the till folder, by name (logged once when first held). */
  private readonly held = new Map<string, HeldFile>();
  private takeSeq = 0;
  /** Files read by the hold check and then taken, by taken name: ingested without reading and parsing them again. */
  private readonly readAhead = new Map<string, ReadAhead>();
  private readonly requests: TillRequests;

  constructor(
    private readonly opts: CollectorOptions,
    private readonly store: Store,
    private readonly log: Logger,
    private readonly now: () => number = Date.now,
  ) {
    this.takenDir = join(opts.tillDir, TAKEN_DIR);
    this.pattern = globToRegExp(opts.reportFiles);
    this.requests = new TillRequests(store, opts.requestFile, log);
  }

  /** One pass: take over finished report files, then ingest every taken file in the order it was taken. */
  async collect(): Promise<CollectResult> {
    await ensureDir(this.takenDir);
    const waiting = await this.takeFinished();
    const result: CollectResult = { files: 0, transactions: 0, sealed: [], waiting, held: this.held.size };
    const taken = (await fs.readdir(this.takenDir)).filter((n) => /^\d{15}-\d+-/.test(n)).sort();
    for (const name of taken) {
      const r = await this.ingest(name);
      result.transactions += r.transactions;
      result.sealed.push(...r.sealed);
      if (r.released) result.files++;
    }
    // Records of taken files that are gone (released before a crash) are dropped.
    const stale = Object.keys(this.store.state.sources).filter((n) => !taken.includes(n));
    if (stale.length > 0)
      await this.store.commit((d) => {
        for (const n of stale) delete d.sources[n];
      });
    return result;
  }

  private async takeFinished(): Promise<number> {
    let waiting = 0;
    let entries: import('node:fs').Dirent[];
    try {
      entries = await fs.readdir(this.opts.tillDir, { withFileTypes: true });
    } catch (e) {
      this.log.error('till.scan.failed', { dir: this.opts.tillDir, error: (e as Error).message });
      return 0;
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
      else waiting++;
    }
    for (const name of this.observed.keys()) if (!present.has(name)) this.observed.delete(name);
    for (const name of this.held.keys()) if (!present.has(name)) this.held.delete(name);
    // Oldest first; files written in the same instant go in name order with numbers compared
    // as numbers (r9.rep before r10.rep), as a writer numbering its files means them.
    candidates.sort((a, b) => a.mtimeMs - b.mtimeMs || a.name.localeCompare(b.name, undefined, { numeric: true }));
    for (const c of candidates) {
      const read = await this.readForHold(c.name);
      if (this.mustHold(c.name, read?.parsed, now, c.mtimeMs)) continue;
      // Names sort in the order taken: a zero-padded clock, then a zero-padded sequence for the same millisecond.
      const takenName = `${String(this.now()).padStart(15, '0')}-${String(++this.takeSeq).padStart(6, '0')}-${c.name}`;
      // What was read is what is ingested only if it was the whole file as stat saw it (checked again at ingest).
      if (read && read.data.length === c.size) this.readAhead.set(takenName, { ...read, size: c.size, mtimeMs: c.mtimeMs });
      try {
        await fs.rename(join(this.opts.tillDir, c.name), join(this.takenDir, takenName));
        failpoint('till.taken.after-rename');
        await fsyncDir(this.takenDir);
        await fsyncDir(this.opts.tillDir);
        this.observed.delete(c.name);
        this.held.delete(c.name);
        this.log.debug('till.report.taken', { file: c.name, as: takenName });
      } catch (e) {
        this.readAhead.delete(takenName);
        const code = (e as NodeJS.ErrnoException).code;
        if (code === 'ENOENT') continue; // gone meanwhile (someone else took it)
        // EBUSY/EPERM/EACCES: Kassir holds the file (Windows). Try again next pass.
        this.log.debug('till.report.busy', { file: c.name, code });
        waiting++;
      }
    }
    return waiting;
  }

  /** The files held in the till folder now: each with why, since when, and when it is taken anyway. */
  heldFiles(): HeldFile[] {
    return [...this.held.values()].map((h) => ({ ...h }));
  }

  /** Reads and parses a candidate once; undefined when it is gone or locked (the rename decides). */
  private async readForHold(name: string): Promise<Pick<ReadAhead, 'data' | 'parsed'> | undefined> {
    let data: Buffer;
    try {
      data = await fs.readFile(join(this.opts.tillDir, name));
    } catch {
      return undefined;
    }
    return { data, parsed: parseOutcome(data, name) };
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

  private async ingest(takenName: string): Promise<{ transactions: number; sealed: number[]; released: boolean }> {
    const path = join(this.takenDir, takenName);
    const original = takenName.replace(/^\d{15}-\d+-/, '');
    const before = await fs.stat(path);
    // Parsed once per take-over: the hold check's reading, if the file has not changed since (Kassir only appends).
    const ahead = this.readAhead.get(takenName);
    this.readAhead.delete(takenName);
    const read = ahead && ahead.size === before.size && ahead.mtimeMs === before.mtimeMs ? ahead : undefined;
    const data = read?.data ?? (await fs.readFile(path));
    const outcome = read?.parsed ?? parseOutcome(data, original);
    let units: ReportUnit[];
    let skippedLoaded = 0;
    if ('report' in outcome) {
      units = outcome.report.units;
      skippedLoaded = outcome.report.skippedLoadedTransactions;
    } else {
      const e = outcome.error;
      if (!(e instanceof FormatError)) throw e;
      await this.store.quarantineMove(path, original, e.message);
      await this.store.commit((d) => {
        delete d.sources[takenName];
        d.counters.quarantined += 1;
      });
      return { transactions: 0, sealed: [], released: false };
    }
    const done = this.store.state.sources[takenName]?.units ?? 0;
    const uid = await this.answerUid(takenName, done, before.mtimeMs);
    const sealed: number[] = [];
    let transactions = 0;
    let i = done;
    if (done === 0 && uid !== undefined && this.store.state.open.length > 0 && this.store.state.open.uid !== uid) {
      // An flr answer travels alone: close what is open first.
      await this.sealFor('before-flr-answer', sealed);
    }
    const shifts = this.opts.shifts;
    const endsAfter = shifts?.sealOnShiftClose ? (u: ReportUnit) => closesShift(u, shifts.layout) : undefined;
    while (i < units.length) {
      // A closed shift leaves in packages of its own (also when a crash came between its Z and the seal).
      if (endsAfter && openPackageHoldsClosedShift(this.store.state.shiftLedger)) await this.sealFor('shift-closed', sealed);
      // Gather units into one append until the open package is full. The plan is made from the
      // committed state under the store's lock, so a seal by the push flow cannot come between.
      const from = i;
      const startedAt = new Date(this.now()).toISOString();
      let shiftEvents: ShiftEvent[] = [];
      const appended = await this.store.appendPlanned((state) => {
        const plan = planBatch(state.open.pkg, units, from, this.opts.maxTransactions, endsAfter);
        if (plan === undefined) return undefined;
        return {
          chunk: plan.chunk,
          edit: (d: AgentState) => {
            d.open.pkg = plan.state;
            d.open.startedAt ??= startedAt;
            if (uid !== undefined) d.open.uid = uid;
            d.sources[takenName] = { units: plan.upTo, ...(uid !== undefined ? { uid } : {}) };
            d.counters.transactionsCollected += plan.transactions;
            // The ledger counts these units in the same commit that takes them over: never twice, never lost.
            if (shifts) shiftEvents = applyUnits(d.shiftLedger, units.slice(from, plan.upTo), shifts.pos, shifts.layout);
          },
          result: plan,
        };
      });
      if (appended === undefined) {
        // The open package cannot take the next unit (full, or in another encoding): seal, then plan again on an empty package.
        const why = planAppend(this.store.state.open.pkg, units[i]!, this.opts.maxTransactions).sealReason ?? 'full';
        if (!(await this.sealFor(why, sealed))) throw new Error(`${original}: a unit does not fit an empty package`); // planAppend never refuses an empty package
        continue;
      }
      i = appended.upTo;
      transactions += appended.transactions;
      logShiftEvents(this.log, shiftEvents);
      if (appended.full) await this.sealFor('full', sealed);
      else if (endsAfter && openPackageHoldsClosedShift(this.store.state.shiftLedger)) await this.sealFor('shift-closed', sealed);
    }
    if (uid !== undefined && this.store.state.open.uid === uid && this.store.state.open.length > 0) await this.sealFor('flr-answer', sealed);
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
    // Release the file only if nothing was written to it since we read it.
    const after = await statOrUndefined(path);
    const quiet = after !== undefined && after.size === before.size && after.mtimeMs === before.mtimeMs && this.now() - after.mtimeMs >= this.opts.settleMs;
    if (after !== undefined && !quiet) return { transactions, sealed, released: false };
    await fs.rm(path, { force: true });
    await fsyncDir(this.takenDir);
    await this.store.commit((d) => {
      delete d.sources[takenName];
    });
    return { transactions, sealed, released: true };
  }

  /** Seals the open package and logs it with the reason (one `package.sealed` line per seal, wherever it happens). */
  private async sealFor(reason: string, sealed: number[]): Promise<boolean> {
    const meta = await this.store.seal();
    if (!meta) return false;
    sealed.push(meta.number);
    this.log.info('package.sealed', { package: meta.number, transactions: meta.transactions, bytes: meta.bytes, reason });
    return true;
  }

  /** The UID of the flr request this taken file answers, if any (see till/requests.ts). */
  private async answerUid(takenName: string, done: number, mtimeMs: number): Promise<string | undefined> {
    const known = this.store.state.sources[takenName];
    if (known) return known.uid;
    if (done > 0) return undefined;
    return this.requests.claimAnswer(takenName, mtimeMs);
  }
}
