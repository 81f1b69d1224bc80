/**
 * Pass 1 over an SPR part: validate the two header lines, detect the encoding,
 * collect the commands and count data lines per table. Streams the file in
 * line-aligned chunks; nothing is kept but counters.
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
}

const MAGIC = Buffer.from('##@@&&', 'latin1');
const DOLLAR = 0x24;

/** Shows up to 40 characters of a bad line, quoted, so control bytes are visible. */
export function preview(line: Buffer, encoding: TextEncoding): string {
  const text = decodeText(line.subarray(0, 120), encoding);
  return JSON.stringify(text.length > 40 ? `${text.slice(0, 40)}...` : text);
}

export async function scanSprPart(path: string, name: string, buffer?: Buffer): Promise<SprPartScan> {
  let encoding: TextEncoding = 'cp1251';
  let lineNo = 0;
  let fileOffset = 0;
  let loaded = false;
  let line1: Buffer = Buffer.alloc(0);
  let dataOffset = 0;
  let dataLines = 0;
  const tableLines = new Array<number>(TABLE_COUNT).fill(0);
  const summary = emptyCommandSummary();
  let clean = true;

  const bytes = await readLineChunks(path, name, 0, (chunk) => {
    let p = 0;
    if (fileOffset === 0) {
      encoding = detectEncoding(chunk);
      if (encoding === 'utf8bom') p = 3;
    }
    const n = chunk.length;
    while (p < n) {
      let end = chunk.indexOf(LF, p);
      const next = end === -1 ? n : end + 1;
      if (end === -1) end = n;
      const e = end > p && chunk[end - 1] === CR ? end - 1 : end;
      lineNo++;
      if (lineNo > 2) {
        if (e === end || e === p || next === end) clean = false; // no CR before LF, an empty line, or no LF at all (last line)
        if (e > p) {
          if (chunk[p] === DOLLAR && chunk[p + 1] === DOLLAR && chunk[p + 2] === DOLLAR) {
            addCommands(decodeText(chunk.subarray(p, e), encoding), summary);
            clean = false;
          } else {
            dataLines++;
            tableLines[tableOfLine(chunk, p)]!++;
          }
        }
      } else if (lineNo === 1) {
        const line = chunk.subarray(p, e);
        if (line.length < MAGIC.length || !line.subarray(0, MAGIC.length).equals(MAGIC)) {
          throw new FormatError(name, 1, `expected ##@@&&, found ${preview(line, encoding)}`);
        }
        line1 = Buffer.from(line);
        addCommands(decodeText(line.subarray(MAGIC.length), encoding), summary);
      } else {
        const flag = decodeText(chunk.subarray(p, e), encoding).trim();
        if (flag !== '#' && flag !== '@') throw new FormatError(name, 2, `expected # (waiting) or @ (loaded), found ${preview(chunk.subarray(p, e), encoding)}`);
        loaded = flag === '@';
        dataOffset = fileOffset + next;
      }
      p = next;
    }
    fileOffset += n;
  }, buffer ? { buffer } : {});
  if (lineNo === 0) throw new FormatError(name, 1, 'expected ##@@&&, found an empty file');
  if (lineNo === 1) throw new FormatError(name, 2, 'expected # (waiting) or @ (loaded), found end of file');
  return { name, path, encoding, loaded, dataLines, commands: summary.commands, bytes, summary, tableLines, line1, dataOffset, clean };
}

/**
 * Streams a part and describes it; throws FormatError on a malformed part
 * (the core quarantines it). Reads the whole file once.
 */
export async function inspectSprPart(path: string, name: string): Promise<SprPartInfo> {
  const s = await scanSprPart(path, name);
  return { name: s.name, encoding: s.encoding, loaded: s.loaded, dataLines: s.dataLines, commands: s.commands, bytes: s.bytes };
}
