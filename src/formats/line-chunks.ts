/**
 * Streams a file as chunks that always end on a line boundary, so callers can
 * scan lines with Buffer.indexOf and never see a line (or a UTF-8 character)
 * cut in two. Memory stays bounded by the chunk size (plus the longest line).
 */
import { open } from 'node:fs/promises';
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
  /** Hand over fixed-size chunks without looking for line ends (for byte-exact copies). */
  raw?: boolean;
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
  try {
    let buf = opts.buffer && opts.buffer.length > 0 ? opts.buffer : Buffer.allocUnsafe(chunkSize);
    let filled = 0;
    let pos = start;
    for (;;) {
      if (filled === buf.length) {
        // No LF in a whole buffer: one long line. Grow, within reason.
        if (buf.length >= maxLine) throw new FormatError(name, undefined, `a line longer than ${maxLine} bytes at byte ${pos - filled}: not a text file`);
        const bigger = Buffer.allocUnsafe(Math.min(buf.length * 2, maxLine));
        buf.copy(bigger, 0, 0, filled);
        buf = bigger;
      }
      const { bytesRead } = await fh.read(buf, filled, buf.length - filled, pos);
      if (bytesRead === 0) {
        if (filled > 0) await onChunk(buf.subarray(0, filled));
        return pos;
      }
      pos += bytesRead;
      const total = filled + bytesRead;
      if (opts.raw) {
        await onChunk(buf.subarray(0, total));
        filled = 0;
        continue;
      }
      const lastLf = buf.lastIndexOf(LF, total - 1);
      if (lastLf < filled) {
        filled = total;
        continue;
      }
      await onChunk(buf.subarray(0, lastLf + 1));
      buf.copyWithin(0, lastLf + 1, total);
      filled = total - lastLf - 1;
    }
  } finally {
    await fh.close();
  }
}
