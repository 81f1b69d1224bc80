/**
 * The agent is killed with SIGKILL at random moments while reports flow and
 * reference parts arrive (at least 50 kills); afterwards the share holds every
 * transaction exactly once, in order, no receipt split, package numbers without
 * gaps, and the till received every reference part exactly once, in order.
 * The reports hold whole shifts (Z reports, returns, cash in/out...): the
 * shift ledger after all the kills equals the figures of the lines written,
 * every closed shift is delivered, and no package holds two shifts.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs/promises';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { makeWorkspace, receiptsOf, runCli, sharePackages, transactionNumbers, type Workspace } from '../helpers/kassir.js';
import { KassirSim } from '../helpers/kassir-sim.js';
import { runAndKill } from '../helpers/kill-at.js';
import { assertEveryPartAppliedOnce } from '../helpers/reference-trail.js';
import { comparable, zNotLast } from '../helpers/shift-writer.js';
import type { ShiftRecord } from '../../src/shifts/record.js';

const KILLS = Number(process.env.CRASH_KILLS ?? 55);

let ws: Workspace | undefined;
after(async () => ws?.cleanup());


describe('SIGKILL at random moments (folder transport)', () => {
  it(`loses and duplicates nothing across ${KILLS} kills`, { timeout: 600_000 }, async () => {
    ws = await makeWorkspace({ batch: { maxTransactions: 7, flushMs: 0 } });
    const kassir = new KassirSim(ws.till, { shifts: true });
    const all = kassir.written;
    let kills = 0;
    let working = 0;
    for (let round = 0; round < KILLS; round++) {
      // Kassir writes 1-3 report files; the back office publishes a reference part now and then.
      await kassir.sell();
      if (round % 5 === 0) await kassir.publishNextPart(ws.share);
      // Kassir loads the reference file when one is there.
      await kassir.load();
      // The random lifetime counts from the store's opening (recovery done), not from the spawn.
      const k = await runAndKill(ws.configFile, { after: 'store.opened', delayMs: [0, 1200] });
      if (k.reached) working++;
      kills++;
    }
    const deliveredDuringKills = (await sharePackages(ws.share)).length;
    // Let it finish: Kassir takes the reference files as they come; run --once until nothing is pending.
    for (let i = 0; i < 40; i++) {
      await kassir.load();
      const r = await runCli(['run', '--once', '--config', ws.configFile]);
      if (r.code === 0) break;
      assert.equal(r.code, 3, r.stderr);
    }
    await kassir.load();

    assert.equal(kills, KILLS);
    assert.equal(working, KILLS, 'every kill hit an agent whose store had opened');
    assert.ok(deliveredDuringKills > 0, 'packages were delivered between the kills (the kills hit a working agent)');
    const pkgs = await sharePackages(ws.share);
    assert.deepEqual(pkgs.map((p) => p.n), pkgs.map((_, i) => i + 1), 'package numbers $1..$n without gaps or reuse');
    const sent = pkgs.flatMap((p) => transactionNumbers(p.data));
    const dupes = sent.length - new Set(sent).size;
    const lost = all.filter((t) => !sent.includes(t)).length;
    assert.equal(dupes, 0, 'no transaction twice');
    assert.equal(lost, 0, 'no transaction lost');
    assert.deepEqual(sent, all, 'in order');
    const owner = new Map<string, number>();
    for (const p of pkgs) {
      assert.ok(transactionNumbers(p.data).length <= 7 || receiptsOf(p.data).size === 1, `${p.name} within the limit (or one large receipt)`);
      assert.ok(!zNotLast(p.data), `${p.name} holds transactions of two shifts`);
      // Lines outside receipts (cash in/out, reports, extra data) have no receipt number.
      for (const rc of [...receiptsOf(p.data)].filter((k) => !k.endsWith('/'))) {
        assert.ok(!owner.has(rc), `receipt ${rc} split between packages ${owner.get(rc)} and ${p.n}`);
        owner.set(rc, p.n);
      }
    }
    const shifts = (JSON.parse((await runCli(['shifts', '--json', '--config', ws.configFile])).stdout) as { shifts: ShiftRecord[] }).shifts;
    assert.deepEqual(shifts.map(comparable), kassir.expectedShifts(), 'the ledger after the kills equals the figures of the lines written');
    assert.ok(shifts.length > 3, `several shifts (${shifts.length})`);
    const outbox = await fs.readdir(join(ws.data, 'outbox'));
    for (const s of shifts.filter((x) => x.state === 'closed')) assert.ok(s.delivered && s.deliveredAt !== null, `shift ${s.number} delivered: ${JSON.stringify(s)}; outbox: ${outbox.join(' ')}`);
    assert.deepEqual(shifts.flatMap((s) => s.packages), pkgs.map((p) => p.n), 'every package belongs to exactly one shift');
    const leftovers = (await fs.readdir(ws.share)).filter((n) => !/^POS1\.rep\.\$\d+$/.test(n));
    assert.deepEqual(leftovers, [], 'no temporary file left on the share, no part left unfetched');
    await assertEveryPartAppliedOnce(kassir, ws);
    console.log(`# crash test: ${kills} kills (${deliveredDuringKills} packages delivered during them), ${all.length} transactions in ${pkgs.length} packages, ${kassir.published} reference parts: 0 lost, 0 duplicated`);
  });
});
