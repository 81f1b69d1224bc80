/**
 * When the exchange's flows run: chokidar events on the till folder (as hints,
 * after `till.settleMs`), the time a pass found a waiting file due (`collectAt`:
 * no rescan tick is waited for), the periodic rescan (`till.rescanMs`), the store's
 * cleanup every 6 hours, and pulls on `schedule.pull` (an interval, or a cron
 * expression through node-cron). It only triggers; the flows decide the rest.
 */
import { watch, type FSWatcher } from 'chokidar';
import type { ScheduledTask } from 'node-cron';
import { parseInterval } from '../config/interval.js';
import type { ExchangeConfig } from '../config/schema.js';
import { TAKEN_DIR } from '../till/taken.js';
import type { Logger } from '../util/logger.js';
import { stopStep } from '../util/stop-step.js';

export interface ScheduledJobs {
  /** Take report files over (watcher hints and the rescan). */
  collect: () => void;
  /** Hand staged parts to Kassir (the rescan). */
  deliver: () => void;
  pull: () => void;
  cleanup: () => void;
}

const CLEANUP_EVERY_MS = 6 * 3_600_000;

export class Scheduler {
  private watcher?: FSWatcher;
  private cronTask?: ScheduledTask;
  private readonly timers = new Set<NodeJS.Timeout>();
  /** The collect armed by `collectAt`: one at a time, the earliest asked for. */
  private due?: { at: number; timer: NodeJS.Timeout };
  private stopping = false;
  private started = false;

  constructor(
    private readonly config: Pick<ExchangeConfig, 'till' | 'schedule'>,
    private readonly jobs: ScheduledJobs,
    private readonly log: Logger,
  ) {}

  async start(): Promise<void> {
    const { till, schedule } = this.config;
    this.started = true;
    this.watcher = watch(till.dir, {
      depth: 0,
      ignoreInitial: true,
      ignored: (p: string) => p.includes(TAKEN_DIR.split(/[\\/]/)[0]!),
      awaitWriteFinish: false,
    });
    // A file an event names has been quiet for settleMs at the earliest settleMs after the event; if it was written
    // again meanwhile, that pass finds it waiting and arms `collectAt` for when it will be.
    this.watcher.on('all', () => this.later(till.settleMs, this.jobs.collect));
    this.watcher.on('error', (e) => this.log.warn('till.watch.error', { error: (e as Error).message, note: 'the periodic rescan still runs' }));
    this.every(till.rescanMs, () => {
      this.jobs.collect();
      this.jobs.deliver();
    });
    this.every(CLEANUP_EVERY_MS, this.jobs.cleanup);
    const pullEvery = parseInterval(schedule.pull);
    if (pullEvery !== undefined) this.every(pullEvery, this.jobs.pull);
    else {
      // Loaded only for a cron expression (see config/interval.ts).
      const { default: cron } = await import('node-cron');
      if (!this.stopping) this.cronTask = cron.schedule(schedule.pull, this.jobs.pull, { noOverlap: true, name: 'pull' });
    }
  }

  /** Stops the cron and the watcher (each a stop step bounded by `deadline`) and every timer. */
  async stop(deadline: number): Promise<void> {
    this.stopping = true;
    await stopStep(this.log, 'cron', deadline, () => this.cronTask?.stop());
    await stopStep(this.log, 'till watcher', deadline, () => this.watcher?.close());
    for (const t of this.timers) clearTimeout(t);
  }

  /**
   * Runs a collect at `at` (epoch ms): when a pass found a file that settles, or a held file
   * that is due, then. One such timer at a time: an earlier one stays (its pass asks again).
   */
  collectAt(at: number): void {
    // Only in the daemon: `run --once` waits for its files itself.
    if (!this.started || this.stopping || (this.due !== undefined && this.due.at <= at)) return;
    if (this.due !== undefined) {
      clearTimeout(this.due.timer);
      this.timers.delete(this.due.timer);
    }
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      this.due = undefined;
      if (!this.stopping) this.jobs.collect();
    }, Math.max(0, at - Date.now()));
    this.timers.add(timer);
    this.due = { at, timer };
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
}
