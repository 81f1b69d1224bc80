/**
 * The one retry decision of the exchange, for pull and push alike (the BullMQ
 * habit: `Job.shouldRetryJob` with `Backoffs`): a pure function from an error
 * and the count of consecutive failures to what happens next. Randomness is
 * passed in, so tests are deterministic.
 *
 * Nothing is ever given up: the delay only grows to `maxMs` and stays there.
 * - `operator` (auth, tls, config: a person must fix it) goes straight to the
 *   cap, so a wrong password never becomes a retry storm;
 * - `waiting` (busy: the back office has not taken the previous no-suffix
 *   file) is a normal state, polled steadily at the initial pace;
 * - `normal` (everything else, errors on this machine included) doubles per
 *   failure up to the cap.
 * A connection failure (unreachable, timeout) reconnects on the next attempt,
 * and only its backoff is cut short when the back office answers again
 * (`cutShortByAnswer`): errors it gave on purpose keep their backoff.
 */
import { isTransportError, type FailureKind } from '../transports/errors.js';

export interface BackoffOptions {
  /** The first retry's delay. */
  initialMs: number;
  /** The cap: retries never wait longer than this. */
  maxMs: number;
  /** 0..1: share of the delay that is randomised ("full jitter" at 1). */
  jitter: number;
}

/** Returns a number in [0, 1), like Math.random. */
export type Random = () => number;

export type RetryClass = 'normal' | 'operator' | 'waiting';

export interface RetryDecision {
  /** The TransportError kind, or 'local' for a failure on this machine (monitoring maps it). */
  kind: FailureKind;
  retryClass: RetryClass;
  /** How long to wait before the next attempt. */
  delayMs: number;
  /** Close the transport: the next attempt opens a fresh connection. */
  reconnect: boolean;
  /** The attempt's outcome for logs and history: 'waiting' is not a failure. */
  outcome: 'waiting' | 'failed';
}

/** Exponential growth (x2 per attempt) capped at `maxMs`, with jitter subtracted so the cap is never exceeded. */
export function exponentialBackoff(attempt: number, o: BackoffOptions, random: Random = Math.random): number {
  const n = Math.max(1, Math.floor(attempt));
  // 2 ** 40 ms is already years: avoid Infinity for absurd attempt counts.
  const raw = o.initialMs * 2 ** Math.min(n - 1, 40);
  const capped = Math.min(o.maxMs, raw);
  const spread = capped * Math.min(1, Math.max(0, o.jitter));
  return Math.round(capped - spread * random());
}

/** The class of an error: how fast it is retried. */
export function retryClassOf(e: unknown): RetryClass {
  if (!isTransportError(e)) return 'normal';
  if (e.kind === 'busy') return 'waiting';
  return e.needsOperator ? 'operator' : 'normal';
}

function delayFor(failures: number, cls: RetryClass, o: BackoffOptions, random: Random): number {
  switch (cls) {
    case 'operator':
      return exponentialBackoff(Number.MAX_SAFE_INTEGER, o, random);
    case 'waiting':
      return exponentialBackoff(1, o, random);
    case 'normal':
      return exponentialBackoff(failures, o, random);
  }
}

/** Connection failures: a new connection may help, and an answer from the back office means it is back. */
function isConnectionFailure(kind: FailureKind): boolean {
  return kind === 'unreachable' || kind === 'timeout';
}

/**
 * What to do after a failed attempt. `failures` counts consecutive failures
 * including this one (1 after the first).
 */
export function retryDecision(e: unknown, failures: number, o: BackoffOptions, random: Random = Math.random): RetryDecision {
  const kind = isTransportError(e) ? e.kind : 'local';
  const retryClass = retryClassOf(e);
  return {
    kind,
    retryClass,
    delayMs: delayFor(failures, retryClass, o, random),
    reconnect: isTransportError(e) && isConnectionFailure(kind),
    outcome: kind === 'busy' ? 'waiting' : 'failed',
  };
}

/** Whether a successful call to the back office cuts short a backoff that followed a failure of `kind`. */
export function cutShortByAnswer(kind: FailureKind | undefined): boolean {
  return kind !== undefined && isConnectionFailure(kind);
}
