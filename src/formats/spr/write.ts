/**
 * Pass 2 of an SPR merge: stream the planned parts into one output file.
 * A part that needs no line changed (same encoding, CRLF throughout, nothing
 * of a dropped table in it) is copied as raw byte ranges around the few
 * empty and command lines pass 1 located, without looking at its lines.
 * Otherwise lines are copied as raw byte ranges; a chunk that needs no change
 * is written straight from the read buffer. Decoding happens only when the
 * encoding must change.
 */
import { open, type FileHandle } from 'node:fs/promises';
import { bomOf, transcodeLines, type TextEncoding } from '../encoding.js';
import { CR, LF, readLineChunks } from '../line-chunks.js';
import { renderClear } from './commands.js';
import { groupModeCommand, remainingLines, type GroupPlan, type PartPlan } from './plan.js';
import { SKIP_COMMAND, SKIP_EMPTY, type SprPartScan } from './scan.js';
import { TABLE_COUNT, tableOfLine } from './tables.js';

const DOLLAR = 0x24;
const CRLF = Buffer.from('\r\n', 'latin1');

async function writeAll(fh: FileHandle, buf: Buffer): Promise<void> {
  let off = 0;
  while (off < buf.length) {
    const { bytesWritten } = await fh.write(buf, off, buf.length - off);
    off += bytesWritten;
  }
}

function headerOf(g: GroupPlan, enc: TextEncoding): Buffer {
  if (g.isolated) {
    const p = g.parts[0]!.scan;
    const line1 = transcodeLines(p.line1, p.encoding, enc, p.name, 1);
    return Buffer.concat([bomOf(enc), line1, Buffer.from('\r\n#\r\n', 'latin1')]);
  }
  let text = '##@@&&\r\n#\r\n';
  // Commands go on their own lines right after the header: read as whole-file
  // flags or as "from here on", they then mean the same thing.
  if (g.clear.size > 0) text += `${renderClear(g.clear)}\r\n`;
  const mode = groupModeCommand(g);
  if (mode) text += `$$$${mode}\r\n`;
  return Buffer.concat([bomOf(enc), Buffer.from(text, 'latin1')]);
}

/** Buffers reused across parts and outputs, so memory does not grow with their number. */
export interface MergeBuffers {
  read: Buffer;
  /** Read-ahead buffer (see line-chunks.ts). */
  spare: Buffer;
  out: Buffer;
}

export function mergeBuffers(chunkSize = 1 << 20): MergeBuffers {
  return { read: Buffer.allocUnsafe(chunkSize), spare: Buffer.allocUnsafe(chunkSize), out: Buffer.allocUnsafe(2 * chunkSize + 16) };
}

/** Writes the group's output; returns its size and data line count. The file is created or truncated. */
export async function writeGroup(g: GroupPlan, outPath: string, enc: TextEncoding, buffers: MergeBuffers = mergeBuffers()): Promise<{ bytes: number; dataLines: number }> {
  const fh = await open(outPath, 'w');
  try {
    const header = headerOf(g, enc);
    await writeAll(fh, header);
    let bytes = header.length;
    let dataLines = 0;
    for (const part of g.parts) {
      if (!g.isolated && remainingLines(part) === 0) continue;
      const r = await copyPart(fh, part, enc, g.isolated, buffers);
      bytes += r.bytes;
      dataLines += r.dataLines;
    }
    return { bytes, dataLines };
  } finally {
    await fh.close();
  }
}

/** Writes all of `bufs` at the current position: one writev, then piece by piece after a short write. */
async function writeAllv(fh: FileHandle, bufs: Buffer[]): Promise<void> {
  if (bufs.length === 1) return writeAll(fh, bufs[0]!);
  if (bufs.length === 0) return;
  let total = 0;
  for (const b of bufs) total += b.length;
  let done = (await fh.writev(bufs)).bytesWritten;
  if (done === total) return;
  for (const b of bufs) {
    if (done >= b.length) {
      done -= b.length;
      continue;
    }
    await writeAll(fh, b.subarray(done));
    done = 0;
  }
}

/** True when no line of the part belongs to a table the plan drops from it. */
function dropsNothing(part: PartPlan): boolean {
  for (const t of part.drop) if (part.scan.tableLines[t]! > 0) return false;
  return true;
}

/**
 * Copies a part's data (from line 3) as raw byte ranges around the lines pass
 * 1 listed in `skips` (empty lines always, command lines unless
 * keepCommands), then completes the last line's EOL. Same bytes as the line
 * by line copy below, at the cost of a plain read and write.
 */
async function copyRanges(fh: FileHandle, s: SprPartScan, keepCommands: boolean, buffers: MergeBuffers): Promise<{ bytes: number; dataLines: number }> {
  const skips = s.skips;
  const pieces: Buffer[] = [];
  let k = 0; // first skipped line that does not end before the current chunk
  let at = s.dataOffset; // file offset of the current chunk
  let bytes = 0;
  await readLineChunks(s.path, s.name, s.dataOffset, async (chunk) => {
    const start = at;
    const end = start + chunk.length;
    at = end;
    while (k < skips.length && skips[k + 1]! <= start) k += 3;
    let from = start;
    for (let j = k; j < skips.length && skips[j]! < end; j += 3) {
      if (keepCommands && skips[j + 2] === SKIP_COMMAND) continue;
      if (skips[j]! > from) pieces.push(chunk.subarray(from - start, skips[j]! - start));
      from = skips[j + 1]!; // may lie in a later chunk
    }
    if (from < end) pieces.push(chunk.subarray(from - start, chunk.length));
    for (const piece of pieces) bytes += piece.length;
    await writeAllv(fh, pieces);
    pieces.length = 0;
  }, { buffer: buffers.read, spare: buffers.spare, raw: true });
  const n = skips.length;
  const lastLineSkipped = n > 0 && skips[n - 2] === s.bytes && (skips[n - 1] === SKIP_EMPTY || !keepCommands);
  if (s.tailEol !== '' && !lastLineSkipped) {
    const tail = Buffer.from(s.tailEol, 'latin1');
    await writeAll(fh, tail);
    bytes += tail.length;
  }
  return { bytes, dataLines: s.dataLines };
}

async function copyPart(fh: FileHandle, part: PartPlan, enc: TextEncoding, keepCommands: boolean, buffers: MergeBuffers): Promise<{ bytes: number; dataLines: number }> {
  const s = part.scan;
  // Nothing to drop, convert or normalise: copy the bytes as they are.
  if (s.rangeCopy && s.encoding === enc && dropsNothing(part)) return copyRanges(fh, s, keepCommands, buffers);
  const drop = new Array<boolean>(TABLE_COUNT).fill(false);
  for (const t of part.drop) drop[t] = true;
  const dropAny = part.drop.size > 0;
  let out = buffers.out;
  let lineNo = 2;
  let bytes = 0;
  let dataLines = 0;

  await readLineChunks(s.path, s.name, s.dataOffset, async (raw) => {
    // Convert first, filter after: filtering looks only at ASCII bytes, and
    // the line numbers in a conversion error stay those of the source.
    const chunk = transcodeLines(raw, s.encoding, enc, s.name, lineNo + 1);
    const n = chunk.length;
    if (out.length < n + (n >> 1) + 4) buffers.out = out = Buffer.allocUnsafe(2 * n + 16);
    let o = 0;
    let seg = 0;
    let modified = false;
    let p = 0;
    while (p < n) {
      let end = chunk.indexOf(LF, p);
      const hasLf = end !== -1;
      if (!hasLf) end = n;
      const next = hasLf ? end + 1 : n;
      const hasCr = end > p && chunk[end - 1] === CR;
      const e = hasCr ? end - 1 : end;
      lineNo++;
      const isCommand = e - p >= 3 && chunk[p] === DOLLAR && chunk[p + 1] === DOLLAR && chunk[p + 2] === DOLLAR;
      const skip = e === p || (isCommand ? !keepCommands : dropAny && drop[tableOfLine(chunk, p)]!);
      if (skip) {
        o += chunk.copy(out, o, seg, p);
        seg = next;
        modified = true;
      } else {
        if (!isCommand) dataLines++;
        if (!(hasLf && hasCr)) {
          o += chunk.copy(out, o, seg, e);
          o += CRLF.copy(out, o);
          seg = next;
          modified = true;
        }
      }
      p = next;
    }
    let data: Buffer;
    if (modified) {
      o += chunk.copy(out, o, seg, n);
      data = out.subarray(0, o);
    } else {
      data = chunk;
    }
    await writeAll(fh, data);
    bytes += data.length;
  }, { buffer: buffers.read, spare: buffers.spare });
  return { bytes, dataLines };
}
