/**
 * The agent: one Exchange per configured till, each built and started in its
 * own try/catch so one failing exchange never stops the others (it is tried
 * again every 30 s), plus the control channel and the metrics endpoint.
 * Constructors only store dependencies; `start()` does the work.
 */
import { tillDirProblem } from './config/check.js';
import type { LoadedConfig } from './config/load.js';
import type { ExchangeConfig } from './config/schema.js';
import { controlSocketPath } from './control/socket-path.js';
import { ControlServer, ControlSocketNotPrivateError } from './control/server.js';
import { Exchange } from './exchange/exchange.js';
import { failedOnce, pending, type ExchangeOnceResult } from './exchange/once.js';
import type { ProgressSnapshot } from './exchange/progress.js';
import type { ClosableLogger } from './log.js';
import { MetricsServer, metricsText, type MetricsSource } from './metrics.js';
import { TextfileExport } from './metrics/textfile.js';
import { dataFreeBytes, type StatusReport } from './status.js';
import { DataDirLockedError } from './store/lock.js';
import { Store } from './store/store.js';
import { createTransport } from './transports/create.js';
import type { Logger } from './util/logger.js';
import { NotFoundError } from './util/not-found.js';
import { STOP_TIMINGS, stopStep } from './util/stop-step.js';

interface Slot {
  config: ExchangeConfig;
  log: Logger;
  exchange?: Exchange;
  /** Why it is not running, when it failed to start. */
  error?: Error;
  retryTimer?: NodeJS.Timeout;
  /** A start (the first, or a retry) under way: the stop waits for it, so nothing starts or logs after the stop. */
  starting?: Promise<void>;
}

export const EXCHANGE_RESTART_MS = 30_000;

export class Agent {
  private readonly slots: Slot[];
  private control?: ControlServer;
  private metrics?: MetricsServer;
  private textfile?: TextfileExport;
  private stopping = false;
  private stopped?: Promise<void>;
  metricsPort?: number;
  /** Set by run --once on a terminal: every change of an exchange's work in flight (its bar, progress-bar.ts). */
  onProgress?: (pos: number, inFlight: ProgressSnapshot[]) => void;
  /** Set by the daemon: what `POST /stop` (the `stop` command) does; unset in run --once. */
  onStopRequest?: () => { pid: number; deadlineMs: number };

  constructor(
    private readonly loaded: LoadedConfig,
    private readonly log: ClosableLogger,
    /** How long a till whose exchange failed to start waits before the next try (tests shorten it). */
    private readonly restartMs = EXCHANGE_RESTART_MS,
  ) {
    this.slots = loaded.config.exchanges.map((config) => ({ config, log: log.child({ pos: config.pos, transport: config.transport.type }) }));
  }

  private async build(slot: Slot): Promise<Exchange> {
    // Checked at every (re)start: a till folder on a late-mounted drive starts its exchange once it appears.
    const tillProblem = tillDirProblem(slot.config.till.dir);
    if (tillProblem) throw new Error(`till.dir: ${tillProblem}`);
    const store = new Store(slot.config.dataDir, { retentionDays: slot.config.archive.retentionDays }, slot.log);
    const transport = await createTransport(slot.config, slot.log);
    const exchange = new Exchange(slot.config, store, transport, slot.log, { progressLogMs: this.loaded.config.log.progressIntervalMs });
    if (this.onProgress) exchange.progress.subscribe((inFlight) => this.onProgress!(slot.config.pos, inFlight));
    return exchange;
  }

  // ---------------------------------------------------------------- daemon

  async start(): Promise<void> {
    for (const w of this.loaded.warnings) this.log.warn(w.event, { note: w.message });
    await Promise.all(this.slots.map((s) => this.startSlot(s)));
    const failed = this.slots.filter((s) => s.error);
    if (failed.length === this.slots.length && failed.every((s) => s.error instanceof DataDirLockedError)) {
      // Nothing can run: another agent owns every data folder. Exit instead of waiting.
      throw failed[0]!.error;
    }
    const cfg = this.loaded.config;
    if (cfg.control.enabled) {
      this.control = new ControlServer(controlSocketPath(cfg), this.controlHandlers(), this.log);
      await this.control.start().catch((e) => {
        const stops = e instanceof ControlSocketNotPrivateError;
        this.log.error('control.failed', { error: (e as Error).message, note: stops ? 'the agent does not start' : 'the agent runs; commands fall back to the data folder' });
        if (stops) throw e;
        this.control = undefined;
      });
    }
    const source: MetricsSource = {
      snapshot: () => this.snapshot(),
      failedToStart: () => this.failedToStart(),
      configured: cfg.exchanges.map((x) => ({ pos: x.pos, transport: x.transport.type })),
    };
    if (cfg.metrics.enabled) {
      this.metrics = new MetricsServer(cfg.metrics, source, this.log);
      this.metricsPort = await this.metrics.start();
    }
    if (cfg.metrics.textfile.dir !== undefined) {
      this.textfile = new TextfileExport({ ...cfg.metrics.textfile, dir: cfg.metrics.textfile.dir }, (o) => metricsText(source, o), this.log);
      await this.textfile.start();
    }
  }

  private startSlot(slot: Slot): Promise<void> {
    const starting = this.tryStart(slot).finally(() => {
      if (slot.starting === starting) slot.starting = undefined;
    });
    slot.starting = starting;
    return starting;
  }

  private async tryStart(slot: Slot): Promise<void> {
    if (this.stopping) return;
    try {
      const exchange = await this.build(slot);
      await exchange.prepare();
      await exchange.start();
      if (this.stopping) {
        // The stop came while this exchange was starting: it was not among those stopped.
        await exchange.stop(STOP_TIMINGS.notStartedMs);
        return;
      }
      slot.exchange = exchange;
      if (slot.error) slot.log.info('exchange.started', { after: slot.error.message, outcome: 'ok' });
      slot.error = undefined;
    } catch (e) {
      slot.error = e as Error;
      slot.log.error('exchange.start.failed', { error: (e as Error).message, retryInMs: this.restartMs, note: 'the other exchanges keep running' });
      if (!this.stopping) slot.retryTimer = setTimeout(() => void this.startSlot(slot), this.restartMs);
    }
  }

  /**
   * Stops everything within `deadlineMs`; every caller gets the same stop.
   * The endpoints first (no new commands), then every exchange side by side;
   * each step isolated (see util/stop-step.ts).
   */
  stop(deadlineMs: number): Promise<void> {
    this.stopped ??= this.stopOnce(deadlineMs);
    return this.stopped;
  }

  private async stopOnce(deadlineMs: number): Promise<void> {
    this.stopping = true;
    const deadline = Date.now() + deadlineMs;
    for (const s of this.slots) if (s.retryTimer) clearTimeout(s.retryTimer);
    // A retry already under way finishes first (it stops what it started itself, seeing `stopping`).
    await Promise.all(this.slots.map((s) => stopStep(s.log, 'exchange start', deadline, () => s.starting)));
    const endpoints = Date.now() + Math.min(STOP_TIMINGS.endpointsMs, deadlineMs / 10);
    await stopStep(this.log, 'control channel', endpoints, () => this.control?.stop());
    await stopStep(this.log, 'metrics endpoint', endpoints, () => this.metrics?.stop());
    await stopStep(this.log, 'metrics textfile export', endpoints, () => this.textfile?.stop());
    await Promise.all(this.slots.map((s) => stopStep(s.log, 'exchange', deadline, () => s.exchange?.stop(Math.max(0, deadline - Date.now())))));
  }

  // ------------------------------------------------------------------ once

  /** One full cycle of every exchange, then stop. A failing exchange does not stop the others. */
  async runOnce(): Promise<ExchangeOnceResult[]> {
    for (const w of this.loaded.warnings) this.log.warn(w.event, { note: w.message });
    const results: ExchangeOnceResult[] = [];
    for (const slot of this.slots) {
      let exchange: Exchange | undefined;
      try {
        exchange = await this.build(slot);
        await exchange.prepare();
        const r = await exchange.runOnce();
        results.push({ pos: slot.config.pos, ...r });
        slot.log.info('agent.once.done', { ...r, outcome: pending(r) ? 'pending' : 'ok' });
      } catch (e) {
        if (e instanceof DataDirLockedError && this.slots.length === 1) throw e;
        slot.log.error('agent.once.failed', { error: (e as Error).message });
        results.push(failedOnce(slot.config.pos, (e as Error).message));
      } finally {
        await exchange?.stop(this.loaded.config.stop.deadlineMs).catch((e) => slot.log.warn('agent.once.stop-failed', { error: (e as Error).message, note: 'the next run recovers the data folder' }));
      }
    }
    return results;
  }

  // ---------------------------------------------------------------- status

  snapshot(): StatusReport[] {
    return this.slots.flatMap((s) => (s.exchange ? [s.exchange.status()] : []));
  }

  failedToStart(): Map<number, string> {
    return new Map(this.slots.filter((s) => s.error).map((s) => [s.config.pos, s.error!.message]));
  }

  private select(pos: number | undefined): Exchange[] {
    const chosen = this.slots.filter((s) => pos === undefined || s.config.pos === pos);
    if (chosen.length === 0) throw new NotFoundError(`no exchange with pos ${pos}`);
    const running = chosen.flatMap((s) => (s.exchange ? [s.exchange] : []));
    if (running.length === 0) throw new Error(`pos ${pos ?? '(all)'}: not running: ${chosen.map((s) => s.error?.message).join('; ')}`);
    return running;
  }

  private controlHandlers() {
    return {
      stop: () => this.onStopRequest?.(),
      status: async () => ({
        exchanges: await Promise.all(this.snapshot().map(async (r) => ({ ...r, dataFreeBytes: await dataFreeBytes(r.dataDir) }))),
        notRunning: Object.fromEntries(this.failedToStart()),
      }),
      exchangeNow: async (pos: number | undefined) => {
        const results = [];
        for (const ex of this.select(pos)) results.push({ pos: ex.pos, ...(await ex.runOnce()) });
        return { results };
      },
      retry: async (pos: number | undefined) => {
        const chosen = this.select(pos);
        await Promise.all(chosen.map((ex) => ex.retryNow()));
        return { results: chosen.map((ex) => ({ ...ex.live(), queued: ex.queued })) };
      },
      resend: async (pkg: number, pos: number | undefined) => {
        const chosen = this.select(pos);
        if (chosen.length > 1) throw new Error('several exchanges run here: say which with --pos');
        const meta = await chosen[0]!.resend(pkg);
        return { pos: chosen[0]!.pos, package: meta.number, resendOf: pkg, transactions: meta.transactions };
      },
    };
  }
}
