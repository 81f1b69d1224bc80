import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readdir, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { TransportError, type TransportErrorKind } from '../../src/transports/errors.js';
import { KkmTransferTransport } from '../../src/transports/kkmtransfer/transport.js';
import type { OutgoingPackage } from '../../src/transports/transport.js';
import { memoryLogger } from '../../src/util/logger.js';
import { encodeBase64 } from '../../src/formats/base64.js';
import { makeZip, readZipEntries } from '../../src/formats/zip.js';
import { decodeBase64 } from '../../src/formats/base64.js';
import { fakePullContext, fakePushContext } from '../helpers/kkm-context.js';
import { tempDirFor } from '../helpers/temp-dir.js';
import { emulatorFor, kkmOptions, kkmTransport } from '../helpers/kkm-emulator.js';
import { sendJson, startPlainServer } from '../helpers/kkm-plain-server.js';
import { SEED_NOTHING_RESPONSE, SEED_SAMPLE_CONTENT, SEED_SAMPLE_RESPONSE } from '../helpers/kkm-seed.js';

async function rejectsWith(p: Promise<unknown>, kind: TransportErrorKind): Promise<TransportError> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof TransportError, `expected a TransportError, got ${String(e)}`);
    assert.equal(e.kind, kind, e.message);
    return e;
  }
  assert.fail(`expected a TransportError of kind ${kind}`);
}

const REPORT = Buffer.from('#\r\n1\r\n1\r\n1;01.02.2025;10:00:00;1;1;15;1;100;1;10.00;1;10.00\r\n2;01.02.2025;10:00:00;55;1;15;1;;;;;10.00\r\n', 'utf8');

async function reportPackage(dir: string, number: number, uid?: string, data = REPORT): Promise<OutgoingPackage> {
  const path = join(dir, `out-${number}.rep`);
  await writeFile(path, data);
  return { number, path, bytes: data.length, transactions: 2, ...(uid ? { uid } : {}) };
}

const sha256 = (s: string | Buffer) => createHash('sha256').update(s).digest('hex');

test('pull: several spr packages are staged in order, the cursor ends past the last', async (t) => {
  const emu = await emulatorFor(t);
  await emu.publish('b-goods.spr', '##@@&&\r\n#\r\n2;Хлеб\r\n');
  await emu.publish('a-groups.spr', '##@@&&$$$CLR\r\n#\r\n1;Группа\r\n');
  await emu.publish('c-prices.spr', '##@@&&$$$ADD\r\n#\r\n3;Молоко\r\n', { pos: 1 });
  await emu.publish('other-pos.spr', 'x', { pos: 2 });
  const tr = await kkmTransport(t, emu.url);
  const ctx = fakePullContext(await tempDirFor(t, 'kkm'));

  const r = await tr.pull(ctx);
  assert.equal(r.parts, 3);
  assert.deepEqual(
    ctx.calls.map((c) => [c.parts.map((p) => [p.remoteName, p.kind, p.data.toString('utf8').split('\r\n')[2]]), c.cursor.nextReceive]),
    [
      [[['package 1', 'spr', '1;Группа']], 2],
      [[['package 2', 'spr', '2;Хлеб']], 3],
      [[['package 3', 'spr', '3;Молоко']], 4],
    ],
  );
  assert.equal(r.bytes, ctx.calls.reduce((s, c) => s + c.parts[0]!.data.length, 0));
  // errcode 3 stops the loop: one more GET (for package 4), nothing staged.
  assert.deepEqual(emu.requests.map((q) => q.path), [1, 2, 3, 4].map((n) => `/hs/KKMTransfer/1/${n}`));

  // A later pull starts from the persisted cursor and only asks for what is new.
  await emu.publish('d-more.spr', '##@@&&\r\n#\r\n4;Сыр\r\n');
  const r2 = await tr.pull(ctx);
  assert.equal(r2.parts, 1);
  assert.equal(ctx.calls.length, 4);
  assert.deepEqual(ctx.cursor, { nextReceive: 5 });
  assert.equal(ctx.calls[3]!.parts[0]!.remoteName, 'package 4');
});

test("pull: the protocol's own sample answer (string errcode, base64 with \\r\\n) is staged byte for byte", async (t) => {
  const server = await startPlainServer(t, (req, res) => sendJson(res, req.url.endsWith('/1/1') ? SEED_SAMPLE_RESPONSE : SEED_NOTHING_RESPONSE));
  const tr = await kkmTransport(t, `${server.url}/trade/hs/KKMTransfer/`);
  const ctx = fakePullContext(await tempDirFor(t, 'kkm'));
  const r = await tr.pull(ctx);
  assert.deepEqual(r, { parts: 1, bytes: SEED_SAMPLE_CONTENT.length });
  assert.equal(ctx.calls.length, 1);
  const part = ctx.calls[0]!.parts[0]!;
  assert.equal(part.kind, 'spr');
  assert.equal(part.uid, undefined);
  assert.deepEqual([...part.data.subarray(0, 3)], [0xef, 0xbb, 0xbf]);
  assert.equal(part.data.subarray(3, 15).toString('utf8'), '##@@&&$$$RPL');
  assert.deepEqual(part.data, SEED_SAMPLE_CONTENT);
  assert.deepEqual(ctx.calls[0]!.cursor, { nextReceive: 2 });
  assert.deepEqual(server.requests.map((q) => [q.method, q.url]), [
    ['GET', '/trade/hs/KKMTransfer/1/1'],
    ['GET', '/trade/hs/KKMTransfer/1/2'],
  ]);
});

test('pull: an flr request is staged with its UID; the cursor keeps other keys', async (t) => {
  const emu = await emulatorFor(t);
  await emu.publish('request.flr', '01.02.2025;02.02.2025\r\n', { uid: '6f1c2a4e-0b7d-4d57-9e0e-2f4a8c1d9b33' });
  await emu.publish('z-generated.flr', 'x');
  const tr = await kkmTransport(t, emu.url);
  const ctx = fakePullContext(await tempDirFor(t, 'kkm'), { nextReceive: 1, note: 'kept' });
  await tr.pull(ctx);
  const [first, second] = ctx.calls.map((c) => c.parts[0]!);
  assert.equal(first!.kind, 'flr');
  assert.equal(first!.uid, '6f1c2a4e-0b7d-4d57-9e0e-2f4a8c1d9b33');
  assert.equal(first!.data.toString(), '01.02.2025;02.02.2025\r\n');
  assert.match(second!.uid ?? '', /^[0-9a-f-]{36}$/);
  assert.deepEqual(ctx.cursor, { nextReceive: 3, note: 'kept' });
});

test('pull: nothing to send (errcode "3") stages nothing and keeps the cursor', async (t) => {
  const emu = await emulatorFor(t);
  const tr = await kkmTransport(t, emu.url);
  const ctx = fakePullContext(await tempDirFor(t, 'kkm'), { nextReceive: 7 });
  assert.deepEqual(await tr.pull(ctx), { parts: 0, bytes: 0 });
  assert.equal(ctx.calls.length, 0);
  assert.deepEqual(emu.requests.map((q) => q.path), ['/hs/KKMTransfer/1/7']);
});

test('pull: an HTML page served with 200 is a protocol error quoting it; nothing staged, the cursor did not move', async (t) => {
  const page = '<html><head><title>Service Unavailable</title></head><body><h1>Публикация 1С временно недоступна</h1></body></html>';
  const server = await startPlainServer(t, (_req, res) => sendJson(res, page, 200, 'text/html'));
  const tr = await kkmTransport(t, `${server.url}/hs/KKMTransfer`);
  const ctx = fakePullContext(await tempDirFor(t, 'kkm'), { nextReceive: 3 });
  const e = await rejectsWith(tr.pull(ctx), 'protocol');
  assert.match(e.message, /ReceiveData 1\/3: the answer is not JSON: Service Unavailable Публикация 1С временно недоступна/);
  assert.equal(e.details.serverAnswer, 'Service Unavailable Публикация 1С временно недоступна');
  assert.equal(ctx.calls.length, 0);
  assert.deepEqual(ctx.cursor, { nextReceive: 3 });
});

test('pull: emulator faults map to kinds and never move the cursor', async (t) => {
  const emu = await emulatorFor(t);
  await emu.publish('a.spr', '##@@&&\r\n#\r\n');
  const tr = await kkmTransport(t, emu.url);
  const ctx = fakePullContext(await tempDirFor(t, 'kkm'));

  emu.setFault({ kind: 'http500', times: 1 });
  const e500 = await rejectsWith(tr.pull(ctx), 'server');
  assert.equal(e500.details.code, 500);
  assert.match(e500.details.serverAnswer ?? '', /^IIS 10\.0 Detailed Error - 500\.0/);

  emu.setFault({ kind: 'garbage', times: 1 });
  await rejectsWith(tr.pull(ctx), 'protocol');

  emu.setFault({ kind: 'errcode2', message: 'База заблокирована', times: 1 });
  const e2 = await rejectsWith(tr.pull(ctx), 'server');
  assert.equal(e2.details.code, 2);
  assert.match(e2.message, /errcode 2: База заблокирована/);

  emu.setFault({ kind: 'drop', times: 1 });
  await rejectsWith(tr.pull(ctx), 'unreachable');

  assert.equal(ctx.calls.length, 0);
  assert.deepEqual(ctx.cursor, {});
  // The faults are used up: the same pull now works.
  assert.equal((await tr.pull(ctx)).parts, 1);
  assert.deepEqual(ctx.cursor, { nextReceive: 2 });
});

test('pull: empty data moves on with a warning; an unknown packagetype and broken base64 are quarantined and pulling goes on', async (t) => {
  const txtBody = { data: encodeBase64(await makeZip([{ name: 'x.txt', data: Buffer.from('x') }])), errcode: '0', packagetype: 'txt' };
  const answers: Record<string, object> = {
    '/k/1/1': { data: '', errcode: 0, errmessage: '', packagetype: 'spr' },
    '/k/1/2': txtBody,
    '/k/1/3': { data: 'UEsDBB*Q', errcode: '0', packagetype: 'SPR' },
    '/k/1/4': { data: encodeBase64(Buffer.from('##@@&&\r\n#\r\n4;ok\r\n')), errcode: '0', packagetype: 'spr' },
  };
  const server = await startPlainServer(t, (req, res) => sendJson(res, answers[req.url] ?? JSON.parse(SEED_NOTHING_RESPONSE)));
  const tr = await kkmTransport(t, `${server.url}/k`);
  const log = memoryLogger();
  const ctx = fakePullContext(await tempDirFor(t, 'kkm'), {}, log);
  assert.deepEqual(await tr.pull(ctx), { parts: 1, bytes: 17 });
  // Package 1 was empty: the counter moved past it alone, with a warning.
  assert.deepEqual(ctx.calls[0], { parts: [], cursor: { nextReceive: 2 } });
  assert.ok(log.records.some((r) => r.event === 'pull.empty_package' && r.fields.package === 1));
  // Packages 2 and 3 are kept as they came, each with the cursor past it.
  assert.deepEqual(
    ctx.quarantined.map((q) => [q.remoteName, q.cursor]),
    [
      ['package 2.json', { nextReceive: 3 }],
      ['package 3.base64', { nextReceive: 4 }],
    ],
  );
  assert.match(ctx.quarantined[0]!.reason, /^ReceiveData 1\/2: packagetype "txt" is neither spr nor flr$/);
  assert.deepEqual(JSON.parse(ctx.quarantined[0]!.raw.toString('utf8')), txtBody, 'the whole answer is kept');
  assert.match(ctx.quarantined[1]!.reason, /^ReceiveData 1\/3: package 3 line 1: '\*' \(U\+002A\) is not a base64 character/);
  assert.equal(ctx.quarantined[1]!.raw.toString('utf8'), 'UEsDBB*Q', 'the base64 text is kept as it came');
  assert.deepEqual(
    log.records.filter((r) => r.event === 'pull.quarantined').map((r) => [r.level, r.fields.package]),
    [
      ['error', 2],
      ['error', 3],
    ],
  );
  // Package 4 is fine and staged after them; then "nothing to send" ends the pull.
  assert.deepEqual(ctx.calls.slice(1).map((c) => [c.parts.map((p) => p.remoteName), c.cursor]), [[['package 4'], { nextReceive: 5 }]]);
  assert.deepEqual(ctx.cursor, { nextReceive: 5 });
  assert.deepEqual(server.requests.map((q) => q.url), [1, 2, 3, 4, 5].map((n) => `/k/1/${n}`));
});

test('pull: an answer whose data is unusable (not a string) is quarantined whole; an unreadable errcode is not (retried)', async (t) => {
  const answers: Record<string, string> = {
    '/1/1': '{"data": {"file": "x"}, "errcode": "0", "packagetype": "spr"}',
    '/1/2': '{"data": "", "errcode": "ноль"}',
  };
  const server = await startPlainServer(t, (req, res) => sendJson(res, answers[req.url] ?? SEED_NOTHING_RESPONSE));
  const tr = await kkmTransport(t, server.url);
  const ctx = fakePullContext(await tempDirFor(t, 'kkm'));
  const e = await rejectsWith(tr.pull(ctx), 'protocol');
  assert.match(e.message, /ReceiveData 1\/2: answer key "errcode": must be a whole number/);
  assert.deepEqual(ctx.quarantined.map((q) => [q.remoteName, q.raw.toString('utf8'), q.cursor]), [['package 1.json', answers['/1/1'], { nextReceive: 2 }]]);
  assert.match(ctx.quarantined[0]!.reason, /^ReceiveData 1\/1: answer key "data": /);
  assert.deepEqual(ctx.cursor, { nextReceive: 2 }, 'moved past package 1 only');
  assert.equal(ctx.calls.length, 0);
});

/** A ZIP whose single entry is named `../evil.spr` (yazl refuses to write such a name, so it is patched in). */
async function zipSlip(): Promise<Buffer> {
  const zip = await makeZip([{ name: 'aa/evil.spr', data: Buffer.from('##@@&&\r\n#\r\n') }]);
  return Buffer.from(zip.toString('latin1').split('aa/evil.spr').join('../evil.spr'), 'latin1');
}

test('pull: broken and hostile ZIPs (truncated, zip-slip) are quarantined as .zip; nothing is left in tmpDir', async (t) => {
  const good = await makeZip([{ name: 'a.spr', data: Buffer.from('##@@&&\r\n#\r\n1;a\r\n') }]);
  const answers: Record<string, object> = {
    '/1/1': { data: encodeBase64(good.subarray(0, good.length - 30)), errcode: '0', packagetype: 'spr' },
    '/1/2': { data: encodeBase64(await zipSlip()), errcode: '0', packagetype: 'spr' },
    '/1/3': { data: encodeBase64(good), errcode: '0', packagetype: 'spr' },
  };
  const server = await startPlainServer(t, (req, res) => sendJson(res, answers[req.url] ?? JSON.parse(SEED_NOTHING_RESPONSE)));
  const tr = await kkmTransport(t, server.url);
  const tmp = await tempDirFor(t, 'kkm');
  const ctx = fakePullContext(tmp);
  assert.equal((await tr.pull(ctx)).parts, 1);
  assert.deepEqual(ctx.quarantined.map((q) => [q.remoteName, q.cursor.nextReceive]), [
    ['package 1.zip', 2],
    ['package 2.zip', 3],
  ]);
  assert.deepEqual(ctx.quarantined[0]!.raw, good.subarray(0, good.length - 30), 'the decoded archive is kept, ready to open');
  assert.match(ctx.quarantined[1]!.reason, /ReceiveData 1\/2: package 2: .*\.\./);
  assert.deepEqual(ctx.calls.map((c) => [c.parts.map((p) => p.data.toString()), c.cursor.nextReceive]), [[['##@@&&\r\n#\r\n1;a\r\n'], 4]]);
  assert.deepEqual(await readdir(tmp), [basename(ctx.calls[0]!.parts[0]!.localPath)], 'only the staged file is in tmpDir');
});

test('pull: a ZIP with several entries is staged as several parts in one step; unzipped data is taken as the file', async (t) => {
  const zip = await makeZip([
    { name: 'Справочник/2-goods.spr', data: Buffer.from('goods') },
    { name: '1-groups.spr', data: Buffer.from('groups') },
  ]);
  const answers: Record<string, object> = {
    '/1/1': { data: encodeBase64(zip), errcode: 0, packagetype: 'spr' },
    '/1/2': { Data: encodeBase64(Buffer.from('##@@&&\r\n#\r\n')), ErrCode: '0', PackageType: 'Flr', uid: 'X1' },
  };
  const server = await startPlainServer(t, (req, res) => sendJson(res, '\uFEFF' + JSON.stringify(answers[req.url] ?? JSON.parse(SEED_NOTHING_RESPONSE))));
  const tr = await kkmTransport(t, server.url);
  const tmp = await tempDirFor(t, 'kkm');
  const ctx = fakePullContext(tmp);
  assert.deepEqual(await tr.pull(ctx), { parts: 3, bytes: 5 + 6 + 11 });
  assert.equal(ctx.calls.length, 2);
  assert.deepEqual(
    ctx.calls[0]!.parts.map((p) => [p.remoteName, p.data.toString(), p.localPath.startsWith(tmp)]),
    [
      ['package 1 Справочник/2-goods.spr', 'goods', true],
      ['package 1 1-groups.spr', 'groups', true],
    ],
  );
  assert.deepEqual(ctx.calls[1]!.parts.map((p) => [p.kind, p.uid, p.data.toString()]), [['flr', 'X1', '##@@&&\r\n#\r\n']]);
  assert.deepEqual(ctx.cursor, { nextReceive: 3 });
});

test('pull: a zip bomb (or a plain package over maxPackageBytes) is quarantined, not extracted', async (t) => {
  const bombZip = await makeZip([{ name: 'zeros.spr', data: Buffer.alloc(8 * 1024 * 1024) }]);
  const big = Buffer.alloc(1024 * 1024 + 1000, 0x41); // base64 stays under the answer cap (1.6x)
  const answers: Record<string, object> = {
    '/1/1': { data: encodeBase64(bombZip), errcode: '0', packagetype: 'spr' },
    '/1/2': { data: encodeBase64(big), errcode: '0', packagetype: 'spr' },
  };
  const server = await startPlainServer(t, (req, res) => sendJson(res, answers[req.url] ?? JSON.parse(SEED_NOTHING_RESPONSE)));
  const tr = await kkmTransport(t, server.url, { maxPackageBytes: 1024 * 1024 });
  const tmp = await tempDirFor(t, 'kkm');
  const ctx = fakePullContext(tmp);
  assert.deepEqual(await tr.pull(ctx), { parts: 0, bytes: 0 });
  assert.equal(ctx.calls.length, 0);
  assert.deepEqual(ctx.quarantined.map((q) => [q.remoteName, q.raw.length, q.cursor.nextReceive]), [
    ['package 1.zip', bombZip.length, 2],
    ['package 2.bin', big.length, 3],
  ]);
  assert.match(ctx.quarantined[0]!.reason, /ReceiveData 1\/1: package 1: .*zip bomb/);
  assert.match(ctx.quarantined[1]!.reason, /ReceiveData 1\/2: package 2: 1049576 bytes, more than transport.maxPackageBytes \(1048576\)/);
  assert.deepEqual(await readdir(tmp), []);
});

test('pull: when keeping the bad package fails, the pull fails and the counter stays', async (t) => {
  const server = await startPlainServer(t, (req, res) =>
    sendJson(res, req.url === '/1/1' ? { data: '***', errcode: '0', packagetype: 'spr' } : JSON.parse(SEED_NOTHING_RESPONSE)),
  );
  const tr = await kkmTransport(t, server.url);
  const ctx = fakePullContext(await tempDirFor(t, 'kkm'), { nextReceive: 1 });
  ctx.quarantine = async () => {
    throw new Error('ENOSPC: no space left on device');
  };
  await assert.rejects(tr.pull(ctx), /ENOSPC/);
  assert.deepEqual(ctx.cursor, { nextReceive: 1 });
});

test('auth: basic credentials are sent; a wrong password is an auth error', async (t) => {
  const emu = await emulatorFor(t, { user: 'kassa', password: 's3cr:et' });
  await emu.publish('a.spr', 'x');
  const good = await kkmTransport(t, emu.url, { user: 'kassa', password: 's3cr:et' });
  assert.equal((await good.pull(fakePullContext(await tempDirFor(t, 'kkm')))).parts, 1);

  const bad = await kkmTransport(t, emu.url, { user: 'kassa', password: 'wrong' });
  const e = await rejectsWith(bad.pull(fakePullContext(await tempDirFor(t, 'kkm'))), 'auth');
  assert.equal(e.details.code, 401);
  assert.ok(e.needsOperator);
  const none = await kkmTransport(t, emu.url);
  await rejectsWith(none.push(await reportPackage(await tempDirFor(t, 'kkm'), 1), fakePushContext()), 'auth');
});

test('push: errcode 0 is delivered, the same package again is a duplicate; the uid is a path segment', async (t) => {
  const emu = await emulatorFor(t);
  const tr = await kkmTransport(t, emu.url);
  const dir = await tempDirFor(t, 'kkm');
  const pkg = await reportPackage(dir, 17, 'a/b c');
  const first = await tr.push(pkg, fakePushContext());
  assert.deepEqual(first, { outcome: 'delivered', remoteName: 'SendData/1/17/a/b c', serverAnswer: '{"errcode":0,"errmessage":""}' });
  const again = await tr.push(pkg, fakePushContext());
  assert.equal(again.outcome, 'duplicate');
  assert.match(again.serverAnswer ?? '', /уже обработан/);
  assert.equal(emu.requests[0]!.path, '/hs/KKMTransfer/SendData/1/17/a%2Fb%20c');
  const got = await emu.received(1);
  assert.equal(got.length, 1);
  assert.equal(got[0]!.uid, 'a/b c');
  assert.deepEqual(got[0]!.data, REPORT);
  assert.deepEqual(got[0]!.entries, ['POS1_17.rep']);

  // Plain (unzipped) reports are accepted too.
  const plain = await kkmTransport(t, emu.url, { zipReports: false });
  assert.equal((await plain.push(await reportPackage(dir, 18), fakePushContext())).outcome, 'delivered');
  const r18 = (await emu.received(1)).find((r) => r.number === 18)!;
  assert.equal(r18.zipped, false);
  assert.deepEqual(r18.data, REPORT);
});

test('push: errcode 2 is a server error with the message; HTTP 500 is a server error', async (t) => {
  const emu = await emulatorFor(t);
  const tr = await kkmTransport(t, emu.url);
  const pkg = await reportPackage(await tempDirFor(t, 'kkm'), 1);
  emu.setFault({ kind: 'errcode2', message: 'Период закрыт', on: 'send', times: 1 });
  const e = await rejectsWith(tr.push(pkg, fakePushContext()), 'server');
  assert.match(e.message, /SendData 1\/1: back office answered errcode 2: Период закрыт/);
  emu.setFault({ kind: 'http500', on: 'send', times: 1 });
  await rejectsWith(tr.push(pkg, fakePushContext()), 'server');
  assert.equal((await emu.received(1)).length, 0);
});

test('push: the lost reply: processed but unanswered, the resend is a duplicate and nothing is stored twice', async (t) => {
  const emu = await emulatorFor(t);
  const tr = await kkmTransport(t, emu.url);
  const pkg = await reportPackage(await tempDirFor(t, 'kkm'), 5);
  const state = { notes: {} };
  emu.setFault({ kind: 'lost-reply', on: 'send', times: 1 });
  const first = fakePushContext(state);
  await rejectsWith(tr.push(pkg, first), 'unreachable');
  // The notes were saved before the first byte went out.
  assert.equal(first.saved.length, 1);
  const bodySha = (state.notes as { bodySha256: string }).bodySha256;

  const second = fakePushContext(state);
  const r = await tr.push(pkg, second);
  assert.equal(r.outcome, 'duplicate');
  assert.equal(second.saved.length, 0, 'the notes of the first attempt are reused, not rewritten');
  const got = await emu.received(1);
  assert.equal(got.length, 1);
  assert.deepEqual(got[0]!.data, REPORT);
  assert.equal(got[0]!.bodySha256, bodySha, 'the server stored exactly the first attempt\'s body');
  assert.deepEqual(await emu.storedFiles(1), ['5.rep']);
  assert.deepEqual(emu.requests.map((q) => [q.path, q.result, q.fault]), [
    ['/hs/KKMTransfer/SendData/1/5', 'dropped', 'lost-reply'],
    ['/hs/KKMTransfer/SendData/1/5', 200, undefined],
  ]);
});

test('push: every attempt sends the same bytes, even if zipReports changes between attempts', async (t) => {
  const server = await startPlainServer(t, (_req, res, i) => {
    if (i === 0) res.socket?.destroy();
    else sendJson(res, { errcode: '1', errmessage: 'already' });
  });
  const dir = await tempDirFor(t, 'kkm');
  const pkg = await reportPackage(dir, 9);
  const state = { notes: {} };
  await rejectsWith((await kkmTransport(t, server.url, { zipReports: true })).push(pkg, fakePushContext(state)), 'unreachable');
  const r = await (await kkmTransport(t, server.url, { zipReports: false })).push(pkg, fakePushContext(state));
  assert.equal(r.outcome, 'duplicate');
  const [a, b] = server.requests;
  assert.equal(a!.body, b!.body);
  assert.equal(a!.headers['content-type'], 'text/plain; charset=utf-8');
  assert.equal(sha256(a!.body), (state.notes as { bodySha256: string }).bodySha256);
  const entries = await readZipEntries(decodeBase64(a!.body, 'body'), 'body');
  assert.deepEqual(entries, [{ name: 'POS1_9.rep', data: REPORT }]);

  // A report that changed after its first attempt is refused, not sent under the same number.
  await writeFile(pkg.path, Buffer.concat([REPORT, Buffer.from('3;extra\r\n')]));
  await assert.rejects(
    (await kkmTransport(t, server.url)).push(pkg, fakePushContext(state)),
    /changed after its first attempt/,
  );
  assert.equal(server.requests.length, 2);
});

test("push: the upcoming packages' first-attempt notes are saved with the current one's (one sync); each then sends the bytes its notes pin and saves nothing", async (t) => {
  const server = await startPlainServer(t, (_req, res) => sendJson(res, { errcode: '0', errmessage: '' }));
  const dir = await tempDirFor(t, 'kkm');
  const pkgs = [await reportPackage(dir, 1), await reportPackage(dir, 2), await reportPackage(dir, 3)];
  const tr = await kkmTransport(t, server.url);
  // What the store keeps for each package, and what each saveNotes call carried.
  const kept = new Map<number, Record<string, unknown>>();
  const calls: { n: number; ahead: number[] }[] = [];
  for (let i = 0; i < pkgs.length; i++) {
    const pkg = pkgs[i]!;
    const ctx = {
      ...fakePushContext({ notes: structuredClone(kept.get(pkg.number) ?? {}) }),
      upcoming: pkgs.slice(i + 1, i + 3),
      saveNotes: async (notes: Record<string, unknown>, ahead: readonly { number: number; notes: Record<string, unknown> }[] = []) => {
        calls.push({ n: pkg.number, ahead: ahead.map((a) => a.number) });
        kept.set(pkg.number, notes);
        for (const a of ahead) if (!kept.has(a.number)) kept.set(a.number, a.notes);
      },
    };
    assert.equal((await tr.push(pkg, ctx)).outcome, 'delivered');
  }
  assert.deepEqual(calls, [{ n: 1, ahead: [2, 3] }], 'packages 2 and 3 had their notes from the first save');
  assert.deepEqual(server.requests.map((r) => sha256(r.body)), [1, 2, 3].map((n) => kept.get(n)!.bodySha256));
  const entries = await readZipEntries(decodeBase64(server.requests[2]!.body, 'body'), 'body');
  assert.deepEqual(entries, [{ name: 'POS1_3.rep', data: REPORT }]);
});

test('timeouts: an answer slower than timeoutMs is a timeout; a closed port is unreachable', async (t) => {
  const emu = await emulatorFor(t);
  emu.setFault({ kind: 'delay', ms: 3000, times: 1 });
  const tr = await kkmTransport(t, emu.url, { timeoutMs: 200 });
  const e = await rejectsWith(tr.pull(fakePullContext(await tempDirFor(t, 'kkm'))), 'timeout');
  assert.match(e.message, /ReceiveData 1\/1: no answer in time \(UND_ERR_HEADERS_TIMEOUT\)/);

  const closedUrl = emu.url.replace(`:${emu.port}`, ':1');
  await rejectsWith((await kkmTransport(t, closedUrl)).pull(fakePullContext(await tempDirFor(t, 'kkm'))), 'unreachable');
});

test('abort: a pull with an aborted signal rejects with the abort reason and stages nothing', async (t) => {
  const emu = await emulatorFor(t);
  await emu.publish('a.spr', 'x');
  const tr = await kkmTransport(t, emu.url);
  const ac = new AbortController();
  ac.abort(new Error('stopping'));
  const ctx = fakePullContext(await tempDirFor(t, 'kkm'), {}, memoryLogger(), ac.signal);
  await assert.rejects(tr.pull(ctx), /stopping/);
  assert.equal(ctx.calls.length, 0);
});

test('secrets: the password never reaches a log record or an error message', async (t) => {
  const password = 'Pa55-w0rd-ОЧЕНЬ-секретный';
  const emu = await emulatorFor(t, { user: 'kassa', password });
  await emu.publish('a.spr', 'x');
  await emu.publish('b.flr', 'y', { uid: 'u-1' });
  const log = memoryLogger();
  const messages: string[] = [];
  const dir = await tempDirFor(t, 'kkm');

  const good = new KkmTransferTransport(kkmOptions(emu.url, { user: 'kassa', password }), { log: log.child({ pos: 1 }) });
  await good.open();
  await good.pull(fakePullContext(dir, {}, log));
  await good.push(await reportPackage(dir, 1, 'u-1'), fakePushContext({ notes: {} }, log));
  await good.close();

  // Credentials written into the URL itself are moved to the header, never logged either.
  const inUrl = emu.url.replace('http://', `http://kassa:${encodeURIComponent(password)}@`);
  const viaUrl = new KkmTransferTransport(kkmOptions(inUrl), { log });
  await viaUrl.open();
  assert.equal((await viaUrl.push(await reportPackage(dir, 2), fakePushContext({ notes: {} }, log))).outcome, 'delivered');
  await viaUrl.close();

  // Failures: a wrong user (401), a server echoing the password in its error page.
  const wrong = new KkmTransferTransport(kkmOptions(emu.url, { user: 'nobody', password }), { log });
  await wrong.open();
  messages.push((await rejectsWith(wrong.pull(fakePullContext(dir, {}, log)), 'auth')).message);
  await wrong.close();
  const echo = await startPlainServer(t, (req, res) => sendJson(res, `<h1>Bad request</h1> ${req.headers.authorization} ${password}`, 500, 'text/html'));
  const echoed = new KkmTransferTransport(kkmOptions(echo.url, { user: 'kassa', password }), { log });
  await echoed.open();
  const ee = await rejectsWith(echoed.pull(fakePullContext(dir, {}, log)), 'server');
  messages.push(ee.message, ee.details.serverAnswer ?? '');
  await echoed.close();

  assert.ok(log.records.length >= 4, 'the transport did log');
  const everything = JSON.stringify(log.records) + messages.join('\n');
  const basic = Buffer.from(`kassa:${password}`).toString('base64');
  for (const secret of [password, encodeURIComponent(password), basic]) assert.ok(!everything.includes(secret), `leaked ${secret}`);
  assert.match(ee.message, /\*\*\*/);
});
