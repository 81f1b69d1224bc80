/**
 * The crash tests' last check on reference data: Kassir (KassirSim) loaded
 * every published part exactly once, in order. A failure names what the agent
 * did with reference parts, from its own log, so that a failure seen once (in
 * CI, under load) can be read afterwards without running it again.
 */
import assert from 'node:assert/strict';
import type { Workspace } from './kassir.js';
import type { KassirSim } from './kassir-sim.js';
import { logLines } from './kkm-agent.js';

const TRAIL = /^(agent\.started|pull\.staged|till\.|store\.recover\.(unstaged|retired|inbox))/;

export async function assertEveryPartAppliedOnce(kassir: KassirSim, ws: Workspace): Promise<void> {
  const expected = Array.from({ length: kassir.published }, (_, i) => i + 1);
  if (JSON.stringify(kassir.applied) === JSON.stringify(expected)) return;
  const trail = (await logLines(ws)).filter((l) => TRAIL.test(l.event)).map((l) => JSON.stringify(l));
  assert.fail(
    `every reference part should reach Kassir exactly once, in order: applied ${JSON.stringify(kassir.applied)}, published 1..${kassir.published}.\n` +
      `The agent's reference trail:\n${trail.join('\n')}`,
  );
}
