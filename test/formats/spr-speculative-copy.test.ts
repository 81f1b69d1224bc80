/**
 * Pass 1 of the merge copies each part into the first output while scanning
 * it, betting that the plan keeps it there unchanged (spr/speculate.ts); pass
 * 2 keeps only what matches what it would write itself. A merge handed every
 * part's scan reads nothing in pass 1, so it makes no bet: its outputs are the
 * reference. Whatever the parts (bets won, lost at the first part, lost half
 * way through a part, lost to a later clear or mode), both must agree byte for
 * byte, and pass 1 must leave no file behind that is not an output.
 */
import { strict as assert } from 'node:assert';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { test } from 'node:test';
import fc from 'fast-check';
import iconv from 'iconv-lite';
import { FormatError } from '../../src/formats/errors.js';
import { mergeSprParts, scanSprPart, type SprMergeOptions } from '../../src/formats/spr.js';
import { MAX_SKIPPED_LINES } from '../../src/formats/spr/scan.js';
import { withTempDir } from '../helpers/temp-dir.js';

let seq = 0;

/** Merges `files` twice, without scans (pass 1 copies) and with them (it does not); returns both results with the outputs' bytes. */
async function bothWays(dir: string, files: Buffer[], opts: SprMergeOptions = {}) {
  const inDir = join(dir, `in-${++seq}`);
  await mkdir(inDir);
  const parts: { path: string; name: string }[] = [];
  for (const [i, bytes] of files.entries()) {
    const path = join(inDir, `POS1.spr.$${i + 1}`);
    await writeFile(path, bytes);
    parts.push({ path, name: basename(path) });
  }
  const run = async (label: string, withScans: boolean) => {
    const outDir = join(dir, `${label}-${seq}`);
    await mkdir(outDir);
    const given = withScans ? await Promise.all(parts.map(async (p) => ({ ...p, scan: await scanSprPart(p.path, p.name) }))) : parts;
    const r = await mergeSprParts(given, outDir, opts);
    const outputs = [];
    for (const o of r.outputs) outputs.push({ file: basename(o.path), parts: o.parts, encoding: o.encoding, dataLines: o.dataLines, bytes: o.bytes, data: await readFile(o.path) });
    for (const o of outputs) assert.equal(o.data.length, o.bytes, `${o.file}: size reported`);
    assert.deepEqual((await readdir(outDir)).sort(), outputs.map((o) => o.file).sort(), 'only the outputs are left in the folder');
    return { outputs, skipped: r.skipped };
  };
  const copied = await run('copied', false);
  const reference = await run('reference', true);
  assert.deepEqual(copied, reference);
  return copied;
}

type Line = { text: string; eol: '\r\n' | '\n' };
type Part = { inline: string; flag: '#' | '@'; lines: Line[]; tail: 'eol' | 'none' | 'cr'; utf8: boolean };

function partBytes(p: Part): Buffer {
  let text = `##@@&&${p.inline}\r\n${p.flag}\r\n`;
  p.lines.forEach((l, i) => {
    text += l.text;
    if (i < p.lines.length - 1 || p.tail === 'eol') text += l.eol;
    else if (p.tail === 'cr') text += '\r';
  });
  return p.utf8 ? Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(text, 'utf8')]) : iconv.encode(text, 'win1251');
}

const lineArb: fc.Arbitrary<Line> = fc.record({
  text: fc.oneof(
    { weight: 8, arbitrary: fc.constantFrom('1;Молоко;10.00', '#1;4600000000017', '2;Хлеб;;', '&1;Кассир;1', '~1;права', '^1;5', '!1;скидка', '<goods_attr id="1">') },
    { weight: 2, arbitrary: fc.constantFrom('', '$$$RPL', '$$$ADD', '$$$CLR{NO_TOV}{USR}', '$$$CLR', '$$$CLR{COM_GR_TOV}', '$$$XYZ') },
  ),
  eol: fc.constantFrom<('\r\n' | '\n')[]>('\r\n', '\r\n', '\r\n', '\r\n', '\r\n', '\n'),
});
const partArb: fc.Arbitrary<Part> = fc.record({
  inline: fc.constantFrom('', '', '$$$RPL', '$$$RPL', '$$$CLR{NO_TOV}{USR}', '$$$ADD', '$$$XYZ'),
  flag: fc.constantFrom<('#' | '@')[]>('#', '#', '#', '@'),
  lines: fc.array(lineArb, { maxLength: 10 }),
  tail: fc.constantFrom<('eol' | 'none' | 'cr')[]>('eol', 'eol', 'none', 'cr'),
  utf8: fc.constantFrom(false, false, false, true),
});

test('property: copying in pass 1 gives the outputs, counts and skips of a merge that does not', async () => {
  await withTempDir(async (dir) => {
    await fc.assert(
      fc.asyncProperty(fc.array(partArb, { minLength: 1, maxLength: 5 }), fc.constantFrom<SprMergeOptions['encoding'][]>('auto', 'auto', 'cp1251', 'utf8bom'), async (parts, encoding) => {
        await bothWays(dir, parts.map(partBytes), { encoding: encoding! });
      }),
      { numRuns: 200 },
    );
  });
});

/** A part of about `mb` MiB of goods lines (several read chunks), each line `n;...` CRLF, with `extra` spliced in at the given fractions of its lines. */
function bigPart(first: string, mb: number, extra: [number, string][] = [], tail = '\r\n'): Buffer {
  const lines: string[] = [];
  const count = Math.round((mb * 1048576) / 48);
  for (let i = 0; i < count; i++) lines.push(`${i};4600000${String(i).padStart(6, '0')};Товар номер ${i}`);
  for (const [at, text] of [...extra].sort((a, b) => b[0] - a[0])) lines.splice(Math.floor(at * count), 0, text);
  return iconv.encode(`##@@&&${first}\r\n#\r\n${lines.join('\r\n')}${tail}`, 'win1251');
}

test('merge of parts spanning several read chunks: the bet won, lost half way through a part, lost to a later clear or mode', async () => {
  await withTempDir(async (dir) => {
    // Won: one output, commands and empty lines inside chunks and across their borders, no EOL at the very end.
    const won = await bothWays(dir, [
      bigPart('$$$RPL', 2.5, [[0.1, ''], [0.5, '$$$RPL'], [0.9, '']]),
      bigPart('$$$RPL', 1.5, [[0.3, '']]),
      bigPart('$$$RPL', 2, [], ''),
    ]);
    assert.equal(won.outputs.length, 1);
    assert.match(won.outputs[0]!.data.subarray(0, 24).toString('latin1'), /^##@@&&\r\n#\r\n\$\$\$RPL\r\n0;/);
    assert.ok(won.outputs[0]!.data.subarray(-2).equals(Buffer.from('\r\n')), 'the missing EOL is added');

    // A bare LF in the second chunk of part 2: its copy so far is thrown away, part 3 is copied in pass 2.
    const bareLf = bigPart('$$$RPL', 2, [[0.8, '77;bare\n78;line']]);
    await bothWays(dir, [bigPart('$$$RPL', 1.5), bareLf, bigPart('$$$RPL', 1.5)]);

    // More empty lines than are located, the overflow far into the part.
    const sparse = bigPart('', 1.5, Array.from({ length: MAX_SKIPPED_LINES + 50 }, (_, i) => [0.2 + (0.7 * i) / (MAX_SKIPPED_LINES + 50), ''] as [number, string]));
    await bothWays(dir, [bigPart('', 1.2), sparse, bigPart('', 1.2)]);

    // A later clear of users drops lines from the first part (a different header, nothing of pass 1 kept).
    const users = bigPart('', 1.5, [[0.5, '&1;Кассир;1'], [0.6, '&2;Старший;2']]);
    const cleared = await bothWays(dir, [users, bigPart('', 1.5), bigPart('$$$CLR{NO_TOV}{USR}', 1.2)]);
    assert.ok(!cleared.outputs.some((o) => o.data.includes(iconv.encode('Кассир', 'win1251'))), 'the users a later clear names are dropped');

    // A clear command half way through the second part, and a part in another mode at the end.
    await bothWays(dir, [bigPart('$$$ADD', 1.5), bigPart('$$$ADD', 2, [[0.7, '$$$CLR{NO_TOV}{FIX_S}']]), bigPart('$$$RPL', 1.2)]);

    // An unknown command in the last chunk of the first part: it travels alone, as written.
    const alone = await bothWays(dir, [bigPart('$$$RPL', 2, [[0.95, '$$$DELETEALL']]), bigPart('$$$RPL', 1.2)]);
    assert.equal(alone.outputs.length, 2);

    // A part already loaded and an empty one in front: they are skipped, the bet starts with the next.
    const loaded = iconv.encode('##@@&&$$$RPL\r\n@\r\n1;x\r\n', 'win1251');
    const front = await bothWays(dir, [loaded, Buffer.from('##@@&&\r\n#\r\n\r\n'), bigPart('$$$RPL', 1.5), bigPart('$$$RPL', 1.5)]);
    assert.deepEqual(front.outputs[0]!.parts, ['POS1.spr.$1', 'POS1.spr.$2', 'POS1.spr.$3', 'POS1.spr.$4']);
  });
});

test('merge: a malformed part after parts pass 1 already copied is refused naming it, and leaves no file behind', async () => {
  await withTempDir(async (dir) => {
    await mkdir(join(dir, 'in'));
    await mkdir(join(dir, 'out'));
    await writeFile(join(dir, 'in', 'a'), bigPart('$$$RPL', 1.5));
    await writeFile(join(dir, 'in', 'b'), '##@@&&\r\nX\r\n1;y\r\n');
    await assert.rejects(
      mergeSprParts([{ path: join(dir, 'in', 'a'), name: 'a' }, { path: join(dir, 'in', 'b'), name: 'b' }], join(dir, 'out')),
      (e: unknown) => e instanceof FormatError && /^b line 2: expected # \(waiting\) or @ \(loaded\)/.test(e.message),
    );
    assert.deepEqual(await readdir(join(dir, 'out')), []);
  });
});
