/** The load order of reference parts (sequenced.ts orderParts), including the reused-low-number race. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MTIME_SLACK_MS, orderParts } from '../../src/transports/sequenced.js';

const B = 'POS1.spr';
const names = (...n: (number | 0)[]) => n.map((k) => ({ name: k === 0 ? B : `${B}.$${k}` }));

describe('orderParts', () => {
  it('numeric order, the plain name first, $10 after $9', () => {
    assert.deepEqual(orderParts(names(10, 9, 0, 8, 7, 6, 5, 4, 3, 1, 2), B), [B, ...[1, 2, 3, 4, 5, 6, 7, 8, 9, 10].map((n) => `${B}.$${n}`)]);
  });

  it('with mtimes in number order (or within the slack), numeric order stands', () => {
    const t = 1_700_000_000_000;
    const e = [
      { name: `${B}.$2`, mtimeMs: t },
      { name: `${B}.$1`, mtimeMs: t + MTIME_SLACK_MS }, // same second on an FTP listing
      { name: `${B}.$3`, mtimeMs: t + 10_000 },
    ];
    assert.deepEqual(orderParts(e, B), [`${B}.$1`, `${B}.$2`, `${B}.$3`]);
  });

  it('a reused low number written clearly later than a waiting higher part is loaded after it', () => {
    const t = 1_700_000_000_000;
    // $4 was waiting while the agent freed $1..$3; the back office wrote its next part into $1.
    const e = [
      { name: `${B}.$1`, mtimeMs: t + 60_000 },
      { name: `${B}.$4`, mtimeMs: t },
    ];
    assert.deepEqual(orderParts(e, B), [`${B}.$4`, `${B}.$1`]);
  });

  it('without mtimes, the parts above the first gap are the older ones', () => {
    assert.deepEqual(orderParts(names(1, 2, 5, 6), B), [`${B}.$5`, `${B}.$6`, `${B}.$1`, `${B}.$2`]);
    assert.deepEqual(orderParts(names(3, 4), B), [`${B}.$3`, `${B}.$4`], 'a first number above 1 is no evidence');
  });
});
