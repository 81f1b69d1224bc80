/**
 * Regression (found by the reliability harness): the collector planned an
 * append from the open package's state outside the store's lock; a seal by the
 * push flow in between made the next package start without its block header.
 * Here collection runs while another task seals as fast as it can.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { it } from 'node:test';
import { Store } from '../../src/store/store.js';
import { ReportCollector } from '../../src/till/collect.js';
import { nullLogger } from '../../src/util/logger.js';
import { dropReport, reportFile, transactionNumbers } from '../helpers/kassir.js';

/** A till folder, an open store and a collector of `maxTransactions` in a temp folder, for `body`; then all removed. */
async function withCollector(maxTransactions: number, body: (till: string, store: Store, collector: ReportCollector) => Promise<void>): Promise<void> {
  const root = await fs.mkdtemp(join(tmpdir(), 'kassir-race-'));
  try {
    const till = join(root, 'till');
    await fs.mkdir(till);
    const store = new Store(join(root, 'data'), { retentionDays: 30 }, nullLogger);
    await store.open();
    try {
      await body(till, store, new ReportCollector({ tillDir: till, reportFiles: '*.rep', settleMs: 0, openReceiptMs: 0, maxTransactions }, store, nullLogger));
    } finally {
      await store.close();
    }
  } finally {
    await fs.rm(root, { recursive: true, force: true });
  }
}

it('every package starts with its block header even when seals race with collection', () =>
  withCollector(50, async (till, store, collector) => {
    let tx = 1;
    const all: number[] = [];
    for (let f = 0; f < 40; f++) {
      const r = reportFile(Array.from({ length: 5 }, (_, i) => ({ receipt: f * 10 + i, lines: 1 })), tx);
      tx = r.nextTx;
      all.push(...r.txs);
      await dropReport(till, `r${f}.rep`, r.data);
    }
    // The push flow seals whenever it likes. Make it do so at the worst moment every time: a seal is
    // queued on the store's lock just before each append the collector makes.
    const appendPlanned = store.appendPlanned.bind(store);
    const patched = store as { appendPlanned: Store['appendPlanned'] };
    patched.appendPlanned = (plan) => {
      void store.seal();
      return appendPlanned(plan);
    };
    for (let pass = 0; pass < 3; pass++) await collector.collect();
    await store.seal();
    const packages = store.queued();
    assert.ok(packages.length > 5, `many packages (${packages.length})`);
    const sent: number[] = [];
    for (const m of packages) {
      const data = await fs.readFile(store.packagePath(m.number), 'latin1');
      assert.ok(data.startsWith('#\r\n1\r\nPOS1\r\n'), `package ${m.number} starts with its block header: ${JSON.stringify(data.slice(0, 40))}`);
      const txs = transactionNumbers(data);
      assert.equal(m.transactions, txs.length, `package ${m.number}: its count matches its bytes`);
      sent.push(...txs);
    }
    assert.deepEqual(sent, all);
  }));

it('a seal by the push flow between a refused take and the collector\'s own seal: the collector takes on, nothing thrown, nothing lost', async () => {
  // Found by the Windows job (shifts e2e under load): the open package could not take the next receipt, the
  // push flow's flush sealed it before the collector could, the collector's seal found nothing to seal and the
  // pass failed ("a unit does not fit an empty package") with the file taken and not in packages.
  return withCollector(10, async (till, store, collector) => {
    // Receipts of 4 transactions: two fill the open package to 8, the third is refused (12 > 10).
    const first = reportFile([{ receipt: 1 }, { receipt: 2 }], 1);
    const second = reportFile([{ receipt: 3 }, { receipt: 4 }, { receipt: 5 }], first.nextTx);
    await dropReport(till, 'r1.rep', first.data);
    await dropReport(till, 'r2.rep', second.data);
    // The push flow's flush at the worst moment: right after each refused take.
    let flushes = 0;
    const takeUnits = store.takeUnits.bind(store);
    const patched = store as { takeUnits: Store['takeUnits'] };
    patched.takeUnits = async (...args) => {
      const taken = await takeUnits(...args);
      if (taken === undefined && (await store.seal('flush'))) flushes++;
      return taken;
    };
    const r = await collector.collect();
    assert.ok(flushes > 0, 'the flush came between a refusal and the collector\'s seal');
    assert.equal(r.files, 2, 'both files ingested and released');
    await store.seal();
    const sent: number[] = [];
    for (const m of store.queued()) {
      const txs = transactionNumbers(await fs.readFile(store.packagePath(m.number), 'latin1'));
      assert.ok(txs.length <= 10, `package ${m.number} within maxTransactions`);
      sent.push(...txs);
    }
    assert.deepEqual(sent, [...first.txs, ...second.txs], 'every transaction once, in order');
    assert.deepEqual(await fs.readdir(join(till, '.kassir-agent', 'taken')), []);
  });
});
