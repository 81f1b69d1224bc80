/**
 * The scheduler runs a collect when a pass said one is due (`collectAt`), with
 * no file event and no rescan tick: the rescan here is an hour away and the
 * till folder stays untouched. Waits are keyed to the job being called.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { mkdir } from 'node:fs/promises';
import { it } from 'node:test';
import type { ExchangeConfig } from '../../src/config/schema.js';
import { Scheduler } from '../../src/exchange/scheduler.js';
import { nullLogger } from '../../src/util/logger.js';
import { withTempDir } from '../helpers/temp-dir.js';

const HOUR = 3_600_000;

it('a due collect runs at its time without a rescan or a file event; of two, the earlier one is kept and the later one dropped', async () => {
  await withTempDir(async (root) => {
    const till = join(root, 'till');
    await mkdir(till);
    const collects: number[] = [];
    let called!: () => void;
    let next = new Promise<void>((r) => (called = r));
    const noop = () => {};
    const config = { till: { dir: till, settleMs: 2_000, rescanMs: HOUR }, schedule: { pull: '1h' } } as unknown as Pick<ExchangeConfig, 'till' | 'schedule'>;
    const scheduler = new Scheduler(config, { collect: () => (collects.push(Date.now()), called()), deliver: noop, pull: noop, cleanup: noop }, nullLogger);
    // Before start (run --once waits for its files itself): nothing is armed.
    scheduler.collectAt(Date.now());
    await scheduler.start();
    try {
      scheduler.collectAt(Date.now() + 30);
      scheduler.collectAt(Date.now() + HOUR); // later than the one armed: dropped, that pass asks again
      await next;
      assert.equal(collects.length, 1);
      // An earlier time replaces a later one.
      next = new Promise<void>((r) => (called = r));
      scheduler.collectAt(Date.now() + HOUR);
      scheduler.collectAt(Date.now() + 10);
      await next;
      assert.equal(collects.length, 2);
    } finally {
      await scheduler.stop(Date.now() + 5_000);
    }
  }, 'kassir-scheduler');
});
