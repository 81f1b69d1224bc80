/**
 * The merge copies a part as raw byte ranges around its empty and command
 * lines when no line needs changing (spr/write.ts copyRanges), and line by
 * line otherwise. Both must write the same bytes. A part whose lines end in a
 * bare LF always takes the line-by-line path (the CR must be added), so the
 * same parts written with CRLF and with LF must merge to identical outputs.
 */
import { strict as assert } from 'node:assert';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { test } from 'node:test';
import fc from 'fast-check';
import iconv from 'iconv-lite';
import { mergeSprParts, scanSprPart } from '../../src/formats/spr.js';
import { MAX_SKIPPED_LINES, SKIP_COMMAND, SKIP_EMPTY } from '../../src/formats/spr/scan.js';
import { withTempDir } from '../helpers/temp-dir.js';

type Part = { inline: string; flag: '#' | '@'; lines: string[]; tail: 'crlf' | 'none' | 'cr'; utf8: boolean };

function partBytes(p: Part, eol: string): Buffer {
  let text = `##@@&&${p.inline}${eol}${p.flag}${eol}`;
  p.lines.forEach((l, i) => {
    text += l;
    if (i < p.lines.length - 1 || p.tail === 'crlf') text += eol;
    else if (p.tail === 'cr') text += '\r';
  });
  return p.utf8 ? Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(text, 'utf8')]) : iconv.encode(text, 'win1251');
}

async function mergeAll(dir: string, parts: Part[], eol: string) {
  const inDir = join(dir, `in-${eol.length}`);
  const outDir = join(dir, `out-${eol.length}`);
  await mkdir(inDir);
  await mkdir(outDir);
  const named = [];
  for (const [i, p] of parts.entries()) {
    const path = join(inDir, `POS1.spr.$${i + 1}`);
    await writeFile(path, partBytes(p, eol));
    named.push({ path, name: basename(path) });
  }
  const r = await mergeSprParts(named, outDir);
  const outputs = [];
  for (const o of r.outputs) outputs.push({ file: basename(o.path), parts: o.parts, encoding: o.encoding, dataLines: o.dataLines, bytes: o.bytes, text: (await readFile(o.path)).toString('latin1') });
  return { outputs, skipped: r.skipped };
}

const lineArb = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom('1;Молоко;10.00', '#1;4600000000017', '2;Хлеб;;', '&1;Кассир;1', '~1;права', '!1;скидка', '|x', '$%1;купон') },
  { weight: 1, arbitrary: fc.constantFrom('', '$$$RPL', '$$$ADD', '$$$CLR{NO_TOV}{USR}', '$$$CLR', '$$$CLR{FIX_S}', '$$$DELETEALL', '$$') },
);
const partArb: fc.Arbitrary<Part> = fc.record({
  inline: fc.constantFrom('', '', '$$$RPL', '$$$CLR{NO_TOV}{USR}', '$$$ADD', '$$$XYZ'),
  flag: fc.constantFrom<('#' | '@')[]>('#', '#', '#', '@'),
  lines: fc.array(lineArb, { maxLength: 12 }),
  tail: fc.constantFrom<('crlf' | 'none' | 'cr')[]>('crlf', 'none', 'cr'),
  utf8: fc.boolean(),
});

test('property: parts copied as byte ranges merge to exactly what line-by-line copying writes', async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(partArb, { minLength: 1, maxLength: 4 }), async (parts) => {
      await withTempDir(async (dir) => {
        const crlf = await mergeAll(dir, parts, '\r\n');
        const lf = await mergeAll(dir, parts, '\n');
        assert.deepEqual(crlf, lf);
      });
    }),
    { numRuns: 150 },
  );
});

test('scan: empty and command lines are located for range copying; a bare LF or too many of them turn it off', async () => {
  await withTempDir(async (dir) => {
    const p = join(dir, 'a');
    // Line 3 starts at byte 11; the empty line is bytes 16-17, the command 18-38.
    await writeFile(p, '##@@&&\r\n#\r\n1;a\r\n\r\n$$$CLR{NO_TOV}{USR}\r\n&1;b\r\n#1;2\r');
    const s = await scanSprPart(p, 'a');
    assert.equal(s.rangeCopy, true);
    assert.equal(s.clean, false);
    assert.deepEqual(s.skips, [16, 18, SKIP_EMPTY, 18, 39, SKIP_COMMAND]);
    assert.equal(s.tailEol, '\n');
    assert.deepEqual(s.tableLines, [2, 1, 0, 0, 0, 0]);

    await writeFile(p, '##@@&&\r\n#\r\n1;a\r\n2;b\n3;c\r\n');
    assert.equal((await scanSprPart(p, 'a')).rangeCopy, false, 'a bare LF needs a CR added');

    await writeFile(p, `##@@&&\r\n#\r\n${'1;a\r\n\r\n'.repeat(MAX_SKIPPED_LINES + 1)}`);
    const many = await scanSprPart(p, 'a');
    assert.equal(many.rangeCopy, false);
    assert.deepEqual(many.skips, [], 'memory stays bounded');
    assert.equal(many.dataLines, MAX_SKIPPED_LINES + 1);
  });
});

test('merge: more empty lines than are located still merge (line by line), the same as a part without them', async () => {
  await withTempDir(async (dir) => {
    const body = Array.from({ length: MAX_SKIPPED_LINES + 10 }, (_, i) => `${i};товар`);
    await writeFile(join(dir, 'sparse'), iconv.encode(`##@@&&\r\n#\r\n${body.join('\r\n\r\n')}\r\n`, 'win1251'));
    await writeFile(join(dir, 'dense'), iconv.encode(`##@@&&\r\n#\r\n${body.join('\r\n')}\r\n`, 'win1251'));
    await mkdir(join(dir, 'o1'));
    await mkdir(join(dir, 'o2'));
    const a = await mergeSprParts([{ path: join(dir, 'sparse'), name: 'sparse' }], join(dir, 'o1'));
    const b = await mergeSprParts([{ path: join(dir, 'dense'), name: 'dense' }], join(dir, 'o2'));
    assert.ok((await readFile(a.outputs[0]!.path)).equals(await readFile(b.outputs[0]!.path)));
    assert.equal(a.outputs[0]!.dataLines, body.length);
  });
});

test('merge: past the budget of located lines across parts, later parts are copied line by line, with the same result', async () => {
  await withTempDir(async (dir) => {
    // 20 parts x 4000 empty lines = 80000 located lines, more than one merge holds (65536).
    const parts = Array.from({ length: 20 }, (_, k) => Array.from({ length: 4000 }, (_, i) => `${k * 4000 + i};товар`));
    const sparse = [];
    const dense = [];
    for (const [k, lines] of parts.entries()) {
      const name = `POS1.spr.$${k + 1}`;
      await mkdir(join(dir, 's'), { recursive: true });
      await mkdir(join(dir, 'd'), { recursive: true });
      await writeFile(join(dir, 's', name), iconv.encode(`##@@&&\r\n#\r\n${lines.join('\r\n\r\n')}\r\n`, 'win1251'));
      await writeFile(join(dir, 'd', name), iconv.encode(`##@@&&\r\n#\r\n${lines.join('\r\n')}\r\n`, 'win1251'));
      sparse.push({ path: join(dir, 's', name), name });
      dense.push({ path: join(dir, 'd', name), name });
    }
    await mkdir(join(dir, 'o1'));
    await mkdir(join(dir, 'o2'));
    const a = await mergeSprParts(sparse, join(dir, 'o1'));
    const b = await mergeSprParts(dense, join(dir, 'o2'));
    assert.equal(a.outputs.length, 1);
    assert.ok((await readFile(a.outputs[0]!.path)).equals(await readFile(b.outputs[0]!.path)));
    assert.equal(a.outputs[0]!.dataLines, 80000);
  });
});

test('merge: a scan handed in (made under another path and name) replaces pass 1 and writes the same files, and is left unchanged', async () => {
  await withTempDir(async (dir) => {
    const a = join(dir, 'POS1.spr.$1');
    const b = join(dir, 'POS1.spr.$2');
    await writeFile(a, '##@@&&\r\n#\r\n1;a\r\n\r\n$$$ADD\r\n&1;b\r\n');
    await writeFile(b, '##@@&&\r\n#\r\n$$$CLR{NO_TOV}{USR}\r\n1;c\r\n#1;2');
    const parts = [a, b].map((p) => ({ path: p, name: basename(p) }));
    const plain = await mergeSprParts(parts, await mkdirp(join(dir, 'plain')));
    const scans = await Promise.all(parts.map((p) => scanSprPart(p.path, `remote-${p.name}`)));
    const before = scans.map((s) => ({ ...s, skips: [...s.skips] }));
    const given = await mergeSprParts(parts.map((p, i) => ({ ...p, scan: scans[i]! })), await mkdirp(join(dir, 'given')));
    assert.deepEqual(given.outputs.map((o) => o.parts), plain.outputs.map((o) => o.parts));
    assert.deepEqual(given.skipped, plain.skipped);
    for (const [i, o] of given.outputs.entries()) assert.deepEqual(await readFile(o.path), await readFile(plain.outputs[i]!.path));
    assert.deepEqual(scans, before, 'the caller keeps its scans as they were');
  });
});

async function mkdirp(p: string): Promise<string> {
  await mkdir(p, { recursive: true });
  return p;
}
