/**
 * The textfile export: the same text as /metrics, written every N seconds into
 * a folder node_exporter's textfile collector reads
 * (`--collector.textfile.directory`), for tills where Prometheus cannot or
 * should not reach the agent itself. Written atomically (a temporary name that
 * does not end in .prom, then a rename), so the collector never reads half a
 * file; world-readable, since node_exporter runs as another user. On a clean
 * stop the last export says every exchange is down; after a crash the file's
 * age (node_textfile_mtime_seconds) tells, and the shipped rules alert on it.
 */
import { join } from 'node:path';
import { writeFileAtomic } from '../util/fsutil.js';
import type { Logger } from '../util/logger.js';

export class TextfileExport {
  private timer?: NodeJS.Timeout;
  private writing?: Promise<void>;
  private failing = false;
  readonly file: string;
  private readonly intervalMs: number;

  constructor(
    opts: { dir: string; name: string; intervalMs: number },
    /** The metrics text; `stopped`: as a stopped agent says it. */
    private readonly render: (opts: { stopped: boolean }) => string,
    private readonly log: Logger,
  ) {
    this.file = join(opts.dir, opts.name);
    this.intervalMs = opts.intervalMs;
  }

  async start(): Promise<void> {
    await this.write(this.render({ stopped: false }));
    this.timer = setInterval(() => {
      // A write still going on (a slow disk) is not stacked upon.
      if (!this.writing) void this.write(this.render({ stopped: false }));
    }, this.intervalMs);
    this.log.info('metrics.textfile', { file: this.file, everyMs: this.intervalMs });
  }

  /** Stops the timer and writes the export of a stopped agent. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.writing;
    await this.write(this.render({ stopped: true }));
  }

  private async write(text: string): Promise<void> {
    this.writing = writeFileAtomic(this.file, text, { mode: 0o644 }).then(
      () => {
        if (this.failing) this.log.info('metrics.textfile.recovered', { file: this.file, outcome: 'ok' });
        this.failing = false;
      },
      (e) => {
        if (!this.failing) this.log.error('metrics.textfile.failed', { file: this.file, error: (e as Error).message, note: 'retried at the next interval' });
        this.failing = true;
      },
    );
    try {
      await this.writing;
    } finally {
      this.writing = undefined;
    }
  }
}
