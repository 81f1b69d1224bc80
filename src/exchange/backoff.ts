/**
 * Retry delays as small pure strategies (the BullMQ habit): given the attempt
 * number (1 = the first retry) they return a delay in ms. Randomness is passed
 * in so tests are deterministic. Nothing is ever given up: the delay only
 * grows to `maxMs` and stays there.
 */
export interface BackoffOptions {
  /** The first retry's delay. */
  initialMs: number;
  /** The cap: retries never wait longer than this. */
  maxMs: number;
  /** 0..1: share of the delay that is randomised ("full jitter" at 1). */
  jitter: number;
}

export type Random = () => number;

/** Exponential growth (x2 per attempt) capped at `maxMs`, with jitter subtracted so the cap is never exceeded. */
export function exponentialBackoff(attempt: number, o: BackoffOptions, random: Random = Math.random): number {
  const n = Math.max(1, Math.floor(attempt));
  // 2 ** 40 ms is already years: avoid Infinity for absurd attempt counts.
  const raw = o.initialMs * 2 ** Math.min(n - 1, 40);
  const capped = Math.min(o.maxMs, raw);
  const spread = capped * Math.min(1, Math.max(0, o.jitter));
  return Math.round(capped - spread * random());
}

/**
 * The delay before the next attempt after a failure: errors that need a person
 * (wrong password, bad certificate) go straight to the cap, so they are
 * retried slowly and never become a retry storm; waiting for the back office
 * (a no-suffix file not yet taken) polls at the initial pace.
 */
export type RetryClass = 'normal' | 'operator' | 'waiting';

export function retryDelay(attempt: number, cls: RetryClass, o: BackoffOptions, random: Random = Math.random): number {
  switch (cls) {
    case 'operator':
      return exponentialBackoff(Number.MAX_SAFE_INTEGER, o, random);
    case 'waiting':
      // Waiting for the back office to take a file is a normal state: poll steadily.
      return exponentialBackoff(1, o, random);
    case 'normal':
      return exponentialBackoff(attempt, o, random);
  }
}
