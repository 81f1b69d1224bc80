/**
 * The CI harness run for one transport: kills at every fail point, random
 * kills, network faults; each run's invariants asserted, figures printed.
 * One test file per transport so the runner spreads them over the cores.
 */
import { describe, it } from 'node:test';
import type { TransportKind } from './backends.js';
import { runScenario, type Plan } from './harness.js';
import { assertInvariants, ciRounds, summary } from './invariants.js';

export function reliabilitySuite(transport: TransportKind): void {
  describe(`reliability harness, ${transport} transport`, () => {
    const CI_ROUNDS = ciRounds(transport);
    const plans: [Plan, string][] = [
      ['points', `killed at each named fail point in turn (${CI_ROUNDS.points} runs): nothing lost, duplicated or reordered`],
      ['random', `killed at random moments (${CI_ROUNDS.random} runs): nothing lost, duplicated or reordered`],
      ['faults', `network faults (${CI_ROUNDS.faults} runs): nothing lost, duplicated or reordered`],
    ];
    for (const [plan, title] of plans) {
      it(title, { timeout: 900_000 }, async () => {
        const f = await runScenario({ transport, plan, rounds: CI_ROUNDS[plan] });
        console.log(summary(f));
        assertInvariants(f);
      });
    }
  });
}
