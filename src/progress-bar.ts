/**
 * `run --once`'s progress bar: one line on stderr, redrawn in place, only when
 * stderr is a terminal (process.stderr.isTTY). Logs, pipes and services never
 * get an escape code: without a terminal there is no bar at all, and the log
 * has its own `progress` lines (exchange/progress.ts).
 */
import type { ProgressSnapshot } from './exchange/progress.js';
import { describeProgress } from './status.js';

const BAR_WIDTH = 20;
/** A download reports every chunk; a terminal needs far fewer redraws. */
const REDRAW_MS = 100;
/** Back to the start of the line and erase it. */
const CLEAR_LINE = '\r\x1b[2K';

export class ProgressBar {
  private readonly inFlight = new Map<number, ProgressSnapshot[]>();
  private lastDraw = 0;
  private shown = false;

  private constructor(private readonly out: NodeJS.WriteStream) {}

  /** A bar on `out` if it is a terminal, else none. */
  static forTerminal(out: NodeJS.WriteStream = process.stderr): ProgressBar | undefined {
    return out.isTTY ? new ProgressBar(out) : undefined;
  }

  /** What POS `pos` has in flight now; the first activity in flight is drawn. */
  update(pos: number, inFlight: ProgressSnapshot[]): void {
    this.inFlight.set(pos, inFlight);
    const now = Date.now();
    if (inFlight.length > 0 && now - this.lastDraw < REDRAW_MS) return;
    this.lastDraw = now;
    const first = [...this.inFlight].find(([, list]) => list.length > 0);
    if (!first) return this.clear();
    const [pos0, list] = first;
    const s = list[0]!;
    const filled = s.total ? Math.min(BAR_WIDTH, Math.floor((BAR_WIDTH * s.done) / s.total)) : 0;
    const bar = s.total ? `[${'#'.repeat(filled)}${'.'.repeat(BAR_WIDTH - filled)}] ` : '';
    const line = `POS ${pos0} ${bar}${describeProgress(s)}`;
    // A terminal that does not tell its width (0) gets 80 columns; never wider than it, or the line would wrap.
    this.out.write(CLEAR_LINE + line.slice(0, (this.out.columns || 80) - 1));
    this.shown = true;
  }

  /** Erases the bar (at the end of the run, so the shell's prompt starts on a clean line). */
  clear(): void {
    if (this.shown) this.out.write(CLEAR_LINE);
    this.shown = false;
  }
}
