/**
 * Cleanup steps of a stop (Exchange, Agent): each one isolated, so a step that
 * throws or hangs is logged and the steps after it still run, and each one
 * bounded by the time the stop has left.
 */
import type { Logger } from './logger.js';

/** Resolves true when `p` settled within `ms`, false when the time ran out first (`p` is left running). */
export async function within(p: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([p.then(() => true), new Promise<boolean>((r) => (timer = setTimeout(() => r(false), Math.max(0, ms))))]);
  } finally {
    clearTimeout(timer);
  }
}

/** Runs one cleanup step until `deadline` (epoch ms); its failure or overrun is logged, never thrown. Returns whether it completed. */
export async function stopStep(log: Logger, step: string, deadline: number, fn: () => unknown): Promise<boolean> {
  try {
    if (await within(Promise.resolve().then(fn), deadline - Date.now())) return true;
    log.warn('stop.step.overrun', { step, note: 'left behind to keep the stop deadline' });
  } catch (e) {
    log.error('stop.step.failed', { step, error: (e as Error).message, note: 'the other cleanup steps still run' });
  }
  return false;
}

/**
 * The parts of a stop. The whole stop's deadline is `stop.deadlineMs` (its
 * default lives in the config schema); these are the shares and the short
 * stops that are not the service's.
 */
export const STOP_TIMINGS = {
  /** The control channel and the metrics endpoints get at most this, or a tenth of the deadline. */
  endpointsMs: 1_000,
  /** Closing an exchange's transport and store is kept at least this, or a third of the deadline, whatever the flows do. */
  closingMs: 3_000,
  /** Kept for `agent.stopped` and closing the log, out of the stop deadline. */
  logCloseMs: 1_000,
  /** A stop of what is not yet running: an exchange that finished starting after the stop began, an agent whose start failed. */
  notStartedMs: 1_000,
} as const;
