/**
 * Which SPR table a data line belongs to, by its record prefix, and the table
 * names a clear command uses. All of this is *(inferred)* from software of
 * the same format family (Shtrih-M loaders and exporters), not from a Kassir 5
 * document, so it is kept in this one small place.
 *
 * | table   | lines                                   | cleared by                         |
 * |---------|-----------------------------------------|------------------------------------|
 * | TOV     | no prefix (starts with a digit): goods  | `$$$CLR` unless `{NO_TOV}` is given |
 * |         | and groups; `#`: their barcodes/units   |                                    |
 * | USR     | `&` users                               | `{USR}`                            |
 * | NAB_P   | `~` permission sets                     | `{NAB_P}`                          |
 * | FIX_S   | `^` fixed discounts                     | `{FIX_S}` *(practice)*             |
 * | TAG     | `<name ...` tag elements                | never dropped: see plan.ts rule 6  |
 * |         | (`<product_group ...>`, `<goods_attr ...>`) |                                |
 * | OTHER   | every other prefix (`!`, `$%`, `|`,...) | unknown: see below                 |
 *
 * `$$$CLR` with no list clears the goods catalogue (Shtrih-M loaders clear
 * goods and groups on a bare `$$$CLR`); `{NO_TOV}` keeps the goods and
 * `{USR}`, `{NAB_P}`, `{FIX_S}`... name further tables to clear.
 *
 * Merging depends on this only through one rule, which keeps it safe when the
 * table is a guess: earlier lines of a *known* table the clear names are
 * dropped; a clear naming a table we cannot map to prefixes (`{COM_GR_TOV}`...)
 * may concern any OTHER line, so such a part is never merged
 * after OTHER lines it might clear (it starts a new output file instead).
 */

export const TOV = 0;
export const USR = 1;
export const NAB_P = 2;
export const FIX_S = 3;
export const TAG = 4;
export const OTHER = 5;
export type TableId = 0 | 1 | 2 | 3 | 4 | 5;
export const TABLE_COUNT = 6;

/** Clear-list names we can map to line prefixes, and their table ids. */
export const KNOWN_TABLE_NAMES: ReadonlyMap<string, TableId> = new Map<string, TableId>([
  ['TOV', TOV],
  ['USR', USR],
  ['NAB_P', NAB_P],
  ['FIX_S', FIX_S],
]);

const HASH = 0x23; // '#'
const AMP = 0x26; // '&'
const TILDE = 0x7e; // '~'
const CARET = 0x5e; // '^'
const LT = 0x3c; // '<'

/** The table of the data line starting at `buf[start]` (the line is non-empty). */
export function tableOfLine(buf: Buffer, start: number): TableId {
  const c = buf[start]!;
  if ((c >= 0x30 && c <= 0x39) || c === HASH) return TOV;
  if (c === AMP) return USR;
  if (c === TILDE) return NAB_P;
  if (c === CARET) return FIX_S;
  if (c === LT) return TAG;
  return OTHER;
}
