/**
 * One exchange: one POS, one till folder, one transport, one data folder.
 * It runs four flows, each never overlapping itself:
 *
 * - collect: take Kassir's finished report files into packages
 *   (chokidar events as hints, plus a rescan every `till.rescanMs`);
 * - pull: fetch reference parts and requests (on the `schedule.pull` cron and on demand);
 * - deliver: hand staged parts to Kassir when it has taken the previous file;
 * - push: send sealed packages strictly in order, one at a time; on failure the
 *   head package is retried with capped exponential backoff and jitter, never
 *   skipped, never given up. Meanwhile new transactions keep filling the open
 *   package (up to `batch.maxTransactions`), so an outage does not turn into a
 *   pile of tiny packages.
 *
 * Sealing: the open package is sealed when it is full (collect), and otherwise
 * `batch.flushMs` after its first transaction, once nothing older is queued,
 * right before its first send attempt. A sealed package never changes.
 * Pull and push share the transport and never run at the same time.
 */
import { join } from 'node:path';
import { watch, type FSWatcher } from 'chokidar';
import type { ScheduledTask } from 'node-cron';
import { parseInterval } from '../config/interval.js';
import type { ExchangeConfig } from '../config/schema.js';
import { FormatError } from '../formats/errors.js';
import { inspectSprPart } from '../formats/spr.js';
import type { HeldFile } from '../status.js';
import type { Store } from '../store/store.js';
import { TillDeliverer } from '../till/deliver.js';
import { ReportCollector, TAKEN_DIR } from '../till/collect.js';
import { isTransportError, TransportError } from '../transports/errors.js';
import { UPCOMING_PACKAGES, type IncomingPart, type Transport } from '../transports/transport.js';
import type { Logger } from '../util/logger.js';
import { failpoint } from '../util/failpoints.js';
import { Mutex } from '../util/mutex.js';
import { SingleFlight } from '../util/single-flight.js';
import { stopStep, within } from '../util/stop-step.js';
import { retryDelay, type RetryClass } from './backoff.js';

export interface OnceResult {
  /** Sealed packages still waiting for delivery. */
  queued: number;
  /** Transactions still in the open package. */
  openTransactions: number;
  /** Incoming parts not yet delivered to the till (Kassir has not taken the previous file). */
  inbox: number;
  /** Report files still in the till folder (not finished, or locked by Kassir). */
  tillWaiting: number;
  /** Report files held in the till folder: they end inside an open receipt (see status). */
  held: number;
  pullError?: string;
  pushError?: string;
}

interface FlowHealth {
  failing: boolean;
  lastError?: string;
  /** The TransportError kind of lastError ('local' for a failure on this machine): monitoring maps it. */
  lastErrorKind?: string;
}

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
  lastPullErrorKind?: string;
  lastPushErrorKind?: string;
  /** Since this process started. */
  attempts: { delivered: number; failed: number };
  transactionsSent: number;
  bytesSent: number;
  /** The last failure on this machine's side (data folder full, till folder unreadable), with its time. */
  lastLocalError?: string;
}

export class Exchange {
  private readonly collector: ReportCollector;
  private readonly deliverer: TillDeliverer;
  private readonly transportLock = new Mutex();
  private readonly collectFlight = new SingleFlight(() => this.collectNow());
  private readonly pullFlight = new SingleFlight(() => this.pullNow());
  private readonly deliverFlight = new SingleFlight(() => this.deliverNow());
  private readonly pushFlight = new SingleFlight(() => this.pushNow());
  private readonly abort = new AbortController();
  private watcher?: FSWatcher;
  private cronTask?: ScheduledTask;
  private timers = new Set<NodeJS.Timeout>();
  private retryTimer?: NodeJS.Timeout;
  private flushTimer?: NodeJS.Timeout;
  private transportOpen = false;
  private stopping = false;
  private stopped?: Promise<void>;
  /** Push backoff: the head package's next attempt time and consecutive failures. */
  private retryAt = 0;
  private failures = 0;
  /** The kind of the last push failure, so a back office that answers again cuts only a connection backoff short. */
  private pushFailureKind?: string;
  private readonly health = { pull: { failing: false } as FlowHealth, push: { failing: false } as FlowHealth };
  private lastTillWaiting = 0;
  private lastHeld = 0;
  private readonly stats = { attempts: { delivered: 0, failed: 0 }, transactionsSent: 0, bytesSent: 0 };
  private lastLocalError?: string;

  constructor(
    private readonly config: ExchangeConfig,
    private readonly store: Store,
    private readonly transport: Transport,
    private readonly log: Logger,
  ) {
    this.collector = new ReportCollector(
      { tillDir: config.till.dir, reportFiles: config.till.reportFiles, settleMs: config.till.settleMs,
        openReceiptMs: config.till.openReceiptMs,
        maxTransactions: config.batch.maxTransactions,
        requestFile: join(config.till.dir, config.till.requestFile!),
      },
      store,
      log,
    );
    this.deliverer = new TillDeliverer(
      { tillDir: config.till.dir, referenceFile: config.till.referenceFile, requestFile: config.till.requestFile!, encoding: config.till.referenceEncoding },
      store,
      log,
    );
  }

  // ---------------------------------------------------------------- lifecycle

  /** Opens the store (with recovery) and finishes interrupted deliveries. Does not start timers. */
  async prepare(): Promise<void> {
    await this.store.open();
    await this.deliverer.recover();
  }

  /** Starts the daemon flows: watcher, rescan, cron, and a first full cycle. */
  async start(): Promise<void> {
    this.watcher = watch(this.config.till.dir, {
      depth: 0,
      ignoreInitial: true,
      ignored: (p: string) => p.includes(TAKEN_DIR.split(/[\\/]/)[0]!),
      awaitWriteFinish: false,
    });
    this.watcher.on('all', () => this.later(this.config.till.settleMs + 50, () => this.collectFlight.trigger()));
    this.watcher.on('error', (e) => this.log.warn('till.watch.error', { error: (e as Error).message, note: 'the periodic rescan still runs' }));
    this.every(this.config.till.rescanMs, () => {
      void this.collectFlight.trigger();
      void this.deliverFlight.trigger();
    });
    this.every(6 * 3_600_000, () => void this.store.cleanup().catch((e) => this.log.error('store.cleanup.failed', { error: (e as Error).message })));
    const pullEvery = parseInterval(this.config.schedule.pull);
    if (pullEvery !== undefined) this.every(pullEvery, () => void this.pullFlight.trigger());
    else {
      // Loaded only for a cron expression (see config/interval.ts).
      const { default: cron } = await import('node-cron');
      if (!this.stopping) this.cronTask = cron.schedule(this.config.schedule.pull, () => void this.pullFlight.trigger(), { noOverlap: true, name: 'pull' });
    }
    void this.store.cleanup().catch((e) => this.log.error('store.cleanup.failed', { error: (e as Error).message }));
    void this.collectFlight.trigger();
    void this.pullFlight.trigger();
    void this.pushFlight.trigger();
  }

  /**
   * Stops all flows, waits for the ones running, closes the transport and the
   * store, all within `deadlineMs`. Every caller gets the same stop. Work still
   * running when its share of the time is over is aborted (the transport's
   * requests and sessions with it); it resumes at the next start. Each step is
   * isolated: a failing one is logged and the store is still closed (the lock
   * released).
   */
  stop(deadlineMs = 10_000): Promise<void> {
    this.stopped ??= this.stopOnce(deadlineMs);
    return this.stopped;
  }

  private async stopOnce(deadlineMs: number): Promise<void> {
    this.stopping = true;
    const deadline = Date.now() + deadlineMs;
    // Closing the transport and the store is kept a share of the time, whatever the flows do.
    const closing = Math.min(3_000, deadlineMs / 3);
    const log = this.log;
    await stopStep(log, 'cron', deadline - closing, () => this.cronTask?.stop());
    await stopStep(log, 'till watcher', deadline - closing, () => this.watcher?.close());
    for (const t of this.timers) clearTimeout(t);
    if (this.retryTimer) clearTimeout(this.retryTimer);
    if (this.flushTimer) clearTimeout(this.flushTimer);
    const settle = Promise.all([this.collectFlight.idle(), this.pullFlight.idle(), this.deliverFlight.idle(), this.pushFlight.idle()]);
    if (!(await within(settle, deadline - closing - Date.now()))) {
      this.log.warn('exchange.stop.deadline', { deadlineMs, note: 'aborting work in progress; it is resumed at the next start' });
      this.abort.abort(new TransportError('unreachable', 'aborted: the agent is stopping'));
      await within(settle, closing / 3);
    }
    if (this.transportOpen) await stopStep(log, 'transport', deadline - closing / 3, () => this.transport.close());
    this.transportOpen = false;
    await stopStep(log, 'store', deadline, () => this.store.close());
  }

  private every(ms: number, fn: () => void): void {
    const tick = () => {
      if (this.stopping) return;
      fn();
      this.later(ms, tick);
    };
    this.later(ms, tick);
  }

  private later(ms: number, fn: () => unknown): void {
    if (this.stopping) return;
    const t = setTimeout(() => {
      this.timers.delete(t);
      if (!this.stopping) void fn();
    }, ms);
    this.timers.add(t);
  }

  // -------------------------------------------------------------- on demand

  get pos(): number {
    return this.config.pos;
  }

  /** The exchange's store (for status and `resend`). */
  get data(): Store {
    return this.store;
  }

  live(): ExchangeLive {
    return {
      pos: this.config.pos,
      transport: this.transport.type,
      ...(this.retryAt > Date.now() ? { nextAttemptAt: new Date(this.retryAt).toISOString() } : {}),
      consecutiveFailures: this.failures,
      pullFailing: this.health.pull.failing,
      pushFailing: this.health.push.failing,
      ...(this.health.pull.lastError !== undefined ? { lastPullError: this.health.pull.lastError } : {}),
      ...(this.health.push.lastError !== undefined ? { lastPushError: this.health.push.lastError } : {}),
      ...(this.health.pull.lastErrorKind !== undefined ? { lastPullErrorKind: this.health.pull.lastErrorKind } : {}),
      ...(this.health.push.lastErrorKind !== undefined ? { lastPushErrorKind: this.health.push.lastErrorKind } : {}),
      attempts: { ...this.stats.attempts },
      transactionsSent: this.stats.transactionsSent,
      bytesSent: this.stats.bytesSent,
      ...(this.lastLocalError !== undefined ? { lastLocalError: this.lastLocalError } : {}),
    };
  }

  private localError(e: unknown): void {
    this.lastLocalError = `${new Date().toISOString()} ${(e as Error).message}`;
  }

  /** Report files the collector holds in the till folder now. */
  heldFiles(): HeldFile[] {
    return this.collector.heldFiles();
  }

  /** Pushes now whatever is queued (after `resend`, for instance). */
  triggerPush(): Promise<void> {
    return this.pushFlight.trigger();
  }

  /** Forgets the backoff and sends everything queued now. */
  retryNow(): Promise<void> {
    this.retryAt = 0;
    return this.pushFlight.trigger();
  }

  /** One full cycle: collect, pull, deliver, seal, push everything pending. */
  async runOnce(): Promise<OnceResult> {
    const result: OnceResult = { queued: 0, openTransactions: 0, inbox: 0, tillWaiting: 0, held: 0 };
    // Wait for report files Kassir is still writing, but not forever.
    const deadline = Date.now() + this.config.till.settleMs + 1_000;
    for (;;) {
      await this.collectFlight.trigger();
      if (this.lastTillWaiting === 0 || Date.now() >= deadline) break;
      await new Promise((r) => setTimeout(r, Math.min(200, this.config.till.settleMs)));
    }
    await this.pullNow();
    if (this.health.pull.failing) result.pullError = this.health.pull.lastError;
    await this.deliverFlight.trigger();
    await this.pushNow({ force: true });
    if (this.health.push.failing) result.pushError = this.health.push.lastError;
    result.queued = this.store.queued().length;
    result.openTransactions = this.store.state.open.pkg.transactions;
    result.inbox = this.store.state.inbox.length;
    result.tillWaiting = this.lastTillWaiting;
    result.held = this.lastHeld;
    return result;
  }

  // ------------------------------------------------------------------ flows

  private async collectNow(): Promise<void> {
    try {
      await this.deliverer.noticeTakenRequests();
      const r = await this.collector.collect();
      this.lastTillWaiting = r.waiting;
      this.lastHeld = r.held;
      if (r.transactions > 0 || r.sealed.length > 0) void this.pushFlight.trigger();
    } catch (e) {
      this.localError(e);
      this.log.error('till.collect.failed', { error: (e as Error).message, code: (e as NodeJS.ErrnoException).code, note: 'the report files stay in the till folder; retried at the next scan' });
    }
  }

  private async ensureOpen(): Promise<void> {
    if (this.transportOpen) return;
    await this.transport.open();
    this.transportOpen = true;
  }

  private async pullNow(): Promise<void> {
    await this.transportLock.run(async () => {
      const started = Date.now();
      try {
        await this.ensureOpen();
        const r = await this.transport.pull({
          tmpDir: this.store.tmpDir,
          cursor: structuredClone(this.store.state.cursor),
          stage: async (parts, cursor) => {
            await this.store.stage(parts, cursor, (path, part) => this.checkPart(path, part));
            failpoint('pull.after-stage');
          },
          quarantine: async (raw, remoteName, reason, cursor) => {
            await this.store.quarantineIncoming(raw, remoteName, reason, cursor);
          },
          log: this.log,
          signal: this.abort.signal,
        });
        await this.store.commit((d) => {
          d.lastPull = { at: new Date().toISOString(), ok: true };
          d.lastPullOk = d.lastPull.at;
        });
        this.recovered('pull');
        this.backOfficeAnswered();
        if (r.parts > 0) this.log.info('pull.staged', { parts: r.parts, bytes: r.bytes, durationMs: Date.now() - started, outcome: 'ok' });
      } catch (e) {
        await this.failed('pull', e, { durationMs: Date.now() - started });
        await this.store
          .commit((d) => {
            d.lastPull = { at: new Date().toISOString(), ok: false, error: (e as Error).message };
          })
          .catch(() => undefined);
      }
    });
    await this.deliverFlight.trigger();
  }

  /** A staged part that cannot be read is quarantined (the store does that when this throws). */
  private async checkPart(path: string, part: IncomingPart): Promise<void> {
    if (part.kind !== 'spr') return;
    try {
      await inspectSprPart(path, part.remoteName);
    } catch (e) {
      if (e instanceof FormatError) throw e;
      throw new FormatError(part.remoteName, undefined, (e as Error).message);
    }
  }

  private async deliverNow(): Promise<void> {
    try {
      await this.deliverer.deliver();
    } catch (e) {
      this.localError(e);
      this.log.error('till.deliver.failed', { error: (e as Error).message, code: (e as NodeJS.ErrnoException).code, note: 'the parts stay staged; retried at the next scan' });
    }
  }

  /** Wakes the push flow at `at` (a timer may fire a little before the wall clock gets there: pushNow re-arms it). */
  private armRetry(at: number): void {
    if (this.retryTimer) clearTimeout(this.retryTimer);
    if (this.stopping) return;
    this.retryTimer = setTimeout(() => void this.pushFlight.trigger(), Math.max(0, at - Date.now()));
  }

  private armFlush(at: number): void {
    if (this.flushTimer) clearTimeout(this.flushTimer);
    if (this.stopping) return;
    this.flushTimer = setTimeout(() => void this.pushFlight.trigger(), Math.max(0, at - Date.now()));
  }

  private async pushNow(opts: { force?: boolean } = {}): Promise<void> {
    if (!opts.force && Date.now() < this.retryAt) {
      // Backing off. Never return without a wake-up armed, or the queue would stall.
      this.armRetry(this.retryAt + 1);
      return;
    }
    await this.transportLock.run(async () => {
      try {
        await this.pushQueue(opts);
      } finally {
        // The deliveries of this run go to the archive in one batch (see Store.checkpoint).
        await this.store.checkpoint().catch((e) => this.log.error('store.checkpoint.failed', { error: (e as Error).message, note: 'retried at the end of the next push run; the journal keeps every delivery meanwhile' }));
      }
    });
  }

  /** Pushes queued packages in order (sealing the open one when due) until the queue is empty or an attempt fails. */
  private async pushQueue(opts: { force?: boolean }): Promise<void> {
    for (;;) {
      if (this.stopping && !opts.force) return;
      let head = this.store.queued()[0]?.number;
      if (head === undefined) {
        const open = this.store.state.open;
        const age = open.startedAt ? Date.now() - Date.parse(open.startedAt) : 0;
        if (open.length === 0) return;
        if (!opts.force && age < this.config.batch.flushMs) {
          // Let it collect more receipts; wake up when its flush interval is over.
          this.armFlush(Date.parse(open.startedAt!) + this.config.batch.flushMs + 1);
          return;
        }
        const sealed = await this.store.seal();
        if (!sealed) return;
        // `flush`: batch.flushMs is over; `now`: run --once / exchange-now sends what is open. (Full packages are sealed by collect.)
        const reason = age >= this.config.batch.flushMs ? 'flush' : 'now';
        this.log.info('package.sealed', { package: sealed.number, transactions: sealed.transactions, bytes: sealed.bytes, reason });
        head = sealed.number;
      }
      if (!(await this.pushOne(head))) return;
    }
  }

  /** One attempt at the head package. Returns true when the queue can move on (delivered, or quarantined as damaged). */
  private async pushOne(number: number): Promise<boolean> {
    if (!(await this.store.verifyOrQuarantine(number))) return true;
    const meta = await this.store.beginAttempt(number);
    const started = Date.now();
    const upcoming = this.store.queuedAfter(number, UPCOMING_PACKAGES).map((m) => this.store.outgoing(m));
    try {
      await this.ensureOpen();
      const r = await this.transport.push(this.store.outgoing(meta), {
        notes: structuredClone(meta.notes),
        saveNotes: (notes) => this.store.saveNotes(number, notes),
        log: this.log,
        signal: this.abort.signal,
        upcoming,
      });
      failpoint('push.after-answer');
      const durationMs = Date.now() - started;
      await this.store.delivered(number, r, { attempt: meta.attempts, transactions: meta.transactions, bytes: meta.bytes, durationMs });
      this.failures = 0;
      this.retryAt = 0;
      this.pushFailureKind = undefined;
      this.stats.attempts.delivered++;
      this.stats.transactionsSent += Math.max(0, meta.transactions);
      this.stats.bytesSent += meta.bytes;
      this.recovered('push');
      this.log.info('push.delivered', {
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
      const kind = isTransportError(e) ? e.kind : 'local';
      const cls: RetryClass = isTransportError(e) ? (e.kind === 'busy' ? 'waiting' : e.needsOperator ? 'operator' : 'normal') : 'normal';
      this.failures++;
      this.stats.attempts.failed++;
      const delay = retryDelay(this.failures, cls, this.config.schedule.retry);
      this.retryAt = Date.now() + delay;
      this.pushFailureKind = kind;
      this.armRetry(this.retryAt);
      const message = (e as Error).message;
      await this.store
        .commit((d) => {
          d.lastPush = { at: new Date().toISOString(), ok: false, error: message };
        })
        .catch(() => undefined);
      await this.store
        .failAttempt(number, message, {
          attempt: meta.attempts,
          outcome: kind === 'busy' ? 'waiting' : 'failed',
          error: message,
          errorKind: kind,
          ...(isTransportError(e) && e.details.serverAnswer ? { serverAnswer: e.details.serverAnswer } : {}),
          transactions: meta.transactions,
          bytes: meta.bytes,
          durationMs,
        })
        .catch((err) => this.log.error('store.history.failed', { error: (err as Error).message }));
      await this.failed('push', e, { package: number, attempt: meta.attempts, retryInMs: delay, durationMs });
      if (e instanceof TransportError && (e.kind === 'unreachable' || e.kind === 'timeout')) {
        // A dead connection is reopened on the next attempt.
        await this.transport.close().catch(() => undefined);
        this.transportOpen = false;
      }
      return false;
    }
  }

  /**
   * The back office answered (a pull succeeded): a push waiting out its backoff because the back office could
   * not be reached need not wait any longer. Errors the back office gave on purpose keep their backoff.
   */
  private backOfficeAnswered(): void {
    if (this.retryAt === 0 || (this.pushFailureKind !== 'unreachable' && this.pushFailureKind !== 'timeout')) return;
    this.log.info('push.backoff.cut', { after: this.pushFailureKind, consecutiveFailures: this.failures, note: 'the back office answers again: sending now' });
    this.retryAt = 0;
    this.armRetry(Date.now());
  }

  /** Logs a failure: a full line when a flow starts failing or the error changes, a debug line while it keeps failing alike. */
  private async failed(flow: 'pull' | 'push', e: unknown, fields: Record<string, unknown>): Promise<void> {
    const h = this.health[flow];
    const message = (e as Error).message;
    const kind = isTransportError(e) ? e.kind : 'local';
    const line = { ...fields, errorKind: kind, error: message, outcome: kind === 'busy' ? 'waiting' : 'failed' };
    if (!h.failing || h.lastError !== message) {
      if (kind === 'busy') this.log.info(`${flow}.waiting`, line);
      else if (isTransportError(e) && e.needsOperator) this.log.error(`${flow}.failed`, { ...line, note: 'needs a person: retried slowly' });
      else this.log.warn(`${flow}.failed`, line);
    } else {
      this.log.debug(`${flow}.failed`, line);
    }
    if (!isTransportError(e)) {
      this.localError(e);
      this.log.error(`${flow}.error`, { error: message, stack: (e as Error).stack?.split('\n').slice(0, 4).join(' | ') });
    }
    h.failing = true;
    h.lastError = message;
    h.lastErrorKind = kind;
  }

  private recovered(flow: 'pull' | 'push'): void {
    const h = this.health[flow];
    if (h.failing) this.log.info(`${flow}.recovered`, { after: h.lastError, outcome: 'ok' });
    h.failing = false;
    h.lastError = undefined;
    h.lastErrorKind = undefined;
  }
}
