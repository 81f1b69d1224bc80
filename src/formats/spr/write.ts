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
import { renderClear, type SprMode } from './commands.js';
import { groupModeCommand, remainingLines, type GroupPlan, type PartPlan } from './plan.js';
import { SKIP_COMMAND, SKIP_EMPTY, type SprPartScan } from './scan.js';
import { TABLE_COUNT, tableOfLine } from './tables.js';

const DOLLAR = 0x24;
const CRLF = Buffer.from('\r\n', 'latin1');
/**
 * An output file written at explicit positions (pwrite), so the header can
 * be written after the data behind it (spr/speculate.ts) and no write depends
 * on the file's own position.
 */
export class OutputFile {
  /** Where the next `write` goes. */
  pos = 0;

  constructor(readonly fh: FileHandle) {}

  static async create(path: string): Promise<OutputFile> {
    return new OutputFile(await open(path, 'w'));
  }

  /**
   * Writes all of `bufs` at `pos` and moves `pos` past them at once, so a
   * further write may start before this one ends (pass 1 writes a chunk while
   * it scans the next). One write or writev, then what a short write left.
   * Resolves to the bytes written.
   */
  write(bufs: Buffer[]): Promise<number> {
    let total = 0;
    for (const b of bufs) total += b.length;
    const at = this.pos;
    this.pos += total;
    return this.writeAt(bufs, at, total).then(() => total);
  }

  private async writeAt(bufs: Buffer[], at: number, total: number): Promise<void> {
    let rest = bufs;
    let left = total;
    while (left > 0) {
      const n = rest.length === 1 ? (await this.fh.write(rest[0]!, 0, rest[0]!.length, at)).bytesWritten : (await this.fh.writev(rest, at)).bytesWritten;
      at += n;
      left -= n;
      if (left === 0) break;
      let k = n;
      const next: Buffer[] = [];
      for (const b of rest) {
        if (k >= b.length) {
          k -= b.length;
          continue;
        }
        next.push(k > 0 ? b.subarray(k) : b);
        k = 0;
      }
      rest = next;
    }
  }
}

/** The header of a merged (not isolated) output: magic, waiting flag, then its clear and mode commands. */
export function mergedHeader(clear: ReadonlySet<string> | undefined, mode: SprMode | undefined, enc: TextEncoding): Buffer {
  let text = '##@@&&\r\n#\r\n';
  // Commands go on their own lines right after the header: read as whole-file
  // flags or as "from here on", they then mean the same thing.
  if (clear && clear.size > 0) text += `${renderClear(clear)}\r\n`;
  if (mode) text += `$$$${mode}\r\n`;
  return Buffer.concat([bomOf(enc), Buffer.from(text, 'latin1')]);
}

function headerOf(g: GroupPlan, enc: TextEncoding): Buffer {
  if (g.isolated) {
    const p = g.parts[0]!.scan;
    const line1 = transcodeLines(p.line1, p.encoding, enc, p.name, 1);
    return Buffer.concat([bomOf(enc), line1, Buffer.from('\r\n#\r\n', 'latin1')]);
  }
  return mergedHeader(g.clear, groupModeCommand(g), enc);
}

/** Buffers reused across parts and outputs, so memory does not grow with their number. */
export interface MergeBuffers {
  read: Buffer;
  /** Read-ahead buffer (see line-chunks.ts). */
  spare: Buffer;
  /** The chunk still being written while the next is read and handled (line-chunks.ts, `overlap`). */
  behind: Buffer;
  out: Buffer;
}

export function mergeBuffers(chunkSize = 1 << 20): MergeBuffers {
  const chunk = () => Buffer.allocUnsafe(chunkSize);
  return { read: chunk(), spare: chunk(), behind: chunk(), out: Buffer.allocUnsafe(2 * chunkSize + 16) };
}

/**
 * An output pass 1 already wrote part of (spr/speculate.ts): its open file,
 * and for a group, where pass 2 resumes: the file offset, the first part it
 * still has to write, and the data lines before that.
 */
export interface PartlyWritten {
  out: OutputFile;
  resume(g: GroupPlan, enc: TextEncoding, headerLength: number): { at: number; next: number; dataLines: number };
}

/**
 * Writes the group's output; returns its size and data line count. The file
 * is created or truncated; or, given `partly`, completed from where pass 1
 * left it and cut to its size (`partly.out` stays open).
 */
export async function writeGroup(
  g: GroupPlan,
  outPath: string,
  enc: TextEncoding,
  buffers: MergeBuffers = mergeBuffers(),
  partly?: PartlyWritten,
): Promise<{ bytes: number; dataLines: number }> {
  const out = partly?.out ?? (await OutputFile.create(outPath));
  try {
    const header = headerOf(g, enc);
    const from = partly?.resume(g, enc, header.length) ?? { at: header.length, next: 0, dataLines: 0 };
    out.pos = 0;
    await out.write([header]);
    out.pos = from.at;
    let dataLines = from.dataLines;
    for (const part of g.parts.slice(from.next)) {
      if (!g.isolated && remainingLines(part) === 0) continue;
      dataLines += await copyPart(out, part, enc, g.isolated, buffers);
    }
    if (partly) await out.fh.truncate(out.pos);
    return { bytes: out.pos, dataLines };
  } finally {
    if (!partly) await out.fh.close();
  }
}

/** True when no line of the part belongs to a table the plan drops from it. */
export function dropsNothing(part: PartPlan): boolean {
  for (const t of part.drop) if (part.scan.tableLines[t]! > 0) return false;
  return true;
}

/**
 * Copies a part's data (from line 3) as raw byte ranges around the lines pass
 * 1 listed in `skips` (empty lines always, command lines unless
 * keepCommands), chunk by chunk in file order, then completes the last
 * line's EOL. Same bytes as the line by line copy below, at the cost of a
 * plain read and write. Chunks may start anywhere in the part (bytes before
 * the data offset are left out); `skips` may still grow while chunks come
 * (pass 1 copying as it scans), as long as a chunk's skips are in it by then.
 */
export class RangeCopy {
  private k = 0; // first skipped line that does not end before the current chunk

  constructor(
    private readonly out: OutputFile,
    private readonly dataOffset: number,
    private readonly skips: readonly number[],
    private readonly keepCommands: boolean,
  ) {}

  /**
   * Writes the kept bytes of `chunk`, which starts at file offset `start`.
   * Their place in the output is taken before this returns: the next chunk
   * may follow before the write ends.
   */
  async chunk(chunk: Buffer, start: number): Promise<void> {
    const skips = this.skips;
    const pieces: Buffer[] = [];
    const end = start + chunk.length;
    let k = this.k;
    while (k < skips.length && skips[k + 1]! <= start) k += 3;
    this.k = k;
    let from = Math.max(start, this.dataOffset);
    for (let j = k; j < skips.length && skips[j]! < end; j += 3) {
      if (this.keepCommands && skips[j + 2] === SKIP_COMMAND) continue;
      if (skips[j]! > from) pieces.push(chunk.subarray(from - start, skips[j]! - start));
      from = skips[j + 1]!; // may lie in a later chunk
    }
    if (from < end) pieces.push(chunk.subarray(from - start, chunk.length));
    await this.out.write(pieces);
  }

  /** After the last chunk: completes the last line's EOL (see SprPartScan.tailEol). */
  async finish(s: SprPartScan): Promise<void> {
    const skips = this.skips;
    const n = skips.length;
    const lastLineSkipped = n > 0 && skips[n - 2] === s.bytes && (skips[n - 1] === SKIP_EMPTY || !this.keepCommands);
    if (s.tailEol !== '' && !lastLineSkipped) await this.out.write([Buffer.from(s.tailEol, 'latin1')]);
  }
}

async function copyRanges(out: OutputFile, s: SprPartScan, keepCommands: boolean, buffers: MergeBuffers): Promise<void> {
  const copy = new RangeCopy(out, s.dataOffset, s.skips, keepCommands);
  let at = s.dataOffset; // file offset of the current chunk
  await readLineChunks(s.path, s.name, s.dataOffset, (chunk) => {
    const start = at;
    at += chunk.length;
    return copy.chunk(chunk, start);
  }, { buffer: buffers.read, spare: buffers.spare, behind: buffers.behind, overlap: true, raw: true });
  await copy.finish(s);
}

/** Writes a part's data lines at `out.pos`; returns how many. */
async function copyPart(out: OutputFile, part: PartPlan, enc: TextEncoding, keepCommands: boolean, buffers: MergeBuffers): Promise<number> {
  const s = part.scan;
  // Nothing to drop, convert or normalise: copy the bytes as they are.
  if (s.rangeCopy && s.encoding === enc && dropsNothing(part)) {
    await copyRanges(out, s, keepCommands, buffers);
    return s.dataLines;
  }
  const drop = new Array<boolean>(TABLE_COUNT).fill(false);
  for (const t of part.drop) drop[t] = true;
  const dropAny = part.drop.size > 0;
  let buf = buffers.out;
  let lineNo = 2;
  let dataLines = 0;

  await readLineChunks(s.path, s.name, s.dataOffset, async (raw) => {
    // Convert first, filter after: filtering looks only at ASCII bytes, and
    // the line numbers in a conversion error stay those of the source.
    const chunk = transcodeLines(raw, s.encoding, enc, s.name, lineNo + 1);
    const n = chunk.length;
    if (buf.length < n + (n >> 1) + 4) buffers.out = buf = Buffer.allocUnsafe(2 * n + 16);
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
        o += chunk.copy(buf, o, seg, p);
        seg = next;
        modified = true;
      } else {
        if (!isCommand) dataLines++;
        if (!(hasLf && hasCr)) {
          o += chunk.copy(buf, o, seg, e);
          o += CRLF.copy(buf, o);
          seg = next;
          modified = true;
        }
      }
      p = next;
    }
    let data: Buffer;
    if (modified) {
      o += chunk.copy(buf, o, seg, n);
      data = buf.subarray(0, o);
    } else {
      data = chunk;
    }
    await out.write([data]);
  }, { buffer: buffers.read, spare: buffers.spare });
  return dataLines;
}
