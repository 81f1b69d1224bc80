/**
 * Streams a file as chunks that always end on a line boundary, so callers can
 * scan lines with Buffer.indexOf and never see a line (or a UTF-8 character)
 * cut in two. Memory stays bounded by the chunk size (plus the longest line).
 *
 * Reads ahead: while the caller works on one chunk, the next is already being
 * read into a second buffer (libuv does the read on its thread pool), so the
 * kernel's copy out of the page cache overlaps the caller's line loop or its
 * write of the previous chunk instead of adding to it.
 */
import { open, type FileHandle } from 'node:fs/promises';
import { FormatError } from './errors.js';

export const LF = 0x0a;
export const CR = 0x0d;

export interface LineChunkOptions {
  /** Read size; 1 MiB keeps syscalls few and the footprint small. */
  chunkSize?: number;
  /** A line longer than this is not text this module understands (a binary file, most likely). */
  maxLineBytes?: number;
  /** A buffer to read into (reused across files so memory does not depend on how many there are). */
  buffer?: Buffer;
  /** The read-ahead buffer, reused likewise; used when it is as large as `buffer`, else one is allocated. */
  spare?: Buffer;
  /** Hand over fixed-size chunks without looking for line ends (for byte-exact copies). */
  raw?: boolean;
  /**
   * The next chunk is handed over as soon as `onChunk` has returned, while the
   * promise it returned (a write of the chunk, say) still runs; the chunk's
   * buffer is reused only once that promise has resolved. Takes a third
   * buffer: `behind`, reused like `spare`.
   */
  overlap?: boolean;
  behind?: Buffer;
}

/** Starts a read; a failure is reported where the result is awaited (and nowhere else when it is not awaited). */
function readInto(fh: FileHandle, buf: Buffer, offset: number, position: number): Promise<number> {
  const r = fh.read(buf, offset, buf.length - offset, position).then((x) => x.bytesRead);
  r.catch(() => undefined);
  return r;
}

/** `b` when it is a distinct buffer at least `size` long, else a new one. */
function reusable(b: Buffer | undefined, size: number, taken: Buffer[]): Buffer {
  return b && b.length >= size && !taken.includes(b) ? b : Buffer.allocUnsafe(size);
}

/**
 * Calls `onChunk` with consecutive pieces of the file from byte `start`; each
 * piece ends just after an LF, except the last, which ends at end of file.
 * The buffer passed is reused after `onChunk` resolves (with `overlap`, after
 * the promise it returned resolves): copy what you keep.
 * Returns the file's size in bytes.
 */
export async function readLineChunks(
  path: string,
  name: string,
  start: number,
  onChunk: (chunk: Buffer) => void | Promise<void>,
  opts: LineChunkOptions = {},
): Promise<number> {
  const chunkSize = opts.chunkSize ?? 1 << 20;
  const maxLine = opts.maxLineBytes ?? 64 << 20;
  const fh = await open(path, 'r');
  let pending: Promise<number> | undefined;
  // The buffers in turn: the chunk handed over, the read-ahead, (with overlap) the chunk before, still held.
  const ring: Buffer[] = [opts.buffer && opts.buffer.length > 0 ? opts.buffer : Buffer.allocUnsafe(chunkSize)];
  ring.push(reusable(opts.spare, ring[0]!.length, ring));
  if (opts.overlap) ring.push(reusable(opts.behind, ring[0]!.length, ring));
  /** What each buffer is still held by (overlap only). */
  const held: (Promise<void> | undefined)[] = ring.map(() => undefined);
  const hand = async (i: number, chunk: Buffer): Promise<void> => {
    const r = onChunk(chunk);
    if (!opts.overlap) return r;
    if (r) {
      r.catch(() => undefined);
      held[i] = r;
    }
  };
  try {
    let i = 0;
    // ring[i][0, filled) holds the start of a line whose end has not been read yet.
    let filled = 0;
    let pos = start;
    pending = readInto(fh, ring[0]!, 0, pos);
    for (;;) {
      const bytesRead = await pending;
      pending = undefined;
      let buf = ring[i]!;
      if (bytesRead === 0) {
        if (filled > 0) await hand(i, buf.subarray(0, filled));
        await Promise.all(held);
        return pos;
      }
      pos += bytesRead;
      const total = filled + bytesRead;
      // The part up to and including the last LF goes to the caller; nothing before `filled` is an LF.
      const cut = opts.raw ? total : buf.lastIndexOf(LF, total - 1) + 1;
      if (cut === 0) {
        if (total === buf.length) {
          // No LF in a whole buffer: one long line. Grow, within reason.
          if (buf.length >= maxLine) throw new FormatError(name, undefined, `a line longer than ${maxLine} bytes at byte ${pos - total}: not a text file`);
          const bigger = Buffer.allocUnsafe(Math.min(buf.length * 2, maxLine));
          buf.copy(bigger, 0, 0, total);
          ring[i] = buf = bigger;
        }
        filled = total;
        pending = readInto(fh, buf, filled, pos);
        continue;
      }
      // Read ahead into the next buffer (once free), behind the unfinished line that ends this one.
      const next = (i + 1) % ring.length;
      await held[next];
      held[next] = undefined;
      if (ring[next]!.length < buf.length) ring[next] = Buffer.allocUnsafe(buf.length);
      const tail = total - cut;
      buf.copy(ring[next]!, 0, cut, total);
      pending = readInto(fh, ring[next]!, tail, pos);
      await hand(i, buf.subarray(0, cut));
      i = next;
      filled = tail;
    }
  } finally {
    // Never close the file under a read still in flight (its error, if any, is moot now), nor
    // return while a caller's promise still uses a buffer.
    if (pending) await pending.catch(() => undefined);
    await Promise.all(held.map((h) => h?.catch(() => undefined)));
    await fh.close();
  }
}
