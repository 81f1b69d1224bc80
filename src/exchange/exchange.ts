/**
 * One exchange: one POS, one till folder, one transport, one data folder.
 * It runs four flows, each never overlapping itself:
 *
 * - collect: take Kassir's finished report files into packages (till/collect.ts);
 * - pull: fetch reference parts and requests (pull-flow.ts);
 * - deliver: hand staged parts to Kassir when it has taken the previous file (till/deliver.ts);
 * - push: send sealed packages strictly in order, with backoff (push-flow.ts).
 *
 * When they run is the scheduler's job (scheduler.ts); how failures are
 * retried is the retry policy's (retry-policy.ts). Pull and push share the
 * transport and never run at the same time (transport-session.ts).
 */
import { PROGRESS_INTERVAL_MS, type ExchangeConfig } from '../config/schema.js';
import { statusOf, type StatusReport } from '../status.js';
import type { HeldFile } from '../till/collect.js';
import type { Store } from '../store/store.js';
import type { PackageMeta } from '../store/state.js';
import { TillDeliverer } from '../till/deliver.js';
import { SprScans } from '../till/spr-scans.js';
import { ReportCollector } from '../till/collect.js';
import { TransportError } from '../transports/errors.js';
import type { Transport } from '../transports/transport.js';
import type { Logger } from '../util/logger.js';
import { SingleFlight } from '../util/single-flight.js';
import { STOP_TIMINGS, stopStep, within } from '../util/stop-step.js';
import { FlowHealth, LocalErrors } from './flow-health.js';
import type { ExchangeLive } from './live.js';
import type { OnceResult } from './once.js';
import { ProgressBoard } from './progress.js';
import { PullFlow } from './pull-flow.js';
import { PushFlow } from './push-flow.js';
import type { Random } from './retry-policy.js';
import { Scheduler } from './scheduler.js';
import { TransportSession } from './transport-session.js';

export class Exchange {
  private readonly collector: ReportCollector;
  private readonly deliverer: TillDeliverer;
  /** Scans of staged reference parts, from the pull flow to the merge (a part is scanned once). */
  private readonly sprScans = new SprScans();
  private readonly session: TransportSession;
  private readonly pull: PullFlow;
  private readonly push: PushFlow;
  private readonly scheduler: Scheduler;
  private readonly collectFlight = new SingleFlight(() => this.collectNow());
  private readonly pullFlight = new SingleFlight(() => this.pullNow());
  private readonly deliverFlight = new SingleFlight(() => this.deliverNow());
  private readonly abort = new AbortController();
  private stopped?: Promise<void>;
  private readonly localErrors = new LocalErrors();
  private readonly pullHealth: FlowHealth;
  private readonly pushHealth: FlowHealth;
  private lastTillWaiting = 0;
  private lastHeld = 0;
  /** Why the last collect pass failed, until one succeeds: what it left undone is unknown, so `run --once` may not say "done". */
  private lastCollectError: string | undefined;
  /** Long work in flight (reference downloads, backlog drains): for status, the log and run --once's bar. */
  readonly progress: ProgressBoard;

  constructor(
    private readonly config: ExchangeConfig,
    /** The exchange's durable data folder: its own; others see what `status`, `queued` and `resend` give. */
    private readonly store: Store,
    transport: Transport,
    private readonly log: Logger,
    opts: {
      /** The retry policy's jitter (tests pass their own). */
      random?: Random;
      /** How often a long activity writes its `progress` line (`log.progressIntervalMs`). */
      progressLogMs?: number;
    } = {},
  ) {
    const random = opts.random;
    this.progress = new ProgressBoard(log, opts.progressLogMs ?? PROGRESS_INTERVAL_MS);
    this.deliverer = new TillDeliverer(
      { tillDir: config.till.dir, referenceFile: config.till.referenceFile, requestFile: config.till.requestFile, encoding: config.till.referenceEncoding },
      store,
      log,
      this.sprScans,
    );
    this.collector = new ReportCollector(
      { tillDir: config.till.dir, reportFiles: config.till.reportFiles, settleMs: config.till.settleMs,
        openReceiptMs: config.till.openReceiptMs,
        maxTransactions: config.batch.maxTransactions,
        requests: this.deliverer.requests,
        shifts: { pos: config.pos, layout: config.shifts, sealOnShiftClose: config.batch.sealOnShiftClose },
        // Seal and send at once; releasing the taken file need not come first.
        onUnitsTaken: () => void this.push.trigger(),
      },
      store,
      log,
    );
    this.session = new TransportSession(transport);
    this.pullHealth = new FlowHealth('pull', log, this.localErrors);
    this.pushHealth = new FlowHealth('push', log, this.localErrors);
    this.push = new PushFlow({ config, store, session: this.session, health: this.pushHealth, log, signal: this.abort.signal, progress: this.progress, ...(random ? { random } : {}) });
    this.pull = new PullFlow({
      store,
      session: this.session,
      health: this.pullHealth,
      log,
      signal: this.abort.signal,
      retry: config.schedule.retry,
      onAnswered: () => this.push.backOfficeAnswered(),
      scans: this.sprScans,
      progress: this.progress,
    });
    const cleanup = () => void store.cleanup().catch((e) => log.error('store.cleanup.failed', { error: (e as Error).message }));
    this.scheduler = new Scheduler(
      config,
      {
        collect: () => void this.collectFlight.trigger(),
        deliver: () => void this.deliverFlight.trigger(),
        pull: () => void this.pullFlight.trigger(),
        cleanup,
      },
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
    await this.scheduler.start();
    void this.store.cleanup().catch((e) => this.log.error('store.cleanup.failed', { error: (e as Error).message }));
    void this.collectFlight.trigger();
    void this.pullFlight.trigger();
    void this.push.trigger();
  }

  /**
   * Stops all flows, waits for the ones running, closes the transport and the
   * store, all within `deadlineMs`. Every caller gets the same stop. Work still
   * running when its share of the time is over is aborted (the transport's
   * requests and sessions with it); it resumes at the next start. Each step is
   * isolated: a failing one is logged and the store is still closed (the lock
   * released).
   */
  stop(deadlineMs: number): Promise<void> {
    this.stopped ??= this.stopOnce(deadlineMs);
    return this.stopped;
  }

  private async stopOnce(deadlineMs: number): Promise<void> {
    this.push.stop();
    const deadline = Date.now() + deadlineMs;
    // Closing the transport and the store is kept a share of the time, whatever the flows do.
    const closing = Math.min(STOP_TIMINGS.closingMs, deadlineMs / 3);
    const log = this.log;
    await this.scheduler.stop(deadline - closing);
    const settle = Promise.all([this.collectFlight.idle(), this.pullFlight.idle(), this.deliverFlight.idle(), this.push.idle()]);
    if (!(await within(settle, deadline - closing - Date.now()))) {
      this.log.warn('exchange.stop.deadline', { deadlineMs, note: 'aborting work in progress; it is resumed at the next start' });
      this.abort.abort(new TransportError('unreachable', 'aborted: the agent is stopping'));
      await within(settle, closing / 3);
    }
    if (this.session.isOpen) await stopStep(log, 'transport', deadline - closing / 3, () => this.session.close());
    await stopStep(log, 'store', deadline, () => this.store.close());
  }

  // -------------------------------------------------------------- on demand

  get pos(): number {
    return this.config.pos;
  }

  live(): ExchangeLive {
    const nextAttemptAt = this.push.nextAttemptAt;
    const pull = this.pullHealth;
    const push = this.pushHealth;
    return {
      pos: this.config.pos,
      transport: this.session.type,
      ...(nextAttemptAt !== undefined ? { nextAttemptAt: new Date(nextAttemptAt).toISOString() } : {}),
      consecutiveFailures: this.push.consecutiveFailures,
      pullFailing: pull.failing,
      pushFailing: push.failing,
      ...(pull.lastError !== undefined ? { lastPullError: pull.lastError } : {}),
      ...(push.lastError !== undefined ? { lastPushError: push.lastError } : {}),
      ...(pull.lastErrorKind !== undefined ? { lastPullErrorKind: pull.lastErrorKind } : {}),
      ...(push.lastErrorKind !== undefined ? { lastPushErrorKind: push.lastErrorKind } : {}),
      attempts: { ...this.push.stats.attempts },
      transactionsSent: this.push.stats.transactionsSent,
      bytesSent: this.push.stats.bytesSent,
      ...(this.localErrors.last !== undefined ? { lastLocalError: this.localErrors.last } : {}),
      inFlight: this.progress.snapshot(),
    };
  }

  /** Report files the collector holds in the till folder now. */
  heldFiles(): HeldFile[] {
    return this.collector.heldFiles();
  }

  /** `status` of this exchange as it runs: the data folder's view, the held files and what only the running exchange knows. */
  status(now = Date.now()): StatusReport {
    return { ...statusOf(this.config, this.store, now, this.heldFiles()), live: this.live() };
  }

  /** Sealed packages waiting for delivery. */
  get queued(): number {
    return this.store.queued().length;
  }

  /** `resend`: puts an archived package back in the queue under a new number and sends it. */
  async resend(pkg: number): Promise<PackageMeta> {
    const meta = await this.store.requeueArchived(pkg);
    void this.push.trigger();
    return meta;
  }

  /** Forgets the backoff and sends everything queued now. */
  retryNow(): Promise<void> {
    return this.push.retryNow();
  }

  /** One full cycle: collect, pull, deliver, seal, push everything pending. */
  async runOnce(): Promise<OnceResult> {
    const result: OnceResult = { queued: 0, openTransactions: 0, inbox: 0, tillWaiting: 0, held: 0 };
    // Wait for report files Kassir is still writing, and try a failed pass again (a file Windows reports
    // busy for a moment), but not forever: what is still waiting or failing then makes the result pending.
    const deadline = Date.now() + this.config.till.settleMs + 1_000;
    for (;;) {
      await this.collectFlight.trigger();
      if ((this.lastTillWaiting === 0 && this.lastCollectError === undefined) || Date.now() >= deadline) break;
      await new Promise((r) => setTimeout(r, Math.min(200, Math.max(this.config.till.settleMs, 50))));
    }
    if (this.lastCollectError !== undefined) result.collectError = this.lastCollectError;
    await this.pullNow();
    if (this.pullHealth.failing) result.pullError = this.pullHealth.lastError;
    await this.deliverFlight.trigger();
    await this.push.runForced();
    if (this.pushHealth.failing) result.pushError = this.pushHealth.lastError;
    Object.assign(result, this.store.backlog());
    result.tillWaiting = this.lastTillWaiting;
    result.held = this.lastHeld;
    return result;
  }

  // ------------------------------------------------------------------ flows

  private async collectNow(): Promise<void> {
    try {
      await this.deliverer.noticeTakenRequests();
      const r = await this.collector.collect();
      this.lastCollectError = undefined;
      this.lastTillWaiting = r.waiting;
      this.lastHeld = r.held;
      if (r.dueAt !== undefined) this.scheduler.collectAt(r.dueAt);
      if (r.transactions > 0 || r.sealed.length > 0) void this.push.trigger();
    } catch (e) {
      // The same failure again (the next scan, or run --once trying again) is one event: logged at error once.
      const again = this.lastCollectError === (e as Error).message;
      this.lastCollectError = (e as Error).message;
      this.localErrors.note(e);
      this.log[again ? 'debug' : 'error']('till.collect.failed', { error: (e as Error).message, code: (e as NodeJS.ErrnoException).code, ...(again ? { again } : {}), note: 'the report files stay in the till folder; retried at the next scan' });
    }
  }

  private async pullNow(): Promise<void> {
    await this.pull.run();
    await this.deliverFlight.trigger();
  }

  private async deliverNow(): Promise<void> {
    try {
      await this.deliverer.deliver();
    } catch (e) {
      this.localErrors.note(e);
      this.log.error('till.deliver.failed', { error: (e as Error).message, code: (e as NodeJS.ErrnoException).code, note: 'the parts stay staged; retried at the next scan' });
    }
  }
}
