/**
 * The ZIP writer (src/formats/zip-writer.ts): the very bytes yazl writes for
 * the same entries and options (what the back office received before), and
 * archives that yauzl reads back (through readZipEntries, which also checks
 * every CRC-32).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Writable, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import yazl from 'yazl';
import { writeZip } from '../../src/formats/zip-writer.js';
import { readZipEntries, type ZipEntry } from '../../src/formats/zip.js';
import { reportFile } from '../helpers/kassir.js';

/** What makeZip wrote with yazl: the reference for the layout. */
async function yazlZip(entries: ZipEntry[]): Promise<Buffer> {
  const zip = new yazl.ZipFile();
  const mtime = new Date(1980, 0, 1, 0, 0, 0);
  for (const e of entries) zip.addBuffer(e.data, e.name, { mtime, mode: 0o100644, forceDosTimestamp: true, compress: true });
  zip.end();
  const chunks: Buffer[] = [];
  await pipeline(
    zip.outputStream as Readable,
    new Writable({
      write(chunk: Buffer, _enc, done) {
        chunks.push(chunk);
        done();
      },
    }),
  );
  return Buffer.concat(chunks);
}

const report = Buffer.from(reportFile([{ receipt: 1 }, { receipt: 2 }, { receipt: 3 }], 1).data, 'latin1');
const CASES: { what: string; entries: ZipEntry[] }[] = [
  { what: 'a SendData package', entries: [{ name: 'POS1_17.rep', data: report }] },
  { what: 'an empty entry', entries: [{ name: 'empty.rep', data: Buffer.alloc(0) }] },
  { what: 'a Cyrillic name and a sub-folder', entries: [{ name: 'Отчёт/POS1.rep', data: Buffer.from('#\r\n1;2\r\n') }] },
  { what: 'incompressible data (deflate stores blocks)', entries: [{ name: 'random.bin', data: randomBytes(200 * 1024) }] },
  { what: 'a large, compressible entry (several deflate blocks)', entries: [{ name: 'big.spr', data: Buffer.alloc(3 * 1024 * 1024, '1;Товар;шт;\r\n') }] },
  {
    what: 'several entries (offsets in the central directory)',
    entries: [
      { name: 'a.spr', data: Buffer.from('##@@&&\r\n#\r\n') },
      { name: 'b/c.flr', data: report },
      { name: 'd.txt', data: randomBytes(5000) },
    ],
  },
  { what: 'no entries at all', entries: [] },
];

for (const c of CASES) {
  test(`writeZip writes yazl's bytes and reads back with yauzl: ${c.what}`, async () => {
    const ours = writeZip(c.entries);
    const theirs = await yazlZip(c.entries);
    assert.equal(ours.toString('hex'), theirs.toString('hex'), 'the same bytes as yazl');
    const back = await readZipEntries(ours, `${c.what}.zip`, { maxRatio: 1e9 });
    assert.deepEqual(
      back.map((e) => [e.name, e.data.toString('hex')]),
      c.entries.map((e) => [e.name, e.data.toString('hex')]),
    );
  });
}

test('writeZip refuses names an archive must not hold, naming the entry', () => {
  for (const bad of ['', '/etc/x', 'C:\\x', 'a/../../x', '..\\x', 'folder/']) {
    assert.throws(() => writeZip([{ name: bad, data: Buffer.from('x') }]), /^Error: ZIP: .*entry/, JSON.stringify(bad));
  }
  // Backslashes are separators, as yazl took them.
  const zip = writeZip([{ name: 'a\\b.txt', data: Buffer.from('x') }]);
  assert.ok(zip.includes(Buffer.from('a/b.txt')));
});
