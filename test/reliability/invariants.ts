/**
 * The invariants every harness run must keep, asserted on its figures, and
 * the CI sizes (RELIABILITY_SCALE multiplies them, e.g. 0.2 for a quick
 * local look, 5 for a long run).
 */
import assert from 'node:assert/strict';
import type { Figures } from './harness.js';

const SCALE = Number(process.env.RELIABILITY_SCALE ?? 1);

/** CI size: with ~80% of fail-point rounds reaching their point, points + random give ~200 kills per transport. */
export const CI_ROUNDS = {
  points: Math.max(1, Math.round(120 * SCALE)),
  random: Math.max(1, Math.round(100 * SCALE)),
  faults: Math.max(1, Math.round(24 * SCALE)),
};

/**
 * The CI size of one transport's runs. An EquipmentService round is a whole shift posted to 1C (several
 * SOAP calls, a price list first) and takes about three times a packet transport's round, so it runs 40 %
 * of the rounds: still every fail point several times, and the per-test timeout holds on a loaded machine.
 */
export function ciRounds(transport: string): typeof CI_ROUNDS {
  if (transport !== 'equipment-service') return CI_ROUNDS;
  const part = (n: number) => Math.max(1, Math.round(n * 0.4));
  return { points: part(CI_ROUNDS.points), random: part(CI_ROUNDS.random), faults: part(CI_ROUNDS.faults) };
}

export function assertInvariants(f: Figures): void {
  const where = `${f.transport}/${f.plan}`;
  assert.equal(f.hangs, 0, `${where}: agent runs that hung`);
  assert.deepEqual(f.unexpectedExits, [], `${where}: unexpected exits`);
  assert.ok(f.finished, `${where}: run --once never reached "nothing pending" after the attacks`);
  if (f.transport === 'equipment-service') {
    // 1C holds shifts, not transactions: every closed shift once, in order, with Kassir's counts and sums.
    const s = f.shifts;
    assert.ok(s.closed > 0 && f.transactions.written > 0, `${where}: Kassir closed no shift`);
    assert.equal(s.inOneC, s.closed, `${where}: shifts closed by Kassir vs held by 1C: ${s.samples.join('; ')}`);
    assert.equal(s.lost, 0, `${where}: shifts lost: ${s.samples.join('; ')}`);
    assert.equal(s.duplicated, 0, `${where}: shifts duplicated in 1C: ${s.samples.join('; ')}`);
    assert.equal(s.outOfOrder, 0, `${where}: shifts out of order`);
    assert.equal(s.wrong, 0, `${where}: shifts with wrong counts or sums in 1C: ${s.samples.join('; ')}`);
    assert.equal(s.repostsDiffering, 0, `${where}: re-posts that differ from the first post: ${s.samples.join('; ')}`);
  } else {
    assert.equal(f.transactions.written, f.transactions.sent, `${where}: transactions written vs sent`);
    assert.equal(f.transactions.lost, 0, `${where}: transactions lost`);
    assert.equal(f.transactions.duplicated, 0, `${where}: transactions duplicated`);
    assert.equal(f.transactions.outOfOrder, 0, `${where}: transactions out of order`);
    assert.equal(f.packages.numberGaps, 0, `${where}: package numbers not 1..n`);
    assert.equal(f.packages.splitReceipts, 0, `${where}: receipts split across packages`);
  }
  assert.equal(f.referenceParts.lost, 0, `${where}: reference parts lost`);
  assert.equal(f.referenceParts.duplicated, 0, `${where}: reference parts applied twice`);
  assert.equal(f.referenceParts.outOfOrder, 0, `${where}: reference parts out of order`);
  assert.equal(f.tempUnderFinal, 0, `${where}: incomplete files under a final name: ${f.tempUnderFinalSamples.join('; ')}`);
  assert.deepEqual(f.leftovers, [], `${where}: files left on the remote side`);
  assert.equal(f.secretsInLogs, 0, `${where}: passwords found in logs or output`);
  assert.equal(f.quarantined, 0, `${where}: items quarantined though nothing was damaged`);
}

/** One line for the test output, so CI logs show the figures. */
export function summary(f: Figures): string {
  const kills = Object.values(f.killsByPoint).reduce((a, b) => a + b, 0) + f.randomKills.external;
  const faults = Object.entries(f.faults).map(([k, v]) => `${k}=${v}`).join(' ');
  return (
    `# ${f.transport}/${f.plan}: ${f.rounds} rounds, ${f.runs} runs, ${kills} kills` +
    (f.pointsNeverHit.length ? ` (never hit: ${f.pointsNeverHit.join(', ')})` : '') +
    (faults ? `, faults ${faults}` : '') +
    (f.transport === 'equipment-service'
      ? `, ${f.transactions.written} transactions in ${f.shifts.closed} closed shifts, ${f.shifts.inOneC} in 1C (${f.shifts.posts} SaleReports posted), ${f.referenceParts.applied}/${f.referenceParts.published} reference parts; ` +
        `shifts lost ${f.shifts.lost}, duplicated ${f.shifts.duplicated}, out of order ${f.shifts.outOfOrder}, wrong ${f.shifts.wrong}, bad posts ${f.tempUnderFinal}`
      : `, ${f.transactions.sent}/${f.transactions.written} transactions in ${f.packages.count} packages, ${f.referenceParts.applied}/${f.referenceParts.published} reference parts; ` +
        `lost ${f.transactions.lost}, duplicated ${f.transactions.duplicated}, out of order ${f.transactions.outOfOrder}, temp under final ${f.tempUnderFinal}`) +
    `; ${(f.durationMs / 1000).toFixed(0)} s`
  );
}
