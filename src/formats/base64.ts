/**
 * Base64 as the KKMTransfer service uses it. The protocol's own sample wraps
 * its base64 with `\r\n` (1C's `Base64Строка` does), so whitespace (CR, LF,
 * space, tab) is skipped anywhere; everything else is strict, because
 * Node's `Buffer.from(s, 'base64')` silently drops bad characters and would
 * turn a damaged package into a silently truncated file.
 */
import { FormatError } from './errors.js';

const WHITESPACE = /[\r\n \t]+/g;
const CANONICAL = /^[A-Za-z0-9+/]*={0,2}$/;
const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

/** Encode without line breaks (what SendData bodies are). */
export function encodeBase64(data: Buffer): string {
  return data.toString('base64');
}

/**
 * Decode standard base64 (RFC 4648 section 4, `+` and `/`, `=` padding).
 * `name` is what the text came from (e.g. `package 17`), for the error.
 * Throws FormatError naming the line, column and offset of the first bad character.
 */
export function decodeBase64(text: string, name: string): Buffer {
  const compact = text.replace(WHITESPACE, '');
  // Fast path: one regex over the whole text; the slow scan below only runs to locate an error.
  if (!CANONICAL.test(compact) || compact.length % 4 !== 0) throw locateError(text, name, compact.length);
  checkPaddingBits(compact, text, name);
  return Buffer.from(compact, 'base64');
}

/** Find the first offending character and describe it with its position in the original text. */
function locateError(text: string, name: string, compactLength: number): FormatError {
  let line = 1;
  let lineStart = 0;
  let padding = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c === '\n') {
      line++;
      lineStart = i + 1;
      continue;
    }
    if (c === '\r' || c === ' ' || c === '\t') continue;
    const where = `column ${i - lineStart + 1} (offset ${i})`;
    if (c === '=') {
      padding++;
      if (padding > 2) return new FormatError(name, line, `too much base64 padding: a third '=' at ${where}`);
      continue;
    }
    if (padding > 0) return new FormatError(name, line, `base64 data continues after '=' padding: ${describe(c)} at ${where}`);
    if (!ALPHABET.includes(c)) return new FormatError(name, line, `${describe(c)} is not a base64 character, at ${where}`);
  }
  return new FormatError(
    name,
    undefined,
    `base64 length ${compactLength} (without whitespace) is not a multiple of 4: the data is truncated or badly padded`,
  );
}

/** The bits below the last character of a padded group must be zero; otherwise the text was not produced by an encoder. */
function checkPaddingBits(compact: string, text: string, name: string): void {
  const pad = compact.endsWith('==') ? 2 : compact.endsWith('=') ? 1 : 0;
  if (pad === 0) return;
  const last = compact[compact.length - pad - 1]!;
  const value = ALPHABET.indexOf(last);
  const mask = pad === 2 ? 0b1111 : 0b11;
  if ((value & mask) !== 0) {
    const offset = text.lastIndexOf(last, text.lastIndexOf('=') - 1);
    throw new FormatError(name, lineOf(text, offset), `non-canonical base64 before the padding: '${last}' at offset ${offset} has leftover bits set`);
  }
}

function lineOf(text: string, offset: number): number {
  let line = 1;
  for (let i = 0; i < offset; i++) if (text.charCodeAt(i) === 10) line++;
  return line;
}

function describe(c: string): string {
  const code = c.codePointAt(0)!;
  const hex = `U+${code.toString(16).toUpperCase().padStart(4, '0')}`;
  return code >= 0x20 && code !== 0x7f ? `'${c}' (${hex})` : hex;
}
