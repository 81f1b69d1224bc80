/**
 * What one full exchange cycle leaves (`run --once`, `exchange-now`), and the
 * one rule that says whether anything is still pending: the exit code of both
 * commands comes from `pending` (cli.ts).
 */

export interface OnceResult {
  /** Sealed packages still waiting for delivery. */
  queued: number;
  /** Transactions still in the open package. */
  openTransactions: number;
  /** Incoming parts not yet delivered to the till (Kassir has not taken the previous file). */
  inbox: number;
  /** Report files still in the till folder (not finished, or locked by Kassir). */
  tillWaiting: number;
  /** Report files held in the till folder: they end inside an open receipt (see status). */
  held: number;
  /**
   * Why the cycle's last collect pass failed (reading the till folder, taking a file over, or putting a taken
   * file's transactions into packages): report files may be left untaken, or taken and not yet in packages.
   */
  collectError?: string;
  pullError?: string;
  pushError?: string;
}

/** One exchange's cycle: its result, or why it could not run (`error`). */
export interface ExchangeOnceResult extends OnceResult {
  pos: number;
  error?: string;
}

/** The result of an exchange that could not run its cycle. */
export function failedOnce(pos: number, error: string): ExchangeOnceResult {
  return { pos, queued: 0, openTransactions: 0, inbox: 0, tillWaiting: 0, held: 0, error };
}

/**
 * True when something is still to do after the cycle: anything queued, open,
 * staged for the till or left in the till folder (held for its open receipt,
 * or not finished), or a failure (of a flow, or of the whole cycle).
 */
export function pending(r: OnceResult & { error?: string }): boolean {
  const waiting = r.queued + r.openTransactions + r.inbox + r.tillWaiting + r.held;
  return waiting > 0 || r.error !== undefined || r.collectError !== undefined || r.pullError !== undefined || r.pushError !== undefined;
}
