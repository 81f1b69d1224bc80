/**
 * The shift ledger in the store: counted in the commit that takes the
 * transactions over, a package sealed right after a Z, the packages' numbers
 * given at the seal, delivery read by a second reader (`shifts` beside a
 * running agent) from the journal before the state file has it, and settled
 * at start-up from the archive.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs/promises';
import { basename, join } from 'node:path';
import { describe, it } from 'node:test';
import { Store } from '../../src/store/store.js';
import { setFailpoints } from '../../src/util/failpoints.js';
import { ReportCollector } from '../../src/till/collect.js';
import { memoryLogger, nullLogger } from '../../src/util/logger.js';
import { dropReport } from '../helpers/kassir.js';
import { ShiftWriter, comparable } from '../helpers/shift-writer.js';
import { openTempStore } from '../helpers/temp-store.js';
import { ShiftLayoutDefaults } from '../shifts/layout.js';

const opts = (till: string, sealOnShiftClose: boolean, maxTransactions = 1000) => ({
  tillDir: till, reportFiles: '*.rep', settleMs: 0, openReceiptMs: 0, maxTransactions,
  shifts: { pos: 1, layout: ShiftLayoutDefaults, sealOnShiftClose },
});

/** One shift of `receipts` receipts closed by its Z (then, with `thenSale`, a sale of the next shift) dropped into the till and collected. */
async function collectShift(
  env: { till: string; store: ConstructorParameters<typeof ReportCollector>[1]; log: ConstructorParameters<typeof ReportCollector>[2] },
  receipts: number,
  o: { seal: boolean; thenSale?: boolean; maxTransactions?: number },
) {
  const w = new ShiftWriter();
  w.activity(receipts);
  w.z();
  if (o.thenSale) w.sale();
  await dropReport(env.till, 'a.rep', w.take());
  const r = await new ReportCollector(opts(env.till, o.seal, o.maxTransactions), env.store, env.log).collect();
  return { w, r };
}

describe('the shift ledger in the store', () => {
  it('seals right after the Z; the shift lists its packages; a reader beside the agent sees the delivery from the journal', async (t) => {
    const { root, till, store, log } = await openTempStore(t, 'shifts');
    const { w, r } = await collectShift({ till, store, log }, 5, { seal: true, thenSale: true });
    assert.deepEqual(r.sealed, [1], 'sealed after the Z, not with the sale that follows it');
    assert.ok(log.records.some((l) => l.event === 'package.sealed' && l.fields.reason === 'shift-closed'));
    assert.ok(store.state.open.pkg.transactions > 0, "the next shift's sale waits in the open package");
    assert.deepEqual(store.shifts().map(comparable), w.expected({ withOpen: true }));
    assert.deepEqual(store.shifts().map((s) => s.packages), [[1], []]);
    assert.ok(log.records.some((l) => l.event === 'shift.closed'));

    await store.delivered(1, { outcome: 'delivered', remoteName: 'POS1.rep.$1' }, { attempt: 1 });
    assert.equal(store.shifts()[0]!.delivered, true);
    assert.ok(log.records.some((l) => l.event === 'shift.delivered'));
    // The state file does not have it yet (saved with the next change); `shifts` reads the journal too.
    const reader = new Store(join(root, 'data'), { retentionDays: 30, readOnly: true }, nullLogger);
    await reader.open();
    assert.equal(reader.state.shiftLedger.shifts[0]!.delivered, false, 'the state file is behind');
    assert.equal(reader.shifts()[0]!.delivered, true);
    assert.equal(reader.shifts()[0]!.deliveredAt, store.shifts()[0]!.deliveredAt);
  });

  it('without batch.sealOnShiftClose one package may hold both shifts, and both list it', async (t) => {
    const { till, store, log } = await openTempStore(t, 'shifts-noseal');
    const { r } = await collectShift({ till, store, log }, 3, { seal: false, thenSale: true });
    assert.deepEqual(r.sealed, []);
    await store.seal();
    assert.deepEqual(store.shifts().map((s) => s.packages), [[1], [1]]);
  });

  it('start-up settles a delivery the state lost from the archive', async (t) => {
    const { root, till, store, log } = await openTempStore(t, 'shifts-recover');
    await collectShift({ till, store, log }, 2, { seal: true });
    await store.delivered(1, { outcome: 'delivered', remoteName: 'POS1.rep.$1' }, { attempt: 1 });
    await store.checkpoint();
    await store.close();
    // Put back state slots without the delivery (as a kill before the save would have left them).
    const data = join(root, 'data');
    for (const n of ['state.a.json', 'state.b.json']) {
      const text = await fs.readFile(join(data, n), 'utf8');
      const env = JSON.parse(text) as { state: { shiftLedger: { shifts: { delivered: boolean; deliveredAt: string | null; undelivered: number[] }[] } } };
      for (const s of env.state.shiftLedger.shifts) Object.assign(s, { delivered: false, deliveredAt: null, undelivered: [1] });
      await fs.writeFile(join(data, n), JSON.stringify(env));
    }
    const log2 = memoryLogger();
    const again = new Store(data, { retentionDays: 30 }, log2);
    await again.open();
    try {
      assert.equal(again.shifts()[0]!.delivered, true);
      assert.ok(log2.records.some((l) => l.event === 'shift.delivered'));
    } finally {
      // Closed before the temp folder's clean-up (an after hook registered earlier): Windows keeps an open lock file.
      await again.close();
    }
  });

  it('a kill right after a package of a shift was delivered: start-up settles it for good, and the shift is delivered with its last package', async (t) => {
    const { root, till, store, log } = await openTempStore(t, 'shifts-kill-delivered');
    await collectShift({ till, store, log }, 6, { seal: true, maxTransactions: 4 });
    const packages = store.shifts()[0]!.packages;
    assert.ok(packages.length >= 2, `the shift spans several packages (${JSON.stringify(packages)})`);
    // The agent is killed right after the journal records the first package's delivery (the state is saved later).
    setFailpoints('store.delivered.after-journal:eio');
    t.after(() => setFailpoints(undefined));
    await assert.rejects(store.delivered(packages[0]!, { outcome: 'delivered', remoteName: `POS1.rep.$${packages[0]}` }, { attempt: 1 }), /EIO/);
    setFailpoints(undefined);
    const data = join(root, 'data');
    const killed = join(root, 'killed');
    // Copied as a kill leaves it, less the lock (which dies with the process; on Windows it cannot even be read while held).
    await fs.cp(data, killed, { recursive: true, filter: (src) => basename(src) !== 'agent.lock' });

    const log2 = memoryLogger();
    const again = new Store(killed, { retentionDays: 30 }, log2);
    await again.open();
    assert.ok(log2.records.some((l) => l.event === 'store.recover.journal' && l.fields.package === packages[0]), 'the delivery was replayed from the journal');
    assert.deepEqual(again.queued().map((m) => m.number), packages.slice(1), 'the delivered package is not sent again');
    for (const n of packages.slice(1)) await again.delivered(n, { outcome: 'delivered', remoteName: `POS1.rep.$${n}` }, { attempt: 1 });
    const shift = again.shifts()[0]!;
    assert.equal(shift.delivered, true, `delivered with its last package: ${JSON.stringify(shift)}`);
    assert.notEqual(shift.deliveredAt, null);
    assert.ok(log2.records.some((l) => l.event === 'shift.delivered'));
    await again.close();
    // What the agent left on disk says so too (read as `shifts` reads it, with no start-up in between).
    const reader = new Store(killed, { retentionDays: 30, readOnly: true }, nullLogger);
    await reader.open();
    assert.equal(reader.shifts()[0]!.delivered, true);
    assert.notEqual(reader.shifts()[0]!.deliveredAt, null);
  });
});
