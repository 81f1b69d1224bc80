/**
 * The report parser as it was before the byte-range rewrite (commit fcafd08),
 * frozen here as the reference the fast parser must agree with exactly
 * (report-equivalence.test.ts). Do not optimise this copy: its value is that
 * it is the old, straightforward code.
 */
import { detectEncoding } from '../../src/formats/encoding.js';
import { FormatError } from '../../src/formats/errors.js';
import type { BlockHeader, ParsedReport, ReportUnit, UnitKind } from '../../src/formats/report.js';
import { isCloseType, isReceiptType, isStandaloneType } from '../../src/formats/transaction-types.js';

/** A unit as parseReport makes it: line spans into the source buffer, `lines` materialised on first read. */
class ParsedUnit implements ReportUnit {
  #lines: Buffer[] | undefined;
  constructor(
    public kind: UnitKind,
    public transactions: number,
    public header: BlockHeader,
    public complete: boolean,
    /** The parsed file's bytes. */
    readonly src: Buffer,
    /** [start, end) byte offsets of each line in `src`, without EOL, flattened. */
    readonly spans: number[],
  ) {}

  get lines(): Buffer[] {
    if (this.#lines === undefined) {
      const out: Buffer[] = [];
      for (let i = 0; i < this.spans.length; i += 2) out.push(this.src.subarray(this.spans[i], this.spans[i + 1]));
      this.#lines = out;
    }
    return this.#lines;
  }
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

/** A field as a comparable key: its number when it is one, else its text. */
function keyField(data: Buffer, s: number, e: number): number | string {
  const v = parseUint(data, s, e);
  return v >= 0 ? v : `s:${data.toString('latin1', s, e)}`;
}

const NO_KEY = Symbol('no key');

function showLine(line: Buffer): string {
  const t = line.toString('latin1', 0, Math.min(line.length, 60));
  return JSON.stringify(line.length > 60 ? `${t}...` : t);
}

export function referenceParseReport(data: Buffer, name: string, opts: { header?: BlockHeader } = {}): ParsedReport {
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

  let cur: ParsedUnit | undefined;
  let curPos: number | string | symbol = NO_KEY;
  let curRcpt: number | string | symbol = NO_KEY;
  const sc = [0, 0, 0, 0, 0];

  // A keyed run (a receipt, or a run of unknown types) still open at end of
  // file may continue in the next file: the only incomplete unit.
  const close = (atEndOfFile = false) => {
    if (cur) {
      cur.complete = !atEndOfFile || curPos === NO_KEY;
      if (cur.header.flag === '#') units.push(cur);
      cur = undefined;
      curPos = curRcpt = NO_KEY;
    }
  };

  while (p < n) {
    let end = data.indexOf(LF, p);
    const next = end === -1 ? n : end + 1;
    if (end === -1) end = n;
    const e = end > p && data[end - 1] === CR ? end - 1 : end;
    lineNo++;
    const ls = p;
    p = next;

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
      close();
      pendingFlag = data[ls] === HASH ? '#' : '@';
      pendingService = 1;
      headerLine = lineNo;
      continue;
    }

    // Fields 1-6: find the first five semicolons by hand (the start of a
    // line is short), then the type and key fields between them.
    let f = 0;
    for (let i = ls; i < e && f < 5; i++) if (data[i] === SEMI) sc[f++] = i;
    let type = -1;
    let sixthEnd = e;
    if (f === 5) {
      type = parseUint(data, sc[2]! + 1, sc[3]!);
      const s6 = data.indexOf(SEMI, sc[4]! + 1);
      if (s6 !== -1 && s6 < e) sixthEnd = s6;
    }

    if (!header) {
      if (len === 0) continue;
      throw new FormatError(name, lineNo, `not a report file: expected a block header line "#" or "@" before the first transaction, found ${showLine(data.subarray(ls, e))}`);
    }
    if (header.flag === '@') {
      if (type >= 0) skippedLoaded++;
      continue;
    }
    if (type < 0) {
      // Not understood: stays where it stands.
      if (cur) cur.spans.push(ls, e);
      else cur = new ParsedUnit('other', 0, header, false, data, [ls, e]);
      continue;
    }
    const pos = keyField(data, sc[3]! + 1, sc[4]!);
    const rcpt = keyField(data, sc[4]! + 1, sixthEnd);
    if (cur && pos === curPos && rcpt === curRcpt) {
      cur.spans.push(ls, e);
      cur.transactions++;
      if (isReceiptType(type)) cur.kind = 'receipt';
      if (isCloseType(type)) close();
      continue;
    }
    close();
    if (isStandaloneType(type)) {
      units.push(new ParsedUnit('standalone', 1, header, true, data, [ls, e]));
      continue;
    }
    cur = new ParsedUnit(isReceiptType(type) ? 'receipt' : 'other', 1, header, false, data, [ls, e]);
    curPos = pos;
    curRcpt = rcpt;
    if (isCloseType(type)) close();
  }
  if (pendingService !== 0) {
    throw new FormatError(name, headerLine, `block header "${pendingFlag}" is followed by ${pendingService - 1} of its 2 service lines before end of file`);
  }
  close(true);
  const r: ParsedReport = { units, skippedLoadedTransactions: skippedLoaded, lines: lineNo, encoding };
  if (header) r.lastHeader = header;
  return r;
}
