/**
 * The collector says when its next pass is due (a waiting file settles, a held
 * file reaches its take-by time), so the daemon takes a file over then without
 * waiting for a rescan; and it hands finished units to the push flow before it
 * tidies the taken file away. The clock is injected: no waiting on time.
 */
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import * as fs from 'node:fs/promises';
import { join } from 'node:path';
import { it } from 'node:test';
import { Store } from '../../src/store/store.js';
import { ReportCollector } from '../../src/till/collect.js';
import { nullLogger } from '../../src/util/logger.js';
import { BLOCK_HEADER, reportFile, txLine } from '../helpers/kassir.js';
import { withTempDir } from '../helpers/temp-dir.js';

const T = Date.parse('2026-11-24T10:00:00Z');

async function writeAt(path: string, data: string, mtimeMs: number): Promise<void> {
  await fs.writeFile(path, data, 'latin1');
  await fs.utimes(path, new Date(mtimeMs), new Date(mtimeMs));
}

async function withCollector(opts: { settleMs: number; openReceiptMs: number }, fn: (c: { till: string; store: Store; clock: { now: number }; collector: ReportCollector; taken: string[] }) => Promise<void>): Promise<void> {
  await withTempDir(async (root) => {
    const till = join(root, 'till');
    await fs.mkdir(till);
    const store = new Store(join(root, 'data'), { retentionDays: 30 }, nullLogger);
    await store.open();
    const clock = { now: T };
    const taken: string[] = [];
    const collector: ReportCollector = new ReportCollector(
      {
        tillDir: till,
        reportFiles: '*.rep',
        maxTransactions: 1000,
        ...opts,
        // What the push flow would find when it is woken: the units are in the open package, the taken file not yet released.
        onUnitsTaken: () => void taken.push(`${store.state.open.pkg.transactions} transactions, ${readdirSync(collector.takenDir).length} taken file(s)`),
      },
      store,
      nullLogger,
      () => clock.now,
    );
    try {
      await fn({ till, store, clock, collector, taken });
    } finally {
      await store.close();
    }
  }, 'kassir-collect-due');
}

it('a file still being written is due when it will have been quiet for settleMs, and is taken then', async () => {
  await withCollector({ settleMs: 1_000, openReceiptMs: 0 }, async ({ till, clock, collector }) => {
    await writeAt(join(till, 'r1.rep'), reportFile([{ receipt: 1 }], 1).data, T);
    clock.now = T + 100;
    const first = await collector.collect();
    assert.equal(first.waiting, 1);
    assert.equal(first.files, 0);
    assert.equal(first.dueAt, T + 1_000);
    clock.now = first.dueAt!;
    const second = await collector.collect();
    assert.equal(second.files, 1);
    assert.equal(second.transactions, 4);
    assert.equal(second.dueAt, undefined, 'nothing left to wait for');
  });
});

it('a file held for an open receipt is due at its take-by time', async () => {
  await withCollector({ settleMs: 1_000, openReceiptMs: 60_000 }, async ({ till, clock, collector }) => {
    await writeAt(join(till, 'r1.rep'), `${BLOCK_HEADER}${txLine(1, 11, 1, 7)}\r\n`, T);
    clock.now = T + 5_000;
    const r = await collector.collect();
    assert.equal(r.held, 1);
    assert.equal(r.dueAt, T + 60_000);
  });
});

it('the push flow is told of new units before the taken file is released', async () => {
  await withCollector({ settleMs: 0, openReceiptMs: 0 }, async ({ till, store, collector, taken }) => {
    await writeAt(join(till, 'r1.rep'), reportFile([{ receipt: 1 }, { receipt: 2 }], 1).data, T);
    const r = await collector.collect();
    assert.equal(r.files, 1);
    assert.deepEqual(taken, ['8 transactions, 1 taken file(s)']);
    assert.deepEqual(await fs.readdir(collector.takenDir), [], 'released after');
    assert.deepEqual(store.state.sources, {}, 'its record is dropped');
  });
});
