/**
 * Kassir 5 transaction types that decide how report lines travel together
 * *(inferred; PROTOCOLS.md "Report (transactions) file")*. Types not listed
 * here are still transactions: they are grouped by (POS, receipt) like
 * receipt lines, so an unknown line type can never split a receipt.
 */

/** Lines that make up a receipt: sales, stornos, returns, discounts, payments, close/cancel. */
const RECEIPT_TYPES = new Set([1, 2, 3, 4, 11, 12, 13, 14, 15, 16, 17, 18, 35, 36, 37, 38, 40, 55, 56]);
/** Lines that end a receipt: 55 closed, 56 cancelled. */
const CLOSE_TYPES = new Set([55, 56]);
/** Lines that stand alone: 50 cash in, 51 cash out, 60-63 X/Z reports. */
const STANDALONE_TYPES = new Set([50, 51, 60, 61, 62, 63]);

// A lookup table: the parser asks once per line, and Set lookups showed in profiles.
/** Class bits of a type (see typeClass). */
export const RECEIPT = 1;
export const CLOSE = 2;
export const STANDALONE = 4;
const CLASS = new Uint8Array(256);
for (const t of RECEIPT_TYPES) CLASS[t]! |= RECEIPT;
for (const t of CLOSE_TYPES) CLASS[t]! |= CLOSE;
for (const t of STANDALONE_TYPES) CLASS[t]! |= STANDALONE;

/** RECEIPT | CLOSE | STANDALONE bits of a type (0 for an unknown one): one table read for the three questions. */
export function typeClass(t: number): number {
  return t < 256 ? CLASS[t]! : 0;
}

export function isReceiptType(t: number): boolean {
  return (typeClass(t) & RECEIPT) !== 0;
}
export function isCloseType(t: number): boolean {
  return (typeClass(t) & CLOSE) !== 0;
}
export function isStandaloneType(t: number): boolean {
  return (typeClass(t) & STANDALONE) !== 0;
}
