/**
 * readLineChunks reads ahead into a second buffer while the caller works on
 * a chunk. Whatever the chunk size, line lengths and caller speed, the chunks
 * must be the file in order, each ending on an LF except the last.
 */
import { strict as assert } from 'node:assert';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import fc from 'fast-check';
import { FormatError } from '../../src/formats/errors.js';
import { readLineChunks } from '../../src/formats/line-chunks.js';
import { withTempDir } from '../helpers/temp-dir.js';

async function collect(path: string, opts: Parameters<typeof readLineChunks>[4], start = 0, slow = false) {
  const chunks: Buffer[] = [];
  const size = await readLineChunks(path, 'f', start, async (c) => {
    chunks.push(Buffer.from(c)); // the buffer is reused: copy
    if (slow) await new Promise((r) => setImmediate(r));
  }, opts);
  return { size, chunks };
}

test('property: chunks are the file from `start`, in order, each ending on LF but the last', async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, 'f');
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.string({ maxLength: 40 }), { maxLength: 30 }),
        fc.boolean(),
        fc.integer({ min: 1, max: 64 }),
        fc.nat({ max: 20 }),
        fc.boolean(),
        fc.boolean(),
        async (lines, endsInLf, chunkSize, start, raw, slow) => {
          const text = Buffer.from(lines.join('\n') + (endsInLf && lines.length > 0 ? '\n' : ''), 'utf8');
          await writeFile(path, text);
          const from = Math.min(start, text.length);
          const { size, chunks } = await collect(path, { chunkSize, raw }, from, slow);
          assert.equal(size, text.length);
          assert.ok(Buffer.concat(chunks).equals(text.subarray(from)));
          for (const [i, c] of chunks.entries()) {
            assert.ok(c.length > 0, 'no empty chunk');
            if (raw) assert.ok(c.length <= chunkSize);
            else if (i < chunks.length - 1) assert.equal(c[c.length - 1], 0x0a, `chunk ${i} ends on LF`);
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});

test('readLineChunks: reused buffers, a line longer than the buffer grows it, one longer than maxLineBytes is an error', async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, 'f');
    await writeFile(path, `a\n${'x'.repeat(100)}\nb\n`);
    const buffer = Buffer.alloc(8);
    const spare = Buffer.alloc(8);
    const { chunks } = await collect(path, { buffer, spare });
    assert.equal(Buffer.concat(chunks).toString(), `a\n${'x'.repeat(100)}\nb\n`);
    assert.ok(chunks.some((c) => c.toString().includes('x'.repeat(100))), 'the long line arrives whole');

    await assert.rejects(collect(path, { chunkSize: 8, maxLineBytes: 32 }), (e: unknown) => {
      assert.ok(e instanceof FormatError);
      assert.match(e.message, /^f: a line longer than 32 bytes at byte 2: not a text file$/);
      return true;
    });
  });
});

test('readLineChunks: an error thrown by the caller while a read is in flight is the one reported', async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, 'f');
    await writeFile(path, 'line\n'.repeat(1000));
    let calls = 0;
    await assert.rejects(
      readLineChunks(path, 'f', 0, () => {
        calls++;
        throw new Error('caller failed');
      }, { chunkSize: 64 }),
      /caller failed/,
    );
    assert.equal(calls, 1);
  });
});

test('property: with overlap, each chunk comes while the one before is still held, and no buffer is reused before its promise resolves', async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, 'f');
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.string({ maxLength: 40 }), { maxLength: 30 }),
        fc.integer({ min: 1, max: 64 }),
        fc.boolean(),
        fc.array(fc.nat({ max: 3 }), { minLength: 1, maxLength: 8 }),
        async (lines, chunkSize, raw, delays) => {
          const text = Buffer.from(lines.join('\n'), 'utf8');
          await writeFile(path, text);
          const expected = (await collect(path, { chunkSize, raw })).chunks;
          // Chunk k's promise ends only once chunk k+1 has been handed over: without overlap this would never end.
          const arrived: (() => void)[] = [];
          const arrival = expected.map((_, k) => new Promise<void>((r) => (arrived[k] = r)));
          const seen: Buffer[] = [];
          let running = 0;
          const size = await readLineChunks(path, 'f', 0, (c) => {
            const k = seen.length;
            const copy = Buffer.from(c);
            seen.push(copy);
            arrived[k]!();
            running++;
            return (async () => {
              if (k + 1 < expected.length) await arrival[k + 1];
              for (let t = 0; t < delays[k % delays.length]!; t++) await new Promise((r) => setImmediate(r));
              assert.ok(c.equals(copy), 'the chunk is unchanged until its promise resolves');
              running--;
            })();
          }, { chunkSize, raw, overlap: true });
          assert.equal(running, 0, 'every promise has resolved when the call returns');
          assert.equal(size, text.length);
          assert.deepEqual(seen, expected);
        },
      ),
      { numRuns: 300 },
    );
  });
});

test('readLineChunks with overlap: a promise that fails is reported, after the ones still running have ended', async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, 'f');
    await writeFile(path, 'line\n'.repeat(1000));
    let calls = 0;
    let running = 0;
    await assert.rejects(
      readLineChunks(path, 'f', 0, () => {
        calls++;
        running++;
        const n = calls;
        return (async () => {
          await new Promise((r) => setImmediate(r));
          running--;
          if (n === 2) throw new Error('write failed');
        })();
      }, { chunkSize: 64, overlap: true }),
      /write failed/,
    );
    assert.equal(running, 0);
    // Chunk 2 is in the second of three buffers: its failure is seen when that buffer is wanted again.
    assert.ok(calls >= 2 && calls <= 4, `stops at the failure (${calls} chunks handed over)`);
  });
});
