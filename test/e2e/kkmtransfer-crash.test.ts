/**
 * The agent is killed with SIGKILL at random moments while reports flow to
 * the KKMTransfer emulator and reference packages are published (at least 50
 * kills; CRASH_KILLS overrides). Afterwards the emulator holds every
 * transaction exactly once, in order, no receipt split, package numbers 1..n
 * without gaps, every number always sent with the same bytes; and the till
 * received every reference package exactly once, in order. The second variant
 * adds lost replies and dropped connections during the kills.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { runCli, type Workspace } from '../helpers/kassir.js';
import { KassirSim } from '../helpers/kassir-sim.js';
import { runAndKill } from '../helpers/kill-at.js';
import { assertEveryPartAppliedOnce } from '../helpers/reference-trail.js';
import { emulatorFor } from '../helpers/kkm-emulator.js';
import { kkmWorkspace, oneToN, sendRequests, storedPackages } from '../helpers/kkm-agent.js';
import type { FaultSpec } from '../../scripts/kkm-emulator/faults.js';
import type { KkmEmulator } from '../../scripts/kkm-emulator/server.js';

const KILLS = Number(process.env.CRASH_KILLS ?? 50);
const MAX_TX = 7;


/** Kassir loads the reference file when one is waiting (line 2 `#`): note its parts, mark it loaded. */
/**
 * Kills the daemon at a moment chosen by `round`, keyed to its progress:
 * during start-up (right after it took the data-folder lock: store recovery,
 * interrupted deliveries), a little after it started, right after it sealed a
 * package (so mostly inside SendData), or right after a package was delivered
 * (inside the next one or its bookkeeping).
 */
const KILL_POINTS = ['lock', 'agent.started', 'package.sealed', 'push.delivered'] as const;

async function killAtPoint(ws: Workspace, round: number): Promise<void> {
  const point = KILL_POINTS[round % KILL_POINTS.length]!;
  if (point === 'lock') await runAndKill(ws.configFile, { after: { lockFile: join(ws.data, 'agent.lock') }, delayMs: [0, 60] });
  // A sealed or delivered package normally comes within a second or two; the guard bounds a round where it does not.
  else await runAndKill(ws.configFile, { after: point, delayMs: point === 'agent.started' ? [0, 400] : [0, 60], guardMs: 15_000 });
}

async function crashRun(t: TestContext, faults: FaultSpec[]): Promise<{ summary: string; faulted: number; lostReplies: number; sendsDuringKills: number }> {
  const emu: KkmEmulator = await emulatorFor(t);
  const ws = await kkmWorkspace(t, emu.url, {
    config: {
      batch: { maxTransactions: MAX_TX, flushMs: 0 },
      log: { level: 'info', dir: 'log', console: true },
    },
  });
  for (const f of faults) emu.setFault(f);
  const kassir = new KassirSim(ws.till);
  const all = kassir.written;
  let kills = 0;
  for (let round = 0; round < KILLS; round++) {
    // Kassir writes 1-3 report files; the back office publishes a reference package now and then.
    await kassir.sell();
    if (round % 4 === 0) {
      const part = kassir.nextPart();
      await emu.publish(`part-${String(part.n).padStart(4, '0')}.spr`, part.text);
    }
    await kassir.load();
    await killAtPoint(ws, round);
    kills++;
  }
  const sendsDuringKills = sendRequests(emu).length;
  // Let it finish without faults: Kassir takes the reference files as they come; run --once until nothing is pending.
  emu.clearFaults();
  for (let i = 0; i < 40; i++) {
    await kassir.load();
    const r = await runCli(['run', '--once', '--config', ws.configFile]);
    if (r.code === 0) break;
    assert.equal(r.code, 3, r.stdout + r.stderr);
  }
  await kassir.load();

  assert.equal(kills, KILLS);
  const stored = await storedPackages(emu);
  assert.deepEqual(stored.map((p) => p.number), oneToN(stored), 'package numbers 1..n without gaps');
  const bodies = new Map<string, Set<string>>();
  for (const r of sendRequests(emu)) {
    const n = r.path.split('/').slice(-2).join('/');
    bodies.set(n, (bodies.get(n) ?? new Set()).add(r.bodySha256!));
  }
  for (const [n, set] of bodies) assert.equal(set.size, 1, `SendData ${n} was sent with ${set.size} different bodies (a number reused)`);
  const sent = stored.flatMap((p) => p.txs);
  assert.equal(sent.length - new Set(sent).size, 0, 'no transaction twice');
  assert.equal(all.filter((x) => !sent.includes(x)).length, 0, 'no transaction lost');
  assert.deepEqual(sent, all, 'in order');
  const owner = new Map<string, number>();
  for (const p of stored) {
    assert.ok(p.txs.length <= MAX_TX || p.receipts.size === 1, `package ${p.number} within the limit (or one large receipt)`);
    for (const rc of p.receipts) {
      assert.ok(!owner.has(rc), `receipt ${rc} split between packages ${owner.get(rc)} and ${p.number}`);
      owner.set(rc, p.number);
    }
  }
  await assertEveryPartAppliedOnce(kassir, ws);
  const faulted = emu.requests.filter((q) => q.fault !== undefined);
  const lostReplies = faulted.filter((q) => q.fault === 'lost-reply').length;
  const duplicates = sendRequests(emu).filter((q) => q.errcode === 1).length;
  const summary = `${kills} kills, ${all.length} transactions in ${stored.length} packages, ${kassir.published} reference packages, ${emu.requests.length} requests (${sendsDuringKills} SendData during the kills, ${faulted.length} faulted, ${lostReplies} lost replies, ${duplicates} "already processed"): 0 lost, 0 duplicated`;
  return { summary, faulted: faulted.length, lostReplies, sendsDuringKills };
}

describe('SIGKILL at random moments (kkmtransfer transport, emulator)', { concurrency: true }, () => {
  it(`loses and duplicates nothing across ${KILLS} kills`, { timeout: 600_000 }, async (t) => {
    const r = await crashRun(t, []);
    assert.equal(r.faulted, 0);
    // A quarter of the rounds kill right after a delivery (`push.delivered`), so a working agent sent at least that
    // many SendData while being killed; on a heavily loaded machine the other rounds may die before their first
    // request (21 of 50 seen at load 15 on 2 cores), so only that quarter is counted on.
    assert.ok(r.sendsDuringKills >= KILLS / 4, `the kills hit a working agent (${r.sendsDuringKills} SendData during the kills)`);
    console.log(`# kkmtransfer crash test: ${r.summary}`);
  });

  it(`the same with lost replies and dropped connections during ${KILLS} kills`, { timeout: 600_000 }, async (t) => {
    // The first SendData always loses its reply, so a short run (20 kills on Windows, where only 8 SendData came
    // during the kills once and none of them drew the 1-in-4 chance) still tests it; later ones by chance.
    const r = await crashRun(t, [
      { kind: 'lost-reply', on: 'send', times: 1 },
      { kind: 'lost-reply', on: 'send', probability: 0.25 },
      { kind: 'drop', probability: 0.1 },
    ]);
    assert.ok(r.lostReplies > 0, `lost replies were injected (${r.summary})`);
    console.log(`# kkmtransfer crash test with faults: ${r.summary}`);
  });
});
