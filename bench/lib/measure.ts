/** Timing helpers shared by the benches: same-run baselines, best-of-N, child-process peak RSS. */
import { spawnSync } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';

export const MB = 1 << 20;

export function scale(): number {
  const s = Number(process.env.BENCH_SCALE ?? '1');
  return Number.isFinite(s) && s > 0 ? s : 1;
}

/** Best (lowest) wall time in ms of `runs` runs of an async function. Best-of filters out noise from a shared machine. */
export async function bestOf(runs: number, fn: () => Promise<unknown> | unknown): Promise<number> {
  let best = Infinity;
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    await fn();
    best = Math.min(best, performance.now() - t0);
  }
  return best;
}

/** Best wall time in ms of a command; stdout goes to `stdoutPath` (default /dev/null). */
export async function bestOfCommand(runs: number, cmd: string, args: string[], stdoutPath = '/dev/null'): Promise<number> {
  return bestOf(runs, () => {
    const fd = openSync(stdoutPath, 'w');
    try {
      const r = spawnSync(cmd, args, { stdio: ['ignore', fd, 'inherit'] });
      if (r.status !== 0) throw new Error(`${cmd} exited with ${r.status}`);
    } finally {
      closeSync(fd);
    }
  });
}

/** Runs `node --import tsx script args` and returns its last stdout line parsed as JSON. */
export function runChild<T>(script: string, args: string[]): T {
  const r = spawnSync(process.execPath, ['--import', 'tsx', script, ...args], { encoding: 'utf8', maxBuffer: 16 * MB });
  if (r.status !== 0) throw new Error(`${script} failed (${r.status}): ${r.stderr}`);
  const lines = r.stdout.trim().split('\n');
  return JSON.parse(lines[lines.length - 1]!) as T;
}

export function mbps(bytes: number, ms: number): string {
  return `${(bytes / MB / (ms / 1000)).toFixed(0)} MB/s`;
}

/** Prints a Markdown table (so results can be pasted into BENCHMARKS.md). */
export function table(head: string[], rows: (string | number)[][]): void {
  console.log(`| ${head.join(' | ')} |`);
  console.log(`|${head.map(() => '---').join('|')}|`);
  for (const r of rows) console.log(`| ${r.join(' | ')} |`);
}
