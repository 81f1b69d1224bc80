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

it('every package starts with its block header even when seals race with collection', async () => {
  const root = await fs.mkdtemp(join(tmpdir(), 'kassir-race-'));
  try {
    const till = join(root, 'till');
    await fs.mkdir(till);
    const store = new Store(join(root, 'data'), { retentionDays: 30 }, nullLogger);
    await store.open();
    const collector = new ReportCollector({ tillDir: till, reportFiles: '*.rep', settleMs: 0, openReceiptMs: 0, maxTransactions: 50 }, store, nullLogger);
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
    await store.close();
  } finally {
    await fs.rm(root, { recursive: true, force: true });
  }
});
