/**
 * Timing helpers shared by the benches: same-run baselines, interleaved
 * median-of-N runs, child-process peak RSS.
 *
 * Method (BENCHMARKS.md): the machine is shared, so a neighbour's burst of
 * work can slow any one run. `interleaved` therefore runs one discarded
 * warm-up round of every entry (JIT warm, page cache warm for the agent and
 * the baseline alike, output files existing at full size for both), then N
 * rounds in which every entry runs once, in a rotating order. A burst then
 * hits the agent and its baseline alike instead of one whole series, and the
 * median of N ignores a few spoiled runs. Ratios are taken between medians.
 * Before every timed run a full garbage collection (not timed) clears what
 * the previous entry left, so no entry pays for another's garbage (a 100 MB
 * buffer dropped by one entry would otherwise be collected in the next).
 * Baseline commands are spawned by a small runner process, never by the
 * bench process, so no entry pays for a fork of the bench (see `command`).
 */
import { spawn, spawnSync, type ChildProcessByStdio } from 'node:child_process';
import { createInterface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { collectGarbage } from '../../src/util/startup-garbage.js';

export const MB = 1 << 20;

export function scale(): number {
  const s = Number(process.env.BENCH_SCALE ?? '1');
  return Number.isFinite(s) && s > 0 ? s : 1;
}


/** Runs per measurement: BENCH_RUNS, default `fallback`. */
export function benchRuns(fallback = 5): number {
  const n = Number(process.env.BENCH_RUNS ?? fallback);
  return Number.isInteger(n) && n > 0 ? n : fallback;
}

export interface Stats {
  /** Wall times in ms, in run order. */
  runs: number[];
  median: number;
  best: number;
}

function stats(runs: number[]): Stats {
  const sorted = [...runs].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  const median = sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
  return { runs, median, best: sorted[0]! };
}


/**
 * Wall time of every entry over `runs` rounds after one warm-up round (not
 * counted); round r runs the entries starting from the r-th, forwards in even
 * rounds and backwards in odd ones, so no entry always runs right after the
 * same neighbour (a plain rotation keeps every entry's neighbours). An entry
 * that returns a SelfTimed (a baseline command) is counted by its own time.
 * See the method at the top.
 */
export async function interleaved<K extends string>(runs: number, entries: Record<K, () => unknown>): Promise<Record<K, Stats>> {
  const keys = Object.keys(entries) as K[];
  const times = Object.fromEntries(keys.map((k) => [k, [] as number[]])) as unknown as Record<K, number[]>;
  for (let round = -1; round < runs; round++) {
    for (let i = 0; i < keys.length; i++) {
      const r = Math.max(round, 0);
      const n = keys.length;
      const k = keys[r % 2 === 0 ? (r + i) % n : (((r - i) % n) + n) % n]!;
      collectGarbage();
      const dt = await timeOf(entries[k]);
      if (round >= 0) times[k].push(dt);
    }
  }
  return Object.fromEntries(keys.map((k) => [k, stats(times[k])])) as unknown as Record<K, Stats>;
}

/**
 * How long one run of `entry` took: its wall time, or the time it gave (SelfTimed).
 * Its result is dropped here, before the next full GC: an entry's result kept
 * alive into the next entry (e.g. a parsed report) would be work for that
 * entry's collections, and would keep V8 state alive that the agent loses
 * between two files.
 */
async function timeOf(entry: () => unknown): Promise<number> {
  const t0 = performance.now();
  const result = await entry();
  const t1 = performance.now();
  return result instanceof SelfTimed ? result.ms : t1 - t0;
}

/** What an entry returns when it timed itself (a baseline command, timed in its runner process): `interleaved` takes its `ms`. */
export class SelfTimed {
  constructor(readonly ms: number) {}
}

/** The process that runs the baseline commands (baseline-child.mjs), started on first use; it never keeps the bench alive. */
let runner: { child: ChildProcessByStdio<Writable, Readable, null>; lines: AsyncIterator<string> } | undefined;

function baselineRunner(): NonNullable<typeof runner> {
  if (runner === undefined) {
    const child = spawn(process.execPath, [fileURLToPath(new URL('./baseline-child.mjs', import.meta.url))], { stdio: ['pipe', 'pipe', 'inherit'] });
    child.unref();
    (child.stdout as Readable & { unref(): void }).unref();
    (child.stdin as Writable & { unref(): void }).unref();
    runner = { child, lines: createInterface({ input: child.stdout })[Symbol.asyncIterator]() };
  }
  return runner;
}

/**
 * A function that runs a command to completion, its stdout to `stdoutPath`
 * (default /dev/null, truncated first like a shell `>`), and gives its time.
 * The command is spawned, and timed, by a small runner process, not by the
 * bench process: a fork of the big bench process would leave every page of
 * it copy-on-write, and the entry timed next would pay a page fault for each
 * page it writes (baseline-child.mjs). The agent never spawns anything.
 */
export function command(cmd: string, args: string[], stdoutPath = '/dev/null'): () => Promise<SelfTimed> {
  return async () => {
    const { child, lines } = baselineRunner();
    const out = child.stdout as Readable & { ref(): void; unref(): void };
    out.ref(); // wait for the reply
    try {
      child.stdin.write(`${JSON.stringify({ cmd, args, stdoutPath })}\n`);
      const next = await lines.next();
      if (next.done) throw new Error(`the baseline runner ended before running ${cmd}`);
      const reply = JSON.parse(next.value) as { ms?: number; error?: string };
      if (reply.error !== undefined) throw new Error(reply.error);
      return new SelfTimed(reply.ms!);
    } finally {
      out.unref();
    }
  };
}

/** Runs `node --import tsx script args` and returns its last stdout line parsed as JSON. */
export function runChild<T>(script: string, args: string[]): T {
  const r = spawnSync(process.execPath, ['--import', 'tsx', script, ...args], { encoding: 'utf8', maxBuffer: 16 * MB });
  if (r.status !== 0) throw new Error(`${script} failed (${r.status}): ${r.stderr}`);
  const lines = r.stdout.trim().split('\n');
  return JSON.parse(lines[lines.length - 1]!) as T;
}

/** "123 ms (best 118)" */
export function showStats(s: Stats): string {
  return `${s.median.toFixed(0)} ms (best ${s.best.toFixed(0)})`;
}

/** Baseline time / our time, from medians: above 1 we are faster than the baseline. */
export function ratio(baseline: Stats, ours: Stats): string {
  return `${(baseline.median / ours.median).toFixed(2)}x`;
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
