import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeBase64, encodeBase64 } from '../../src/formats/base64.js';
import { FormatError } from '../../src/formats/errors.js';
import { SEED_SAMPLE_BASE64 } from '../helpers/kkm-seed.js';

function formatError(fn: () => unknown): FormatError {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof FormatError, `expected a FormatError, got ${String(e)}`);
    return e;
  }
  assert.fail('expected a FormatError');
}

test('the seed sample with its \\r\\n line breaks decodes to a ZIP', () => {
  assert.ok(SEED_SAMPLE_BASE64.includes('\r\n'));
  const bytes = decodeBase64(SEED_SAMPLE_BASE64, 'package 1');
  assert.equal(bytes.length, 184);
  assert.deepEqual([...bytes.subarray(0, 4)], [0x50, 0x4b, 0x03, 0x04]);
});

test('whitespace anywhere is skipped: CR, LF, spaces, tabs', () => {
  const data = Buffer.from('Кассир 5: обмен', 'utf8');
  const b64 = encodeBase64(data);
  const messy = ` \t${b64.slice(0, 3)}\r\n${b64.slice(3, 10)} \t ${b64.slice(10)}\n\r\n `;
  assert.deepEqual(decodeBase64(messy, 'x'), data);
});

test('encode has no line breaks and round-trips every byte value', () => {
  const data = Buffer.from(Array.from({ length: 1000 }, (_, i) => (i * 7) % 256));
  const b64 = encodeBase64(data);
  assert.doesNotMatch(b64, /\s/);
  assert.deepEqual(decodeBase64(b64, 'x'), data);
  assert.equal(decodeBase64('', 'x').length, 0);
});

test('a character outside the alphabet is reported with its name, line and column', () => {
  const e = formatError(() => decodeBase64('QUJD\r\nRE*G', 'package 7'));
  assert.equal(e.file, 'package 7');
  assert.equal(e.line, 2);
  assert.match(e.message, /^package 7 line 2: /);
  assert.match(e.message, /'\*' \(U\+002A\)/);
  assert.match(e.message, /column 3 \(offset 8\)/);
});

test('the URL-safe alphabet is refused', () => {
  const e = formatError(() => decodeBase64('ab-_', 'p'));
  assert.match(e.message, /'-'/);
});

test('an HTML page instead of base64 is refused at its first character', () => {
  const e = formatError(() => decodeBase64('<html>', 'p'));
  assert.match(e.message, /'<'.*column 1 \(offset 0\)/);
});

test('bad padding and truncation are refused', () => {
  assert.match(formatError(() => decodeBase64('QUJD=', 'p')).message, /not a multiple of 4/);
  assert.match(formatError(() => decodeBase64('QU===', 'p')).message, /third '='/);
  assert.match(formatError(() => decodeBase64('QQ==QUJD', 'p')).message, /continues after '=' padding/);
  assert.match(formatError(() => decodeBase64('QUJDRA', 'p')).message, /not a multiple of 4/);
  // 'R' has low bits set where 'Q' has none: not what any encoder writes for "A".
  assert.match(formatError(() => decodeBase64('QR==', 'p')).message, /non-canonical/);
});
