/**
 * The pull flow with a fake transport and a real store in a temp folder: parts
 * are staged in order with the cursor, an unreadable SPR part is quarantined
 * (checked by the flow, not by the store calling back) while the rest flows,
 * the transport is opened once across cycles, and failures are classified by
 * the retry policy and recorded in the state.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs/promises';
import { join } from 'node:path';
import { it, type TestContext } from 'node:test';
import { FlowHealth, LocalErrors } from '../../src/exchange/flow-health.js';
import { PullFlow } from '../../src/exchange/pull-flow.js';
import { TransportSession } from '../../src/exchange/transport-session.js';
import { TransportError } from '../../src/transports/errors.js';
import type { IncomingPart, PullContext } from '../../src/transports/transport.js';
import { openTempStore } from '../helpers/temp-store.js';
import { FakeTransport } from './fake-transport.js';

async function setup(t: TestContext) {
  const { store, log } = await openTempStore(t, 'pull');
  const transport = new FakeTransport();
  const session = new TransportSession(transport);
  const local = new LocalErrors();
  const health = new FlowHealth('pull', log, local);
  let answered = 0;
  const flow = new PullFlow({
    store,
    session,
    health,
    log,
    signal: new AbortController().signal,
    retry: { initialMs: 1_000, maxMs: 60_000, jitter: 0 },
    onAnswered: () => void answered++,
  });
  return { store, transport, session, flow, health, local, log, answered: () => answered };
}

async function part(ctx: PullContext, name: string, kind: 'spr' | 'flr', text: string, uid?: string): Promise<IncomingPart> {
  const localPath = join(ctx.tmpDir, name.replace(/\W/g, '_'));
  await fs.writeFile(localPath, text, 'latin1');
  return { localPath, remoteName: name, kind, ...(uid ? { uid } : {}) };
}

it('stages parts in order with the cursor; an unreadable SPR part is quarantined with why, the rest flows', async (t) => {
  const { store, transport, flow, log, answered } = await setup(t);
  transport.onPull = async (ctx) => {
    assert.deepEqual(ctx.cursor, {});
    const parts = [
      await part(ctx, 'POS1.spr.$1', 'spr', '##@@&&\r\n#\r\n1;a\r\n'),
      await part(ctx, 'POS1.spr.$2', 'spr', 'not a reference file\r\n'),
      await part(ctx, 'package 3', 'flr', '01.02.2025;02.02.2025\r\n', 'U-3'),
    ];
    await ctx.stage(parts, { next: 4 });
    return { parts: 2, bytes: 40 };
  };
  await flow.run();
  assert.deepEqual(store.state.inbox.map((i) => [i.remoteName, i.kind, i.uid]), [
    ['POS1.spr.$1', 'spr', undefined],
    ['package 3', 'flr', 'U-3'],
  ]);
  assert.equal(await fs.readFile(store.inboxPath(store.state.inbox[0]!), 'latin1'), '##@@&&\r\n#\r\n1;a\r\n');
  assert.deepEqual(store.state.cursor, { next: 4 });
  assert.equal(store.state.counters.quarantined, 1);
  assert.equal(store.state.counters.partsStaged, 2);
  const quarantined = await fs.readdir(store.quarantineDir);
  const why = quarantined.find((n) => n.endsWith('.why.txt'));
  assert.ok(why, quarantined.join(' '));
  assert.match(await fs.readFile(join(store.quarantineDir, why), 'utf8'), /POS1\.spr\.\$2 line 1: expected ##@@&&/);
  assert.deepEqual(await fs.readdir(store.tmpDir), [], 'nothing left behind in tmp');
  assert.equal(store.state.lastPull?.ok, true);
  assert.equal(store.state.lastPullOk, store.state.lastPull?.at);
  assert.equal(answered(), 1);
  assert.equal(log.records.filter((r) => r.event === 'pull.staged').length, 1);
});

it('the transport is opened once across pulls, again only after a reconnect', async (t) => {
  const { transport, session, flow } = await setup(t);
  await flow.run();
  await flow.run();
  assert.deepEqual(transport.calls, ['open', 'pull', 'pull']);
  await session.reconnect();
  await flow.run();
  assert.deepEqual(transport.calls, ['open', 'pull', 'pull', 'close', 'open', 'pull']);
});

it('a failure is classified by the retry policy, logged once while it lasts, recorded in the state; the back office is not said to answer', async (t) => {
  const { store, transport, flow, health, local, log, answered } = await setup(t);
  let next: Error = new TransportError('auth', 'HTTP 401 for user kassa');
  transport.onPull = async () => {
    throw next;
  };
  await flow.run();
  await flow.run();
  const failed = log.records.filter((r) => r.event === 'pull.failed');
  assert.deepEqual(failed.map((r) => [r.level, r.fields.errorKind, r.fields.note]), [
    ['error', 'auth', 'needs a person: retried slowly'],
    ['debug', 'auth', undefined],
  ]);
  assert.equal(health.failing, true);
  assert.equal(store.state.lastPull?.ok, false);
  assert.equal(store.state.lastPull?.error, 'HTTP 401 for user kassa');
  assert.equal(store.state.lastPullOk, undefined);
  assert.equal(answered(), 0);
  assert.equal(local.last, undefined, 'a transport error is not a local one');

  next = new TransportError('busy', 'not ready');
  await flow.run();
  assert.equal(log.records.filter((r) => r.event === 'pull.waiting').length, 1);

  next = new Error('EACCES: permission denied, open tmp/x');
  await flow.run();
  assert.equal(health.lastErrorKind, 'local');
  assert.match(local.last!, /EACCES/);
  assert.equal(log.records.filter((r) => r.event === 'pull.error').length, 1);

  transport.onPull = async () => ({ parts: 0, bytes: 0 });
  await flow.run();
  assert.equal(health.failing, false);
  assert.equal(log.records.filter((r) => r.event === 'pull.recovered').length, 1);
  assert.equal(answered(), 1);
});
