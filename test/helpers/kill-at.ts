/**
 * The crash tests' kill: start the agent daemon and SIGKILL it at a moment
 * keyed to its own progress, never to the wall clock alone, so that a kill
 * lands in the same kind of work on an idle and on a loaded machine (where
 * start-up through tsx may take seconds). The moment is a line in its console
 * output (`store.opened`, `package.sealed`...) or its taking the data-folder
 * lock, plus a random delay. The guard only keeps a line that never comes from
 * hanging the test; `reached` says whether the milestone was seen, for the
 * test's check that the kills hit a working agent.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs/promises';
import { CLI, CLI_NODE_ARGS, ROOT, randInt } from './kassir.js';

export interface KillAt {
  /** A console line to wait for, or `{ lockFile }`: the agent has taken the lock (start-up recovery is running). */
  after: string | { lockFile: string };
  /** Random delay after the milestone, [min, max) ms. */
  delayMs: [number, number];
  /** Give up waiting for the milestone after this long (default 60 s). */
  guardMs?: number;
  /** Added to the agent's environment (a secret the config names, e.g.). */
  env?: NodeJS.ProcessEnv;
}

/**
 * Whether the agent with this pid has taken the data-folder lock: its pid in the lock file, or on Windows
 * the file held open by someone (nobody can read it then; the agent under test is the only one there).
 */
async function holdsLock(lockFile: string, pid: number): Promise<boolean> {
  return fs.readFile(lockFile, 'utf8').then(
    (text) => text.includes(`"pid":${pid},`),
    (e: NodeJS.ErrnoException) => process.platform === 'win32' && e.code === 'EBUSY',
  );
}

export async function runAndKill(configFile: string, at: KillAt): Promise<{ reached: boolean; output: string }> {
  const child = spawn(process.execPath, [...CLI_NODE_ARGS, CLI, 'run', '--config', configFile], { cwd: ROOT, env: { ...process.env, ...at.env }, stdio: ['ignore', 'pipe', 'ignore'] });
  let output = '';
  let exitedEarly = false;
  const exited = new Promise<void>((r) =>
    child.on('exit', () => {
      exitedEarly = true;
      r();
    }),
  );
  child.stdout.on('data', (d: Buffer) => (output += d.toString()));
  const deadline = Date.now() + (at.guardMs ?? 60_000);
  let reached = false;
  while (!exitedEarly && Date.now() < deadline) {
    if (typeof at.after === 'string') reached = output.includes(at.after);
    else reached = await holdsLock(at.after.lockFile, child.pid!);
    if (reached) break;
    await new Promise((r) => setTimeout(r, 5));
  }
  if (reached) await new Promise((r) => setTimeout(r, randInt(at.delayMs[0], at.delayMs[1])));
  child.kill('SIGKILL');
  await exited;
  return { reached, output };
}
