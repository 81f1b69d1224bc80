import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:https';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { TransportError } from '../../src/transports/errors.js';
import { KkmTransferTransport } from '../../src/transports/kkmtransfer/transport.js';
import { memoryLogger } from '../../src/util/logger.js';
import { fakePullContext } from '../helpers/kkm-context.js';
import { tempDirFor } from '../helpers/temp-dir.js';
import { kkmOptions } from '../helpers/kkm-emulator.js';
import { SEED_NOTHING_RESPONSE } from '../helpers/kkm-seed.js';
import { TEST_CERT, TEST_KEY } from '../helpers/kkm-tls.js';
import { closeServer, listenOnLoopback } from '../helpers/ports.js';

async function httpsServer(t: TestContext): Promise<string> {
  const server = createServer({ cert: TEST_CERT, key: TEST_KEY }, (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json; charset=utf-8' });
    res.end(SEED_NOTHING_RESPONSE);
  });
  const port = await listenOnLoopback(server);
  t.after(() => closeServer(server));
  return `https://127.0.0.1:${port}/hs/KKMTransfer`;
}

async function pullKind(t: TestContext, tr: KkmTransferTransport): Promise<string> {
  t.after(() => tr.close());
  try {
    await tr.open();
    await tr.pull(fakePullContext(await tempDirFor(t, 'kkm')));
    return 'ok';
  } catch (e) {
    assert.ok(e instanceof TransportError, String(e));
    return e.kind;
  }
}

test('tls: an unknown certificate is a tls error; trusted through caFile it works', async (t) => {
  const url = await httpsServer(t);
  const dir = await tempDirFor(t, 'kkm');
  const caFile = join(dir, 'ca.pem');
  await writeFile(caFile, TEST_CERT);
  const log = memoryLogger();
  assert.equal(await pullKind(t, new KkmTransferTransport(kkmOptions(url), { log })), 'tls');
  assert.equal(await pullKind(t, new KkmTransferTransport(kkmOptions(url, { tls: { caFile, rejectUnauthorized: true } }), { log })), 'ok');
  assert.equal(await pullKind(t, new KkmTransferTransport(kkmOptions(url, { tls: { rejectUnauthorized: false } }), { log })), 'ok');
});

test('tls: a missing caFile is a config error naming the file', async (t) => {
  const tr = new KkmTransferTransport(kkmOptions('https://127.0.0.1:1/x', { tls: { caFile: '/nonexistent/ca.pem', rejectUnauthorized: true } }), { log: memoryLogger() });
  await assert.rejects(tr.open(), (e: unknown) => e instanceof TransportError && e.kind === 'config' && /\/nonexistent\/ca\.pem/.test(e.message));
});
