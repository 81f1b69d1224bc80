/**
 * The fast report parser (byte ranges, integer keys) must read every file
 * exactly as the reference parser does (report-reference.ts, written apart
 * from it from the rules in docs/FORMATS.md "Report files"): same units,
 * kinds, counts, completeness, lines, headers, errors. Generated
 * files mix every irregularity the parser has a rule for: LF/CRLF/CR CR LF,
 * a last line without EOL or ending in a bare CR, spaces and leading zeros in
 * fields, non-numeric and over-long keys, short lines, '@' blocks, a BOM.
 */
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import fc from 'fast-check';
import { parseReport, unitLinesCrlf, type BlockHeader, type ParsedReport } from '../../src/formats/report.js';
import { referenceParseReport } from './report-reference.js';
import { kassirFile, WIKI_CASES } from './wiki-lines.js';

const CRLF = Buffer.from('\r\n');

function outcome(fn: () => ParsedReport): ParsedReport | string {
  try {
    return fn();
  } catch (e) {
    return `${(e as Error).name}: ${(e as Error).message}`;
  }
}

const headerView = (h: BlockHeader | undefined) => (h === undefined ? undefined : { flag: h.flag, service: h.service.map((b) => b.toString('latin1')), encoding: h.encoding });

function view(r: ParsedReport | string) {
  if (typeof r === 'string') return r;
  return {
    lines: r.lines,
    encoding: r.encoding,
    skipped: r.skippedLoadedTransactions,
    lastHeader: headerView(r.lastHeader),
    units: r.units.map((u) => ({ kind: u.kind, n: u.transactions, complete: u.complete, header: headerView(u.header), lines: u.lines.map((l) => l.toString('latin1')) })),
  };
}

const field = (xs: string[]) => fc.constantFrom(...xs);
const txLine = fc
  .tuple(
    fc.nat({ max: 999 }),
    // Fields 2-3 as usual, with a `;` put over any one of their 19 bytes, shorter, longer, empty.
    fc.oneof(
      field(['15.03.2024;12:00:00', '08.10.24;13:36:20', '1.3.2024;12:00:00', '8.10.24;13:36:20', '15.03.20245;12:00:00', '15.03.2024;12:00', '08.10.24;13:36', '15.03.2024;12:00:001', ';', ';;', '']),
      fc.nat({ max: 18 }).map((k) => { const d = '15.03.2024;12:00:00'; return `${d.slice(0, k)};${d.slice(k + 1)}`; }),
      fc.nat({ max: 16 }).map((k) => { const d = '08.10.24;13:36:20'; return `${d.slice(0, k)};${d.slice(k + 1)}`; }),
    ),
    field(['1', '11', '2', '40', '55', '56', '58', '611', '655', '125', '300', '50', '51', '60', '63', '99', '7', '255', '256', '1023', '1024', ' 11 ', '055', '', 'x', '1.5', '1234567890123456', '\t11', '11\t', '1 1', '+11', '-55', '000000000000055']),
    field(['1', '01', ' 1', '1 ', '2', 'A', '', '  ', '9007199254740993', '123456789012345']),
    field(['7', '07', '8', ' 7 ', 'A7', 'a7', '', '0', '1234567890123456']),
    field(['', ';1;100;1;10.00;1;10.00', ';1;;3;0;0;0;', ';', ';x', ';;;;']),
  )
  .map(([n, dateTime, type, pos, rcpt, rest]) => `${n};${dateTime};${type};${pos};${rcpt}${rest}`);
const lineArb = fc.oneof(
  { weight: 8, arbitrary: txLine },
  { weight: 2, arbitrary: field(['#', '@']) },
  { weight: 2, arbitrary: field(['', 'x', 'a;b;c', ';;;;', ';;;;;', '1;2;3;11;1', '1;2;3;11;1;', '# ', '#@', 'svc', ' @']) },
  // Tag blocks (the wiki's <json_data>/<Document>), their content and near misses.
  {
    weight: 3,
    arbitrary: field([
      '<json_data type="3">', '</json_data>', '  </json_data>', '</json_data >', '</json_dataX>', '<json_data type="1">{"a": 1}</json_data>',
      '<Document store="0000061" Комментарий="x" Секция="1">', '</Document>', '1;33.001', '<goods_attr code="1"/>', '<a/>  ', '<a>',
      '</a>', '<', '<>', '< a>', '</>', '<!-- x -->', '{"errors":[]}', '1;2;3;11;1;7;', '<x;1;2;11;1;7',
      // Tabs and odd endings around tags.
      '<json_data\ttype="3">', '\t</json_data>', '</json_data\t', '<a/>\t', '<a\t/>', '<\ta>', '<a></a >', '<a>x</ab>', '<?xml?>', '<a;b>', '</json_data>x',
    ]),
  },
);
const eolArb = field(['\r\n', '\r\n', '\n', '\r\r\n']);

test('property: the fast parser reads every file exactly as the reference parser', () => {
  fc.assert(
    fc.property(
      fc.array(fc.tuple(lineArb, eolArb), { maxLength: 40 }),
      field(['eol', 'none', 'cr']),
      fc.boolean(),
      fc.boolean(),
      fc.option(fc.constantFrom<('#' | '@')[]>('#', '@'), { nil: undefined }),
      (lines, last, headerFirst, bom, optFlag) => {
        let text = headerFirst ? '#\r\nsvc1\r\nsvc2\r\n' : '';
        lines.forEach(([l, eol], i) => {
          text += l;
          if (i < lines.length - 1 || last === 'eol') text += eol;
          else if (last === 'cr') text += '\r';
        });
        const body = Buffer.from(text, 'latin1');
        const data = bom ? Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), body]) : body;
        const opts: { header?: BlockHeader } = optFlag === undefined ? {} : { header: { flag: optFlag, service: [Buffer.from('o1'), Buffer.from('o2')] } };
        const want = outcome(() => referenceParseReport(data, 'POS1.rep', opts));
        const got = outcome(() => parseReport(data, 'POS1.rep', opts));
        assert.deepEqual(view(got), view(want));
        if (typeof got !== 'string') {
          for (const u of got.units) assert.ok(unitLinesCrlf(u).equals(Buffer.concat(u.lines.flatMap((l) => [l, CRLF]))), 'unitLinesCrlf = lines + CRLF');
        }
      },
    ),
    { numRuns: 2000 },
  );
});

test('the wiki cases, whole and cut after every line (open receipts, open tag blocks): both parsers read them alike', () => {
  let files = 0;
  for (const c of WIKI_CASES) {
    for (let n = 0; n <= c.lines.length; n++) {
      for (const bom of [false, true]) {
        const body = kassirFile(c.lines.slice(0, n));
        const data = bom ? Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), body]) : body;
        assert.deepEqual(view(outcome(() => parseReport(data, 'POS13.rep'))), view(outcome(() => referenceParseReport(data, 'POS13.rep'))), `${c.name}, first ${n} lines`);
        files++;
      }
    }
  }
  assert.ok(files > 50, `${files} files compared`);
});

test('unitLinesCrlf: a copy, not a view of the parsed buffer', () => {
  const data = Buffer.from('#\r\na\r\nb\r\n1;d;t;50;1;1\r\n', 'latin1');
  const unit = parseReport(data, 'x').units[0]!;
  const out = unitLinesCrlf(unit);
  assert.equal(out.toString('latin1'), '1;d;t;50;1;1\r\n');
  out[0] = 0x39;
  assert.equal(data.toString('latin1', 9, 10), '1', 'the source is untouched');
});
