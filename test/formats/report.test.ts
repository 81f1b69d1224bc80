import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { FormatError } from '../../src/formats/errors.js';
import { parseReport } from '../../src/formats/report.js';
import { isEndType, isExtraDataType, isReceiptType, TRANSACTION_TYPES, typeClass } from '../../src/formats/transaction-types.js';
import { kassirFile, receiptLine, WIKI_125_ERRORS, WIKI_125_PREPAYMENT, WIKI_125_SLIP, WIKI_300_DOCUMENT, WIKI_CASES, WIKI_HEADER } from './wiki-lines.js';

const t = (n: number, type: number, pos: number | string, rcpt: number | string, rest = '1;100;1;10.00;1;10.00') =>
  `${n};15.03.2024;12:00:${String(n % 60).padStart(2, '0')};${type};${pos};${rcpt};${rest}`;
const file = (lines: string[], eol = '\r\n') => Buffer.from(lines.join(eol) + eol, 'latin1');
const view = (units: ReturnType<typeof parseReport>['units']) => units.map((u) => ({ kind: u.kind, n: u.transactions, complete: u.complete, lines: u.lines.map((l) => l.toString('latin1')) }));

test('parseReport: receipts up to 55/56, standalone lines, service lines per block', () => {
  const lines = ['#', '1', 'POS1 report', t(1, 11, 1, 7), t(2, 15, 1, 7), t(3, 40, 1, 7), t(4, 55, 1, 7), t(5, 50, 1, 8), t(6, 11, 1, 9), t(7, 56, 1, 9), t(8, 61, 1, 10)];
  const r = parseReport(file(lines), 'POS1.rep');
  assert.deepEqual(view(r.units), [
    { kind: 'receipt', n: 4, complete: true, lines: lines.slice(3, 7) },
    { kind: 'standalone', n: 1, complete: true, lines: [lines[7]] },
    { kind: 'receipt', n: 2, complete: true, lines: lines.slice(8, 10) },
    { kind: 'standalone', n: 1, complete: true, lines: [lines[10]] },
  ]);
  assert.equal(r.lines, 11);
  assert.equal(r.units[0]!.header.flag, '#');
  assert.deepEqual(r.units[0]!.header.service.map(String), ['1', 'POS1 report']);
  assert.equal(r.lastHeader, r.units[0]!.header);
});

test('parseReport: lines it does not understand stay where they stand, never dropped', () => {
  const lines = ['#', 's1', 's2', '', 'junk;1', t(1, 11, 1, 7), 'not;a;transaction;X;1;7', '', t(2, 55, 1, 7), '; ;', t(3, 99, 1, 8), t(4, 11, 1, 8), t(5, 55, 1, 8)];
  const r = parseReport(file(lines), 'POS1.rep');
  assert.deepEqual(view(r.units), [
    { kind: 'other', n: 0, complete: true, lines: ['', 'junk;1'] },
    { kind: 'receipt', n: 2, complete: true, lines: [lines[5], lines[6], '', lines[8]] },
    { kind: 'other', n: 0, complete: true, lines: ['; ;'] },
    // Type 99 is unknown: grouped by (POS, receipt) like a receipt, upgraded by its sale line.
    { kind: 'receipt', n: 3, complete: true, lines: lines.slice(10) },
  ]);
  const all = r.units.flatMap((u) => u.lines.map(String));
  assert.deepEqual(all, lines.slice(3), 'every body line is in exactly one unit, in order');
});

test('parseReport: a receipt ends when (POS, receipt) changes; one open at end of file is not complete', () => {
  const lines = ['#', 'a', 'b', t(1, 11, 1, 7), t(2, 11, 2, 7), t(3, 11, 2, '07'), t(4, 11, 2, 'A7'), t(5, 11, 2, 'A7')];
  const r = parseReport(file(lines, '\n'), 'POS1.rep');
  assert.deepEqual(view(r.units).map((u) => [u.kind, u.n, u.complete]), [
    ['receipt', 1, true], // ended by another key: cannot continue
    ['receipt', 2, true],
    ['receipt', 2, false], // open at end of file: may continue in the next file
  ]);
});

test('parseReport: several blocks; @ blocks are skipped and counted; CRLF and LF read alike', () => {
  const lines = ['@', 'x', 'y', t(1, 11, 1, 1), t(2, 55, 1, 1), 'junk', '#', 'x2', 'y2', t(3, 11, 1, 2), t(4, 55, 1, 2), '#', 'x3', 'y3', t(5, 51, 1, 3)];
  for (const eol of ['\r\n', '\n']) {
    const r = parseReport(file(lines, eol), 'POS1.rep');
    assert.equal(r.skippedLoadedTransactions, 2);
    assert.deepEqual(view(r.units).map((u) => u.lines), [[lines[9], lines[10]], [lines[14]]]);
    assert.deepEqual(r.units.map((u) => u.header.service.map(String)), [['x2', 'y2'], ['x3', 'y3']]);
    assert.deepEqual(r.lastHeader?.service.map(String), ['x3', 'y3']);
  }
});

test('parseReport: a file continuing an earlier block needs opts.header; without one it is not a report', () => {
  const body = file([t(1, 11, 1, 1), t(2, 55, 1, 1)]);
  assert.throws(() => parseReport(body, 'POS1.rep.$2'), (e: unknown) => {
    assert.ok(e instanceof FormatError);
    assert.equal(e.line, 1);
    assert.match(e.message, /^POS1\.rep\.\$2 line 1: not a report file: expected a block header line "#" or "@" before the first transaction, found "1;15\.03\.2024/);
    return true;
  });
  const header = parseReport(file(['#', 'a', 'b']), 'POS1.rep').lastHeader!;
  const r = parseReport(body, 'POS1.rep.$2', { header });
  assert.equal(r.units.length, 1);
  assert.equal(r.units[0]!.header, header);
  assert.throws(() => parseReport(Buffer.from('PK\x03\x04binary'), 'x.rep'), /x\.rep line 1: not a report file/);
  assert.throws(() => parseReport(file(['#', 'only one']), 'y.rep'), /^FormatError: y\.rep line 1: block header "#" is followed by 1 of its 2 service lines/);
  assert.deepEqual(parseReport(Buffer.alloc(0), 'empty.rep').units, []);
});

test('parseReport: UTF-8 BOM files are recognised and marked', () => {
  const r = parseReport(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), file(['#', 'a', 'b', t(1, 50, 1, 1)])]), 'POS1.rep');
  assert.equal(r.encoding, 'utf8bom');
  assert.equal(r.units[0]!.header.encoding, 'utf8bom');
  assert.equal(r.units[0]!.lines[0]!.toString(), t(1, 50, 1, 1));
});

// ---- the real Kassir 5 format: the wiki's own example lines (test/formats/wiki-lines.ts) ----

const bytesOf = (u: ReturnType<typeof parseReport>['units'][number]) => Buffer.concat(u.lines.flatMap((l) => [l, Buffer.from('\r\n')]));

test('wiki: every case parses into whole units; the file is complete; every line byte for byte', () => {
  for (const c of WIKI_CASES) {
    const data = kassirFile(c.lines);
    const r = parseReport(data, 'POS13.rep');
    assert.ok(r.units.every((u) => u.complete), `${c.name}: complete`);
    assert.equal(r.openTag, undefined);
    assert.ok(Buffer.concat(r.units.map(bytesOf)).equals(data.subarray(kassirFile(WIKI_HEADER).length)), `${c.name}: every body line once, in order, byte for byte`);
    for (const u of r.units) {
      assert.ok(u.transactions > 0, `${c.name}: no unit without a transaction`);
      assert.ok(!u.lines[0]!.toString('latin1').startsWith('<'), `${c.name}: no unit starts with a tag block`);
    }
  }
});

test('wiki: 125 and 300 blocks stay with their line; receipts end at 55/58/655; 125 outside a receipt is a unit of its own', () => {
  const shape = (i: number) => parseReport(kassirFile(WIKI_CASES[i]!.lines), 'POS13.rep').units.map((u) => [u.kind, u.transactions, u.lines.length]);
  assert.deepEqual(shape(0), [['receipt', 4, 7]], 'prepayment: 611, 40, 125 + its 3 block lines, 655');
  assert.deepEqual(shape(1), [['receipt', 4, 10]], 'slip: 11, 40, 125 + 6 block lines, 55');
  assert.deepEqual(shape(2), [['receipt', 3, 6]], 'deferred: 11, 125 + 3 block lines, 58');
  assert.deepEqual(shape(3), [['receipt', 2, 2], ['extra', 1, 4], ['standalone', 1, 1], ['extra', 1, 4]]);
  assert.deepEqual(shape(4), [['receipt', 2, 2], ['extra', 1, 5]], 'the document with its 4 block lines');
});

test('wiki: a file is held only when it ends inside a receipt with receipt lines and no end', () => {
  const open = [...WIKI_HEADER, receiptLine(99083, '03.04.23', '15:37:40', 611, 1276, '81', '100.00'), ...WIKI_125_PREPAYMENT];
  let r = parseReport(kassirFile(open), 'POS13.rep');
  assert.deepEqual(r.units.map((u) => [u.kind, u.complete]), [['receipt', false]], 'a prepayment receipt without its 655 is open');
  // The same receipt with its 58 instead: deferred, ended.
  r = parseReport(kassirFile([...open, receiptLine(99086, '03.04.23', '15:37:48', 58, 1276)]), 'POS13.rep');
  assert.deepEqual(r.units.map((u) => [u.kind, u.complete]), [['receipt', true]]);
  // Only 125/300 lines, or an unknown type, never hold a file.
  for (const body of [WIKI_125_ERRORS, WIKI_300_DOCUMENT, [receiptLine(1, '08.10.24', '13:00:00', 999, 5)]]) {
    r = parseReport(kassirFile([...WIKI_HEADER, ...body]), 'POS13.rep');
    assert.ok(r.units.every((u) => u.complete), body[0]);
  }
  // Cut inside a tag block (Kassir still writing it): held, and the parser says which tag.
  r = parseReport(kassirFile([...WIKI_HEADER, ...WIKI_125_SLIP.slice(0, 4)]), 'POS13.rep');
  assert.equal(r.openTag, 'json_data');
  assert.equal(r.units.at(-1)!.complete, false);
  assert.equal(r.units.at(-1)!.lines.length, 4);
});

test('wiki: a tag block goes with the line before it even when that line ended its unit; nothing inside is read as a transaction', () => {
  const lines = [
    ...WIKI_HEADER,
    receiptLine(1, '05.04.23', '19:36:00', 50, 0, '', '1000.00'),
    '<json_data type="3">',
    '1;05.04.23;19:36:00;11;13;9;1;;1;0;0;0;',
    '#',
    '</json_data>',
    ...WIKI_300_DOCUMENT,
    receiptLine(2, '05.04.23', '19:37:00', 55, 1277),
    '<goods_attr code="81"/>',
  ];
  const r = parseReport(kassirFile(lines), 'POS13.rep');
  assert.deepEqual(r.units.map((u) => [u.kind, u.transactions, u.lines.length]), [['standalone', 1, 5], ['extra', 1, 5], ['receipt', 1, 2]]);
});

test('wiki: types above 255 are ordinary types with their roles', () => {
  assert.ok(isReceiptType(611) && isEndType(655) && isEndType(58) && isExtraDataType(300) && isExtraDataType(125));
  assert.equal(typeClass(4000), 0);
  for (const row of TRANSACTION_TYPES) assert.ok(row.source === 'documented' || row.source === 'practice');
});

test('parseReport: field 1 of any length and cp1251 bytes around the semicolons (the scan reads four bytes at a time)', () => {
  // Field 1 from 0 to 9 bytes, so the first `;` falls at every place in a 4-byte read; `:` (one above `;`)
  // and cp1251 letters after it, and short lines that end inside a read, CRLF, LF and no EOL on the last line.
  for (const eol of ['\r\n', '\n']) {
    for (let len = 0; len <= 9; len++) {
      const f1 = '1:\xc0\xe1::\xff\xc2\xee9'.slice(0, len);
      const lines = ['#', '\xd1\xeb\xf3\xe6\xe5\xe1\xed\xe0\xff', 'POS1', `${f1};15.03.2024;12:00:00;11;1;${len + 1};\xd2\xee\xe2\xe0\xf0;1`, `${f1};15.03.24;12:00:00;55;1;${len + 1};`, `${f1};x;y;50;1;0`, ';;', 'a;b'];
      const data = Buffer.from(lines.join(eol), 'latin1'); // the last line has no EOL
      const r = parseReport(data, 'POS1.rep');
      assert.deepEqual(
        view(r.units),
        [
          { kind: 'receipt', n: 2, complete: true, lines: lines.slice(3, 5) },
          { kind: 'standalone', n: 1, complete: true, lines: [lines[5]!] },
          { kind: 'other', n: 0, complete: true, lines: lines.slice(6) },
        ],
        `field 1 of ${len} bytes, ${JSON.stringify(eol)}`,
      );
      assert.equal(r.lines, lines.length);
    }
  }
});

test('parseReport: a bad file names the file and the line', () => {
  const data = Buffer.from('\r\n\r\n1;15.03.2024;12:00:00;11;1;1;\xd2\xee\xe2\xe0\xf0\r\n', 'latin1');
  assert.throws(() => parseReport(data, 'POS7.rep'), (e: unknown) => e instanceof FormatError && /^POS7\.rep line 3: not a report file/.test(e.message));
});
