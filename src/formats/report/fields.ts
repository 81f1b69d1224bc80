/**
 * Byte-level field reading for report lines (report.ts): the bytes the parser
 * looks at, the integer reader for fields 4-6, and the fast check that fields
 * 2-3 have the width Kassir writes them with.
 *
 * Promises: only ASCII bytes are compared (`;`, digits, spaces, CR, LF), which
 * cp1251 and UTF-8 write the same; nothing is allocated per call (the end of a
 * field is returned through `fieldEnd`, an out-parameter). Why a module of its
 * own: these are the hot loop's inner steps, small and pure, and each can be
 * read (and benchmarked) without the unit rules around them.
 */

export const LF = 0x0a;
export const CR = 0x0d;
export const SEMI = 0x3b;
export const SPACE = 0x20;
export const TAB = 0x09;
export const HASH = 0x23;
export const AT = 0x40;

/** Where the field read by the last uintField call ended: its `;`, or the line end. (An out-parameter: no object per call.) */
export let fieldEnd = 0;

/**
 * The field starting at data[s] and ending at the next `;` or at `e`: its
 * value when it is an unsigned integer of at most 15 digits with spaces
 * around allowed, else -1. Sets fieldEnd.
 */
export function uintField(data: Buffer, s: number, e: number): number {
  let v = 0;
  let digits = 0;
  // 0 leading spaces, 1 digits, 2 trailing spaces, 3 not a number
  let state = 0;
  let i = s;
  for (; i < e; i++) {
    const c = data[i]!;
    if (c === SEMI) break;
    if (c >= 0x30 && c <= 0x39) {
      if (state <= 1) {
        v = v * 10 + (c - 0x30);
        digits++;
        state = 1;
      } else {
        state = 3;
      }
    } else if (c === SPACE) {
      if (state === 1) state = 2;
    } else {
      state = 3;
    }
  }
  fieldEnd = i;
  return state === 3 || digits === 0 || digits > 15 ? -1 : v;
}

/** Text of a field that is not a number (rare): such keys are compared as written. */
export function textKey(data: Buffer, s: number, e: number): string {
  return data.toString('latin1', s, e);
}

/** Up to 60 characters of a line, quoted, for an error message. */
export function showLine(line: Buffer): string {
  const t = line.toString('latin1', 0, Math.min(line.length, 60));
  return JSON.stringify(line.length > 60 ? `${t}...` : t);
}

/** Offsets of the 3rd semicolon from the 1st in `1;DD.MM.YY;HH:MM:SS;` (what Kassir writes) and `1;DD.MM.YYYY;HH:MM:SS;`. */
export const DATE_TIME_YY = 18;
export const DATE_TIME_YYYY = 20;

/** True when one of the four bytes of `w` is `;` (the classic "has a zero byte" test on w XOR ";;;;"). */
function hasSemicolon(w: number): boolean {
  const v = w ^ 0x3b3b3b3b;
  return ((v - 0x01010101) & ~v & 0x80808080) !== 0;
}

/**
 * No `;` in `DD.MM.YY;HH:MM:SS` when the 1st semicolon is at `s1` and the
 * 2nd and 3rd at s1 + 9 and s1 + 18 (< line end): four 4-byte reads instead
 * of 16 byte compares.
 */
export function noSemicolonInDateTimeYY(dv: DataView, s1: number): boolean {
  return !(hasSemicolon(dv.getInt32(s1 + 1)) || hasSemicolon(dv.getInt32(s1 + 5)) || hasSemicolon(dv.getInt32(s1 + 10)) || hasSemicolon(dv.getInt32(s1 + 14)));
}

/** The same for `DD.MM.YYYY;HH:MM:SS` (2nd and 3rd semicolons at s1 + 11, s1 + 20): five reads. */
export function noSemicolonInDateTimeYYYY(dv: DataView, s1: number): boolean {
  return !(
    hasSemicolon(dv.getInt32(s1 + 1)) || hasSemicolon(dv.getInt32(s1 + 5)) || hasSemicolon(dv.getInt32(s1 + 7)) ||
    hasSemicolon(dv.getInt32(s1 + 12)) || hasSemicolon(dv.getInt32(s1 + 16))
  );
}
