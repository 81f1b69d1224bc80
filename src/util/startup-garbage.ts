/**
 * Gives back the memory the start-up left behind. Loading some 300 modules and opening the
 * stores allocates fast, so V8 grows its young generation to 16 MB (about 10 MB resident) and
 * keeps it: with nothing allocating at idle, no full collection ever runs, and V8's memory
 * reducer (which shrinks the heap once allocation slows down) is only started by one. One full
 * collection once the agent has started shrinks the young generation to 1 MB and starts the
 * reducer, which then does the same after any later burst of work (a backlog drain).
 * Measured on a folder-transport agent at idle on a loaded machine: RSS 74 -> 65 MB; on an
 * idle machine the start-up grows the young generation less and the figure hardly moves
 * (61.5 -> 61.2 MB; BENCHMARKS.md, footprint).
 *
 * Node exposes V8's collector only under --expose-gc, a flag V8 also accepts once running: a
 * context created after it gets a `gc` function. No flag is needed on the command line, so the
 * npm form, the single executable and the service definitions run unchanged.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/** How long after the start the collection runs: past the first pass over the till folder and the first pull. */
export const STARTUP_SETTLE_MS = 5_000;

let gc: (() => void) | undefined;

/** One full garbage collection, now (V8's gc(), made available on first use; the bench uses it too). */
export function collectGarbage(): void {
  if (gc === undefined) {
    setFlagsFromString('--expose-gc');
    gc = runInNewContext('gc') as () => void;
  }
  gc();
}

/** Runs `collectGarbage` once, `STARTUP_SETTLE_MS` from now; the timer never keeps the process alive. */
export function releaseStartupGarbage(): NodeJS.Timeout {
  return setTimeout(collectGarbage, STARTUP_SETTLE_MS).unref();
}
