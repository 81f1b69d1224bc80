import { test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'undici';
import { FaultBoard, parseFault } from '../../scripts/kkm-emulator/faults.js';
import { NOTHING_TO_SEND } from '../../scripts/kkm-emulator/server.js';
import { decodeBase64 } from '../../src/formats/base64.js';
import { readZipEntries } from '../../src/formats/zip.js';
import { emulatorFor } from '../helpers/kkm-emulator.js';

test('emulator: ReceiveData under any prefix, string errcodes, base64 wrapped at 64 with \\r\\n like the wiki sample', async (t) => {
  const emu = await emulatorFor(t);
  const content = Buffer.from('##@@&&\r\n#\r\n' + '1;Товар с длинным названием;'.repeat(20), 'utf8');
  await emu.publish('goods.spr', content);
  const base = `http://127.0.0.1:${emu.port}`;
  for (const path of ['/trade/hs/KKMTransfer/1/1', '/1/1']) {
    const res = await request(base + path);
    assert.equal(res.headers['content-type'], 'application/json; charset=utf-8');
    const body = (await res.body.json()) as Record<string, string>;
    assert.equal(body.errcode, '0');
    assert.equal(body.packagetype, 'spr');
    const lines = body.data!.split('\r\n');
    assert.ok(lines.length > 2);
    assert.ok(lines.slice(0, -1).every((l) => l.length === 64));
    const [entry] = await readZipEntries(decodeBase64(body.data!, 'answer'), 'answer');
    assert.deepEqual(entry, { name: 'goods.spr', data: content });
  }
  const past = (await (await request(`${base}/x/1/2`)).body.json()) as Record<string, string>;
  assert.deepEqual(past, { data: '', errcode: '3', errmessage: NOTHING_TO_SEND });
  const missing = await request(`${base}/nothing-here`);
  await missing.body.dump();
  assert.equal(missing.statusCode, 404);
});

test('emulator: per-POS outbox folders, numbering in name order, packages frozen once published', async (t) => {
  const emu = await emulatorFor(t);
  await emu.publish('b.spr', 'shared b');
  await emu.publish('a.spr', 'pos2 a', { pos: 2 });
  await emu.publish('c.flr', 'shared c', { uid: 'U-7' });
  assert.deepEqual((await emu.packages(1)).map((p) => [p.number, p.source, p.type, p.uid]), [
    [1, 'b.spr', 'spr', undefined],
    [2, 'c.flr', 'flr', 'U-7'],
  ]);
  assert.deepEqual((await emu.packages(2)).map((p) => p.source), ['POS2/a.spr', 'b.spr', 'c.flr']);
  // A new file named before the published ones is appended, not inserted.
  await emu.publish('0-early.spr', 'late');
  assert.deepEqual((await emu.packages(1)).map((p) => p.source), ['b.spr', 'c.flr', '0-early.spr']);
});

test('emulator faults: CLI syntax, counts and probability', () => {
  assert.deepEqual(parseFault('delay:500'), { kind: 'delay', ms: 500 });
  assert.deepEqual(parseFault('lost-reply,on=send,times=1'), { kind: 'lost-reply', on: 'send', times: 1 });
  assert.deepEqual(parseFault('errcode2:Период закрыт,p=0.5'), { kind: 'errcode2', message: 'Период закрыт', probability: 0.5 });
  assert.throws(() => parseFault('explode'), /unknown kind "explode"/);
  assert.throws(() => parseFault('delay'), /delay needs milliseconds/);
  assert.throws(() => parseFault('drop,times=x'), /cannot read option "times=x"/);

  const rolls = [0.1, 0.9, 0.4];
  const board = new FaultBoard(() => rolls.shift()!);
  board.add({ kind: 'delay', ms: 50, times: 2 });
  board.add({ kind: 'drop', probability: 0.5, on: 'send' });
  assert.deepEqual(board.take('receive'), { delayMs: 50 });
  assert.deepEqual(board.take('send'), { delayMs: 50, fault: { kind: 'drop', probability: 0.5, on: 'send' } });
  assert.deepEqual(board.take('send'), { delayMs: 0 });
  assert.equal(board.take('send').fault?.kind, 'drop');
});
