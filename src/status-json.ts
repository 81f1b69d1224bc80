/**
 * `kassir-agent status --json`: a documented, versioned format, since
 * monitoring parses it (the Zabbix template's items are JSONPaths into it).
 * `schema` goes up by one whenever a field is renamed, removed or changes
 * meaning; new fields may appear without a new number. README "Reading
 * `status --json`" documents every field of `tills`.
 *
 * `kassir-agent status --discovery`: the tills of a config for Zabbix
 * low-level discovery, read from the config alone.
 */
import type { Config } from './config/schema.js';
import { tillRows, type TillRow } from './metrics/till-row.js';
import { readStatus, type StatusReport } from './status.js';
import { version } from './version.js';

export const STATUS_SCHEMA = 1;

/** A till row with every field present: numbers (0 for a time that never happened) and kinds. */
export type TillRowJson = Required<TillRow>;

export interface StatusDocument {
  schema: typeof STATUS_SCHEMA;
  /** kassir-agent version that wrote it. */
  version: string;
  /** ISO time it was made. */
  at: string;
  /** Whether an agent answered for this config (else everything was read from the data folders). */
  running: boolean;
  /** One row per configured till, keyed by POS number (a string): the "Показатели ККМ" view. */
  tills: Record<string, TillRowJson>;
  /** The full status of each exchange (open package, queued packages, inbox, counters...). */
  exchanges: StatusReport[];
  /** Exchanges of a running agent that failed to start: POS -> error. */
  notRunning: Record<string, string>;
}

const EMPTY: Omit<TillRowJson, 'pos' | 'transport' | 'up'> = {
  queuedPackages: 0,
  oldestQueuedAgeSeconds: 0,
  openTransactions: 0,
  incomingWaiting: 0,
  heldFiles: 0,
  oldestHeldFileAgeSeconds: 0,
  lastSuccessfulPushTimestampSeconds: 0,
  lastSuccessfulPullTimestampSeconds: 0,
  lastReferenceDeliveryTimestampSeconds: 0,
  referenceFilesDelivered: 0,
  quarantined: 0,
  transactionsCollected: 0,
  pushErrorKind: 'none',
  pullErrorKind: 'none',
};

/**
 * The document for `config`: `live` is what the running agent answered, if
 * one did. Exchanges it could not start are read from their data folders, so
 * their queue still shows.
 */
export async function statusDocument(config: Config, live?: { exchanges: StatusReport[]; notRunning: Record<string, string> }, now = Date.now()): Promise<StatusDocument> {
  const reports = live ? [...live.exchanges] : await readStatus(config, now);
  if (live) {
    for (const ex of config.exchanges.filter((x) => String(x.pos) in live.notRunning)) {
      reports.push(...(await readStatus({ ...config, exchanges: [ex] }, now).catch(() => [])));
    }
  }
  const configured = config.exchanges.map((x) => ({ pos: x.pos, transport: x.transport.type }));
  const rows = tillRows(configured, reports, now);
  return {
    schema: STATUS_SCHEMA,
    version: version(),
    at: new Date(now).toISOString(),
    running: live !== undefined,
    tills: Object.fromEntries(rows.map((r) => [String(r.pos), { ...EMPTY, ...dropUndefined(r), pos: r.pos, transport: r.transport, up: r.up }])),
    exchanges: live ? live.exchanges : reports,
    notRunning: live?.notRunning ?? {},
  };
}

function dropUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** Zabbix low-level discovery: one {#POS} (and its {#TRANSPORT}) per configured till. */
export function discovery(config: Config): { '{#POS}': string; '{#TRANSPORT}': string }[] {
  return config.exchanges.map((x) => ({ '{#POS}': String(x.pos), '{#TRANSPORT}': x.transport.type }));
}
