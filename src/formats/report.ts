/**
 * Report (transactions) files, parsed into the units that must travel
 * together in one package.
 *
 * Layout *(inferred)*: a block starts with a line `#` (not yet loaded) or `@`
 * (already loaded by the back office) followed by two service lines; then one
 * transaction per line, fields separated by `;`: 1 number, 2 date, 3 time,
 * 4 type, 5 POS, 6 receipt number, ... A file may hold several blocks.
 *
 * How a line is read:
 * - A *transaction* is a line with at least 6 fields whose field 4 (type) is
 *   an unsigned integer (spaces around it allowed). Fields 5/6 (POS, receipt)
 *   are compared as written (digits compared as numbers, so `07` = `7`).
 * - A line the parser does not understand (empty, fewer than 6 fields, a
 *   type that is not a number) is not a transaction: it stays in the unit
 *   where it stands (the open receipt), or, between units, forms an 'other'
 *   unit of 0 transactions together with its non-understood neighbours. It is
 *   never dropped. (Empty lines before the first block header carry nothing
 *   and are the one exception.)
 *
 * Units:
 * - 'receipt': a run of transactions with the same (POS, receipt), ended by
 *   its 55 (closed) or 56 (cancelled) line, by a line of another (POS,
 *   receipt), by a block header or by end of file (`complete` is false then
 *   only: the rest may still be coming in the next file). Any type with the same key stays in the run.
 *   A run started by an unknown type is keyed the same way (kind 'other'
 *   until a receipt line joins it) and is complete only when a 55/56 ends it.
 * - 'standalone': one line of type 50/51 (cash in/out) or 60-63 (X/Z report)
 *   outside an open run.
 * - 'other': non-understood lines between units, or a run started by a type
 *   we do not know (grouped by key exactly like a receipt, so it is never split).
 *
 * Works on bytes: only `#`, `@`, `;`, digits, CR and LF are looked at, which
 * both encodings write the same. Units keep byte spans into `data`; their
 * `lines` (views, no copies) are made only when read, because one Buffer
 * object per line costs more than the whole parse (see BENCHMARKS.md).
 */
import { detectEncoding, type TextEncoding } from './encoding.js';
import { FormatError } from './errors.js';
import { CLOSE, RECEIPT, STANDALONE, typeClass } from './transaction-types.js';

export interface BlockHeader {
  flag: '#' | '@';
  /** The two service lines, without EOL. */
  service: [Buffer, Buffer];
  /** Encoding of the file the block came from (a package never mixes two). Default 'cp1251'. */
  encoding?: TextEncoding;
}

export type UnitKind = 'receipt' | 'standalone' | 'other';

export interface ReportUnit {
  kind: UnitKind;
  transactions: number;
  /** Lines without EOL, as written. */
  lines: Buffer[];
  header: BlockHeader;
  /**
   * False only for the last unit of a file when it is a run keyed by (POS,
   * receipt) that no 55/56 line, other key or block header ended: it may
   * continue in the next file, so the caller should hold it back and parse
   * its lines again in front of the next file. True otherwise.
   */
  complete: boolean;
}

/**
 * A unit as parseReport makes it. Every unit is a run of consecutive lines
 * (see parseReport), so it is one byte range of the source: no per-line
 * objects are made while parsing. `lines` are split out on first read.
 */
class ParsedUnit implements ReportUnit {
  #lines: Buffer[] | undefined;
  constructor(
    public kind: UnitKind,
    public transactions: number,
    public header: BlockHeader,
    public complete: boolean,
    /** The parsed file's bytes. */
    readonly src: Buffer,
    /** Offset of the first line's first byte in `src`. */
    readonly start: number,
    /** Offset just past the last line's LF (or end of `src` when it has none). */
    public end: number,
    /** Every line in [start, end) ends in CRLF: the range is already what a package holds. */
    public crlf: boolean,
  ) {}

  get lines(): Buffer[] {
    if (this.#lines === undefined) {
      const { src, end } = this;
      const out: Buffer[] = [];
      let p = this.start;
      while (p < end) {
        let lf = src.indexOf(LF, p);
        if (lf === -1 || lf >= end) lf = end;
        const e = lf > p && src[lf - 1] === CR ? lf - 1 : lf;
        out.push(src.subarray(p, e));
        p = lf + 1;
      }
      this.#lines = out;
    }
    return this.#lines;
  }
}

const CRLF = Buffer.from('\r\n', 'latin1');

/** The unit's lines, each followed by CRLF, as one new buffer (one copy of the source range when parseReport made the unit). */
export function unitLinesCrlf(unit: ReportUnit): Buffer {
  if (unit instanceof ParsedUnit) {
    const { src, start, end } = unit;
    if (unit.crlf) {
      const out = Buffer.allocUnsafe(end - start);
      src.copy(out, 0, start, end);
      return out;
    }
  }
  return Buffer.concat(unit.lines.flatMap((l) => [l, CRLF]));
}

export interface ParsedReport {
  units: ReportUnit[];
  /** Transactions in '@' blocks: already loaded by the back office; not returned as units. */
  skippedLoadedTransactions: number;
  /** The block header in effect at end of file: pass it as `opts.header` to continue in the next file. */
  lastHeader?: BlockHeader;
  /** Lines in the file. */
  lines: number;
  encoding: TextEncoding;
}

const LF = 0x0a;
const CR = 0x0d;
const SEMI = 0x3b;
const SPACE = 0x20;
const HASH = 0x23;
const AT = 0x40;

/** Unsigned integer in data[s, e) (spaces around allowed), or -1. */
function parseUint(data: Buffer, s: number, e: number): number {
  while (s < e && data[s] === SPACE) s++;
  while (e > s && data[e - 1] === SPACE) e--;
  if (s === e || e - s > 15) return -1;
  let v = 0;
  for (let i = s; i < e; i++) {
    const d = data[i]! - 0x30;
    if (d < 0 || d > 9) return -1;
    v = v * 10 + d;
  }
  return v;
}

const NONE = -2;

/** Text of a field that is not a number (rare): such keys are compared as written. */
function textKey(data: Buffer, s: number, e: number): string {
  return data.toString('latin1', s, e);
}

function showLine(line: Buffer): string {
  const t = line.toString('latin1', 0, Math.min(line.length, 60));
  return JSON.stringify(line.length > 60 ? `${t}...` : t);
}

/** Offset of the 3rd semicolon from the 1st in `1;DD.MM.YYYY;HH:MM:SS;`. */
const DATE_TIME = 20;

/** No `;` in the date and time fields when the 1st semicolon is at `s1` and the 2nd and 3rd at their usual places. */
function noSemicolonInDateTime(d: Buffer, s1: number): boolean {
  return !(
    d[s1 + 1] === SEMI || d[s1 + 2] === SEMI || d[s1 + 3] === SEMI || d[s1 + 4] === SEMI || d[s1 + 5] === SEMI ||
    d[s1 + 6] === SEMI || d[s1 + 7] === SEMI || d[s1 + 8] === SEMI || d[s1 + 9] === SEMI || d[s1 + 10] === SEMI ||
    d[s1 + 12] === SEMI || d[s1 + 13] === SEMI || d[s1 + 14] === SEMI || d[s1 + 15] === SEMI ||
    d[s1 + 16] === SEMI || d[s1 + 17] === SEMI || d[s1 + 18] === SEMI || d[s1 + 19] === SEMI
  );
}

/** Records a unit that ended; `keyed` units are the only ones that may continue in the next file. */
function finishUnit(unit: ParsedUnit, units: ReportUnit[], keyed: boolean, atEndOfFile: boolean): void {
  unit.complete = !atEndOfFile || !keyed;
  if (unit.header.flag === '#') units.push(unit);
}

/*
 * The hot loop. Per line: one Buffer.indexOf for LF (a native memchr, about
 * as fast as `wc -l`), one byte scan from the line start up to the 6th `;`
 * (or line end), integer parses of fields 4-6. Nothing else is read and
 * nothing is allocated per line: a unit is one object made when it starts,
 * and it grows by moving its end offset. Keys (POS, receipt) are integers;
 * a non-numeric field (rare) is compared as its text, kept beside a NONE
 * marker so the integer comparison stays monomorphic.
 */
export function parseReport(data: Buffer, name: string, opts: { header?: BlockHeader } = {}): ParsedReport {
  const encoding = detectEncoding(data);
  const n = data.length;
  let p = encoding === 'utf8bom' ? 3 : 0;
  let header = opts.header;
  const units: ReportUnit[] = [];
  let skippedLoaded = 0;
  let lineNo = 0;

  // Block header being read: 0 = none, 1/2 = expecting service line 1/2.
  let pendingService = 0;
  let pendingFlag: '#' | '@' = '#';
  let pendingFirst: Buffer | undefined;
  let headerLine = 0;

  // The open unit. `keyed`: it is a run keyed by (POS, receipt), whose keys
  // are curPos/curRcpt (NONE: the text in curPosText/curRcptText).
  let cur: ParsedUnit | undefined;
  let keyed = false;
  let curPos = NONE;
  let curRcpt = NONE;
  let curPosText = '';
  let curRcptText = '';

  while (p < n) {
    const ls = p;
    let end = data.indexOf(LF, ls);
    let crlf: boolean;
    let e: number;
    if (end === -1) {
      end = n;
      p = n;
      e = end > ls && data[end - 1] === CR ? end - 1 : end;
      crlf = false;
    } else {
      p = end + 1;
      crlf = end > ls && data[end - 1] === CR;
      e = crlf ? end - 1 : end;
    }
    lineNo++;

    if (pendingService !== 0) {
      if (pendingService === 1) {
        pendingFirst = data.subarray(ls, e);
        pendingService = 2;
      } else {
        header = { flag: pendingFlag, service: [pendingFirst!, data.subarray(ls, e)], encoding };
        pendingService = 0;
      }
      continue;
    }
    const len = e - ls;
    if (len === 1 && (data[ls] === HASH || data[ls] === AT)) {
      if (cur !== undefined) {
        finishUnit(cur, units, keyed, false);
        cur = undefined;
        keyed = false;
      }
      pendingFlag = data[ls] === HASH ? '#' : '@';
      pendingService = 1;
      headerLine = lineNo;
      continue;
    }

    // Fields 4-6 lie between the 3rd, 4th, 5th and 6th semicolons (or the
    // line end): find them and read no further. Fields 2-3 are nearly always
    // `DD.MM.YYYY;HH:MM:SS;`, so after the 1st semicolon the 3rd is tried at
    // its usual place first (no semicolon in between: checked byte by byte,
    // without a loop); any other layout takes the general scan.
    let semis = 0;
    let s3 = 0;
    let s4 = 0;
    let s5 = 0;
    let sixthEnd = e;
    let i = ls;
    while (i < e && data[i] !== SEMI) i++;
    if (i < e) {
      if (i + DATE_TIME < e && data[i + 11] === SEMI && data[i + DATE_TIME] === SEMI && noSemicolonInDateTime(data, i)) {
        semis = 3;
        s3 = i + DATE_TIME;
        i = s3 + 1;
      } else {
        semis = 1;
        i++;
      }
    }
    for (; i < e; i++) {
      if (data[i] === SEMI) {
        semis++;
        if (semis === 3) s3 = i;
        else if (semis === 4) s4 = i;
        else if (semis === 5) s5 = i;
        else if (semis === 6) {
          sixthEnd = i;
          break;
        }
      }
    }
    const type = semis >= 5 ? parseUint(data, s3 + 1, s4) : -1;

    if (header === undefined) {
      if (len === 0) continue;
      throw new FormatError(name, lineNo, `not a report file: expected a block header line "#" or "@" before the first transaction, found ${showLine(data.subarray(ls, e))}`);
    }
    if (header.flag === '@') {
      if (type >= 0) skippedLoaded++;
      continue;
    }
    if (type < 0) {
      // Not understood: stays where it stands.
      if (cur !== undefined) {
        cur.end = p;
        if (!crlf) cur.crlf = false;
      } else {
        cur = new ParsedUnit('other', 0, header, false, data, ls, p, crlf);
        keyed = false;
      }
      continue;
    }
    const pos = parseUint(data, s4 + 1, s5);
    const rcpt = parseUint(data, s5 + 1, sixthEnd);
    const posText = pos < 0 ? textKey(data, s4 + 1, s5) : '';
    const rcptText = rcpt < 0 ? textKey(data, s5 + 1, sixthEnd) : '';
    const cls = typeClass(type);
    if (cur !== undefined && keyed && pos === curPos && rcpt === curRcpt && posText === curPosText && rcptText === curRcptText) {
      cur.end = p;
      if (!crlf) cur.crlf = false;
      cur.transactions++;
      if ((cls & RECEIPT) !== 0) cur.kind = 'receipt';
      if ((cls & CLOSE) !== 0) {
        finishUnit(cur, units, keyed, false);
        cur = undefined;
        keyed = false;
      }
      continue;
    }
    if (cur !== undefined) {
      finishUnit(cur, units, keyed, false);
      cur = undefined;
      keyed = false;
    }
    if ((cls & STANDALONE) !== 0) {
      units.push(new ParsedUnit('standalone', 1, header, true, data, ls, p, crlf));
      continue;
    }
    const unit = new ParsedUnit((cls & RECEIPT) !== 0 ? 'receipt' : 'other', 1, header, false, data, ls, p, crlf);
    if ((cls & CLOSE) !== 0) {
      finishUnit(unit, units, true, false);
      continue;
    }
    cur = unit;
    keyed = true;
    curPos = pos;
    curRcpt = rcpt;
    curPosText = posText;
    curRcptText = rcptText;
  }
  if (pendingService !== 0) {
    throw new FormatError(name, headerLine, `block header "${pendingFlag}" is followed by ${pendingService - 1} of its 2 service lines before end of file`);
  }
  // A keyed run (a receipt, or a run of unknown types) still open at end of
  // file may continue in the next file: the only incomplete unit.
  if (cur !== undefined) finishUnit(cur, units, keyed, true);
  const r: ParsedReport = { units, skippedLoadedTransactions: skippedLoaded, lines: lineNo, encoding };
  if (header) r.lastHeader = header;
  return r;
}
