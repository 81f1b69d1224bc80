/**
 * What a running exchange knows beyond its data folder (backoff, failures,
 * counts since the start): for live status and metrics. A type of its own so
 * `status` can name it without importing the exchange.
 */
import type { FailureKind } from '../transports/errors.js';
import type { ProgressSnapshot } from './progress.js';

/** What the running exchange knows beyond the store: for live status and metrics. */
export interface ExchangeLive {
  pos: number;
  transport: string;
  /** When the head package is tried next (ISO), if it is backing off. */
  nextAttemptAt?: string;
  consecutiveFailures: number;
  pullFailing: boolean;
  pushFailing: boolean;
  lastPullError?: string;
  lastPushError?: string;
  /** TransportError kind of the current pull/push failure ('local': this machine's side). */
  lastPullErrorKind?: FailureKind;
  lastPushErrorKind?: FailureKind;
  /** Since this process started. */
  attempts: { delivered: number; failed: number };
  transactionsSent: number;
  bytesSent: number;
  /** The last failure on this machine's side (data folder full, till folder unreadable), with its time. */
  lastLocalError?: string;
  /** Long work under way (a reference download, a backlog drain): done of total, rate, time left. Empty when none (absent from an agent that predates it). */
  inFlight?: ProgressSnapshot[];
}
