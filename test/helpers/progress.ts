/**
 * Reading a running agent's progress: its work in flight from `status --json`
 * (the CLI asking the agent over its control channel), its `progress` log
 * lines, and the hold points (src/util/failpoints.ts) that keep a download
 * between two parts while the test looks.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs/promises';
import { join } from 'node:path';
import type { ProgressSnapshot } from '../../src/exchange/progress.js';
import type { StatusDocument } from '../../src/status-json.js';
import { runCli, type Workspace } from './kassir.js';
import { logLines, type LogLine } from './kkm-agent.js';
import { waitFor } from './wait.js';

/** What the running agent has in flight for POS 1, as `status --json` prints it. */
export async function inFlight(ws: Workspace, env: NodeJS.ProcessEnv = {}): Promise<ProgressSnapshot[]> {
  const r = await runCli(['status', '--json', '--config', ws.configFile], { env });
  const doc = JSON.parse(r.stdout) as StatusDocument;
  assert.equal(doc.running, true, `status --json reads the running agent: ${r.stdout}${r.stderr}`);
  return doc.exchanges[0]?.live?.inFlight ?? [];
}

/** The reference download in flight, once `status --json` shows one matching `check`. */
export async function downloadShown(ws: Workspace, check: (p: ProgressSnapshot) => boolean, what: string, env: NodeJS.ProcessEnv = {}): Promise<ProgressSnapshot> {
  let seen: ProgressSnapshot | undefined;
  await waitFor(
    async () => {
      seen = (await inFlight(ws, env)).find((p) => p.activity === 'reference-download');
      return seen !== undefined && check(seen);
    },
    `status --json shows ${what}`,
    60_000,
  );
  return seen!;
}

/** The agent's `progress` log line for the reference download with `done`. */
export async function progressLogged(ws: Workspace, done: number): Promise<LogLine> {
  let line: LogLine | undefined;
  await waitFor(
    async () => {
      line = (await logLines(ws)).find((l) => l.event === 'progress' && l.activity === 'reference-download' && l.done === done);
      return line !== undefined;
    },
    `a progress log line with done ${done}`,
    60_000,
  );
  return line!;
}

/** The environment that makes the agent hold before each reference part after the first (hold point `pull.part.next`). */
export async function holdBetweenParts(ws: Workspace): Promise<{ env: NodeJS.ProcessEnv; held: (n: number) => Promise<void>; go: (n: number) => Promise<void> }> {
  const dir = join(ws.root, 'hold');
  await fs.mkdir(dir);
  const file = (n: number, what: string) => join(dir, `pull.part.next.${n}.${what}`);
  return {
    env: { KASSIR_HOLDPOINTS: 'pull.part.next', KASSIR_HOLD_DIR: dir },
    held: (n) => waitFor(() => fs.access(file(n, 'held')).then(() => true, () => false), `the agent holding before part ${n + 1}`, 60_000),
    go: (n) => fs.writeFile(file(n, 'go'), ''),
  };
}
