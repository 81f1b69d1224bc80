/**
 * Pass 1 over an SPR part: validate the two header lines, detect the encoding,
 * collect the commands and count data lines per table. Streams the file in
 * line-aligned chunks; nothing is kept but counters and the positions of a
 * bounded number of lines a merge leaves out (so pass 2 can copy the rest as
 * raw byte ranges instead of line by line).
 *
 * Part layout: line 1 `##@@&&` (optionally followed by commands), line 2 `#`
 * (waiting) or `@` (already loaded), then data lines by record prefix and
 * `$$$` command lines wherever they stand. Empty lines carry nothing and are
 * not data (loaders skip them); they are not copied into merged output.
 */
import { decodeText, detectEncoding, type TextEncoding } from '../encoding.js';
import { FormatError } from '../errors.js';
import { CR, LF, readLineChunks } from '../line-chunks.js';
import { addCommands, emptyCommandSummary, type SprCommandSummary } from './commands.js';
import { TABLE_COUNT, tableOfLine } from './tables.js';

export interface SprPartInfo {
  name: string;
  encoding: TextEncoding;
  /** Line 2 is '@': the till already loaded this part. */
  loaded: boolean;
  dataLines: number;
  commands: string[];
  bytes: number;
}

/** What merging needs to know about a part, beyond the public info. */
export interface SprPartScan extends SprPartInfo {
  path: string;
  summary: SprCommandSummary;
  /** Data lines per table id (see tables.ts). */
  tableLines: number[];
  /** Line 1 as written (after the BOM, without EOL): a part with unknown commands is delivered with it. */
  line1: Buffer;
  /** Byte offset of line 3: where data starts. */
  dataOffset: number;
  /** From line 3 on: only data lines, each ending in CRLF. Such a part can be copied without looking at its lines. */
  clean: boolean;
  /**
   * From line 3 on, every line ends in CRLF or is listed in `skips` (the last
   * line may also lack its EOL: see `tailEol`). Such a part is copied as byte
   * ranges around its skipped lines. False when a line ends in a bare LF or
   * there are more than MAX_SKIPPED_LINES lines to skip.
   */
  rangeCopy: boolean;
  /** Empty and command lines from line 3 on, as file offsets [start, end) with their EOL, and SKIP_EMPTY or SKIP_COMMAND: flattened triples, in file order. */
  skips: number[];
  /** What the last line needs appended to end in CRLF when copied as bytes: '' (it does), '\n' (it ends in a bare CR) or '\r\n' (no EOL). */
  tailEol: '' | '\n' | '\r\n';
}

/** Kinds of skipped lines in SprPartScan.skips. */
export const SKIP_EMPTY = 0;
export const SKIP_COMMAND = 1;
/** Past this many empty/command lines a part is copied line by line instead (memory stays bounded). */
export const MAX_SKIPPED_LINES = 4096;

const MAGIC = Buffer.from('##@@&&', 'latin1');
/**
 * Called as `indexOf.call(chunk, ...)` in the line loop: V8's optimised loop
 * looked `chunk.indexOf` up through a generic property load on every line
 * (about 4 % of a merge's CPU time); the function itself it calls directly.
 */
const indexOf = Buffer.prototype.indexOf;
const DOLLAR = 0x24;

/** Shows up to 40 characters of a bad line, quoted, so control bytes are visible. */
export function preview(line: Buffer, encoding: TextEncoding): string {
  const text = decodeText(line.subarray(0, 120), encoding);
  return JSON.stringify(text.length > 40 ? `${text.slice(0, 40)}...` : text);
}

/** The scan so far, as `onChunk` sees it after each chunk (`dataOffset` is 0 until line 2 has been read). */
export interface SprScanSoFar {
  encoding: TextEncoding;
  loaded: boolean;
  dataOffset: number;
  dataLines: number;
  summary: SprCommandSummary;
  rangeCopy: boolean;
  skips: number[];
}

/** Takes each chunk pass 1 has scanned (spr/speculate.ts). */
export interface SprChunkSink {
  onChunk(chunk: Buffer, offset: number, soFar: SprScanSoFar): void | Promise<void>;
}

export interface SprScanOptions {
  /** Read buffers reused across parts (see line-chunks.ts); `behind` only with `sink`. */
  buffer?: Buffer;
  spare?: Buffer;
  behind?: Buffer;
  /**
   * Called after each chunk has been scanned, with the chunk (the header
   * lines included), its file offset and the scan so far. The next chunk is
   * scanned while the promise it returns runs; the chunk's buffer is reused
   * once it resolves. The merge copies the part's data from there, reading
   * it once (spr/speculate.ts).
   */
  sink?: SprChunkSink;
}

export async function scanSprPart(path: string, name: string, opts: SprScanOptions = {}): Promise<SprPartScan> {
  const { buffer, spare, behind, sink } = opts;
  const s = new PartScanner(name, sink);
  const bytes = await readLineChunks(path, name, 0, (chunk) => s.chunk(chunk), {
    ...(buffer ? { buffer } : {}),
    ...(spare ? { spare } : {}),
    ...(sink ? { overlap: true, ...(behind ? { behind } : {}) } : {}),
  });
  if (s.lineNo === 0) throw new FormatError(name, 1, 'expected ##@@&&, found an empty file');
  if (s.lineNo === 1) throw new FormatError(name, 2, 'expected # (waiting) or @ (loaded), found end of file');
  const { encoding, loaded, dataLines, summary, tableLines, line1, dataOffset, clean, rangeCopy, skips, tailEol } = s;
  return { name, path, encoding, loaded, dataLines, commands: summary.commands, bytes, summary, tableLines, line1, dataOffset, clean, rangeCopy, skips, tailEol };
}

/**
 * The scan's state across the chunks of one part. A class, not closures made
 * per part: the line loop then stays optimised from one part to the next (as
 * closures, a call to one made for an earlier part deoptimised the loop's
 * function at the end of every chunk).
 */
class PartScanner {
  encoding: TextEncoding = 'cp1251';
  /** Header lines read so far (0 to 2). */
  lineNo = 0;
  fileOffset = 0;
  loaded = false;
  line1: Buffer = Buffer.alloc(0);
  dataOffset = 0;
  readonly tableLines = new Array<number>(TABLE_COUNT).fill(0);
  readonly summary = emptyCommandSummary();
  clean = true;
  rangeCopy = true;
  readonly skips: number[] = [];
  tailEol: '' | '\n' | '\r\n' = '';

  constructor(
    private readonly name: string,
    private readonly sink: SprChunkSink | undefined,
  ) {}

  chunk(chunk: Buffer): void | Promise<void> {
    const name = this.name;
    let p = 0;
    if (this.fileOffset === 0) {
      this.encoding = detectEncoding(chunk);
      if (this.encoding === 'utf8bom') p = 3;
    }
    const encoding = this.encoding;
    const n = chunk.length;
    // Lines 1 and 2: the header.
    while (p < n && this.lineNo < 2) {
      let end = chunk.indexOf(LF, p);
      const next = end === -1 ? n : end + 1;
      if (end === -1) end = n;
      const e = end > p && chunk[end - 1] === CR ? end - 1 : end;
      this.lineNo++;
      if (this.lineNo === 1) {
        const line = chunk.subarray(p, e);
        if (line.length < MAGIC.length || !line.subarray(0, MAGIC.length).equals(MAGIC)) {
          throw new FormatError(name, 1, `expected ##@@&&, found ${preview(line, encoding)}`);
        }
        this.line1 = Buffer.from(line);
        addCommands(decodeText(line.subarray(MAGIC.length), encoding), this.summary);
      } else {
        const flag = decodeText(chunk.subarray(p, e), encoding).trim();
        if (flag !== '#' && flag !== '@') throw new FormatError(name, 2, `expected # (waiting) or @ (loaded), found ${preview(chunk.subarray(p, e), encoding)}`);
        this.loaded = flag === '@';
        this.dataOffset = this.fileOffset + next;
      }
      p = next;
    }
    const fileOffset = this.fileOffset;
    if (p < n) this.lines(chunk, p, fileOffset);
    this.fileOffset = fileOffset + n;
    const { loaded, dataOffset, summary, rangeCopy, skips } = this;
    return this.sink?.onChunk(chunk, fileOffset, { encoding, loaded, dataOffset, dataLines: this.dataLines, summary, rangeCopy, skips });
  }

  /** Data lines: the sum of the lines per table. */
  get dataLines(): number {
    let n = 0;
    for (const k of this.tableLines) n += k;
    return n;
  }

  /**
   * Data and command lines from `p` to the end of the chunk: one indexOf per
   * line, then only the first bytes are looked at. Nothing follows the loop:
   * V8 compiles it on its first long run (on-stack replacement), and code
   * after it would have had no type feedback yet and deoptimised it at the
   * end of every chunk.
   */
  private lines(chunk: Buffer, p: number, fileOffset: number): void {
    const n = chunk.length;
    const tableLines = this.tableLines;
    while (p < n) {
      const ls = p;
      let end = indexOf.call(chunk, LF, ls);
      let e: number;
      let tail: '' | '\n' | '\r\n' = '';
      if (end === -1) {
        // The last line of the file (chunks end on LF otherwise): no EOL.
        end = n;
        p = n;
        e = end > ls && chunk[end - 1] === CR ? end - 1 : end;
        this.clean = false;
        tail = e === end ? '\r\n' : '\n';
      } else {
        p = end + 1;
        e = end > ls && chunk[end - 1] === CR ? end - 1 : end;
        if (e === end) {
          // A bare LF: pass 2 must add the CR, line by line.
          this.clean = false;
          this.noRangeCopy();
        }
      }
      if (e === ls) {
        this.clean = false;
        this.skipLine(fileOffset + ls, fileOffset + p, SKIP_EMPTY);
        continue;
      }
      // An empty last line is never copied: only a line with content needs its EOL completed.
      if (tail !== '') this.tailEol = tail;
      const c = chunk[ls]!;
      if (c === DOLLAR && chunk[ls + 1] === DOLLAR && chunk[ls + 2] === DOLLAR) {
        addCommands(decodeText(chunk.subarray(ls, e), this.encoding), this.summary);
        this.clean = false;
        this.skipLine(fileOffset + ls, fileOffset + p, SKIP_COMMAND);
        continue;
      }
      tableLines[tableOfLine(chunk, ls)]!++;
    }
  }

  private skipLine(start: number, end: number, kind: number): void {
    if (!this.rangeCopy) return;
    if (this.skips.length >= 3 * MAX_SKIPPED_LINES) this.noRangeCopy();
    else this.skips.push(start, end, kind);
  }

  private noRangeCopy(): void {
    this.rangeCopy = false;
    this.skips.length = 0;
  }
}

/**
 * Streams a part and describes it; throws FormatError on a malformed part
 * (the core quarantines it). Reads the whole file once.
 */
export async function inspectSprPart(path: string, name: string): Promise<SprPartInfo> {
  const s = await scanSprPart(path, name);
  return { name: s.name, encoding: s.encoding, loaded: s.loaded, dataLines: s.dataLines, commands: s.commands, bytes: s.bytes };
}
