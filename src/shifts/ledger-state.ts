/**
 * The shift ledger as the store keeps it in its state (store/state.ts), so
 * that it is committed together with the take-over of the transactions it
 * counts. Validated when the state is read back; the defaults let a state file
 * from an agent without a ledger load (its first shift is then partial).
 */
import { z } from 'zod';

const amount = z.string().regex(/^-?\d+\.\d\d$/, 'an amount like 270.00');

export const shiftEntrySchema = z.object({
  pos: z.number().int(),
  number: z.string().nullable(),
  state: z.enum(['open', 'closed']),
  partial: z.boolean(),
  openedAt: z.string().nullable(),
  closedAt: z.string().nullable(),
  receipts: z.object({ sales: z.number().int(), returns: z.number().int(), cancelled: z.number().int() }),
  totals: z.object({ sales: amount, returns: amount, revenue: amount }),
  payments: z.record(z.string(), amount),
  cash: z.object({ in: amount, out: amount }),
  /** The Z report's figures as written when they are not amounts (an anomaly says so). */
  z: z.object({ revenue: z.string(), cashInDrawer: z.string() }).nullable(),
  matches: z.boolean().nullable(),
  unknown: z.number().int(),
  packages: z.array(z.number().int()),
  delivered: z.boolean(),
  deliveredAt: z.string().nullable(),
  anomalies: z.array(z.string()),
  /** Some of its transactions are in the open package (they get its number when it is sealed). */
  inOpenPackage: z.boolean(),
  /** Its sealed packages not delivered yet. */
  undelivered: z.array(z.number().int()),
});
export type ShiftEntry = z.infer<typeof shiftEntrySchema>;

/** A receipt seen without its end line yet (still open, or deferred by 58): what it will add when it is closed. */
export const pendingReceiptSchema = z.object({
  /** Net payments by kind so far. */
  payments: z.record(z.string(), amount),
  deferred: z.boolean(),
});
export type PendingReceipt = z.infer<typeof pendingReceiptSchema>;

export const shiftLedgerSchema = z.object({
  /** This POS's shifts, oldest first; the last one may be open. */
  shifts: z.array(shiftEntrySchema).default([]),
  /** Receipts with lines and no end line yet, by "POS/receipt" as written. */
  pending: z.record(z.string(), pendingReceiptSchema).default({}),
});
export type ShiftLedger = z.infer<typeof shiftLedgerSchema>;

export const emptyShiftLedger = (): ShiftLedger => ({ shifts: [], pending: {} });
