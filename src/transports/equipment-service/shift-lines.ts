/**
 * Cutting a till's report lines into shifts for the upload: one SaleReport per
 * closed shift. The rules are the shift ledger's (src/shifts/ledger.ts, with
 * the same `shifts.*` layout), so what is posted to 1C is what
 * `kassir-agent shifts` counts:
 * - a shift is every transaction after a Z report up to and including the
 *   next Z report, per POS (field 5);
 * - a receipt belongs to the shift in which it ends (closed or cancelled): the
 *   lines of a receipt still open at a Z report (deferred, or not ended yet)
 *   are carried into the next shift, apart from its own lines, so the next
 *   shift's opening time is still that of its first line after the Z.
 * Lines are kept as text (latin1, so any byte survives the round trip through
 * the staged JSON): only numbers and dates are read from them.
 */
import type { ShiftLayout } from '../../config/schema.js';
import type { ReportUnit } from '../../formats/report.js';
import { IN_RECEIPT, typeClass } from '../../formats/transaction-types.js';
import { lineType, recordLines } from '../../shifts/ledger.js';

/** The lines of one POS not yet in a closed shift. */
export interface OpenLines {
  /** Lines of receipts begun before the last Z report and not ended then. */
  carried: string[];
  /** Lines after the last Z report. */
  lines: string[];
}

/** A closed shift of one POS: its lines, the Z report last. */
export interface ShiftLines extends OpenLines {
  pos: string;
}

/** Transaction lines of report units (tag blocks and non-transaction lines left out), as latin1 text. */
export function transactionLines(units: readonly ReportUnit[]): string[] {
  const out: string[] = [];
  for (const unit of units) for (const line of recordLines(unit)) if (lineType(line) >= 0) out.push(line.toString('latin1'));
  return out;
}

/** Field `n` (1-based) of a report line, trimmed. */
export function field(line: string, n: number): string {
  return (line.split(';')[n - 1] ?? '').trim();
}

/**
 * Adds `lines` (in order) to the open lines of each POS; every Z report closes
 * its POS's shift. Returns the shifts closed, in order, and what stays open.
 * Pure: `open` is not changed.
 */
export function splitShifts(open: Readonly<Record<string, OpenLines>>, lines: readonly string[], layout: ShiftLayout): { closed: ShiftLines[]; open: Record<string, OpenLines> } {
  const state: Record<string, OpenLines> = {};
  for (const [pos, o] of Object.entries(open)) state[pos] = { carried: [...o.carried], lines: [...o.lines] };
  const closed: ShiftLines[] = [];
  for (const line of lines) {
    const pos = field(line, 5);
    const cur = (state[pos] ??= { carried: [], lines: [] });
    cur.lines.push(line);
    if (typeOf(line) !== layout.zReportType) continue;
    closed.push({ pos, ...cur });
    state[pos] = { carried: unendedReceiptLines([...cur.carried, ...cur.lines], layout), lines: [] };
  }
  for (const [pos, o] of Object.entries(state)) if (o.carried.length === 0 && o.lines.length === 0) delete state[pos];
  return { closed, open: state };
}

/** The lines of the receipts that have lines and no end line (closed or cancelled) among `lines`. */
function unendedReceiptLines(lines: readonly string[], layout: ShiftLayout): string[] {
  const ends = (t: number) => layout.receiptClosedTypes.includes(t) || layout.receiptCancelledTypes.includes(t);
  // A receipt's lines up to its end line are done with; a key used again after its end is a new receipt.
  const lastEnd = new Map<string, number>();
  lines.forEach((l, i) => {
    if (ends(typeOf(l))) lastEnd.set(receiptKey(l), i);
  });
  return lines.filter((l, i) => {
    const t = typeOf(l);
    if (((typeClass(t) & IN_RECEIPT) === 0 && t !== layout.paymentType) || field(l, 6) === '') return false;
    return (lastEnd.get(receiptKey(l)) ?? -1) < i;
  });
}

/** The transaction type (field 4) of a staged line, -1 when it is not a number. */
export function typeOf(line: string): number {
  const t = field(line, 4);
  return /^\d+$/.test(t) ? Number(t) : -1;
}

/** "POS/receipt" as written (fields 5-6). */
export function receiptKey(line: string): string {
  return `${field(line, 5)}/${field(line, 6)}`;
}
