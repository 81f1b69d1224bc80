/**
 * Progress of long work, per exchange (one POS) and activity: a reference
 * download (bytes, or 1C price-list packages) and a backlog drain (packages).
 * A shop manager watching a fresh till, or one back from a weekend offline,
 * sees it move: `status` shows what is in flight (`ProgressBoard.snapshot`),
 * the log writes one `progress` line per activity at most every
 * `log.progressIntervalMs` while it lasts (none for work shorter than that),
 * and `run --once` on a terminal draws a bar from the board's listeners
 * (progress-bar.ts).
 *
 * Reporting is advice only: nothing here decides what is staged, sent or
 * acknowledged, and a transport that never reports simply shows nothing.
 */
import type { Logger } from '../util/logger.js';

export type ProgressActivity = 'reference-download' | 'backlog-drain';
export type ProgressUnit = 'bytes' | 'packages';

/** What one activity in flight looks like, for `status` (text and `--json`) and the log. */
export interface ProgressSnapshot {
  activity: ProgressActivity;
  unit: ProgressUnit;
  done: number;
  /** Absent while unknown (a 1C transfer before its first package says how many there are). */
  total?: number;
  /** Units per second over the last RATE_WINDOW_MS (absent until some time has passed). */
  rate?: number;
  /** Seconds left at that rate (absent while the total or the rate is unknown). */
  etaS?: number;
  /** When the activity started (ISO). */
  startedAt: string;
}

/** The rate is measured over this much recent time, so a stall or a speed-up shows within seconds. */
export const RATE_WINDOW_MS = 10_000;

export type Clock = () => number;

/** One activity: done, total, and the samples the rate is measured over. */
export class ProgressTracker {
  readonly startedAt: number;
  private doneNow = 0;
  private totalNow: number | undefined;
  /** (time, done) pairs: the ones within the window, and the last one before it (the window's start). */
  private samples: { t: number; done: number }[];

  constructor(
    readonly activity: ProgressActivity,
    readonly unit: ProgressUnit,
    private readonly clock: Clock = Date.now,
    private readonly windowMs = RATE_WINDOW_MS,
  ) {
    this.startedAt = clock();
    this.samples = [{ t: this.startedAt, done: 0 }];
  }

  get done(): number {
    return this.doneNow;
  }

  get total(): number | undefined {
    return this.totalNow;
  }

  /** How far it is; `total` undefined keeps the total known so far. */
  update(done: number, total?: number): void {
    const t = this.clock();
    this.doneNow = done;
    if (total !== undefined) this.totalNow = total;
    this.samples.push({ t, done });
    // Keep one sample at or before the window's start, so the window is always spanned.
    const from = t - this.windowMs;
    let first = 0;
    while (first + 1 < this.samples.length && this.samples[first + 1]!.t <= from) first++;
    if (first > 0) this.samples = this.samples.slice(first);
  }

  /** Units per second over the window ending now; undefined before any time has passed. */
  rate(now = this.clock()): number | undefined {
    const from = now - this.windowMs;
    let base = this.samples[0]!;
    for (const s of this.samples) if (s.t <= from) base = s;
    const seconds = (now - base.t) / 1000;
    if (seconds <= 0) return undefined;
    return Math.max(0, this.doneNow - base.done) / seconds;
  }

  /** Seconds left at the current rate: 0 once done reaches the total, undefined without a total or a rate. */
  etaS(now = this.clock()): number | undefined {
    if (this.totalNow === undefined) return undefined;
    const left = this.totalNow - this.doneNow;
    if (left <= 0) return 0;
    const rate = this.rate(now);
    if (rate === undefined || rate === 0) return undefined;
    return Math.ceil(left / rate);
  }

  snapshot(now = this.clock()): ProgressSnapshot {
    const rate = this.rate(now);
    const etaS = this.etaS(now);
    return {
      activity: this.activity,
      unit: this.unit,
      done: this.doneNow,
      ...(this.totalNow !== undefined ? { total: this.totalNow } : {}),
      ...(rate !== undefined ? { rate: Math.round(rate * 100) / 100 } : {}),
      ...(etaS !== undefined ? { etaS } : {}),
      startedAt: new Date(this.startedAt).toISOString(),
    };
  }
}

export type ProgressListener = (inFlight: ProgressSnapshot[]) => void;

/**
 * The activities of one exchange in flight. The first report of an activity
 * starts it, `end` forgets it. While one lasts, a timer writes its `progress`
 * line every `logEveryMs` (the log's child logger carries pos and transport);
 * an activity that ends sooner is never logged.
 */
export class ProgressBoard {
  private readonly active = new Map<ProgressActivity, { tracker: ProgressTracker; timer: NodeJS.Timeout }>();
  private readonly listeners = new Set<ProgressListener>();

  constructor(
    private readonly log: Logger,
    private readonly logEveryMs: number,
    private readonly clock: Clock = Date.now,
  ) {}

  /** Reports how far `activity` is (starting it on its first report). */
  report(activity: ProgressActivity, unit: ProgressUnit, done: number, total?: number): void {
    let entry = this.active.get(activity);
    if (entry === undefined || entry.tracker.unit !== unit) {
      if (entry) clearInterval(entry.timer);
      const tracker = new ProgressTracker(activity, unit, this.clock);
      const timer = setInterval(() => this.logLine(tracker), this.logEveryMs);
      // Progress never keeps the process alive.
      timer.unref();
      entry = { tracker, timer };
      this.active.set(activity, entry);
    }
    entry.tracker.update(done, total);
    this.changed();
  }

  /** The activity is over (done, failed or aborted). */
  end(activity: ProgressActivity): void {
    const entry = this.active.get(activity);
    if (!entry) return;
    clearInterval(entry.timer);
    this.active.delete(activity);
    this.changed();
  }

  snapshot(): ProgressSnapshot[] {
    const now = this.clock();
    return [...this.active.values()].map((e) => e.tracker.snapshot(now));
  }

  /** Calls `listener` on every change; returns the unsubscribe. */
  subscribe(listener: ProgressListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** The `progress` line of one activity (also called by the timer). */
  logLine(tracker: ProgressTracker): void {
    const s = tracker.snapshot();
    this.log.info('progress', { activity: s.activity, unit: s.unit, done: s.done, total: s.total, rate: s.rate, etaS: s.etaS, elapsedS: Math.round((this.clock() - tracker.startedAt) / 1000) });
  }

  private changed(): void {
    if (this.listeners.size === 0) return;
    const inFlight = this.snapshot();
    for (const l of this.listeners) l(inFlight);
  }
}
