/**
 * Exchange.stop in process: every caller shares one stop, a failing cleanup
 * step does not skip the ones after it (the store is closed, the lock
 * released), and a pull that never ends is aborted at the deadline.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, it } from 'node:test';
import { parseConfigText } from '../../src/config/load.js';
import { Exchange } from '../../src/exchange/exchange.js';
import { Store } from '../../src/store/store.js';
import type { PullContext, Transport } from '../../src/transports/transport.js';
import { memoryLogger, type LogRecord } from '../../src/util/logger.js';

let dir: string;
beforeEach(async () => {
  dir = await fs.mkdtemp(join(tmpdir(), 'kassir-stop-'));
  await fs.mkdir(join(dir, 'till'));
  await fs.mkdir(join(dir, 'share'));
});
afterEach(() => fs.rm(dir, { recursive: true, force: true }));

/** A transport whose pull waits until its signal is aborted (a back office that never answers). */
function hangingTransport(calls: string[]): Transport {
  return {
    type: 'hanging',
    open: async () => void calls.push('open'),
    close: async () => void calls.push('close'),
    pull: (ctx: PullContext) =>
      new Promise((_, reject) => {
        calls.push('pull');
        ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason as Error));
      }),
    push: () => new Promise(() => {}),
  };
}

async function exchange(records: LogRecord[], calls: string[]) {
  const yaml = `pos: 1\ndataDir: data\ntill: { dir: till, referenceFile: POS1.spr, rescanMs: 60000 }\ntransport: { type: folder, dir: share, referenceName: POS1.spr, reportName: POS1.rep }\nschedule: { pull: "1h" }\n`;
  const { config } = parseConfigText(yaml, join(dir, 'agent.yaml'));
  const log = memoryLogger({}, records);
  const ex = new Exchange(config.exchanges[0]!, new Store(join(dir, 'data'), { retentionDays: 30 }, log), hangingTransport(calls), log);
  await ex.prepare();
  await ex.start();
  return ex;
}

it('every caller of stop gets the same stop; a throwing watcher close is logged and the store still closes; a hung pull is aborted at the deadline', async () => {
  const records: LogRecord[] = [];
  const calls: string[] = [];
  const ex = await exchange(records, calls);
  const inner = (ex as unknown as { scheduler: { watcher: { close(): Promise<void> } } }).scheduler;
  const real = inner.watcher;
  inner.watcher = { close: () => real.close().then(() => Promise.reject(new Error('watcher close failed'))) };
  for (let i = 0; i < 200 && !calls.includes('pull'); i++) await new Promise((r) => setTimeout(r, 10));
  assert.ok(calls.includes('pull'), 'a pull is in flight');
  const first = ex.stop(1_500);
  const second = ex.stop(1_500);
  let firstDone = false;
  void first.then(() => (firstDone = true));
  await second;
  assert.ok(firstDone, 'the second caller returned only when the stop was over');
  const events = records.map((r) => r.event);
  assert.ok(records.some((r) => r.event === 'stop.step.failed' && r.fields.step === 'till watcher'), events.join(' '));
  assert.ok(events.includes('exchange.stop.deadline'), 'the hung pull was aborted at the deadline');
  assert.ok(calls.includes('close'), 'the transport was closed');
  await assert.rejects(fs.stat(join(dir, 'data', 'agent.lock')), 'the store closed and released its lock');
});
