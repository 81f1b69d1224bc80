/**
 * The outbox journal (`outbox/journal.jsonl`): one append-only file of small
 * durable records for the two writes on a package's push path, its transport
 * notes (before a step a crash must not repeat blindly) and its delivery.
 *
 * Why: replacing a meta file durably costs a temporary file, two fsyncs and a
 * rename (about 0.6 ms here), and moving a package to the archive several more
 * file operations; one appended line and one fdatasync cost about 0.2 ms.
 * Draining a backlog of thousands of packages is bound by exactly these
 * writes. The per-package files (`outbox/<n>.json`, `archive/<n>.json`) stay
 * the readable form: the store brings them up to date and makes them durable
 * in one batch at a checkpoint (when a push run ends, at close, before
 * retention cleanup and resend, or when the journal passes its size limit),
 * after which the journal is emptied.
 *
 * Each record is written at the journal's known good length, and whatever an
 * append that failed may have written is cut before the next one; a crash
 * mid-append leaves at most a torn last line, which `readJournal` ignores.
 */
import type { FileHandle } from 'node:fs/promises';
import * as fs from 'node:fs/promises';
import { dirname } from 'node:path';
import { failpoint } from '../util/failpoints.js';
import { FILE_MODE, fsyncDir, syncHandle, writeAllSync } from '../util/fsutil.js';
import { packageMetaSchema, type PackageMeta } from './state.js';

export type JournalRecord =
  | { op: 'notes'; n: number; notes: Record<string, unknown> }
  | { op: 'delivered'; meta: PackageMeta };

export interface JournalContents {
  records: JournalRecord[];
  /** Lines that could not be read, with their line numbers (a torn last line is not counted). */
  bad: { line: number; error: string }[];
}

/** Reads the journal's records in order. A missing file is an empty journal. */
export async function readJournal(path: string): Promise<JournalContents> {
  let text: string;
  try {
    text = await fs.readFile(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { records: [], bad: [] };
    throw e;
  }
  const lines = text.split('\n');
  // Every complete record ends with a newline: a last piece without one is a torn append.
  lines.pop();
  const records: JournalRecord[] = [];
  const bad: JournalContents['bad'] = [];
  lines.forEach((line, i) => {
    try {
      records.push(parseRecord(JSON.parse(line)));
    } catch (e) {
      bad.push({ line: i + 1, error: (e as Error).message });
    }
  });
  return { records, bad };
}

function parseRecord(raw: unknown): JournalRecord {
  const r = raw as { op?: unknown; n?: unknown; notes?: unknown; meta?: unknown };
  if (r?.op === 'notes' && Number.isInteger(r.n) && typeof r.notes === 'object' && r.notes !== null) {
    return { op: 'notes', n: r.n as number, notes: r.notes as Record<string, unknown> };
  }
  if (r?.op === 'delivered') return { op: 'delivered', meta: packageMetaSchema.parse(r.meta) };
  throw new Error('not a journal record');
}

export class OutboxJournal {
  private fh?: FileHandle;
  private length = 0;
  /** An append failed: what it may have written past `length` is cut before the next one. */
  private cut = false;
  /** Records appended with `sync: false` since the last sync. */
  private unsynced = false;

  constructor(readonly path: string) {}

  /** Bytes of records since the journal was last emptied. */
  get bytes(): number {
    return this.length;
  }

  /**
   * Empties the journal (creating it if needed), durably. Call only once
   * everything its records say is durable in the per-package files.
   */
  async reset(): Promise<void> {
    if (!this.fh) {
      this.fh = await fs.open(this.path, 'w', FILE_MODE);
      await fsyncDir(dirname(this.path));
    } else {
      await this.fh.truncate(0);
    }
    await syncHandle(this.fh, 'datasync');
    this.length = 0;
    this.cut = false;
    this.unsynced = false;
  }

  /** Makes the records appended with `sync: false` durable (nothing to do when there are none). */
  async sync(): Promise<void> {
    if (!this.fh || !this.unsynced) return;
    failpoint('fsync.file');
    await syncHandle(this.fh, 'datasync');
    this.unsynced = false;
  }

  /**
   * Appends one record, durable before resolving unless `sync: false` (then it
   * becomes durable with the next synced append or not at all: only for a
   * record whose loss a later step can tolerate).
   */
  async append(record: JournalRecord, opts: { sync?: boolean } = {}): Promise<void> {
    if (!this.fh) throw new Error('the outbox journal is not open');
    const line = Buffer.from(JSON.stringify(record) + '\n');
    if (this.cut) await this.fh.truncate(this.length);
    this.cut = true;
    // A synchronous write: a few hundred bytes into the page cache take microseconds, while a
    // trip through libuv's four-thread pool waits behind the fsyncs and uploads of a busy drain.
    writeAllSync(this.fh.fd, line, this.length);
    if (opts.sync !== false) {
      failpoint('fsync.file');
      await syncHandle(this.fh, 'datasync');
    }
    this.cut = false;
    this.length += line.length;
    this.unsynced = opts.sync === false;
  }

  async close(): Promise<void> {
    await this.fh?.close();
    this.fh = undefined;
  }
}
