/**
 * Byte-level field reading for report lines (report.ts): fields 1-6 of a line
 * in one call (transactionFields), with its steps: the first-semicolon scan,
 * the integer reader for fields 4-6, and the fast check that fields 2-3 have
 * the width Kassir writes them with.
 *
 * Promises: only ASCII bytes are compared (`;`, digits, spaces, CR, LF), which
 * cp1251 and UTF-8 write the same; nothing is allocated per call (results
 * beside the return value go through module variables, out-parameters).
 * Byte values in the hot functions are literals, not these constants: V8's
 * optimizing compiler folds a literal, and loads a module constant again on
 * every pass of a loop (callgrind instruction counts, BENCHMARKS.md). Why a module of its
 * own: these are the hot loop's inner steps, small and pure, and each can be
 * read (and benchmarked) without the unit rules around them.
 */

export const LF = 0x0a;
export const CR = 0x0d;
export const SPACE = 0x20;
export const TAB = 0x09;

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
    if (c === 0x3b /* ; */) break;
    if (c >= 0x30 && c <= 0x39) {
      if (state <= 1) {
        v = v * 10 + (c - 0x30);
        digits++;
        state = 1;
      } else {
        state = 3;
      }
    } else if (c === 0x20 /* space */) {
      if (state === 1) state = 2;
    } else {
      state = 3;
    }
  }
  fieldEnd = i;
  return state === 3 || digits === 0 || digits > 15 ? -1 : v;
}

/**
 * Where the first `;` in data[s, e) is, or e: four bytes a read. The read is
 * little-endian, so the lowest byte the "has a zero byte" test flags is the
 * first `;` in the line (a borrow can only flag bytes after a true match).
 */
export function firstSemicolon(data: Buffer, dv: DataView, s: number, e: number): number {
  let i = s;
  for (; i + 4 <= e; i += 4) {
    const v = dv.getInt32(i, true) ^ 0x3b3b3b3b;
    const m = (v - 0x01010101) & ~v & 0x80808080;
    if (m !== 0) return i + ((31 - Math.clz32(m & -m)) >> 3);
  }
  while (i < e && data[i] !== 0x3b) i++;
  return i;
}

/** Text of a field that is not a number (rare): such keys are compared as written. */
export function textKey(data: Buffer, s: number, e: number): string {
  return data.toString('latin1', s, e);
}

/** Set by transactionFields: fields 5-6 (POS, receipt) as numbers (-1: not a number), and where fields 4-6 end (their `;` or the line end). */
export let fieldPos = -1;
export let fieldRcpt = -1;
export let fieldTypeEnd = 0;
export let fieldPosEnd = 0;
export let fieldRcptEnd = 0;

/**
 * Reads the line data[ls, e) as far as field 6: field 4 (type) when the line
 * is a transaction (at least five semicolons, field 4 an unsigned integer),
 * else -1; fields 5-6 and the ends of fields 4-6 go to the out-parameters
 * above. Fields 4-6 lie between the 3rd, 4th, 5th and 6th semicolons (or the
 * line end); the rest of the line is never read. Fields 2-3 are nearly always
 * `DD.MM.YY;HH:MM:SS;` (or `DD.MM.YYYY;...`), so the 3rd semicolon is first
 * tried at its usual places (nothing in between may be a semicolon: checked
 * without a loop); any other layout takes the general scan. Fields 4-6 are
 * parsed as integers in the same pass that finds their ends.
 *
 * One function for the whole step, called once per line, so that V8 inlines
 * the small readers into it whatever the size of the parser around it (whose
 * inlining budget the rare paths, tag blocks and headers, also draw on).
 */
export function transactionFields(data: Buffer, dv: DataView, ls: number, e: number): number {
  fieldPos = -1;
  fieldRcpt = -1;
  fieldTypeEnd = e;
  fieldPosEnd = e;
  fieldRcptEnd = e;
  let i = firstSemicolon(data, dv, ls, e);
  if (i >= e) return -1;
  let f4 = -1;
  if (i + DATE_TIME.YY < e && data[i + 9] === 0x3b && data[i + DATE_TIME.YY] === 0x3b && noSemicolonInDateTimeYY(dv, i)) {
    f4 = i + DATE_TIME.YY + 1;
  } else if (i + DATE_TIME.YYYY < e && data[i + 11] === 0x3b && data[i + DATE_TIME.YYYY] === 0x3b && noSemicolonInDateTimeYYYY(dv, i)) {
    f4 = i + DATE_TIME.YYYY + 1;
  } else {
    let semis = 1;
    for (i++; i < e; i++) {
      if (data[i] === 0x3b && ++semis === 3) {
        f4 = i + 1;
        break;
      }
    }
    if (f4 === -1) return -1;
  }
  const type = uintField(data, f4, e);
  const s4 = fieldEnd;
  fieldTypeEnd = s4;
  if (s4 >= e) return -1;
  const pos = uintField(data, s4 + 1, e);
  const s5 = fieldEnd;
  fieldPosEnd = s5;
  if (s5 >= e) return -1;
  // At least five semicolons: a transaction if field 4 is a number.
  fieldPos = pos;
  fieldRcpt = uintField(data, s5 + 1, e);
  fieldRcptEnd = fieldEnd;
  return type;
}

/** Up to 60 characters of a line, quoted, for an error message. */
export function showLine(line: Buffer): string {
  const t = line.toString('latin1', 0, Math.min(line.length, 60));
  return JSON.stringify(line.length > 60 ? `${t}...` : t);
}

/** Offsets of the 3rd semicolon from the 1st in `1;DD.MM.YY;HH:MM:SS;` (what Kassir writes) and `1;DD.MM.YYYY;HH:MM:SS;` (a const enum: its members are literals in the code). */
const enum DATE_TIME { YY = 18, YYYY = 20 }

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
function noSemicolonInDateTimeYY(dv: DataView, s1: number): boolean {
  return !(hasSemicolon(dv.getInt32(s1 + 1)) || hasSemicolon(dv.getInt32(s1 + 5)) || hasSemicolon(dv.getInt32(s1 + 10)) || hasSemicolon(dv.getInt32(s1 + 14)));
}

/** The same for `DD.MM.YYYY;HH:MM:SS` (2nd and 3rd semicolons at s1 + 11, s1 + 20): five reads. */
function noSemicolonInDateTimeYYYY(dv: DataView, s1: number): boolean {
  return !(
    hasSemicolon(dv.getInt32(s1 + 1)) || hasSemicolon(dv.getInt32(s1 + 5)) || hasSemicolon(dv.getInt32(s1 + 7)) ||
    hasSemicolon(dv.getInt32(s1 + 12)) || hasSemicolon(dv.getInt32(s1 + 16))
  );
}
