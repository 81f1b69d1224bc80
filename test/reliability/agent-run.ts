/**
 * One run of the compiled agent as a child process, with a hang guard: it is
 * SIGKILLed after `deadlineMs` and reported as hung (a figure that must stay
 * 0). `onOpened` fires when the store has opened (recovery done), the moment
 * from which random kills and network faults are timed, so they land in real
 * work rather than in start-up.
 */
import { spawn } from 'node:child_process';
import { ROOT } from '../helpers/kassir.js';

export interface AgentRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  hung: boolean;
  /** Fail points that fired (`failpoint NAME: SIGKILL` on stderr). */
  fired: string[];
}

export interface AgentRunOptions {
  cli: string;
  configFile: string;
  /** `once`: `run --once`; `daemon`: `run`, until `killAfterOpenedMs` passes (then SIGKILL) or the deadline. */
  mode: 'once' | 'daemon';
  failpoints?: string;
  /** More environment for the agent (e.g. KASSIR_FSYNC_TRACE). */
  env?: NodeJS.ProcessEnv;
  killAfterOpenedMs?: number;
  onOpened?: () => void;
  deadlineMs?: number;
  args?: string[];
}

export function runAgent(o: AgentRunOptions): Promise<AgentRun> {
  return new Promise((resolve, reject) => {
    const args = o.args ?? ['run', ...(o.mode === 'once' ? ['--once'] : []), '--config', o.configFile];
    const child = spawn(process.execPath, [o.cli, ...args], {
      cwd: ROOT,
      env: { ...process.env, ...o.env, KASSIR_FAILPOINTS: o.failpoints ?? '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    let opened = false;
    let hung = false;
    let killTimer: NodeJS.Timeout | undefined;
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
      if (!opened && /\sstore\.opened(\s|$)/m.test(stdout)) {
        opened = true;
        o.onOpened?.();
        if (o.killAfterOpenedMs !== undefined) killTimer = setTimeout(() => child.kill('SIGKILL'), o.killAfterOpenedMs);
      }
    });
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const guard = setTimeout(() => {
      hung = true;
      child.kill('SIGKILL');
    }, o.deadlineMs ?? 60_000);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(guard);
      if (killTimer) clearTimeout(killTimer);
      const fired = [...stderr.matchAll(/^failpoint (\S+): SIGKILL$/gm)].map((m) => m[1]!);
      resolve({ code, signal, stdout, stderr, hung, fired });
    });
  });
}
