/**
 * What operators and the fleet see of a POS's shifts: the last closed shift
 * (delivered or waiting, matching its Z report or not), how many closed shifts
 * are not yet in the back office, and how many do not match their Z report.
 * Computed from the ledger's records alone (pure), once per status report:
 * `status` prints it (status-line.ts), and the till row (metrics/till-row.ts)
 * turns it into the metrics and the `shift` object of `status --json`.
 */
import type { ShiftRecord } from './record.js';

export interface LastClosedShift {
  /** The Z report's shift number (null: the Z had none, an anomaly of the ledger). */
  number: string | null;
  /** ISO time of the Z report (absent when the ledger has none). */
  closedAt?: string;
  /** The agent did not see the shift's beginning, so it is not checked against the Z. */
  partial: boolean;
  /** Z revenue equals the computed revenue; null when not checked (partial). */
  matches: boolean | null;
  /** The computed revenue and the Z report's, for a shift that does not match. */
  revenue: string;
  zRevenue?: string;
  /** Every package of the shift has been delivered; when the last one was. */
  delivered: boolean;
  deliveredAt?: string;
}

export interface ShiftSummary {
  /** Absent until a shift has closed. */
  lastClosed?: LastClosedShift;
  /** Closed shifts whose packages are not all delivered yet. */
  undelivered: number;
  /** ISO time the oldest of them closed (absent when none waits). */
  oldestUndeliveredClosedAt?: string;
  /** Closed, complete (not partial) shifts whose Z report does not match the computed revenue. */
  mismatches: number;
}

/** The summary of one POS's shift records (oldest first, as the ledger gives them). */
export function summarizeShifts(records: readonly ShiftRecord[]): ShiftSummary {
  const closed = records.filter((s) => s.state === 'closed');
  const waiting = closed.filter((s) => !s.delivered);
  const oldestWaiting = waiting.reduce<string | undefined>((min, s) => (s.closedAt && (!min || Date.parse(s.closedAt) < Date.parse(min)) ? s.closedAt : min), undefined);
  const last = closed[closed.length - 1];
  return {
    ...(last ? { lastClosed: lastClosedOf(last) } : {}),
    undelivered: waiting.length,
    ...(oldestWaiting ? { oldestUndeliveredClosedAt: oldestWaiting } : {}),
    mismatches: closed.filter((s) => !s.partial && s.matches === false).length,
  };
}

function lastClosedOf(s: ShiftRecord): LastClosedShift {
  return {
    number: s.number,
    ...(s.closedAt ? { closedAt: s.closedAt } : {}),
    partial: s.partial,
    matches: s.partial ? null : s.matches,
    revenue: s.totals.revenue,
    ...(s.z ? { zRevenue: s.z.revenue } : {}),
    delivered: s.delivered,
    ...(s.delivered && s.deliveredAt ? { deliveredAt: s.deliveredAt } : {}),
  };
}
