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
}

/** Starts a read; a failure is reported where the result is awaited (and nowhere else when it is not awaited). */
function readInto(fh: FileHandle, buf: Buffer, offset: number, position: number): Promise<number> {
  const r = fh.read(buf, offset, buf.length - offset, position).then((x) => x.bytesRead);
  r.catch(() => undefined);
  return r;
}

/**
 * Calls `onChunk` with consecutive pieces of the file from byte `start`; each
 * piece ends just after an LF, except the last, which ends at end of file.
 * The buffer passed is reused after `onChunk` resolves: copy what you keep.
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
  try {
    let buf = opts.buffer && opts.buffer.length > 0 ? opts.buffer : Buffer.allocUnsafe(chunkSize);
    let spare = opts.spare && opts.spare.length >= buf.length && opts.spare !== buf ? opts.spare : Buffer.allocUnsafe(buf.length);
    // buf[0, filled) holds the start of a line whose end has not been read yet.
    let filled = 0;
    let pos = start;
    pending = readInto(fh, buf, 0, pos);
    for (;;) {
      const bytesRead = await pending;
      pending = undefined;
      if (bytesRead === 0) {
        if (filled > 0) await onChunk(buf.subarray(0, filled));
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
          buf = bigger;
        }
        filled = total;
        pending = readInto(fh, buf, filled, pos);
        continue;
      }
      // Read ahead into the spare buffer, behind the unfinished line that ends this one.
      const tail = total - cut;
      if (spare.length < buf.length) spare = Buffer.allocUnsafe(buf.length);
      buf.copy(spare, 0, cut, total);
      pending = readInto(fh, spare, tail, pos);
      await onChunk(buf.subarray(0, cut));
      const done = buf;
      buf = spare;
      spare = done;
      filled = tail;
    }
  } finally {
    // Never close the file under a read still in flight (its error, if any, is moot now).
    if (pending) await pending.catch(() => undefined);
    await fh.close();
  }
}
