/** The cp1251 name codec on its own: what goes on the wire, and what it refuses. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TransportError } from '../../src/transports/errors.js';
import { nameCodec } from '../../src/transports/ftp/name-encoding.js';

describe('FTP name encoding', () => {
  it('cp1251: a name becomes its Windows-1251 bytes, one latin1 char per byte, and back', () => {
    const c = nameCodec('cp1251');
    const wire = c.toWire('Файлы/КАССА1.spr.$1');
    // Ф = 0xD4, а = 0xE0, й = 0xE9, л = 0xEB, ы = 0xFB in Windows-1251.
    assert.deepEqual([...Buffer.from(wire.slice(0, 5), 'latin1')], [0xd4, 0xe0, 0xe9, 0xeb, 0xfb]);
    assert.equal(Buffer.from(wire, 'latin1').length, 'Файлы/КАССА1.spr.$1'.length);
    assert.equal(c.fromWire(wire), 'Файлы/КАССА1.spr.$1');
    assert.equal(c.toWire('POS1.rep.$12'), 'POS1.rep.$12', 'ASCII is unchanged');
    assert.equal(c.fromWire(c.toWire('Ёё№€')), 'Ёё№€');
  });

  it('cp1251: refuses a name the code page cannot carry instead of writing a different one', () => {
    const c = nameCodec('cp1251');
    assert.throws(
      () => c.toWire('Files/收据.rep'),
      (e) => e instanceof TransportError && e.kind === 'config' && e.message.includes('收据') && e.message.includes("'收'"),
    );
  });

  it('utf8: names pass through untouched', () => {
    const c = nameCodec('utf8');
    assert.equal(c.toWire('Файлы/收据'), 'Файлы/收据');
    assert.equal(c.fromWire('Файлы'), 'Файлы');
  });
});
