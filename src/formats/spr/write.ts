/**
 * Pass 2 of an SPR merge: stream the planned parts into one output file.
 * Lines are copied as raw byte ranges; a chunk that needs no change (every
 * line kept, already CRLF, same encoding) is written straight from the read
 * buffer. Decoding happens only when the encoding must change.
 */
import { open, type FileHandle } from 'node:fs/promises';
import { bomOf, transcodeLines, type TextEncoding } from '../encoding.js';
import { CR, LF, readLineChunks } from '../line-chunks.js';
import { renderClear } from './commands.js';
import { groupModeCommand, remainingLines, type GroupPlan, type PartPlan } from './plan.js';
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
  out: Buffer;
}

export function mergeBuffers(chunkSize = 1 << 20): MergeBuffers {
  return { read: Buffer.allocUnsafe(chunkSize), out: Buffer.allocUnsafe(2 * chunkSize + 16) };
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

async function copyPart(fh: FileHandle, part: PartPlan, enc: TextEncoding, keepCommands: boolean, buffers: MergeBuffers): Promise<{ bytes: number; dataLines: number }> {
  const s = part.scan;
  if (s.clean && part.drop.size === 0 && s.encoding === enc) {
    // Nothing to drop, convert or normalise: copy the bytes as they are.
    let bytes = 0;
    await readLineChunks(s.path, s.name, s.dataOffset, async (chunk) => {
      await writeAll(fh, chunk);
      bytes += chunk.length;
    }, { buffer: buffers.read, raw: true });
    return { bytes, dataLines: s.dataLines };
  }
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
  }, { buffer: buffers.read });
  return { bytes, dataLines };
}
