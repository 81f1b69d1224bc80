/**
 * The shift ledger's rules: pure functions (no I/O) that the store calls
 * inside the commits that take transactions over, seal a package and record
 * its delivery, so the ledger is always exactly as durable as the
 * transactions it counts. They change the ledger they are given (the caller
 * passes the draft of a commit) and return what happened, for the log.
 *
 * What a line means is read with the layout in the config (`shifts.*`; the
 * practice of the format family, docs/SHIFTS.md):
 * - A shift is every transaction from the one after a Z report up to and
 *   including the next Z report. The first shift the ledger sees is partial:
 *   it did not see its beginning, so its figures are not compared with its Z.
 * - A receipt (lines with one "POS/receipt") counts when its closing line
 *   (55, 655) comes: its total (field 12) is a sale when positive and a return
 *   when negative; its payments (tendered minus change, per kind) go to the
 *   shift it closes in. A cancelled receipt (56) is counted as cancelled and
 *   adds no money; a deferred one (58) waits, with what it had, until it is
 *   closed or cancelled, in whatever file, package or shift that happens.
 * - Cash in/out (50/51) add their unsigned amount; X reports and lines the
 *   ledger has no rule for add nothing; types it does not know at all and
 *   lines that are not transactions are counted as `unknown`.
 * - What cannot be trusted (a Z without a number, a Z while a receipt is open,
 *   two Zs with one number, a number going backwards, an amount that is not a
 *   number) is written into the shift's `anomalies` and reported as an event;
 *   it never stops the ledger, and the lines travel unchanged whatever it says.
 */
import type { ShiftLayout } from '../config/schema.js';
import type { ReportUnit } from '../formats/report.js';
import { tagOpened, tagClosed, closesTag } from '../formats/report/tags.js';
import { EXTRA_DATA, IN_RECEIPT, typeClass } from '../formats/transaction-types.js';
import { lineClock } from '../formats/line-time.js';
import type { ShiftRecord } from './record.js';
import type { ShiftEntry, ShiftLedger } from './ledger-state.js';
import { addAmounts, formatAmount, parseAmount } from './money.js';

export type ShiftEvent =
  | { event: 'shift.closed' | 'shift.mismatch' | 'shift.delivered'; shift: ShiftRecord }
  | { event: 'shift.anomaly'; shift: ShiftRecord; reason: string };

/** A shift keeps at most this many anomaly texts (every one is logged). */
const MAX_ANOMALIES = 20;
/** Receipts waiting for their end line; past this the oldest is forgotten (a stream of receipts that never end is itself an anomaly). */
const MAX_PENDING = 1000;
const ZERO = '0.00';

/** What `shifts` prints of an entry: the record without the ledger's bookkeeping. */
export function shiftRecord(e: ShiftEntry): ShiftRecord {
  const { inOpenPackage: _o, undelivered: _u, ...record } = e;
  return structuredClone(record);
}

/**
 * Counts the transactions of `units` (in order, as they go into the open
 * package) into `ledger`, for POS `pos`. Every shift they touch is marked as
 * having transactions in the open package.
 */
export function applyUnits(ledger: ShiftLedger, units: readonly ReportUnit[], pos: number, layout: ShiftLayout): ShiftEvent[] {
  const events: ShiftEvent[] = [];
  for (const unit of units) for (const line of recordLines(unit)) applyLine(ledger, line, pos, layout, events);
  return events;
}

/** The lines of a unit the ledger reads: every line but the contents of tag blocks (`<json_data>`...), which belong to the line before them. */
export function* recordLines(unit: ReportUnit): Generator<Buffer> {
  let tag: Buffer | undefined;
  for (const line of unit.lines) {
    if (tag !== undefined) {
      if (closesTag(line, 0, line.length, tag, false)) tag = undefined;
      continue;
    }
    const opened = tagOpened(line, 0, line.length);
    if (opened !== undefined) {
      if (!tagClosed) tag = Buffer.from(opened);
      continue;
    }
    yield line;
  }
}

/** The transaction type of a report line (field 4), or -1 when it is not a transaction line. Reads no further than field 4. */
export function lineType(line: Buffer): number {
  let p = 0;
  for (let semis = 0; semis < 3; semis++) {
    p = line.indexOf(0x3b, p);
    if (p === -1) return -1;
    p++;
  }
  const end = line.indexOf(0x3b, p);
  if (end === -1) return -1;
  const text = line.toString('latin1', p, end).trim();
  return /^\d+$/.test(text) ? Number(text) : -1;
}

/** True when the unit holds the Z report that closes a shift (`batch.sealOnShiftClose` seals right after it). */
export function closesShift(unit: ReportUnit, layout: ShiftLayout): boolean {
  if (unit.kind === 'extra') return false;
  for (const line of recordLines(unit)) if (lineType(line) === layout.zReportType) return true;
  return false;
}

/** Some shift that is closed has transactions in the open package: it must be sealed before anything else joins it. */
export function openPackageHoldsClosedShift(ledger: { readonly shifts: readonly { readonly inOpenPackage: boolean; readonly state: string }[] }): boolean {
  return ledger.shifts.some((s) => s.inOpenPackage && s.state === 'closed');
}

/** The open package was sealed as `number`: the shifts with transactions in it now list it. Called in the seal's commit. */
export function sealedAs(ledger: ShiftLedger, number: number): void {
  for (const s of ledger.shifts) {
    if (!s.inOpenPackage) continue;
    s.inOpenPackage = false;
    s.packages.push(number);
    s.undelivered.push(number);
  }
}

/** Package `number` was delivered at `at` (ISO). Returns a `shift.delivered` event for each shift whose last package it was. */
export function deliveredPackage(ledger: ShiftLedger, number: number, at: string): ShiftEvent[] {
  const events: ShiftEvent[] = [];
  for (const s of ledger.shifts) {
    const i = s.undelivered.indexOf(number);
    if (i === -1) continue;
    s.undelivered.splice(i, 1);
    if (settleDelivery(s, at)) events.push({ event: 'shift.delivered', shift: shiftRecord(s) });
  }
  return events;
}

/**
 * Package `number` cannot be sent as it is (the back office's transport holds its shift): each
 * problem not yet among the anomalies of the shifts the package holds is added, prefixed
 * `not sent: `. Returns the events of the anomalies added (a retry repeating them adds none).
 */
export function heldPackage(ledger: ShiftLedger, number: number, problems: readonly string[]): ShiftEvent[] {
  const events: ShiftEvent[] = [];
  for (const s of ledger.shifts) {
    if (!s.undelivered.includes(number)) continue;
    for (const p of problems) {
      const reason = `not sent: ${p}`;
      if (s.anomalies.includes(reason)) continue;
      addAnomaly(s, reason);
      events.push({ event: 'shift.anomaly', shift: shiftRecord(s), reason });
    }
  }
  return events;
}

/**
 * Recovery: settles every package of the ledger not yet delivered whose delivery `deliveredAt` knows (from the archive and the journal).
 * Returns the packages settled (the ledger changed, and must be saved, even when no shift is complete yet) and the events.
 */
export function settleDeliveries(ledger: ShiftLedger, deliveredAt: (number: number) => string | undefined): { settled: number[]; events: ShiftEvent[] } {
  const settled: number[] = [];
  const events: ShiftEvent[] = [];
  for (const n of new Set(ledger.shifts.flatMap((s) => s.undelivered))) {
    const at = deliveredAt(n);
    if (at === undefined) continue;
    settled.push(n);
    events.push(...deliveredPackage(ledger, n, at));
  }
  return { settled, events };
}

/** The open package's transactions are gone (lost or quarantined by recovery): the shifts will never be delivered whole. */
export function openPackageLost(ledger: ShiftLedger, why: string): void {
  for (const s of ledger.shifts) {
    if (!s.inOpenPackage) continue;
    s.inOpenPackage = false;
    addAnomaly(s, why);
  }
}

/** Drops closed shifts delivered before `beforeMs` (retention, by the agent's own clock like the archive's), keeping the last closed one. Returns how many went. */
export function pruneShifts(ledger: ShiftLedger, beforeMs: number): number {
  let lastClosed = -1;
  ledger.shifts.forEach((s, i) => {
    if (s.state === 'closed') lastClosed = i;
  });
  const before = ledger.shifts.length;
  ledger.shifts = ledger.shifts.filter((s, i) => i === lastClosed || !(s.state === 'closed' && s.deliveredAt !== null && Date.parse(s.deliveredAt) < beforeMs));
  return before - ledger.shifts.length;
}

function settleDelivery(s: ShiftEntry, at: string): boolean {
  if (s.delivered || s.state !== 'closed' || s.inOpenPackage || s.undelivered.length > 0 || s.packages.length === 0) return false;
  s.delivered = true;
  s.deliveredAt = at;
  return true;
}

function newShift(pos: number, partial: boolean): ShiftEntry {
  return {
    pos, number: null, state: 'open', partial, openedAt: null, closedAt: null,
    receipts: { sales: 0, returns: 0, cancelled: 0 },
    totals: { sales: ZERO, returns: ZERO, revenue: ZERO },
    payments: {}, cash: { in: ZERO, out: ZERO }, z: null, matches: null, unknown: 0,
    packages: [], delivered: false, deliveredAt: null, anomalies: [], inOpenPackage: false, undelivered: [],
  };
}

/** The open shift, opened by this line when the last one is closed (or there is none: then it is partial). */
function currentShift(ledger: ShiftLedger, pos: number): ShiftEntry {
  const last = ledger.shifts.at(-1);
  if (last && last.state === 'open') return last;
  const s = newShift(pos, last === undefined);
  ledger.shifts.push(s);
  return s;
}

function addAnomaly(s: ShiftEntry, reason: string): void {
  if (s.anomalies.length < MAX_ANOMALIES - 1) s.anomalies.push(reason);
  else if (s.anomalies.length === MAX_ANOMALIES - 1) s.anomalies.push('more anomalies: see the shift.anomaly lines of the log');
}

/** A line's date and time fields, the till's local time, as an ISO time; undefined when they are not a date and time. */
export function lineTime(date: string | undefined, time: string | undefined): string | undefined {
  const c = lineClock(date, time);
  if (!c) return undefined;
  const at = new Date(c.year, c.month - 1, c.day, c.hour, c.minute, c.second);
  return Number.isNaN(at.getTime()) ? undefined : at.toISOString();
}

/** Fields 5-6 ("POS/receipt", as written) without splitting the whole line. */
function receiptKey(line: Buffer): string {
  let p = 0;
  for (let semis = 0; semis < 4 && p !== -1; semis++) p = line.indexOf(0x3b, p) + 1 || -1;
  if (p === -1) return '/';
  const q = line.indexOf(0x3b, p);
  const r = q === -1 ? -1 : line.indexOf(0x3b, q + 1);
  return `${line.toString('latin1', p, q === -1 ? line.length : q).trim()}/${q === -1 ? '' : line.toString('latin1', q + 1, r === -1 ? line.length : r).trim()}`;
}

/** A type with a rule of its own (money, ends of receipts, the Z report): its line is read whole. */
function hasRule(type: number, layout: ShiftLayout): boolean {
  return (
    type === layout.zReportType || type === layout.paymentType || type === layout.cashInType || type === layout.cashOutType ||
    layout.receiptClosedTypes.includes(type) || layout.receiptCancelledTypes.includes(type) || layout.receiptDeferredTypes.includes(type)
  );
}

function applyLine(ledger: ShiftLedger, line: Buffer, pos: number, layout: ShiftLayout, events: ShiftEvent[]): void {
  const type = lineType(line);
  const shift = currentShift(ledger, pos);
  shift.inOpenPackage = true;
  if (type < 0) {
    // Not a transaction line (carried along unchanged): the ledger cannot read it.
    shift.unknown++;
    return;
  }
  const cls = typeClass(type);
  if (!hasRule(type, layout)) {
    // Most lines (registrations, discounts, extra data): only whether a receipt is open, read without splitting the line.
    if (shift.openedAt === null && (cls & EXTRA_DATA) === 0) {
      const f = line.toString('latin1').split(';');
      shift.openedAt = lineTime(f[1], f[2]) ?? null;
    }
    if ((cls & IN_RECEIPT) !== 0) pendingReceipt(ledger, receiptKey(line)).deferred = false;
    else if (cls === 0) shift.unknown++;
    // Standalone lines without a rule (X reports, service actions) and extra data add nothing.
    return;
  }
  const f = line.toString('latin1').split(';');
  const field = (n: number) => (f[n - 1] ?? '').trim();
  const where = `transaction ${field(1)} (type ${type}, ${field(2)} ${field(3)})`;
  const anomaly = (reason: string) => {
    addAnomaly(shift, reason);
    events.push({ event: 'shift.anomaly', shift: shiftRecord(shift), reason });
  };
  const amount = (n: number, what: string): bigint | undefined => {
    const v = parseAmount(field(n));
    if (v === undefined) anomaly(`${where}: ${what} in field ${n} is not an amount: "${field(n)}"; not counted`);
    return v;
  };
  if (shift.openedAt === null && (cls & EXTRA_DATA) === 0) shift.openedAt = lineTime(field(2), field(3)) ?? null;
  const key = `${field(5)}/${field(6)}`;

  if (type === layout.zReportType) return closeShift(ledger, shift, layout, field, where, anomaly, events);
  if (type === layout.cashInType || type === layout.cashOutType) {
    const v = amount(layout.cashAmountField, 'the cash amount');
    if (v === undefined) return;
    const abs = v < 0n ? -v : v;
    if (type === layout.cashInType) shift.cash.in = addAmounts(shift.cash.in, abs);
    else shift.cash.out = addAmounts(shift.cash.out, abs);
    return;
  }
  if (layout.receiptClosedTypes.includes(type)) {
    const pending = takePending(ledger, key);
    const total = amount(layout.receiptTotalField, 'the receipt total');
    if (total === undefined) return;
    if (total < 0n) {
      shift.receipts.returns++;
      shift.totals.returns = addAmounts(shift.totals.returns, -total);
    } else {
      shift.receipts.sales++;
      shift.totals.sales = addAmounts(shift.totals.sales, total);
    }
    shift.totals.revenue = addAmounts(shift.totals.revenue, total);
    for (const [kind, net] of Object.entries(pending?.payments ?? {})) shift.payments[kind] = addAmounts(shift.payments[kind] ?? ZERO, parseAmount(net)!);
    return;
  }
  if (layout.receiptCancelledTypes.includes(type)) {
    takePending(ledger, key);
    shift.receipts.cancelled++;
    return;
  }
  if (layout.receiptDeferredTypes.includes(type)) {
    pendingReceipt(ledger, key).deferred = true;
    return;
  }
  if (type === layout.paymentType) {
    const receipt = pendingReceipt(ledger, key);
    receipt.deferred = false;
    const tendered = amount(layout.paymentTenderedField, 'the amount tendered');
    const changeText = field(layout.paymentChangeField);
    const change = changeText === '' ? 0n : amount(layout.paymentChangeField, 'the change');
    if (tendered === undefined || change === undefined) return;
    // Net = tendered - change; in a return receipt the tendered amount is negative: paid back |tendered| - change.
    const net = tendered < 0n ? tendered + change : tendered - change;
    const kind = field(layout.paymentKindField) || '?';
    receipt.payments[kind] = addAmounts(receipt.payments[kind] ?? ZERO, net);
  }
}

function pendingReceipt(ledger: ShiftLedger, key: string): { payments: Record<string, string>; deferred: boolean } {
  let r = ledger.pending[key];
  if (r === undefined) {
    const keys = Object.keys(ledger.pending);
    if (keys.length >= MAX_PENDING) delete ledger.pending[keys[0]!];
    r = ledger.pending[key] = { payments: {}, deferred: false };
  }
  return r;
}

function takePending(ledger: ShiftLedger, key: string): { payments: Record<string, string>; deferred: boolean } | undefined {
  const r = ledger.pending[key];
  delete ledger.pending[key];
  return r;
}

/** A Z report: the shift closes with its figures, compared with what the ledger counted. */
function closeShift(
  ledger: ShiftLedger,
  shift: ShiftEntry,
  layout: ShiftLayout,
  field: (n: number) => string,
  where: string,
  anomaly: (reason: string) => void,
  events: ShiftEvent[],
): void {
  const number = field(layout.zNumberField);
  if (number === '') anomaly(`${where}: the Z report has no shift number in field ${layout.zNumberField}`);
  else if (!/^\d+$/.test(number)) anomaly(`${where}: the Z report's shift number in field ${layout.zNumberField} is not a number: "${number}"`);
  const valid = /^\d+$/.test(number) ? number : null;
  const previous = ledger.shifts.findLast((s) => s !== shift && s.state === 'closed' && s.number !== null);
  if (valid !== null && previous?.number != null) {
    const a = BigInt(valid);
    const b = BigInt(previous.number);
    if (a === b) anomaly(`${where}: a second Z report with shift number ${valid} (the shift closed ${previous.closedAt ?? 'before'} has it too)`);
    else if (a < b) anomaly(`${where}: the shift number goes backwards: ${valid} after ${previous.number}`);
  }
  const open = Object.entries(ledger.pending).filter(([, r]) => !r.deferred);
  if (open.length > 0) {
    const shown = open.slice(0, 10).map(([k]) => k).join(', ') + (open.length > 10 ? ` and ${open.length - 10} more` : '');
    anomaly(`${where}: the Z report came while receipt(s) ${shown} (POS/receipt) had no end line yet; they count when they end`);
    // Said once: at the next Z they are waiting like deferred receipts, unless a line of theirs comes meanwhile.
    for (const [, r] of open) r.deferred = true;
  }
  const revenueText = field(layout.zRevenueField);
  const cashText = field(layout.zCashInDrawerField);
  const revenue = parseAmount(revenueText);
  const cash = parseAmount(cashText);
  if (revenue === undefined) anomaly(`${where}: the Z report's revenue in field ${layout.zRevenueField} is not an amount: "${revenueText}"`);
  if (cash === undefined) anomaly(`${where}: the Z report's cash in drawer in field ${layout.zCashInDrawerField} is not an amount: "${cashText}"`);
  shift.number = valid;
  shift.state = 'closed';
  shift.closedAt = lineTime(field(2), field(3)) ?? null;
  shift.z = { revenue: revenue === undefined ? revenueText : formatAmount(revenue), cashInDrawer: cash === undefined ? cashText : formatAmount(cash) };
  shift.matches = shift.partial || revenue === undefined ? null : revenue === parseAmount(shift.totals.revenue);
  const record = shiftRecord(shift);
  events.push({ event: 'shift.closed', shift: record });
  if (shift.matches === false) events.push({ event: 'shift.mismatch', shift: record });
}
