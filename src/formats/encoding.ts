/**
 * The two text encodings Kassir files come in, and the conversions between
 * them. Windows-1251 is the classic one; UTF-8 always carries a BOM in this
 * family (the vendor's sample; docs/FORMATS.md "File, lines, encoding"), so a
 * file without a BOM is read as Windows-1251.
 *
 * Both encodings are ASCII-compatible for every byte the parsers look at
 * (`#`, `@`, `$`, `;`, digits, CR, LF), so parsing works on raw bytes and only
 * the conversion below ever decodes text.
 */
import iconv from 'iconv-lite';
import { FormatError } from './errors.js';

export type TextEncoding = 'utf8bom' | 'cp1251';

export const UTF8_BOM: Buffer = Buffer.from([0xef, 0xbb, 0xbf]);

/** BOM EF BB BF => 'utf8bom', anything else (including an empty head) => 'cp1251'. */
export function detectEncoding(head: Buffer): TextEncoding {
  return head.length >= 3 && head[0] === 0xef && head[1] === 0xbb && head[2] === 0xbf ? 'utf8bom' : 'cp1251';
}

/** Bytes of the BOM that starts a file in `encoding` (empty for Windows-1251). */
export function bomOf(encoding: TextEncoding): Buffer {
  return encoding === 'utf8bom' ? UTF8_BOM : Buffer.alloc(0);
}

/** Decode bytes (without BOM) to a JS string. */
export function decodeText(bytes: Buffer, encoding: TextEncoding): string {
  return encoding === 'utf8bom' ? bytes.toString('utf8') : iconv.decode(bytes, 'win1251');
}

const QUESTION = 0x3f;

function countByte(buf: Buffer, byte: number): number {
  let n = 0;
  for (let i = buf.indexOf(byte); i !== -1; i = buf.indexOf(byte, i + 1)) n++;
  return n;
}

/**
 * Re-encode whole lines of text (no BOM) from one encoding to another.
 * Windows-1251 -> UTF-8 never loses anything. UTF-8 -> Windows-1251 throws a
 * FormatError naming the first line holding a character Windows-1251 cannot
 * represent: iconv-lite would silently write '?', and a till showing "?" in a
 * product name is exactly the quiet damage this module must not do.
 *
 * `file`/`firstLine` are only used for that error message; `bytes` must end on
 * a line boundary (the caller cuts chunks at LF) so no character is split.
 */
export function transcodeLines(bytes: Buffer, from: TextEncoding, to: TextEncoding, file: string, firstLine: number): Buffer {
  if (from === to || bytes.length === 0) return bytes;
  if (to === 'utf8bom') return Buffer.from(iconv.decode(bytes, 'win1251'), 'utf8');
  const out = iconv.encode(bytes.toString('utf8'), 'win1251');
  // Every unmappable character (and every invalid UTF-8 sequence, decoded as
  // U+FFFD) becomes '?': more '?' out than in means something was lost.
  if (countByte(out, QUESTION) !== countByte(bytes, QUESTION)) throw unmappable(bytes, file, firstLine);
  return out;
}

function unmappable(bytes: Buffer, file: string, firstLine: number): FormatError {
  const text = bytes.toString('utf8');
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    for (const ch of lines[i]!) {
      if (ch === '?' || ch === '\r') continue;
      const back = iconv.encode(ch, 'win1251');
      if (back.length === 1 && back[0] === QUESTION) {
        const cp = ch.codePointAt(0)!;
        const what = cp === 0xfffd ? 'an invalid UTF-8 byte sequence' : `character U+${cp.toString(16).toUpperCase().padStart(4, '0')} "${ch}"`;
        return new FormatError(file, firstLine + i, `${what} cannot be written in Windows-1251; use the UTF-8 output encoding`);
      }
    }
  }
  return new FormatError(file, firstLine, 'text cannot be converted to Windows-1251 without loss');
}
