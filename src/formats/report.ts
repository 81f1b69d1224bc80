/**
 * Report (transactions) files, parsed into the units that must travel
 * together in one package (docs/FORMATS.md "Report files", whose rules marked
 * [assumed] are this parser's; the roles of the types are in transaction-types.ts).
 *
 * Layout: a block starts with a line `#` (not yet loaded) or `@` (already
 * loaded by the back office) followed by two service lines; then one
 * transaction per line, fields separated by `;` (every line ends with `;`):
 * 1 number, 2 date (`DD.MM.YY`), 3 time, 4 type, 5 POS, 6 receipt number, ...
 * A file may hold several blocks.
 *
 * How a line is read:
 * - A *tag line* starts with `<` and a name (`<json_data type="3">`,
 *   `<Document store=...>`). Every line from it to its closing `</name>` (or
 *   the one line, when it closes itself) is a *tag block* that belongs to the
 *   transaction line before it, whatever that line is: it goes into the unit
 *   of that line (an open receipt, a receipt just ended, a standalone or an
 *   extra-data line). Nothing inside a block is read as a transaction or a
 *   block header. A block with no transaction line before it stays with the
 *   lines before it, like any line the parser does not understand.
 * - A *transaction* is any other line with at least 6 fields whose field 4
 *   (type) is an unsigned integer (spaces around it allowed). Fields 5/6 (POS,
 *   receipt) are compared as written (digits compared as numbers: `07` = `7`).
 * - A line the parser does not understand (empty, fewer than 6 fields, a
 *   type that is not a number) is not a transaction: it stays in the unit
 *   where it stands (the open run), or, between units, forms an 'other' unit
 *   of 0 transactions together with its non-understood neighbours. It is
 *   never dropped. (Empty lines before the first block header carry nothing
 *   and are the one exception.)
 *
 * Units:
 * - 'receipt': a run of transactions with the same (POS, receipt), ended by
 *   its end line (55 closed, 56 cancelled, 58 deferred, 655 prepayment
 *   receipt closed), by a transaction of another (POS, receipt) that is not
 *   extra data, by a block header or by end of file. A run started by an
 *   unknown type is keyed the same way (kind 'other' until a receipt line
 *   joins it).
 * - 'standalone': one line of a standalone type (cash in/out, X/Z reports)
 *   outside an open run, with its tag block if any.
 * - 'extra': one extra-data line (125, 300) outside an open receipt, with its
 *   tag block. Inside an open receipt (a keyed run with receipt lines) an
 *   extra-data line belongs to that receipt whatever its key, so it can never
 *   cut a receipt in two.
 * - 'other': non-understood lines between units, or a run started by a type
 *   we do not know (grouped by key exactly like a receipt, so it is never split).
 *
 * `complete` is false for the last unit of a file only, and only when the
 * file ends inside a receipt that has receipt lines and no end line, or inside
 * a tag block (`ParsedReport.openTag`): the rest may still be coming. Extra
 * data, standalone lines and runs of unknown types never make a file
 * incomplete.
 *
 * Works on bytes: only `#`, `@`, `<`, `/`, `;`, digits, spaces, CR and LF are
 * looked at, which both encodings write the same. A unit is one byte range of
 * `data`; its `lines` (views, no copies) are made only when read, because one
 * Buffer object per line costs more than the whole parse (see BENCHMARKS.md).
 *
 * This file owns the unit rules (the parser); the steps it uses are in
 * report/: fields.ts (reading fields 1-6 as bytes), tags.ts (where a tag
 * block opens and closes), unit.ts (the unit types, and a unit as one byte
 * range rendered into a package). Callers import all of it from here.
 */
import { detectEncoding, type TextEncoding } from './encoding.js';
import { FormatError } from './errors.js';
import { ENDS_RECEIPT, EXTRA_DATA, IN_RECEIPT, STANDALONE, typeClass } from './transaction-types.js';
import { fieldPos, fieldPosEnd, fieldRcpt, fieldRcptEnd, fieldTypeEnd, showLine, textKey, transactionFields } from './report/fields.js';
import { closesTag, tagClosed, tagOpened } from './report/tags.js';
import { makeUnit, type BlockHeader, type ParsedUnit, type ReportUnit } from './report/unit.js';

export { unitLinesCrlf, type BlockHeader, type ReportUnit, type UnitKind } from './report/unit.js';

export interface ParsedReport {
  units: ReportUnit[];
  /** Transactions in '@' blocks: already loaded by the back office; not returned as units. */
  skippedLoadedTransactions: number;
  /** The block header in effect at end of file: pass it as `opts.header` to continue in the next file. */
  lastHeader?: BlockHeader;
  /** Lines in the file. */
  lines: number;
  encoding: TextEncoding;
  /** The tag name (`json_data`) when the file ends inside a tag block (the last unit is then not complete). */
  openTag?: string;
}

/**
 * The bytes the hot loop compares with. A const enum, because TypeScript
 * writes its members as literals, which V8's optimizing compiler folds into
 * the compare; an imported constant is a load and a type check on every use
 * in the loop.
 */
const enum B {
  LF = 0x0a,
  CR = 0x0d,
  HASH = 0x23,
  AT = 0x40,
  LT = 0x3c,
}

/** Records a unit that ended. Only a receipt with receipt lines that no end line ended may continue in the next file. */
function finishUnit(unit: ParsedUnit, units: ReportUnit[], openReceipt: boolean): void {
  unit.complete = !openReceipt;
  if (unit.header.flag === '#') units.push(unit);
}

/*
 * The hot loop. Per line: one Buffer.indexOf for LF (a native memchr, about
 * as fast as `wc -l`) and one call that reads fields 1-6 (transactionFields:
 * field 1 scanned four bytes a read, a check that fields 2-3 have their
 * usual width, one pass over fields 4-6 that finds their ends and parses them
 * as integers); the rest of the line is never read. Nothing is allocated per
 * line: a unit is one object made when it starts, and it grows
 * by moving its end offset. Keys (POS, receipt) are integers; a field that is
 * not a number (rare) is -1 and compared by its text beside it, so the
 * integer comparison stays monomorphic. Tag blocks cost one byte compare per
 * line outside them and a look for the closing tag per line inside them.
 */
export function parseReport(data: Buffer, name: string, opts: { header?: BlockHeader } = {}): ParsedReport {
  const encoding = detectEncoding(data);
  const n = data.length;
  const dv = new DataView(data.buffer, data.byteOffset, data.byteLength);
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
  // are curPos/curRcpt (-1: not a number, its text is in curPosText/curRcptText).
  let cur: ParsedUnit | undefined;
  let keyed = false;
  let curPos = -1;
  let curRcpt = -1;
  let curPosText = '';
  let curRcptText = '';
  // The unit the last line went into when it ended with that line (an end,
  // standalone or extra-data line, or a tag block after one): a tag block
  // that follows belongs to it.
  let ended: ParsedUnit | undefined;
  // The tag block being read: its name, and the unit it goes into (undefined in an '@' block).
  let tag: Buffer | undefined;
  let tagUnit: ParsedUnit | undefined;

  while (p < n) {
    const ls = p;
    let end = data.indexOf(B.LF, ls);
    let crlf: boolean;
    let e: number;
    if (end === -1) {
      end = n;
      p = n;
      e = end > ls && data[end - 1] === B.CR ? end - 1 : end;
      crlf = false;
    } else {
      p = end + 1;
      crlf = end > ls && data[end - 1] === B.CR;
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
    if (tag !== undefined) {
      // Inside a tag block: every line is content, up to the closing tag.
      if (tagUnit !== undefined) {
        tagUnit.end = p;
        if (!crlf) tagUnit.crlf = false;
      }
      if (closesTag(data, ls, e, tag, false)) tag = undefined;
      continue;
    }
    const len = e - ls;
    if (len === 1 && (data[ls] === B.HASH || data[ls] === B.AT)) {
      if (cur !== undefined) {
        finishUnit(cur, units, false); // a new block: the receipt cannot continue
        cur = undefined;
        keyed = false;
      }
      ended = undefined;
      pendingFlag = data[ls] === B.HASH ? '#' : '@';
      pendingService = 1;
      headerLine = lineNo;
      continue;
    }
    if (data[ls] === B.LT && header !== undefined) {
      const opened = tagOpened(data, ls, e);
      if (opened !== undefined) {
        // A tag block: into the unit of the line before it.
        let owner: ParsedUnit | undefined;
        if (header.flag === '#') {
          owner = cur ?? ended;
          if (owner === undefined) {
            owner = cur = makeUnit('other', 0, header, false, data, ls, ls, crlf);
            keyed = false;
          }
          owner.end = p;
          if (!crlf) owner.crlf = false;
        }
        if (!tagClosed) {
          tag = opened;
          tagUnit = owner;
        }
        continue;
      }
    }

    // Fields 4-6 (type, POS, receipt): one call reads them (report/fields.ts).
    const type = transactionFields(data, dv, ls, e);
    const pos = fieldPos;
    const rcpt = fieldRcpt;

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
      ended = undefined;
      if (cur !== undefined) {
        cur.end = p;
        if (!crlf) cur.crlf = false;
      } else {
        cur = makeUnit('other', 0, header, false, data, ls, p, crlf);
        keyed = false;
      }
      continue;
    }
    ended = undefined;
    const posText = pos < 0 ? textKey(data, fieldTypeEnd + 1, fieldPosEnd) : '';
    const rcptText = rcpt < 0 ? textKey(data, fieldPosEnd + 1, fieldRcptEnd) : '';
    const cls = typeClass(type);
    if (
      cur !== undefined && keyed &&
      ((pos === curPos && rcpt === curRcpt && posText === curPosText && rcptText === curRcptText) || ((cls & EXTRA_DATA) !== 0 && cur.kind === 'receipt'))
    ) {
      // Same receipt, or extra data while a receipt is open: it belongs to it.
      cur.end = p;
      if (!crlf) cur.crlf = false;
      cur.transactions++;
      if ((cls & IN_RECEIPT) !== 0) cur.kind = 'receipt';
      if ((cls & ENDS_RECEIPT) !== 0) {
        finishUnit(cur, units, false);
        ended = cur;
        cur = undefined;
        keyed = false;
      }
      continue;
    }
    if (cur !== undefined) {
      // Ended by a line of another key (or a standalone line): Kassir moved on.
      finishUnit(cur, units, false);
      cur = undefined;
      keyed = false;
    }
    if ((cls & (STANDALONE | EXTRA_DATA)) !== 0) {
      const unit = makeUnit((cls & STANDALONE) !== 0 ? 'standalone' : 'extra', 1, header, true, data, ls, p, crlf);
      units.push(unit);
      ended = unit;
      continue;
    }
    const unit = makeUnit((cls & IN_RECEIPT) !== 0 ? 'receipt' : 'other', 1, header, false, data, ls, p, crlf);
    if ((cls & ENDS_RECEIPT) !== 0) {
      finishUnit(unit, units, false);
      ended = unit;
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
  // A receipt still open at end of file may continue in the next file.
  if (cur !== undefined) finishUnit(cur, units, keyed && cur.kind === 'receipt');
  let openTag: string | undefined;
  if (tag !== undefined) {
    // The file ends inside a tag block: the rest of the block may still be coming.
    openTag = tag.toString('latin1');
    if (tagUnit !== undefined) tagUnit.complete = false;
  }
  return reportOf(units, skippedLoaded, lineNo, encoding, openTag, header);
}

/**
 * The result, made by one object literal per shape (openTag and lastHeader
 * present or not, in that order). Not by adding the optional fields to an
 * object once made: such an add moves the object to a map that lives only as
 * long as some object has it, and a full collection between two parses (the
 * result dropped) frees that map and clears the store's feedback. The
 * optimized parseReport then deoptimized at its end on every call and ran
 * the next file unoptimized until compiled again: on this VM, loaded, a
 * 32 MB report took 35-120 ms a parse instead of 35-45 (BENCHMARKS.md,
 * "Parsing from the file"). A literal's map is kept alive by the literal
 * itself. (A function of its own for reading only: V8 inlines it.)
 */
function reportOf(units: ReportUnit[], skipped: number, lines: number, encoding: TextEncoding, openTag: string | undefined, lastHeader: BlockHeader | undefined): ParsedReport {
  if (openTag === undefined) {
    return lastHeader === undefined
      ? { units, skippedLoadedTransactions: skipped, lines, encoding }
      : { units, skippedLoadedTransactions: skipped, lines, encoding, lastHeader };
  }
  return lastHeader === undefined
    ? { units, skippedLoadedTransactions: skipped, lines, encoding, openTag }
    : { units, skippedLoadedTransactions: skipped, lines, encoding, openTag, lastHeader };
}
