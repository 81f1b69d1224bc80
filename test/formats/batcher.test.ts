import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import fc from 'fast-check';
import { countTransactions, emptyPackage, planAppend } from '../../src/formats/batcher.js';
import { parseReport } from '../../src/formats/report.js';
import { batchFiles, splitLines } from './batch-sim.js';

let seq = 0;
const tx = (type: number, pos: number, rcpt: number) => `${++seq};15.03.2024;12:00:00;${type};${pos};${rcpt};1;100;1;10.00;1;10.00`;
const receipt = (pos: number, rcpt: number, sales: number, end = 55) => [...Array.from({ length: sales }, () => tx(11, pos, rcpt)), tx(40, pos, rcpt), tx(end, pos, rcpt)];
const file = (lines: string[], eol = '\r\n') => Buffer.from(lines.join(eol) + eol, 'latin1');
const receiptsOf = (pkg: Buffer) => new Set(parseReport(pkg, 'pkg').units.filter((u) => u.kind === 'receipt').map((u) => u.lines[0]!.toString().split(';').slice(4, 6).join('/')));

test('batching: no receipt is ever split; the limit is honoured', () => {
  const lines = ['#', '1', 'POS1', ...receipt(1, 1, 2), ...receipt(1, 2, 5), tx(50, 1, 3), ...receipt(1, 4, 1), ...receipt(1, 5, 3, 56)];
  const pkgs = batchFiles([file(lines)], 8);
  assert.deepEqual(pkgs.map(countTransactions), [4, 8, 8]);
  // Each package is a complete report file with the source block header.
  for (const p of pkgs) assert.deepEqual(splitLines(p).slice(0, 3), ['#', '1', 'POS1']);
  const seen = new Map<string, number>();
  pkgs.forEach((p, i) => { for (const r of receiptsOf(p)) { assert.ok(!seen.has(r), `receipt ${r} in two packages`); seen.set(r, i); } });
  assert.equal(seen.size, 4);
  assert.deepEqual(pkgs.flatMap((p) => splitLines(p).slice(3)), lines.slice(3));
});

test('batching: a unit larger than the limit forms a package of its own', () => {
  const big = receipt(1, 2, 10);
  const lines = ['#', 's', 't', tx(50, 1, 1), ...big, tx(51, 1, 3)];
  const pkgs = batchFiles([file(lines)], 5);
  assert.deepEqual(pkgs.map(countTransactions), [1, 12, 1]);
  assert.deepEqual(splitLines(pkgs[1]!).slice(3), big);

  const p1 = planAppend(emptyPackage, parseReport(file(['#', 's', 't', ...big]), 'x').units[0]!, 5);
  assert.equal(p1.sealFirst, false, 'an empty package takes it');
  assert.equal(p1.state.transactions, 12, 'and is full right after (the caller seals)');
});

test('batching: multi-block sources repeat the header when the block changes; unknown types and lines are carried', () => {
  const a = ['#', 'A1', 'A2', ...receipt(1, 1, 1), 'garbage line', tx(77, 1, 2)];
  const b = ['#', 'B1', 'B2', ...receipt(1, 3, 1)];
  const pkgs = batchFiles([file([...a, ...b])], 100);
  assert.equal(pkgs.length, 1);
  assert.deepEqual(splitLines(pkgs[0]!), [...a, ...b]);
  const parsed = parseReport(pkgs[0]!, 'pkg');
  assert.deepEqual(parsed.units.map((u) => u.kind), ['receipt', 'other', 'other', 'receipt']);
  assert.equal(countTransactions(pkgs[0]!), 7);
});

test('batching: appends across source files; a file continuing a block reuses its header; CRLF and LF give the same bytes', () => {
  seq = 0;
  const make = (eol: string) => {
    seq = 0;
    return [file(['#', 'h1', 'h2', ...receipt(1, 1, 1)], eol), file(receipt(1, 2, 1), eol), file(['#', 'h1', 'h2', ...receipt(1, 3, 1)], eol)];
  };
  const crlf = batchFiles(make('\r\n'), 1000);
  const lf = batchFiles(make('\n'), 1000);
  assert.equal(crlf.length, 1);
  assert.ok(crlf[0]!.equals(lf[0]!), 'LF input is written as CRLF');
  // One header only: all three files are the same block (same service lines).
  assert.deepEqual(splitLines(crlf[0]!).filter((l) => l === '#'), ['#']);
  assert.ok(!crlf[0]!.toString('latin1').replace(/\r\n/g, '').includes('\n'));
});

test('batching: state is tiny JSON; a change of encoding starts a new package', () => {
  const cp = parseReport(file(['#', 'a', 'b', tx(50, 1, 1)]), 'x').units[0]!;
  const utf = parseReport(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), file(['#', 'a', 'b', tx(50, 1, 2)])]), 'y').units[0]!;
  const s1 = planAppend(emptyPackage, cp, 10);
  assert.ok(JSON.stringify(s1.state).length < 120, JSON.stringify(s1.state));
  const s2 = planAppend(s1.state, utf, 10);
  assert.equal(s2.sealFirst, true);
  assert.equal(s2.sealReason, 'encoding');
  assert.equal(planAppend(s1.state, cp, 1).sealReason, 'full');
  assert.equal(s1.sealReason, undefined, 'nothing to seal in an empty package');
  assert.deepEqual([...s2.chunk.subarray(0, 3)], [0xef, 0xbb, 0xbf], 'a UTF-8 package starts with its BOM');
  assert.throws(() => planAppend(emptyPackage, cp, 0), RangeError);
});

// ---- property: over generated files, packages carry exactly the input, in order, receipts whole ----

type Item =
  | { k: 'receipt'; pos: number; sales: number; end: 55 | 56 | 58; junkInside: boolean; unknownInside: boolean; slip: boolean; errors: boolean }
  | { k: 'prepay'; positions: number; closed: boolean }
  | { k: 'standalone'; type: number; errorsBefore: boolean }
  | { k: 'extra'; type: 125 | 300 }
  | { k: 'junk'; text: string }
  | { k: 'unknown'; type: number }
  | { k: 'block' }
  | { k: 'loadedBlock'; n: number };

const itemArb: fc.Arbitrary<Item> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({
      k: fc.constant('receipt' as const), pos: fc.integer({ min: 1, max: 3 }), sales: fc.integer({ min: 0, max: 12 }), end: fc.constantFrom(55 as const, 56 as const, 58 as const),
      junkInside: fc.boolean(), unknownInside: fc.boolean(), slip: fc.boolean(), errors: fc.boolean(),
    }),
  },
  { weight: 2, arbitrary: fc.record({ k: fc.constant('prepay' as const), positions: fc.integer({ min: 1, max: 5 }), closed: fc.boolean() }) },
  { weight: 2, arbitrary: fc.record({ k: fc.constant('standalone' as const), type: fc.constantFrom(50, 51, 60, 61, 62, 63), errorsBefore: fc.boolean() }) },
  // Extra data between receipts: the periodic 125 (error statistics), a posted document 300.
  { weight: 2, arbitrary: fc.record({ k: fc.constant('extra' as const), type: fc.constantFrom(125 as const, 300 as const) }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('junk' as const), text: fc.constantFrom('', 'x', 'a;b;c', ';;;', 'free text; with; semicolons; but;no;type') }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('unknown' as const), type: fc.constantFrom(7, 99, 120, 4000) }) },
  { weight: 1, arbitrary: fc.constant({ k: 'block' as const }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('loadedBlock' as const), n: fc.integer({ min: 0, max: 3 }) }) },
);

test('property: all packages concatenated carry the input transactions exactly and in order, no receipt split, limit honoured', () => {
  fc.assert(
    fc.property(fc.array(itemArb, { maxLength: 60 }), fc.integer({ min: 1, max: 15 }), fc.array(fc.nat(), { maxLength: 4 }), fc.boolean(), fc.boolean(), (items, max, cuts, lf, real) => {
      let n = 0;
      let rc = 0;
      let blocks = 0;
      // Real format (the wiki's lines): DD.MM.YY and a trailing `;`. Else the format the agent was first built on.
      const line = real
        ? (type: number, pos: number, r: number, section = 1) => `${++n};01.02.24;09:00:00;${type};${pos};${r};1;5;${section};2.00;1;2.00;`
        : (type: number, pos: number, r: number) => `${++n};01.02.2024;09:00:00;${type};${pos};${r};1;5;1;2.00;1;2.00`;
      const body: string[] = [];
      const expected: string[] = []; // body lines of '#' blocks, in order
      const receiptOfLine = new Map<string, string>();
      /** Tag-block lines (unique ones) -> the transaction line they belong to. */
      const ownerOfLine = new Map<string, string>();
      let loaded = false;
      const push = (l: string) => { body.push(l); if (!loaded) expected.push(l); };
      /** A 125 (json_data, kind 1-3) or 300 (Document) line with its multi-line block, as on the wiki. */
      const withBlock = (type: 125 | 300, pos: number, r: number, kind: 1 | 2 | 3): string[] => {
        const owner = line(type, pos, r, kind);
        const id = n;
        const block = type === 125
          ? [`<json_data type="${kind}">`, '{', `    "slip": "n${id}",`, `    "RRN": "n${id}"`, '}', '</json_data>']
          : [`<Document store="0000061" comment="n${id}" section="1">`, `1;${id}.001`, '2;44.000', '</Document>'];
        for (const l of block) if (l.includes(`n${id}"`) || l === `1;${id}.001`) ownerOfLine.set(l, owner); // the lines unique to this block
        return [owner, ...block];
      };
      push('#'); push('svc 0'); push('POS');
      for (const it of items) {
        if (it.k === 'block' || it.k === 'loadedBlock') {
          loaded = it.k === 'loadedBlock';
          body.push(loaded ? '@' : '#', `svc ${++blocks}`, 'POS');
          if (!loaded) expected.push('#', `svc ${blocks}`, 'POS');
          if (it.k === 'loadedBlock') for (let i = 0; i < it.n; i++) push(line(11, 9, 9000 + i));
          continue;
        }
        if (loaded) { loaded = false; body.push('#', `svc ${++blocks}`, 'POS'); expected.push('#', `svc ${blocks}`, 'POS'); }
        if (it.k === 'receipt') {
          const r = ++rc;
          const key = `${it.pos}/${r}`;
          const ls = [...Array.from({ length: it.sales }, () => line(11, it.pos, r))];
          if (it.junkInside) ls.push('junk inside');
          ls.push(line(40, it.pos, r));
          // An unknown type inside a receipt, after a receipt line: it never starts one.
          if (it.unknownInside) ls.push(line(99, it.pos, r));
          if (real && it.slip) ls.push(...withBlock(125, it.pos, r, 2));
          if (real && it.errors) ls.push(...withBlock(125, it.pos, r, 3));
          ls.push(line(real ? it.end : it.end === 58 ? 55 : it.end, it.pos, r));
          for (const l of ls) { push(l); if (/^\d+;/.test(l)) receiptOfLine.set(l, key); }
        } else if (it.k === 'prepay') {
          if (!real) continue;
          const r = ++rc;
          const ls = [...Array.from({ length: it.positions }, () => line(611, 13, r)), ...withBlock(125, 13, r, 1), line(it.closed ? 655 : 58, 13, r)];
          for (const l of ls) { push(l); if (/^\d+;/.test(l)) receiptOfLine.set(l, `13/${r}`); }
        } else if (it.k === 'standalone') {
          // Error statistics with an empty receipt come before a non-receipt transaction.
          if (real && it.errorsBefore) for (const l of withBlock(125, 1, rc + 1, 3)) push(l);
          push(line(it.type, 1, ++rc));
        } else if (it.k === 'extra') {
          if (!real) continue;
          for (const l of withBlock(it.type, 1, rc + 1, 3)) push(l);
        } else if (it.k === 'unknown') push(line(it.type, 1, ++rc));
        else push(it.text);
      }
      // Cut the body into several source files at arbitrary line positions outside block headers.
      const eol = lf ? '\n' : '\r\n';
      // Not between a transaction line and its tag block: Kassir writes them in one go (README); inside a block is fine.
      const cutAt = [...new Set(cuts.map((c) => c % (body.length + 1)))].sort((a, b) => a - b).filter((c) => {
        for (let k = 1; k <= 2; k++) if (c - k >= 0 && (body[c - k] === '#' || body[c - k] === '@')) return false;
        return c > 0 && !body[c]?.startsWith('<');
      });
      const files: Buffer[] = [];
      let prev = 0;
      for (const c of [...cutAt, body.length]) {
        if (c > prev) files.push(Buffer.from(body.slice(prev, c).map((l) => l + eol).join(''), 'latin1'));
        prev = c;
      }
      // A cut may fall inside a receipt: batchFiles holds the incomplete tail for the next file.
      const pkgs = batchFiles(files, max);

      // 1. Body lines: exactly the input's unloaded lines, in order (headers only where blocks change).
      const outBody = pkgs.flatMap((p) => parseReport(p, 'pkg').units.flatMap((u) => u.lines.map((l) => l.toString('latin1'))));
      const inBody = expected.filter((l, i) => !(l === '#' || (i > 0 && expected[i - 1] === '#') || (i > 1 && expected[i - 2] === '#')));
      assert.deepEqual(outBody, inBody);
      // 2. Transaction counts add up.
      const inTx = inBody.filter((l) => /^\d+;[^;]*;[^;]*;\d+;[^;]*;/.test(l)).length;
      assert.equal(pkgs.reduce((s, p) => s + countTransactions(p), 0), inTx);
      // 3. No receipt in two packages, even when a file cut fell inside it.
      const where = new Map<string, number>();
      pkgs.forEach((p, i) => {
        for (const l of splitLines(p)) {
          const key = receiptOfLine.get(l);
          if (!key) continue;
          assert.ok(!where.has(key) || where.get(key) === i, `receipt ${key} split across packages ${where.get(key)} and ${i}`);
          where.set(key, i);
        }
      });
      // 4. The limit: a package over it holds exactly one unit.
      for (const p of pkgs) {
        const c = countTransactions(p);
        if (c > max) assert.equal(parseReport(p, 'pkg').units.filter((u) => u.transactions > 0).length, 1, `package of ${c} > ${max} with several units`);
      }
      // 5. Tag blocks travel with their line; no package starts with one; without junk, none is without a transaction.
      pkgs.forEach((p, i) => {
        const ls = splitLines(p);
        for (const l of ls) {
          const owner = ownerOfLine.get(l);
          if (owner !== undefined) assert.ok(ls.includes(owner), `block line ${l} in package ${i} without its line ${owner}`);
        }
        const units = parseReport(p, 'pkg').units;
        assert.ok(!units[0]!.lines[0]!.toString('latin1').startsWith('<'), `package ${i} starts with a tag block`);
        if (!items.some((it) => it.k === 'junk' || (it.k === 'receipt' && it.junkInside))) assert.ok(countTransactions(p) > 0, `package ${i} holds no transaction`);
      });
      // 6. Every package is a valid report file starting with '#' and written in CRLF.
      for (const p of pkgs) {
        assert.equal(p.toString('latin1', 0, 3), '#\r\n');
        assert.ok(!/[^\r]\n/.test(p.toString('latin1')));
      }
    }),
    { numRuns: 500, includeErrorInReport: true },
  );
});
