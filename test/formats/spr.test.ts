import { strict as assert } from 'node:assert';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import iconv from 'iconv-lite';
import { detectEncoding, transcodeLines } from '../../src/formats/encoding.js';
import { FormatError } from '../../src/formats/errors.js';
import { compareSprPartNames, inspectSprPart, mergeSprParts, sprPartNumber } from '../../src/formats/spr.js';
import { addCommands, emptyCommandSummary, renderClear } from '../../src/formats/spr/commands.js';
import { FIX_S, KNOWN_TABLE_NAMES, OTHER, TAG, tableOfLine } from '../../src/formats/spr/tables.js';
import { withTempDir } from '../helpers/temp-dir.js';

test('sprPartNumber: plain name 0, numeric suffixes, anything else undefined', () => {
  assert.equal(sprPartNumber('POS1.spr', 'POS1.spr'), 0);
  assert.equal(sprPartNumber('POS1.spr.$1', 'POS1.spr'), 1);
  assert.equal(sprPartNumber('POS1.spr.$12', 'POS1.spr'), 12);
  assert.equal(sprPartNumber('POS1.spr.$12', 'Files/POS1.spr'), 12);
  assert.equal(sprPartNumber('Files/POS1.spr.$3', 'Files/POS1.spr'), 3);
  for (const bad of ['POS2.spr.$1', 'POS1.spr.$', 'POS1.spr.$0', 'POS1.spr.$01', 'POS1.spr.$1.tmp', 'POS1.spr.1', 'pos1.spr.$1', 'POS1.rep.$1']) {
    assert.equal(sprPartNumber(bad, 'POS1.spr'), undefined, bad);
  }
});

test('compareSprPartNames: plain first, then numeric order ($10 after $9)', () => {
  const names = ['POS1.spr.$10', 'POS1.spr.$2', 'POS1.spr', 'POS1.spr.$9', 'POS1.spr.$1', 'POS1.spr.$100'];
  assert.deepEqual(names.sort(compareSprPartNames), ['POS1.spr', 'POS1.spr.$1', 'POS1.spr.$2', 'POS1.spr.$9', 'POS1.spr.$10', 'POS1.spr.$100']);
});

test('detectEncoding: BOM => utf8bom, else cp1251', () => {
  assert.equal(detectEncoding(Buffer.from([0xef, 0xbb, 0xbf, 0x23])), 'utf8bom');
  assert.equal(detectEncoding(Buffer.from('##@@&&')), 'cp1251');
  assert.equal(detectEncoding(Buffer.alloc(0)), 'cp1251');
  assert.equal(detectEncoding(Buffer.from([0xef, 0xbb])), 'cp1251');
});

test('commands: inline and line forms, clear sets, unknown commands kept verbatim', () => {
  const s = emptyCommandSummary();
  addCommands('$$$CLR {COM_GR_TOV} $$$ADD', s);
  assert.deepEqual(s.commands, ['$$$CLR{COM_GR_TOV}', '$$$ADD']);
  assert.deepEqual([...s.clear!], ['TOV', 'COM_GR_TOV']);
  assert.equal(s.mode, 'ADD');
  assert.deepEqual(s.unknown, []);

  const t = emptyCommandSummary();
  addCommands('$$$CLR{NO_TOV}{usr}', t);
  assert.deepEqual([...t.clear!], ['USR']);
  assert.equal(renderClear(t.clear!), '$$$CLR{NO_TOV}{USR}');
  assert.equal(renderClear(new Set(['TOV', 'USR'])), '$$$CLR{USR}');

  const u = emptyCommandSummary();
  addCommands('$$$RPL', u);
  addCommands('$$$ADD', u);
  assert.deepEqual(u.unknown, ['$$$ADD'], 'ADD and RPL together cannot be merged');
  const v = emptyCommandSummary();
  addCommands('$$$DELETEALLWARES', v);
  addCommands('garbage', v);
  assert.deepEqual(v.unknown, ['$$$DELETEALLWARES', 'garbage']);
});

test('inspectSprPart: counts data lines, reads commands anywhere, flags loaded parts', async () => {
  await withTempDir(async (dir) => {
    const p = join(dir, 'POS1.spr.$1');
    await writeFile(p, Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('##@@&&$$$RPL\r\n@\r\n1;a\r\n\r\n$$$CLR{NO_TOV}{USR}\r\n&1;b\n#1;2')]));
    const info = await inspectSprPart(p, 'POS1.spr.$1');
    assert.deepEqual(info, { name: 'POS1.spr.$1', encoding: 'utf8bom', loaded: true, dataLines: 3, commands: ['$$$RPL', '$$$CLR{NO_TOV}{USR}'], bytes: 57 });
  });
});

test('inspectSprPart: malformed parts throw a FormatError naming file and line', async () => {
  await withTempDir(async (dir) => {
    const cases: [string, Buffer, RegExp][] = [
      ['POS1.spr.$3', iconv.encode('Товар;1\r\n#\r\n', 'win1251'), /^POS1\.spr\.\$3 line 1: expected ##@@&&, found "Товар;1"$/],
      ['POS1.spr.$4', Buffer.alloc(0), /^POS1\.spr\.\$4 line 1: expected ##@@&&, found an empty file$/],
      ['POS1.spr.$5', Buffer.from('##@@&&\r\n'), /^POS1\.spr\.\$5 line 2: expected # \(waiting\) or @ \(loaded\), found end of file$/],
      ['POS1.spr.$6', Buffer.from('##@@&&\r\n1;2;3\r\n'), /^POS1\.spr\.\$6 line 2: expected # \(waiting\) or @ \(loaded\), found "1;2;3"$/],
    ];
    for (const [name, bytes, re] of cases) {
      const p = join(dir, name);
      await writeFile(p, bytes);
      await assert.rejects(inspectSprPart(p, name), (e: unknown) => {
        assert.ok(e instanceof FormatError, String(e));
        assert.match(e.message, re);
        assert.equal(e.file, name);
        return true;
      });
    }
  });
});

test('transcodeLines: cp1251 -> UTF-8 is lossless; a character Windows-1251 lacks is an error naming its line', () => {
  const cp = iconv.encode('Молоко\r\nЁж\r\n', 'win1251');
  assert.equal(transcodeLines(cp, 'cp1251', 'utf8bom', 'x', 1).toString('utf8'), 'Молоко\r\nЁж\r\n');
  const u = Buffer.from('ok?\r\nЧай ☕\r\n', 'utf8');
  assert.throws(() => transcodeLines(u, 'utf8bom', 'cp1251', 'POS1.spr.$2', 10), /^FormatError: POS1\.spr\.\$2 line 11: character U\+2615 "☕" cannot be written in Windows-1251/);
  assert.equal(iconv.decode(transcodeLines(Buffer.from('Чай?\r\n'), 'utf8bom', 'cp1251', 'x', 1), 'win1251'), 'Чай?\r\n');
});

test('merge: forced Windows-1251 output converts UTF-8 parts and refuses lossy text', async () => {
  await withTempDir(async (dir) => {
    const bom = Buffer.from([0xef, 0xbb, 0xbf]);
    await writeFile(join(dir, 'a'), Buffer.concat([bom, Buffer.from('##@@&&\r\n#\r\n1;Сыр\r\n')]));
    const r = await mergeSprParts([{ name: 'a', path: join(dir, 'a') }], dir, { encoding: 'cp1251', filePrefix: 'p-' });
    assert.equal(r.outputs[0]!.encoding, 'cp1251');
    assert.equal(iconv.decode(await readFile(r.outputs[0]!.path), 'win1251'), '##@@&&\r\n#\r\n1;Сыр\r\n');
    await writeFile(join(dir, 'b'), Buffer.concat([bom, Buffer.from('##@@&&\r\n#\r\n1;Сыр\r\n2;Ƶ\r\n')]));
    await assert.rejects(mergeSprParts([{ name: 'b', path: join(dir, 'b') }], dir, { encoding: 'cp1251' }), /^FormatError: b line 4: character U\+01B5/);
  });
});

test('merge: a large part streams through in chunks unchanged (fast path) and lines cut across chunks survive', async () => {
  await withTempDir(async (dir) => {
    const lines: string[] = [];
    for (let i = 0; i < 60000; i++) lines.push(`${i};46${String(i).padStart(11, '0')};Товар номер ${i};Т${i};${i % 1000}.50;1;;0;;;;;;1;;1;1`);
    const body = iconv.encode(`${lines.join('\r\n')}\r\n`, 'win1251');
    await writeFile(join(dir, 'p1'), Buffer.concat([Buffer.from('##@@&&\r\n#\r\n$$$RPL\r\n'), body]));
    // Same data with LF only: must come out identical (CRLF).
    await writeFile(join(dir, 'p2'), Buffer.concat([Buffer.from('##@@&&\n#\n$$$RPL\n'), iconv.encode(`${lines.join('\n')}`, 'win1251')]));
    const out = join(dir, 'out');
    await (await import('node:fs/promises')).mkdir(out);
    const r1 = await mergeSprParts([{ name: 'p1', path: join(dir, 'p1') }], out, { filePrefix: 'crlf-' });
    const r2 = await mergeSprParts([{ name: 'p2', path: join(dir, 'p2') }], out, { filePrefix: 'lf-' });
    const a = await readFile(r1.outputs[0]!.path);
    const b = await readFile(r2.outputs[0]!.path);
    assert.ok(a.length > 3 << 20, 'bigger than several 1 MiB read chunks');
    assert.ok(a.equals(Buffer.concat([Buffer.from('##@@&&\r\n#\r\n$$$RPL\r\n'), body])));
    assert.ok(b.equals(a));
    assert.equal(r1.outputs[0]!.dataLines, 60000);
    assert.equal(r1.outputs[0]!.bytes, a.length);
  });
});

test('merge: a last line without LF (even one ending in a bare CR) still ends in CRLF', async () => {
  await withTempDir(async (dir) => {
    await writeFile(join(dir, 'a'), Buffer.from('##@@&&\r\n#\r\n1;x\r\n2;y\r'));
    await writeFile(join(dir, 'b'), Buffer.from('##@@&&\r\n#\r\n3;z'));
    const out = join(dir, 'out');
    await (await import('node:fs/promises')).mkdir(out);
    const r = await mergeSprParts([{ name: 'a', path: join(dir, 'a') }, { name: 'b', path: join(dir, 'b') }], out);
    assert.equal((await readFile(r.outputs[0]!.path)).toString('latin1'), '##@@&&\r\n#\r\n1;x\r\n2;y\r\n3;z\r\n');
  });
});

test('SPR tables: ^ lines are fixed discounts ({FIX_S}); <name lines are tag elements', () => {
  const at = (s: string) => tableOfLine(Buffer.from(s, 'latin1'), 0);
  assert.equal(at('^2;x;1;1;10'), FIX_S);
  assert.equal(KNOWN_TABLE_NAMES.get('FIX_S'), FIX_S);
  assert.equal(at('<product_group a="1">'), TAG);
  assert.equal(at('<goods_attr code="1"/>'), TAG);
  assert.equal(at('{%^$1;m'), OTHER, 'a modifier line is not a fixed discount');
  assert.equal(at('%^-1;2'), OTHER);
});

test('mergeSprParts: a part with only a mode command (the protocol sample) is an output of its own; after a skipped part too', async () => {
  await withTempDir(async (dir) => {
    const bom = Buffer.from([0xef, 0xbb, 0xbf]);
    await writeFile(join(dir, 'rpl'), Buffer.concat([bom, Buffer.from('##@@&&$$$RPL\r\n#\r\n')]));
    await writeFile(join(dir, 'loaded'), Buffer.from('##@@&&\r\n@\r\n1;a\r\n'));
    const alone = await mergeSprParts([{ name: 'rpl', path: join(dir, 'rpl') }], dir, { filePrefix: 'a-' });
    assert.deepEqual(alone.outputs.map((o) => [o.parts, o.dataLines]), [[['rpl'], 0]]);
    assert.deepEqual(alone.skipped, []);
    assert.equal((await readFile(alone.outputs[0]!.path)).toString('utf8'), '\ufeff##@@&&\r\n#\r\n$$$RPL\r\n');
    const after = await mergeSprParts([{ name: 'loaded', path: join(dir, 'loaded') }, { name: 'rpl', path: join(dir, 'rpl') }], dir, { filePrefix: 'b-' });
    assert.deepEqual(after.outputs.map((o) => o.parts), [['loaded', 'rpl']]);
    assert.deepEqual(after.skipped.map((s) => s.name), ['loaded']);
  });
});
