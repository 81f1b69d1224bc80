/**
 * The push flow: sends sealed packages strictly in order, one at a time. On a
 * failure the head package is retried after the retry policy's delay, never
 * skipped, never given up; meanwhile new transactions keep filling the open
 * package (up to `batch.maxTransactions`), so an outage does not turn into a
 * pile of tiny packages.
 *
 * It owns its backoff (the head package's next attempt time and the count of
 * consecutive failures) and ONE wake timer, armed for whichever comes first to
 * matter: the end of the backoff, or the end of the open package's flush
 * interval. The open package is sealed `batch.flushMs` after its first
 * transaction, once nothing older is queued, right before its first send
 * attempt (full packages are sealed by collect).
 */
import type { ExchangeConfig } from '../config/schema.js';
import type { Store } from '../store/store.js';
import { isTransportError, type FailureKind } from '../transports/errors.js';
import { UPCOMING_PACKAGES } from '../transports/transport.js';
import { failpoint } from '../util/failpoints.js';
import type { Logger } from '../util/logger.js';
import { SingleFlight } from '../util/single-flight.js';
import type { FlowHealth } from './flow-health.js';
import type { ProgressBoard } from './progress.js';
import { cutShortByAnswer, retryDecision, type Random } from './retry-policy.js';
import type { TransportSession } from './transport-session.js';

export interface PushFlowDeps {
  config: Pick<ExchangeConfig, 'batch' | 'schedule'>;
  store: Store;
  session: TransportSession;
  health: FlowHealth;
  log: Logger;
  signal: AbortSignal;
  /** For the retry policy's jitter (tests pass their own). */
  random?: Random;
  /** Where a drain's progress is shown (status, log, run --once's bar). */
  progress?: ProgressBoard;
}

export interface PushStats {
  attempts: { delivered: number; failed: number };
  transactionsSent: number;
  bytesSent: number;
}

export class PushFlow {
  private readonly flight = new SingleFlight(() => this.run());
  private wakeTimer?: NodeJS.Timeout;
  private stopping = false;
  /** Backoff: the head package's next attempt time (epoch ms, 0 = none) and consecutive failures. */
  private retryAt = 0;
  private failures = 0;
  /** The kind of the last failure, so a back office that answers again cuts only a connection backoff short. */
  private failureKind?: FailureKind;
  readonly stats: PushStats = { attempts: { delivered: 0, failed: 0 }, transactionsSent: 0, bytesSent: 0 };

  constructor(private readonly deps: PushFlowDeps) {}

  /** Runs the queue loop (coalescing triggers; never overlapping itself). */
  trigger(): Promise<void> {
    return this.flight.trigger();
  }

  /** Forgets the backoff and sends everything queued now. */
  retryNow(): Promise<void> {
    this.retryAt = 0;
    return this.flight.trigger();
  }

  /** run --once / exchange-now: seals what is open and sends everything, backoff or not. */
  runForced(): Promise<void> {
    return this.run({ force: true });
  }

  /** No new runs or wake-ups; a running loop ends after its current attempt. */
  stop(): void {
    this.stopping = true;
    if (this.wakeTimer) clearTimeout(this.wakeTimer);
  }

  idle(): Promise<void> {
    return this.flight.idle();
  }

  /** When the head package is tried next (epoch ms), if it is backing off. */
  get nextAttemptAt(): number | undefined {
    return this.retryAt > Date.now() ? this.retryAt : undefined;
  }

  get consecutiveFailures(): number {
    return this.failures;
  }

  /**
   * The back office answered (a pull succeeded): a push waiting out its backoff because the back office could
   * not be reached need not wait any longer. Errors the back office gave on purpose keep their backoff.
   */
  backOfficeAnswered(): void {
    if (this.retryAt === 0 || !cutShortByAnswer(this.failureKind)) return;
    this.deps.log.info('push.backoff.cut', { after: this.failureKind, consecutiveFailures: this.failures, note: 'the back office answers again: sending now' });
    this.retryAt = 0;
    this.wakeAt(Date.now());
  }

  /** Wakes the flow at `at` (a timer may fire a little before the wall clock gets there: run re-arms it). */
  private wakeAt(at: number): void {
    if (this.wakeTimer) clearTimeout(this.wakeTimer);
    if (this.stopping) return;
    this.wakeTimer = setTimeout(() => void this.flight.trigger(), Math.max(0, at - Date.now()));
  }

  private async run(opts: { force?: boolean } = {}): Promise<void> {
    const { store, session, log } = this.deps;
    if (!opts.force && Date.now() < this.retryAt) {
      // Backing off. Never return without a wake-up armed, or the queue would stall.
      this.wakeAt(this.retryAt + 1);
      return;
    }
    await session.exclusive(async () => {
      try {
        await this.pushQueue(opts);
      } finally {
        this.deps.progress?.end('backlog-drain');
        // The deliveries of this run go to the archive in one batch (see Store.checkpoint).
        await store.checkpoint().catch((e) => log.error('store.checkpoint.failed', { error: (e as Error).message, note: 'retried at the end of the next push run; the journal keeps every delivery meanwhile' }));
      }
    });
  }

  /** Pushes queued packages in order (sealing the open one when due) until the queue is empty or an attempt fails. */
  private async pushQueue(opts: { force?: boolean }): Promise<void> {
    const { store, config } = this.deps;
    for (let sent = 0; ; sent++) {
      if (this.stopping && !opts.force) return;
      let head = store.queued()[0]?.number;
      if (head === undefined) {
        const open = store.state.open;
        const age = open.startedAt ? Date.now() - Date.parse(open.startedAt) : 0;
        if (open.length === 0) return;
        if (!opts.force && age < config.batch.flushMs) {
          // Let it collect more receipts; wake up when its flush interval is over.
          this.wakeAt(Date.parse(open.startedAt!) + config.batch.flushMs + 1);
          return;
        }
        // `flush`: batch.flushMs is over; `now`: run --once / exchange-now sends what is open. (Full packages are sealed by collect.)
        const sealed = await store.seal(age >= config.batch.flushMs ? 'flush' : 'now');
        if (!sealed) return;
        head = sealed.number;
      }
      this.deps.progress?.report('backlog-drain', 'packages', sent, sent + store.queued().length);
      if (!(await this.pushOne(head))) return;
    }
  }

  /** One attempt at the head package. Returns true when the queue can move on (delivered, or quarantined as damaged). */
  private async pushOne(number: number): Promise<boolean> {
    const { store, session, log, signal } = this.deps;
    if (!(await store.verifyOrQuarantine(number))) return true;
    const meta = await store.beginAttempt(number);
    const started = Date.now();
    const upcoming = store.queuedAfter(number, UPCOMING_PACKAGES).map((m) => store.outgoing(m));
    try {
      const transport = await session.ensureOpen();
      const r = await transport.push(store.outgoing(meta), {
        notes: structuredClone(meta.notes),
        saveNotes: (notes, ahead) => store.saveNotes(number, notes, ahead),
        log,
        signal,
        upcoming,
      });
      failpoint('push.after-answer');
      const durationMs = Date.now() - started;
      await store.delivered(number, r, { attempt: meta.attempts, transactions: meta.transactions, bytes: meta.bytes, durationMs });
      this.failures = 0;
      this.retryAt = 0;
      this.failureKind = undefined;
      this.stats.attempts.delivered++;
      this.stats.transactionsSent += Math.max(0, meta.transactions);
      this.stats.bytesSent += meta.bytes;
      this.deps.health.recovered();
      log.info('push.delivered', {
        package: number,
        transactions: meta.transactions,
        bytes: meta.bytes,
        attempt: meta.attempts,
        remoteName: r.remoteName,
        durationMs,
        outcome: r.outcome,
      });
      return true;
    } catch (e) {
      const durationMs = Date.now() - started;
      this.failures++;
      this.stats.attempts.failed++;
      const decision = retryDecision(e, this.failures, this.deps.config.schedule.retry, this.deps.random);
      this.retryAt = Date.now() + decision.delayMs;
      this.failureKind = decision.kind;
      this.wakeAt(this.retryAt);
      const message = (e as Error).message;
      const problems = isTransportError(e) ? e.details.shiftProblems : undefined;
      await store
        .recordPushFailure(message, problems?.length ? { number, problems } : undefined)
        .catch((err) => log.error('store.state.save-failed', { error: (err as Error).message, note: "status shows the previous push outcome (and a held shift's anomalies miss why) until the next one is saved" }));
      await store
        .failAttempt(number, message, {
          attempt: meta.attempts,
          outcome: decision.outcome,
          error: message,
          errorKind: decision.kind,
          ...(isTransportError(e) && e.details.serverAnswer ? { serverAnswer: e.details.serverAnswer } : {}),
          transactions: meta.transactions,
          bytes: meta.bytes,
          durationMs,
        })
        .catch((err) => log.error('store.history.failed', { error: (err as Error).message }));
      this.deps.health.failed(e, decision, { package: number, attempt: meta.attempts, retryInMs: decision.delayMs, durationMs });
      // A dead connection is reopened on the next attempt.
      if (decision.reconnect) await session.reconnect();
      return false;
    }
  }
}
