/**
 * Writes `history/<YYYY-MM-DD>.jsonl`: one JSON line per attempt, kept
 * `retentionDays`; `kassir-agent history` (src/history.ts) reads it with the
 * same layout (layout.ts). The history is for people: it is never what the
 * agent decides by, so a power cut may cost it its last lines (see `append`).
 */
import * as fs from 'node:fs/promises';
import { join } from 'node:path';
import type { FailureKind } from '../transports/errors.js';
import { FILE_MODE, syncHandle, writeAllSync } from '../util/fsutil.js';
import { historyDay, historyFile } from './layout.js';

export interface HistoryEntry {
  at: string;
  /** `push`, `pull`, `deliver`, `resend`... */
  op: string;
  package?: number;
  attempt?: number;
  outcome: string;
  remoteName?: string;
  serverAnswer?: string;
  error?: string;
  errorKind?: FailureKind;
  transactions?: number;
  bytes?: number;
  durationMs?: number;
}

const DAY_MS = 86_400_000;

export class HistoryWriter {
  /** Today's file, kept open: one write per entry instead of an open and a close. */
  private today: { day: string; fh: fs.FileHandle } | undefined;

  constructor(readonly dir: string) {}

  /**
   * Appends one line to the entry's day file. `sync: false` for deliveries,
   * whose durable record is the outbox journal: a power cut may then cost the
   * history its last lines, never an earlier one (a torn line is skipped by
   * `history`).
   */
  async append(entry: HistoryEntry, opts: { sync?: boolean } = {}): Promise<void> {
    const day = entry.at.slice(0, 10);
    if (this.today?.day !== day) {
      await this.close();
      this.today = { day, fh: await fs.open(historyFile(this.dir, day), 'a', FILE_MODE) };
    }
    const { fh } = this.today;
    writeAllSync(fh.fd, Buffer.from(JSON.stringify(entry) + '\n'), null); // see OutboxJournal.append
    if (opts.sync !== false) await syncHandle(fh, 'datasync');
  }

  async close(): Promise<void> {
    await this.today?.fh.close().catch(() => undefined);
    this.today = undefined;
  }

  /** Deletes the day files older than `limit` (ms since the epoch). Returns how many went. */
  async removeOlderThan(limit: number): Promise<number> {
    let removed = 0;
    for (const name of await fs.readdir(this.dir)) {
      const day = historyDay(name);
      if (day && Date.parse(day) + DAY_MS < limit) {
        await fs.rm(join(this.dir, name), { force: true });
        removed++;
      }
    }
    return removed;
  }
}
