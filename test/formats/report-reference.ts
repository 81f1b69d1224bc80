/**
 * The report parser as it was before the byte-range rewrite (commit fcafd08),
 * kept as the reference the fast parser must agree with exactly
 * (report-equivalence.test.ts), with the rules of the real Kassir 5 format
 * (issue 11: 58/655 ends, extra-data lines, tag blocks, holding only for an
 * open receipt) added in the same plain style. Do not optimise this copy: its
 * value is that it is straightforward code.
 */
import { detectEncoding } from '../../src/formats/encoding.js';
import { FormatError } from '../../src/formats/errors.js';
import type { BlockHeader, ParsedReport, ReportUnit, UnitKind } from '../../src/formats/report.js';
import { isEndType, isExtraDataType, isReceiptType, isStandaloneType } from '../../src/formats/transaction-types.js';

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

/** The tag a line opens (`<name ...`), and whether the same line closes it; undefined for any other line. */
function tagOf(line: string): { name: string; closed: boolean } | undefined {
  const m = /^<([^/ \t>!?][^ \t>/]*)/.exec(line);
  if (!m) return undefined;
  const name = m[1]!;
  const selfClosing = /\/>[ \t]*$/.test(line);
  return { name, closed: selfClosing || closesAnywhere(line.slice(1), name) };
}
function closesAnywhere(text: string, name: string): boolean {
  for (let at = text.indexOf('</'); at !== -1; at = text.indexOf('</', at + 2)) {
    if (text.startsWith(name, at + 2) && /^(?:$|[> \t])/.test(text.slice(at + 2 + name.length, at + 3 + name.length))) return true;
  }
  return false;
}
function closesAtStart(line: string, name: string): boolean {
  const t = line.replace(/^[ \t]*/, '');
  return t.startsWith(`</${name}`) && /^(?:$|[> \t])/.test(t.slice(2 + name.length, 3 + name.length));
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
  let ended: ParsedUnit | undefined; // the unit the previous line ended
  let tag: string | undefined;
  let tagUnit: ParsedUnit | undefined;
  const sc = [0, 0, 0, 0, 0];

  // Only a receipt with receipt lines still open at end of file may continue in the next file.
  const close = (atEndOfFile = false) => {
    if (cur) {
      cur.complete = !(atEndOfFile && curPos !== NO_KEY && cur.kind === 'receipt');
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
    const text = data.toString('latin1', ls, e);
    if (tag !== undefined) {
      tagUnit?.spans.push(ls, e);
      if (closesAtStart(text, tag)) tag = undefined;
      continue;
    }
    const len = e - ls;
    if (len === 1 && (data[ls] === HASH || data[ls] === AT)) {
      close();
      ended = undefined;
      pendingFlag = data[ls] === HASH ? '#' : '@';
      pendingService = 1;
      headerLine = lineNo;
      continue;
    }
    const opened = header ? tagOf(text) : undefined;
    if (opened) {
      let owner: ParsedUnit | undefined;
      if (header!.flag === '#') {
        owner = cur ?? ended;
        if (!owner) owner = cur = new ParsedUnit('other', 0, header!, false, data, []);
        owner.spans.push(ls, e);
      }
      if (!opened.closed) {
        tag = opened.name;
        tagUnit = owner;
      }
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
    ended = undefined;
    if (type < 0) {
      // Not understood: stays where it stands.
      if (cur) cur.spans.push(ls, e);
      else cur = new ParsedUnit('other', 0, header, false, data, [ls, e]);
      continue;
    }
    const pos = keyField(data, sc[3]! + 1, sc[4]!);
    const rcpt = keyField(data, sc[4]! + 1, sixthEnd);
    const sameReceipt = cur !== undefined && curPos !== NO_KEY && pos === curPos && rcpt === curRcpt;
    const extraInOpenReceipt = cur !== undefined && curPos !== NO_KEY && cur.kind === 'receipt' && isExtraDataType(type);
    if (sameReceipt || extraInOpenReceipt) {
      cur!.spans.push(ls, e);
      cur!.transactions++;
      if (isReceiptType(type)) cur!.kind = 'receipt';
      if (isEndType(type)) {
        ended = cur;
        close();
      }
      continue;
    }
    close();
    if (isStandaloneType(type) || isExtraDataType(type)) {
      ended = new ParsedUnit(isStandaloneType(type) ? 'standalone' : 'extra', 1, header, true, data, [ls, e]);
      units.push(ended);
      continue;
    }
    cur = new ParsedUnit(isReceiptType(type) ? 'receipt' : 'other', 1, header, false, data, [ls, e]);
    curPos = pos;
    curRcpt = rcpt;
    if (isEndType(type)) {
      ended = cur;
      close();
    }
  }
  if (pendingService !== 0) {
    throw new FormatError(name, headerLine, `block header "${pendingFlag}" is followed by ${pendingService - 1} of its 2 service lines before end of file`);
  }
  close(true);
  const r: ParsedReport = { units, skippedLoadedTransactions: skippedLoaded, lines: lineNo, encoding };
  if (tag !== undefined) {
    r.openTag = tag;
    if (tagUnit) tagUnit.complete = false;
  }
  if (header) r.lastHeader = header;
  return r;
}
