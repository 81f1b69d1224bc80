import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import iconv from 'iconv-lite';
import { extractZipTo, isZip, makeZip, readZipEntries } from '../../src/formats/zip.js';
import { decodeBase64 } from '../../src/formats/base64.js';
import { FormatError } from '../../src/formats/errors.js';
import { withTempDir } from '../helpers/temp-dir.js';
import { SEED_SAMPLE_BASE64, SEED_SAMPLE_CONTENT, SEED_SAMPLE_ENTRY } from '../helpers/kkm-seed.js';

const LOCAL_HEADER = 0x04034b50;
const CENTRAL_HEADER = 0x02014b50;

/**
 * Hand-edit a yazl archive the way other archivers write theirs: replace the
 * name bytes of the entry called `placeholder` (same length) and, for
 * non-UTF-8 names, clear general purpose bit 11 in both headers.
 */
function patchEntryName(zip: Buffer, placeholder: string, name: Buffer, opts: { clearUtf8Flag: boolean }): Buffer {
  const out = Buffer.from(zip);
  const ph = Buffer.from(placeholder, 'utf8');
  assert.equal(name.length, ph.length, 'the patched name must keep the byte length');
  for (let i = 0; i + 4 <= out.length; i++) {
    const sig = out.readUInt32LE(i);
    if (sig !== LOCAL_HEADER && sig !== CENTRAL_HEADER) continue;
    const nameAt = sig === LOCAL_HEADER ? i + 30 : i + 46;
    const lenAt = sig === LOCAL_HEADER ? i + 26 : i + 28;
    const flagAt = sig === LOCAL_HEADER ? i + 6 : i + 8;
    if (out.readUInt16LE(lenAt) !== ph.length || !out.subarray(nameAt, nameAt + ph.length).equals(ph)) continue;
    name.copy(out, nameAt);
    if (opts.clearUtf8Flag) out.writeUInt16LE(out.readUInt16LE(flagAt) & ~0x800, flagAt);
  }
  return out;
}

/** Make the central directory claim `size` bytes for the first entry (yazl's local header says 0: data descriptor). */
function patchDeclaredSize(zip: Buffer, size: number): Buffer {
  const out = Buffer.from(zip);
  const at = out.indexOf(Buffer.from([0x50, 0x4b, 0x01, 0x02]));
  out.writeUInt32LE(size, at + 24);
  return out;
}

async function rejection(p: Promise<unknown>): Promise<FormatError> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof FormatError, `expected a FormatError, got ${String(e)}`);
    return e;
  }
  assert.fail('expected a FormatError');
}

test('the seed sample: base64 with \\r\\n, a ZIP holding v8_9969_15.txt in UTF-8 with BOM', async () => {
  const zip = decodeBase64(SEED_SAMPLE_BASE64, 'package 1');
  assert.ok(isZip(zip));
  const entries = await readZipEntries(zip, 'package 1');
  assert.equal(entries.length, 1);
  assert.equal(entries[0]!.name, SEED_SAMPLE_ENTRY);
  assert.deepEqual(entries[0]!.data, SEED_SAMPLE_CONTENT);
  assert.equal(entries[0]!.data.subarray(3).toString('utf8'), '##@@&&$$$RPL\r\n#\r\n');
});

test('makeZip is deterministic and round-trips UTF-8 names', async () => {
  const entries = [
    { name: 'Отчёт POS1.rep', data: Buffer.from('#\r\n1;2\r\n') },
    { name: 'sub/b.txt', data: Buffer.alloc(0) },
  ];
  const a = await makeZip(entries);
  const b = await makeZip(entries.map((e) => ({ ...e, data: Buffer.from(e.data) })));
  assert.ok(a.equals(b), 'same entries must give the same bytes');
  const back = await readZipEntries(a, 'a.zip');
  assert.deepEqual(back, entries);
});

test('names without the UTF-8 flag are cp866 (Russian Windows archivers)', async () => {
  const real = 'Прайс-лист.spr';
  const cp866 = iconv.encode(real, 'cp866');
  const placeholder = 'p'.repeat(cp866.length);
  const zip = patchEntryName(await makeZip([{ name: placeholder, data: Buffer.from('x') }]), placeholder, cp866, { clearUtf8Flag: true });
  const entries = await readZipEntries(zip, 'price.zip');
  assert.equal(entries[0]!.name, real);
});

test('zip-slip names are refused, nothing is written outside the folder', async () => {
  for (const bad of ['../x', '/etc/x', 'C:\\x', 'a/../../x', '..\\..\\x', 'c:x']) {
    const placeholder = 'p'.repeat(Buffer.byteLength(bad));
    const zip = patchEntryName(
      await makeZip([{ name: 'ok.txt', data: Buffer.from('fine') }, { name: placeholder, data: Buffer.from('evil') }]),
      placeholder,
      Buffer.from(bad, 'latin1'),
      { clearUtf8Flag: false },
    );
    const e = await rejection(readZipEntries(zip, 'evil.zip'));
    assert.match(e.message, /^evil\.zip: entry name ".*" (is an absolute path|starts with a drive letter|contains a "\.\." segment)/, bad);
    await withTempDir(async (root) => {
      const dest = join(root, 'dest');
      const e2 = await rejection(extractZipTo(zip, 'evil.zip', dest));
      assert.equal(e2.file, 'evil.zip');
      // The good entry written before the bad one was cleaned up, and nothing escaped.
      assert.deepEqual(await readdir(root), ['dest']);
      assert.deepEqual(await readdir(dest), []);
    });
  }
});

test('a zip bomb with honest headers is refused before inflating anything', async () => {
  const bomb = await makeZip([{ name: 'zeros.spr', data: Buffer.alloc(20 * 1024 * 1024) }]);
  assert.ok(bomb.length < 100 * 1024, 'the bomb should compress well');
  const e = await rejection(readZipEntries(bomb, 'bomb.zip', { maxTotalBytes: 1024 * 1024, maxRatio: 1e9 }));
  assert.match(e.message, /^bomb\.zip: entry "zeros\.spr" declares 20971520 bytes.*limit of 1048576/);
  const r = await rejection(readZipEntries(bomb, 'bomb.zip'));
  assert.match(r.message, /compression ratio above 200/);
});

test('a zip bomb whose header lies is stopped early, counting the real inflated bytes', async () => {
  const bomb = patchDeclaredSize(await makeZip([{ name: 'zeros.spr', data: Buffer.alloc(20 * 1024 * 1024) }]), 1000);
  const e = await rejection(readZipEntries(bomb, 'liar.zip', { maxTotalBytes: 1024 * 1024 }));
  assert.match(e.message, /^liar\.zip: /);
  const inflated = Number(/(\d+) bytes inflated/.exec(e.message)?.[1]);
  assert.ok(Number.isFinite(inflated), e.message);
  assert.ok(inflated <= 1024 * 1024, `stopped after ${inflated} bytes, not after 20 MiB`);
});

test('the total-size counter stops a multi-entry archive at the limit', async () => {
  const entries = Array.from({ length: 8 }, (_, i) => ({ name: `part${i}.spr`, data: Buffer.alloc(300 * 1024, 65 + i) }));
  const zip = await makeZip(entries);
  const e = await rejection(readZipEntries(zip, 'parts.zip', { maxTotalBytes: 1024 * 1024, maxRatio: 1e9 }));
  assert.match(e.message, /entry "part3\.spr" declares 307200 bytes, which with the 921600 bytes before it exceeds/);
  assert.equal((await readZipEntries(zip, 'parts.zip', { maxRatio: 1e9 })).length, 8);
  await rejection(readZipEntries(zip, 'parts.zip', { maxEntries: 7, maxRatio: 1e9 })).then((err) => assert.match(err.message, /more than 7 entries/));
});

test('truncated and damaged archives are FormatErrors naming the archive', async () => {
  const zip = decodeBase64(SEED_SAMPLE_BASE64, 'package 1');
  const truncated = await rejection(readZipEntries(zip.subarray(0, 100), 'package 1'));
  assert.match(truncated.message, /^package 1: corrupt or truncated ZIP archive/);
  assert.equal((await rejection(readZipEntries(Buffer.from('<html>error</html>'), 'page'))).file, 'page');

  // Flip a byte inside a stored entry: only the CRC can tell.
  const stored = Buffer.from(await makeZip([{ name: 'a.txt', data: Buffer.from('x'.repeat(10)) }]));
  const text = Buffer.from('hello world, hello stored entry');
  const plain = await makeStored('s.txt', text);
  const at = plain.indexOf(text);
  plain[at] = plain[at]! ^ 1;
  assert.match((await rejection(readZipEntries(plain, 'stored.zip'))).message, /CRC-32 mismatch/);
  assert.equal((await readZipEntries(stored, 'ok.zip'))[0]!.data.toString(), 'x'.repeat(10));
});

test('extractZipTo streams entries to files, from a buffer or a path', async () => {
  await withTempDir(async (root) => {
    const zip = await makeZip([{ name: 'a/b.spr', data: Buffer.from('one') }, { name: 'c.flr', data: Buffer.from('two') }]);
    const zipPath = join(root, 'in.zip');
    await writeFile(zipPath, zip);
    const out = await extractZipTo(zipPath, 'in.zip', join(root, 'x'));
    assert.deepEqual(out.map((e) => [e.name, e.bytes]), [['a/b.spr', 3], ['c.flr', 3]]);
    assert.equal(await readFile(join(root, 'x', 'a', 'b.spr'), 'utf8'), 'one');
    const named = await extractZipTo(zip, 'in.zip', root, {}, (_n, i) => join(root, `part-${i}`));
    assert.equal(await readFile(named[1]!.path, 'utf8'), 'two');
    assert.equal(named[1]!.path, join(root, 'part-1'));
  });
});

/** A one-entry archive with the entry stored (no compression), built with yazl. */
async function makeStored(name: string, data: Buffer): Promise<Buffer> {
  const { default: yazl } = await import('yazl');
  const z = new yazl.ZipFile();
  z.addBuffer(data, name, { compress: false });
  z.end();
  const chunks: Buffer[] = [];
  for await (const c of z.outputStream) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}
