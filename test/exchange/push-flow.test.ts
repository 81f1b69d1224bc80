/**
 * The push flow with a fake transport and a real store in a temp folder:
 * packages go in order, the open package is sealed when its flush interval is
 * over (by the flow's one wake timer), a failure backs off by the retry
 * policy's delay (randomness injected), a connection failure reconnects and
 * is cut short when the back office answers again, and nothing is sent while
 * backing off unless asked.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs/promises';
import { join } from 'node:path';
import { it, type TestContext } from 'node:test';
import { FlowHealth, LocalErrors } from '../../src/exchange/flow-health.js';
import { ProgressBoard } from '../../src/exchange/progress.js';
import { PushFlow } from '../../src/exchange/push-flow.js';
import { TransportSession } from '../../src/exchange/transport-session.js';
import { Store } from '../../src/store/store.js';
import { ReportCollector } from '../../src/till/collect.js';
import { TransportError } from '../../src/transports/errors.js';
import { memoryLogger } from '../../src/util/logger.js';
import { dropReport, reportFile } from '../helpers/kassir.js';
import { openTempStore } from '../helpers/temp-store.js';
import { FakeTransport } from './fake-transport.js';

const RETRY = { initialMs: 60_000, maxMs: 600_000, jitter: 0.5 };

/** A store with `receipts` receipts of 3 transactions collected (packages of `maxTransactions`), and a push flow over a fake transport. */
async function setup(t: TestContext, o: { receipts: number; maxTransactions?: number; flushMs?: number; retry?: typeof RETRY; random?: () => number; progress?: ProgressBoard }) {
  const { till, store, log } = await openTempStore(t, 'push');
  const maxTransactions = o.maxTransactions ?? 6;
  const r = reportFile(Array.from({ length: o.receipts }, (_, i) => ({ receipt: i + 1, lines: 1 })), 1);
  await dropReport(till, 'a.rep', r.data);
  await new ReportCollector({ tillDir: till, reportFiles: '*.rep', settleMs: 0, openReceiptMs: 0, maxTransactions }, store, log).collect();
  const transport = new FakeTransport();
  const health = new FlowHealth('push', log, new LocalErrors());
  const flow = new PushFlow({
    config: { batch: { maxTransactions, flushMs: o.flushMs ?? 0, sealOnShiftClose: true }, schedule: { pull: '1h', retry: o.retry ?? RETRY } },
    store,
    session: new TransportSession(transport),
    health,
    log,
    signal: new AbortController().signal,
    random: o.random ?? (() => 0.5),
    ...(o.progress ? { progress: o.progress } : {}),
  });
  t.after(() => flow.stop());
  return { store, transport, flow, health, log, txs: r.txs };
}

const events = (log: ReturnType<typeof memoryLogger>, event: string) => log.records.filter((r) => r.event === event);

async function historyOf(store: Store): Promise<Record<string, unknown>[]> {
  const dir = join(store.dataDir, 'history');
  const out: Record<string, unknown>[] = [];
  for (const f of (await fs.readdir(dir)).sort()) for (const l of (await fs.readFile(join(dir, f), 'utf8')).split('\n')) if (l) out.push(JSON.parse(l));
  return out;
}

it('sends every package in order, seals the open one (flushMs 0), opens the transport once', async (t) => {
  const { store, transport, flow, log } = await setup(t, { receipts: 5 });
  assert.deepEqual(store.queued().map((m) => m.number), [1, 2], 'the collector sealed the full ones');
  await flow.trigger();
  assert.deepEqual(transport.delivered, [1, 2, 3]);
  assert.deepEqual(transport.calls, ['open', 'push 1', 'push 2', 'push 3']);
  assert.deepEqual(store.queued(), []);
  assert.equal(store.state.open.length, 0);
  assert.deepEqual(events(log, 'package.sealed').map((r) => [r.fields.package, r.fields.reason]), [[1, 'full'], [2, 'full'], [3, 'flush']]);
  assert.deepEqual(events(log, 'push.delivered').map((r) => r.fields.package), [1, 2, 3]);
  assert.deepEqual(flow.stats, { attempts: { delivered: 3, failed: 0 }, transactionsSent: 15, bytesSent: flow.stats.bytesSent });
  assert.ok(flow.stats.bytesSent > 0);
  assert.equal(flow.nextAttemptAt, undefined);
});

it('a drain reports its progress in packages: done of what is queued (the open package joins once sealed), then nothing in flight', async (t) => {
  const board = new ProgressBoard(memoryLogger(), 60_000);
  const seen: string[] = [];
  board.subscribe((inFlight) => seen.push(inFlight.map((p) => `${p.activity} ${p.done}/${p.total} ${p.unit}`).join() || 'none'));
  const { transport, flow } = await setup(t, { receipts: 5, progress: board });
  await flow.trigger();
  assert.deepEqual(transport.delivered, [1, 2, 3]);
  assert.deepEqual(seen, ['backlog-drain 0/2 packages', 'backlog-drain 1/2 packages', 'backlog-drain 2/3 packages', 'none']);
  assert.deepEqual(board.snapshot(), []);
});

it('a failure backs off by the policy (jitter injected): nothing is sent meanwhile; a connection failure reconnects; retryNow sends at once', async (t) => {
  const { store, transport, flow, health } = await setup(t, { receipts: 2 });
  transport.pushFailures.push(new TransportError('unreachable', 'ECONNREFUSED'), new TransportError('server', 'errcode 2'));
  const before = Date.now();
  await flow.trigger();
  const after = Date.now();
  // First failure: initialMs less half the jitter share (random 0.5 x jitter 0.5): 45 s.
  const at = flow.nextAttemptAt!;
  assert.ok(at >= before + 45_000 && at <= after + 45_000, `next attempt in 45 s: ${at - before}`);
  assert.equal(flow.consecutiveFailures, 1);
  assert.deepEqual(transport.calls, ['open', 'push 1', 'close'], 'the dead connection was dropped');
  assert.equal(health.failing, true);
  assert.equal(health.lastErrorKind, 'unreachable');
  assert.equal(store.state.lastPush?.ok, false);
  await flow.trigger();
  assert.equal(transport.count('push 1'), 1, 'backing off: no attempt');
  const again = Date.now();
  await flow.retryNow();
  // Second failure (a server error): twice the delay, and the connection is kept.
  assert.ok(flow.nextAttemptAt! >= again + 90_000 && flow.nextAttemptAt! <= Date.now() + 90_000);
  assert.equal(flow.consecutiveFailures, 2);
  assert.deepEqual(transport.calls, ['open', 'push 1', 'close', 'open', 'push 1']);
  await flow.retryNow();
  assert.deepEqual(transport.delivered, [1]);
  assert.equal(flow.consecutiveFailures, 0);
  assert.equal(flow.nextAttemptAt, undefined);
  assert.equal(health.failing, false);
  assert.deepEqual(flow.stats.attempts, { delivered: 1, failed: 2 });
  assert.deepEqual((await historyOf(store)).map((h) => [h.package, h.attempt, h.outcome, h.errorKind]), [
    [1, 1, 'failed', 'unreachable'],
    [1, 2, 'failed', 'server'],
    [1, 3, 'delivered', undefined],
  ]);
});

it('an answer from the back office cuts a connection backoff short, and only that', async (t) => {
  const { transport, flow, log } = await setup(t, { receipts: 2 });
  transport.pushFailures.push(new TransportError('server', 'errcode 2: period closed'), new TransportError('timeout', 'no answer'));
  await flow.trigger();
  flow.backOfficeAnswered();
  assert.ok(flow.nextAttemptAt !== undefined, 'an error the back office gave on purpose keeps its backoff');
  assert.equal(events(log, 'push.backoff.cut').length, 0);
  await flow.retryNow();
  assert.ok(flow.nextAttemptAt !== undefined);
  const delivered = transport.nextPush();
  flow.backOfficeAnswered();
  assert.equal(flow.nextAttemptAt, undefined);
  await delivered; // woken by the flow's own timer
  await flow.idle();
  assert.deepEqual(transport.delivered, [1]);
  assert.deepEqual(events(log, 'push.backoff.cut').map((r) => r.fields.after), ['timeout']);
});

it('an error that needs a person waits the cap and is logged as an error; a busy back office is polled at the initial pace, as waiting', async (t) => {
  const { store, transport, flow, log } = await setup(t, { receipts: 2, random: () => 0 });
  transport.pushFailures.push(new TransportError('auth', 'HTTP 401'), new TransportError('busy', 'POS1.rep not taken yet'), new TransportError('busy', 'POS1.rep not taken yet'));
  let t0 = Date.now();
  await flow.trigger();
  assert.ok(flow.nextAttemptAt! >= t0 + RETRY.maxMs, 'auth: straight to the cap');
  assert.deepEqual(events(log, 'push.failed').map((r) => [r.level, r.fields.note]), [['error', 'needs a person: retried slowly']]);
  for (let i = 0; i < 2; i++) {
    t0 = Date.now();
    await flow.retryNow();
    assert.ok(flow.nextAttemptAt! >= t0 + RETRY.initialMs && flow.nextAttemptAt! <= Date.now() + RETRY.initialMs, `busy ${i + 1}: the initial pace`);
  }
  assert.deepEqual(events(log, 'push.waiting').map((r) => r.level), ['info'], 'one line when it starts waiting, debug after');
  assert.deepEqual((await historyOf(store)).map((h) => h.outcome), ['failed', 'waiting', 'waiting']);
  assert.equal(transport.count('close'), 0, 'no reconnect for answers the back office gave');
});

it('one wake timer: a young open package is sealed when its flush interval is over, and a short backoff retries by itself', async (t) => {
  const { store, transport, flow, log } = await setup(t, { receipts: 1, flushMs: 300, retry: { initialMs: 50, maxMs: 100, jitter: 0 } });
  transport.pushFailures.push(new TransportError('unreachable', 'ECONNRESET'));
  const startedAt = Date.parse(store.state.open.startedAt!);
  const first = transport.nextPush();
  await flow.trigger();
  assert.deepEqual(transport.calls, [], 'too young to seal');
  assert.equal(store.state.open.pkg.transactions, 3);
  await first;
  assert.ok(Date.now() >= startedAt + 300, 'sealed after its flush interval');
  const second = transport.nextPush();
  await second;
  await flow.idle();
  assert.deepEqual(transport.calls, ['open', 'push 1', 'close', 'open', 'push 1']);
  assert.deepEqual(transport.delivered, [1]);
  assert.deepEqual(events(log, 'package.sealed').map((r) => r.fields.reason), ['flush']);
});

it('after stop nothing more is sent: a backing-off flow arms no wake-up', async (t) => {
  const { transport, flow } = await setup(t, { receipts: 2, retry: { initialMs: 20, maxMs: 20, jitter: 0 } });
  transport.pushFailures.push(new TransportError('unreachable', 'ECONNREFUSED'));
  await flow.trigger();
  flow.stop();
  const next = transport.nextPush(400);
  await assert.rejects(next, /no push within/);
  assert.equal(transport.count('push 1'), 1);
});
