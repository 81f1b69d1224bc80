/**
 * The unit of a report file (report.ts): the types callers see (BlockHeader,
 * UnitKind, ReportUnit), the parser's own unit (ParsedUnit, one byte range of
 * the parsed file) and its rendering as package bytes (unitLinesCrlf).
 *
 * Promises: a unit's `lines` are views of the source, split out only when
 * read and then the same array on every read; unitLinesCrlf gives the unit's
 * lines each followed by CRLF, as one new buffer. Why a module of its own: how
 * a unit is held and rendered is a memory and GC matter (see ParsedUnit),
 * separate from the rules that decide where a unit starts and ends.
 */
import type { TextEncoding } from '../encoding.js';
import { CR, LF } from './fields.js';

export interface BlockHeader {
  flag: '#' | '@';
  /** The two service lines, without EOL. */
  service: [Buffer, Buffer];
  /** Encoding of the file the block came from (a package never mixes two). Default 'cp1251'. */
  encoding?: TextEncoding;
}

export type UnitKind = 'receipt' | 'standalone' | 'extra' | 'other';

export interface ReportUnit {
  kind: UnitKind;
  transactions: number;
  /** Lines without EOL, as written. */
  lines: Buffer[];
  header: BlockHeader;
  /**
   * False only for the last unit of a file, when the file ends inside a
   * receipt that has receipt lines and no end line, or inside a tag block: it
   * may continue in the next file, so the caller should hold it back (and,
   * when it cannot wait, parse its lines again in front of the next file).
   * True otherwise.
   */
  complete: boolean;
}

/**
 * A unit as parseReport makes it. Every unit is a run of consecutive lines
 * (see parseReport), so it is one byte range of the source: no per-line
 * objects are made while parsing. `lines` are split out on first read.
 *
 * Made by its constructor (all fields in one order, so every unit has one
 * map). An object literal with `__proto__` was tried for V8's pretenuring of
 * literals, but each such literal costs a runtime call that sets its
 * prototype and migrates its map: counted with callgrind, about 120
 * instructions per line (8% of the parse) more than `new`, GC included.
 */
export class ParsedUnit implements ReportUnit {
  declare kind: UnitKind;
  declare transactions: number;
  declare header: BlockHeader;
  declare complete: boolean;
  /** The parsed file's bytes. */
  declare readonly src: Buffer;
  /** Offset of the first line's first byte in `src`. */
  declare readonly start: number;
  /** Offset just past the last line's LF (or end of `src` when it has none). */
  declare end: number;
  /** Every line in [start, end) ends in CRLF: the range is already what a package holds. */
  declare crlf: boolean;

  // Plain assignments (no class fields, which would define each one twice).
  constructor(kind: UnitKind, transactions: number, header: BlockHeader, complete: boolean, src: Buffer, start: number, end: number, crlf: boolean) {
    this.kind = kind;
    this.transactions = transactions;
    this.header = header;
    this.complete = complete;
    this.src = src;
    this.start = start;
    this.end = end;
    this.crlf = crlf;
  }

  get lines(): Buffer[] {
    let out = linesCache.get(this);
    if (out === undefined) {
      const { src, end } = this;
      out = [];
      let p = this.start;
      while (p < end) {
        let lf = src.indexOf(LF, p);
        if (lf === -1 || lf >= end) lf = end;
        const e = lf > p && src[lf - 1] === CR ? lf - 1 : lf;
        out.push(src.subarray(p, e));
        p = lf + 1;
      }
      linesCache.set(this, out);
    }
    return out;
  }
}

/** `lines` once read (rarely: the batcher copies byte ranges), so repeated reads return the same array. */
const linesCache = new WeakMap<ParsedUnit, Buffer[]>();

export function makeUnit(kind: UnitKind, transactions: number, header: BlockHeader, complete: boolean, src: Buffer, start: number, end: number, crlf: boolean): ParsedUnit {
  return new ParsedUnit(kind, transactions, header, complete, src, start, end, crlf);
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
