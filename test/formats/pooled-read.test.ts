/**
 * readFilePooled lends pooled buffers: what it returns must be the file's
 * bytes exactly, a buffer handed back is lent again, and a buffer still lent
 * (or released twice) is never lent to a second reader at the same time.
 */
import { strict as assert } from 'node:assert';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import fc from 'fast-check';
import { readFilePooled } from '../../src/formats/pooled-read.js';
import { withTempDir } from '../helpers/temp-dir.js';

test('property: the data is the file, byte for byte, whatever was read into the buffer before', async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, 'f');
    await fc.assert(
      fc.asyncProperty(fc.array(fc.uint8Array({ maxLength: 200_000 }), { minLength: 1, maxLength: 4 }), async (contents) => {
        for (const c of contents) {
          await writeFile(path, c);
          const file = await readFilePooled(path);
          assert.deepEqual(file.data, await readFile(path));
          file.release();
        }
      }),
      { numRuns: 30 },
    );
  });
});

test('a released buffer is lent again; one still lent, or released twice, is never shared', async () => {
  await withTempDir(async (dir) => {
    const a = join(dir, 'a');
    const b = join(dir, 'b');
    // Larger than any file read before in this process, so the pool holds no other buffer that fits.
    await writeFile(a, 'A;'.repeat(150_000));
    await writeFile(b, 'B;'.repeat(150_000));
    const first = await readFilePooled(a);
    const buffer = first.data.buffer;
    first.release();
    first.release(); // a second release must not put the buffer in the pool twice
    const again = await readFilePooled(b);
    assert.equal(again.data.buffer, buffer, 'the released buffer is reused');
    const other = await readFilePooled(a);
    assert.notEqual(other.data.buffer, again.data.buffer, 'a lent buffer is not lent twice');
    assert.equal(again.data.toString('latin1'), 'B;'.repeat(150_000));
    assert.equal(other.data.toString('latin1'), 'A;'.repeat(150_000));
    again.release();
    other.release();
  });
});

test('an empty file reads as no bytes; a missing one rejects as fs.readFile does', async () => {
  await withTempDir(async (dir) => {
    await writeFile(join(dir, 'empty'), '');
    const file = await readFilePooled(join(dir, 'empty'));
    assert.equal(file.data.length, 0);
    file.release();
    await assert.rejects(readFilePooled(join(dir, 'missing')), { code: 'ENOENT' });
  });
});
