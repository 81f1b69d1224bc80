/**
 * The data folder of one exchange, as it is on disk: every folder, file name
 * and temporary name the store uses is spelt here and nowhere else (the
 * `history` command reads the history files with these names too).
 *
 *   agent.lock                   one agent per data folder (lock.ts)
 *   state.a.json / state.b.json  counters, open package, inbox index, transport cursor (state-file.ts)
 *   inbox/<id>.<kind>            incoming parts staged in order, until delivered to the till (inbox.ts)
 *   outbox/open.rep              the open package (append-only; its committed length is in the state)
 *   outbox/<n>.rep + <n>.json    sealed packages, immutable, with their attempt notes (outbox.ts)
 *   outbox/journal.jsonl         notes and deliveries since the last checkpoint (outbox-journal.ts)
 *   archive/<n>.rep + <n>.json   delivered packages, kept `retentionDays` (archive.ts)
 *   history/<YYYY-MM-DD>.jsonl   every attempt, kept `retentionDays` (history-writer.ts)
 *   quarantine/                  bad input and damaged files, each with a .why.txt; never deleted by the agent
 *   tmp/                         downloads and merges in progress (emptied at start-up)
 *
 * Any folder may also hold `.<name>.<pid>.<ms>.<n>.tmp`: a durable write in
 * progress (fsutil.ts), removed at start-up.
 */
import { join } from 'node:path';
import type { InboxItem } from './state.js';

export const LOCK_FILE = 'agent.lock';
export const STATE_SLOTS = ['state.a.json', 'state.b.json'] as const;
export const HISTORY_DIR = 'history';

export interface DataLayout {
  readonly dataDir: string;
  readonly inbox: string;
  readonly outbox: string;
  readonly archive: string;
  readonly history: string;
  readonly quarantine: string;
  readonly tmp: string;
  /** The open package. */
  readonly openPackage: string;
  /** The outbox journal. */
  readonly journal: string;
}

export function dataLayout(dataDir: string): DataLayout {
  const outbox = join(dataDir, 'outbox');
  return {
    dataDir,
    inbox: join(dataDir, 'inbox'),
    outbox,
    archive: join(dataDir, 'archive'),
    history: join(dataDir, HISTORY_DIR),
    quarantine: join(dataDir, 'quarantine'),
    tmp: join(dataDir, 'tmp'),
    openPackage: join(outbox, 'open.rep'),
    journal: join(outbox, 'journal.jsonl'),
  };
}

/** The folders the store creates at start-up. */
export function dataFolders(l: DataLayout): string[] {
  return [l.inbox, l.outbox, l.archive, l.history, l.quarantine, l.tmp];
}

/** A sealed package's bytes in the outbox or the archive. */
export const packageFile = (dir: string, n: number): string => join(dir, `${n}.rep`);
/** A sealed package's meta (PackageMeta) beside its bytes. */
export const metaFile = (dir: string, n: number): string => join(dir, `${n}.json`);
/** The package number of a meta file's name, or undefined for any other name. */
export function metaNumber(name: string): number | undefined {
  const m = /^(\d+)\.json$/.exec(name);
  return m ? Number(m[1]) : undefined;
}
/** The package number of a package file's name, or undefined for any other name. */
export function packageNumber(name: string): number | undefined {
  const m = /^(\d+)\.rep$/.exec(name);
  return m ? Number(m[1]) : undefined;
}

/** An incoming part's name in the inbox: its id, zero-padded so that names sort in order. */
export const inboxFileName = (id: number, kind: InboxItem['kind']): string => `${String(id).padStart(8, '0')}.${kind}`;
/** The id in an inbox file's name (inboxFileName), or Infinity for a name it did not make. */
export function inboxFileId(name: string): number {
  const m = /^(\d{8,})\.[a-z]+$/.exec(name);
  return m ? Number(m[1]) : Infinity;
}

/** One history file per day (UTC, from the entry's ISO time). */
export const historyFile = (historyDir: string, day: string): string => join(historyDir, `${day}.jsonl`);
/** The day (YYYY-MM-DD) of a history file's name, or undefined for any other name. */
export function historyDay(name: string): string | undefined {
  return /^(\d{4}-\d{2}-\d{2})\.jsonl$/.exec(name)?.[1];
}

/** The temporaries of the durable writes (util/fsutil.ts), which recovery removes. */
export { isAtomicTemp, tempNameFor } from '../util/fsutil.js';
