/**
 * A second report parser, written from the rules in docs/FORMATS.md ("Report
 * files": block headers, transaction lines, transaction types, tag blocks,
 * receipts and units, what holds a file) and not from src/formats/report.ts,
 * so that report-equivalence.test.ts compares two independent readings of the
 * same rules. It is meant to be obviously right, not fast: the file is turned
 * into text (latin1, one character per byte, so every line maps back to its
 * exact bytes), split into lines, each line classified by a regular
 * expression or a field split, and units built by a small state machine over
 * the classified lines. Only the data it shares with the parser is the table
 * of transaction types (TRANSACTION_TYPES, the one place the types' roles are
 * written down) and the error type.
 */
import { FormatError } from '../../src/formats/errors.js';
import type { BlockHeader, ParsedReport, ReportUnit, UnitKind } from '../../src/formats/report.js';
import { TRANSACTION_TYPES } from '../../src/formats/transaction-types.js';

type Role = (typeof TRANSACTION_TYPES)[number]['role'];

/** Type number -> role, from the table. A type not in it is a transaction of unknown role. */
const ROLE = new Map<number, Role>(TRANSACTION_TYPES.flatMap((row) => row.types.map((t) => [t, row.role] as const)));

/** What one line is, read on its own. */
type Line =
  | { is: 'header'; flag: '#' | '@' }
  | { is: 'tag'; name: string; closesItself: boolean }
  | { is: 'transaction'; role: Role | undefined; key: string }
  | { is: 'other' };

/** "An unsigned integer, spaces around allowed" (at most 15 digits), or undefined. */
function unsigned(field: string): number | undefined {
  const m = /^ *([0-9]{1,15}) *$/.exec(field);
  return m ? Number(m[1]) : undefined;
}

/** A key field: equal numbers are one key (`07` = `7`); anything else is compared as written. */
function keyOf(field: string): string {
  const n = unsigned(field);
  return n === undefined ? `text:${field}` : `number:${n}`;
}

const escapeRegExp = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
/** `</name` followed by `>`, a space, a tab or the end of the text. */
const closingTag = (name: string, atStart: boolean) => new RegExp(`${atStart ? '^[ \\t]*' : ''}</${escapeRegExp(name)}(?:[> \\t]|$)`);

/** Reads one line (outside a tag block and outside a block header's service lines). */
function classify(text: string): Line {
  if (text === '#' || text === '@') return { is: 'header', flag: text };
  // A tag opens with `<` and a name: not `</`, `< `, `<>`, `<!`, `<?` (nor a tab).
  const tag = /^<([^/ \t>!?][^ \t>/]*)/.exec(text);
  if (tag) {
    const name = tag[1]!;
    // It closes itself with `/>` at its end (spaces and tabs after it allowed), or with `</name` anywhere after its `<`.
    return { is: 'tag', name, closesItself: /\/>[ \t]*$/.test(text) || closingTag(name, false).test(text.slice(1)) };
  }
  const fields = text.split(';');
  // At least 6 fields (5 semicolons), and field 4 (the type) a number.
  const type = fields.length >= 6 ? unsigned(fields[3]!) : undefined;
  if (type === undefined) return { is: 'other' };
  return { is: 'transaction', role: ROLE.get(type), key: `${keyOf(fields[4]!)} ${keyOf(fields[5]!)}` };
}

/** Up to 60 characters of a line, quoted, as error messages show it. */
function quoted(text: string): string {
  return JSON.stringify(text.length > 60 ? `${text.slice(0, 60)}...` : text);
}

/** A unit under construction: plain arrays, read back as ReportUnit. */
interface Building extends ReportUnit {
  /** Set for a run keyed by (POS, receipt); undefined for lines not understood and single-line units. */
  key: string | undefined;
}

export function referenceParseReport(data: Buffer, name: string, opts: { header?: BlockHeader } = {}): ParsedReport {
  const bom = data.length >= 3 && data[0] === 0xef && data[1] === 0xbb && data[2] === 0xbf;
  const encoding = bom ? 'utf8bom' : 'cp1251';
  // Lines: split at LF; a CR right before the line end belongs to the end of line, not the line.
  const texts = data.toString('latin1', bom ? 3 : 0).split('\n');
  if (texts.at(-1) === '') texts.pop(); // the file ends with LF (or is empty): no line after it
  const lines = texts.map((t) => (t.endsWith('\r') ? t.slice(0, -1) : t));

  const units: ReportUnit[] = [];
  let skipped = 0;
  let header = opts.header;
  /** A block header whose service lines are being read. */
  let reading: { flag: '#' | '@'; at: number; service: Buffer[] } | undefined;
  /** The open unit: a run lines keep joining. */
  let open: Building | undefined;
  /** The unit the previous line ended (an end line, a standalone or extra-data line, or a tag block after one). */
  let justEnded: Building | undefined;
  /** The tag block being read, and the unit its lines go into (none in an '@' block). */
  let inTag: { name: string; owner: Building | undefined } | undefined;

  const start = (kind: UnitKind, transactions: number, line: Buffer, key?: string): Building => ({ kind, transactions, header: header!, complete: true, lines: [line], key });
  const finish = (unit: Building, complete: boolean) => {
    unit.complete = complete;
    units.push(unit);
  };

  lines.forEach((text, i) => {
    const lineNo = i + 1;
    const bytes = Buffer.from(text, 'latin1');
    if (reading) {
      reading.service.push(bytes);
      if (reading.service.length === 2) {
        header = { flag: reading.flag, service: [reading.service[0]!, reading.service[1]!], encoding };
        reading = undefined;
      }
      return;
    }
    if (inTag) {
      inTag.owner?.lines.push(bytes);
      if (closingTag(inTag.name, true).test(text)) inTag = undefined;
      return;
    }
    const line = classify(text);
    if (line.is === 'header') {
      // A new block: whatever was open ends here, complete (a receipt cannot continue across blocks).
      if (open) finish(open, true);
      open = justEnded = undefined;
      reading = { flag: line.flag, at: lineNo, service: [] };
      return;
    }
    if (header === undefined) {
      if (text === '') return; // empty lines before the first header carry nothing
      throw new FormatError(name, lineNo, `not a report file: expected a block header line "#" or "@" before the first transaction, found ${quoted(text)}`);
    }
    if (line.is === 'tag') {
      // The block belongs to the line before it: the open unit, or the unit that line ended, or (none) a unit of its own.
      let owner: Building | undefined;
      if (header.flag === '#') {
        owner = open ?? justEnded;
        if (owner) owner.lines.push(bytes);
        else owner = open = start('other', 0, bytes);
      }
      if (!line.closesItself) inTag = { name: line.name, owner };
      return;
    }
    if (header.flag === '@') {
      // Already loaded by the back office: counted, never sent again.
      if (line.is === 'transaction') skipped++;
      return;
    }
    justEnded = undefined;
    if (line.is === 'other') {
      // Not understood: it stays where it stands.
      if (open) open.lines.push(bytes);
      else open = start('other', 0, bytes);
      return;
    }
    const { role, key } = line;
    const isReceiptLine = role === 'in receipt' || role === 'ends a receipt';
    if (open?.key !== undefined && (open.key === key || (role === 'extra data' && open.kind === 'receipt'))) {
      // The same receipt, or extra data inside an open receipt: it joins.
      open.lines.push(bytes);
      open.transactions++;
      if (isReceiptLine) open.kind = 'receipt';
      if (role === 'ends a receipt') {
        finish(open, true);
        justEnded = open;
        open = undefined;
      }
      return;
    }
    if (open) finish(open, true); // another key: Kassir moved on
    open = undefined;
    if (role === 'standalone' || role === 'extra data') {
      justEnded = start(role === 'standalone' ? 'standalone' : 'extra', 1, bytes);
      finish(justEnded, true);
      return;
    }
    const unit = start(isReceiptLine ? 'receipt' : 'other', 1, bytes, key);
    if (role === 'ends a receipt') {
      finish(unit, true);
      justEnded = unit;
    } else {
      open = unit;
    }
  });

  if (reading) {
    throw new FormatError(name, reading.at, `block header "${reading.flag}" is followed by ${reading.service.length} of its 2 service lines before end of file`);
  }
  // Only a receipt with receipt lines and no end line may continue in the next file.
  if (open) finish(open, !(open.key !== undefined && open.kind === 'receipt'));
  const result: ParsedReport = { units, skippedLoadedTransactions: skipped, lines: lines.length, encoding };
  if (inTag) {
    // The file ends inside a tag block: the rest of it may still be coming.
    result.openTag = inTag.name;
    if (inTag.owner) inTag.owner.complete = false;
  }
  if (header) result.lastHeader = header;
  return result;
}
