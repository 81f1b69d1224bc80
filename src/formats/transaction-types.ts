/**
 * Kassir 5 transaction types: the one table of what role a type plays in how
 * report lines travel together (docs/FORMATS.md "Transaction types").
 *
 * Roles:
 * - IN_RECEIPT: a line of a receipt (registrations, stornos, returns,
 *   discounts, payments...). A run of them with one (POS, receipt) is a
 *   receipt; one that has such lines and no end yet is *open*.
 * - ENDS_RECEIPT: ends the receipt it belongs to (it is also a receipt line).
 * - STANDALONE: one line on its own, outside receipts (cash in/out, reports).
 * - EXTRA_DATA: extra data (125, with its `<json_data>` block) or a posted
 *   document (300, with its `<Document>` block). Inside an open receipt it
 *   belongs to that receipt; outside one it is a unit of its own and never
 *   opens a receipt (Kassir writes 125 between receipts every 10 minutes).
 *
 * `source` says where a fact comes from: 'documented' = the Kassir 5 wiki
 * (wiki.ilexx.ru, namespace кассир5:, quoted in test/formats/wiki-lines.ts),
 * 'practice' = back-office importers of the same format family ([vendor] and
 * [practice] in docs/FORMATS.md). Types not in
 * the table (of any size, including above 255) are still transactions: they
 * are grouped by (POS, receipt) like receipt lines, so an unknown type never
 * splits a receipt, but a run of only unknown types never holds a file back.
 */

export const IN_RECEIPT = 1;
export const ENDS_RECEIPT = 2;
export const STANDALONE = 4;
export const EXTRA_DATA = 8;

type Role = 'in receipt' | 'ends a receipt' | 'standalone' | 'extra data';

interface TypeRow {
  types: number[];
  role: Role;
  what: string;
  source: 'documented' | 'practice';
}

const range = (a: number, b: number) => Array.from({ length: b - a + 1 }, (_, i) => a + i);

/** The table. Keep every type in exactly one row. */
export const TRANSACTION_TYPES: readonly TypeRow[] = [
  { types: [1, 11], role: 'in receipt', what: 'registration (sale)', source: 'practice' },
  { types: [2, 12], role: 'in receipt', what: 'storno', source: 'practice' },
  { types: [3, 4, 13, 14], role: 'in receipt', what: 'return', source: 'practice' },
  { types: [15, 16, 17, 18, 35, 36, 37, 38], role: 'in receipt', what: 'discount / markup (15: documented in the wiki table of cashier transactions)', source: 'practice' },
  { types: [24, 30], role: 'in receipt', what: 'unit of measure, price edit', source: 'practice' },
  { types: [40, 140], role: 'in receipt', what: 'payment; card payment details (125 kind 2 follows them: documented)', source: 'documented' },
  { types: [59], role: 'in receipt', what: 'deferred receipt resumed', source: 'practice' },
  { types: [70, 71, 75], role: 'in receipt', what: 'discount details, taxes', source: 'practice' },
  { types: [80], role: 'in receipt', what: 'return by receipt number (refers to another receipt)', source: 'practice' },
  { types: [90, 91], role: 'in receipt', what: 'seller', source: 'practice' },
  { types: range(150, 155), role: 'in receipt', what: 'payment system', source: 'practice' },
  { types: [611], role: 'in receipt', what: 'prepayment receipt position (125 kind 1 follows them, before 655)', source: 'documented' },
  { types: [55, 56, 58], role: 'ends a receipt', what: 'receipt closed / cancelled / deferred (125 kind 3 is written "before 55/56/58")', source: 'documented' },
  { types: [655], role: 'ends a receipt', what: 'prepayment receipt closed', source: 'documented' },
  { types: [50, 51], role: 'standalone', what: 'cash in / out', source: 'practice' },
  { types: [60, 61, 62, 63], role: 'standalone', what: 'X / Z reports', source: 'practice' },
  { types: range(64, 67), role: 'standalone', what: 'service actions', source: 'practice' },
  { types: [125], role: 'extra data', what: 'extra data, followed by <json_data type="N">...</json_data>', source: 'documented' },
  { types: [300], role: 'extra data', what: 'posted document, followed by <Document ...>...</Document>', source: 'documented' },
];

const ROLE_BITS: Record<Role, number> = {
  'in receipt': IN_RECEIPT,
  'ends a receipt': IN_RECEIPT | ENDS_RECEIPT,
  standalone: STANDALONE,
  'extra data': EXTRA_DATA,
};

// A lookup table: the parser asks once per line, and Set/Map lookups showed in profiles.
const SIZE = 1024;
const CLASS = new Uint8Array(SIZE);
for (const row of TRANSACTION_TYPES) {
  for (const t of row.types) {
    if (CLASS[t] !== 0) throw new Error(`transaction type ${t} is in two rows of the table`);
    CLASS[t] = ROLE_BITS[row.role];
  }
}

/** Role bits of a type (0 for a type not in the table): one table read for every question. */
export function typeClass(t: number): number {
  return t < SIZE ? CLASS[t]! : 0;
}

export function isReceiptType(t: number): boolean {
  return (typeClass(t) & IN_RECEIPT) !== 0;
}
export function isEndType(t: number): boolean {
  return (typeClass(t) & ENDS_RECEIPT) !== 0;
}
export function isStandaloneType(t: number): boolean {
  return (typeClass(t) & STANDALONE) !== 0;
}
export function isExtraDataType(t: number): boolean {
  return (typeClass(t) & EXTRA_DATA) !== 0;
}

/** The end types, for messages ("no end line (55/56/58/655)"). */
export const END_TYPES_TEXT = TRANSACTION_TYPES.filter((r) => r.role === 'ends a receipt').flatMap((r) => r.types).join('/');
