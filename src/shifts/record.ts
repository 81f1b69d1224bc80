/**
 * One shift of one POS as the agent accounts for it: what `kassir-agent shifts --json`
 * prints (schema 1), what `status` and the metrics summarise. Money is an exact decimal
 * written with two digits after the point ("270.00"), never a floating-point number;
 * shift numbers are strings, as the Z report writes them.
 */
export interface ShiftRecord {
  pos: number;
  /** The shift number from its Z report; null while the shift is open (no Z seen yet). */
  number: string | null;
  state: 'open' | 'closed';
  /** The agent did not see the shift's beginning (first shift after install, or transactions before the first Z it saw). */
  partial: boolean;
  /** ISO times: the first transaction seen, the Z report. */
  openedAt: string | null;
  closedAt: string | null;
  receipts: { sales: number; returns: number; cancelled: number };
  totals: { sales: string; returns: string; revenue: string };
  /** Net payments by Kassir payment kind ("1" -> "250.00"). */
  payments: Record<string, string>;
  cash: { in: string; out: string };
  /** The Z report's figures; null while open. */
  z: { revenue: string; cashInDrawer: string } | null;
  /** Z revenue equals computed revenue; null while open or for a partial shift. */
  matches: boolean | null;
  /** Lines the ledger did not understand (they still travel unchanged). */
  unknown: number;
  /** The numbers of the packages that hold the shift's transactions. */
  packages: number[];
  /** Every package of the closed shift has been delivered. */
  delivered: boolean;
  deliveredAt: string | null;
  /** Why the shift's figures are not to be trusted as they are (a Z without a number, a number going backwards, ...). */
  anomalies: string[];
}

/** Where the shift records of one POS are read from: the store's ledger, oldest first. */
export interface ShiftSource {
  shifts(): readonly ShiftRecord[];
}
