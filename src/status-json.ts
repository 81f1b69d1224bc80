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
import { isPermissionError, type AgentState, type AskedStatus } from './control/ask-status.js';
import { tillRows, type ShiftRow, type TillRow } from './metrics/till-row.js';
import { readStatus, type StatusReport } from './status.js';
import { version } from './version.js';

export const STATUS_SCHEMA = 1;

/** A till row with every field present: numbers (0 for a time that never happened or a shift there is not) and kinds. */
export type TillRowJson = Required<Omit<TillRow, 'shift'>> & { shift: Required<ShiftRow> };

export interface StatusDocument {
  schema: typeof STATUS_SCHEMA;
  /** kassir-agent version that wrote it. */
  version: string;
  /** ISO time it was made. */
  at: string;
  /** Whether an agent answered for this config (else everything was read from the data folders). */
  running: boolean;
  /**
   * What asking the agent gave: `running`, `not-running` (the agent is down), `permission-denied` (this
   * user may not ask it, so it is unknown whether it runs: a monitoring set-up problem, not the agent
   * down), `not-answering` (something listens but gives no answer: a hung agent).
   */
  agent: AgentState;
  /** Why the agent could not be asked, or the data folder read (absent when all went well). */
  agentError?: string;
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
  shift: {
    lastClosedNumber: 0,
    lastClosedTimestampSeconds: 0,
    lastDeliveredTimestampSeconds: 0,
    undelivered: 0,
    oldestUndeliveredClosedTimestampSeconds: 0,
    mismatches: 0,
  },
};

/**
 * The document for `config` from what asking the agent gave. Without a live
 * answer everything is read from the data folders; exchanges a running agent
 * could not start are read from theirs, so their queue still shows. A data
 * folder this user may not read leaves its till with the config's values only
 * (up 0, nothing counted) and says so in `agentError`.
 */
export async function statusDocument(config: Config, asked: AskedStatus, now = Date.now()): Promise<StatusDocument> {
  const live = asked.state === 'running' ? asked.live : undefined;
  let agentError = asked.state === 'running' ? undefined : asked.error;
  const fromDisk = async (exchanges: Config['exchanges']) => {
    try {
      return await readStatus({ ...config, exchanges }, now);
    } catch (e) {
      if (!isPermissionError(e)) throw e;
      agentError ??= `cannot read the data folder: ${(e as Error).message}`;
      return [];
    }
  };
  const reports = live ? [...live.exchanges] : await fromDisk(config.exchanges);
  if (live) {
    for (const ex of config.exchanges.filter((x) => String(x.pos) in live.notRunning)) {
      reports.push(...(await fromDisk([ex]).catch(() => [])));
    }
  }
  const configured = config.exchanges.map((x) => ({ pos: x.pos, transport: x.transport.type }));
  const rows = tillRows(configured, reports, now);
  return {
    schema: STATUS_SCHEMA,
    version: version(),
    at: new Date(now).toISOString(),
    running: live !== undefined,
    agent: asked.state,
    ...(agentError !== undefined ? { agentError } : {}),
    tills: Object.fromEntries(rows.map((r) => [String(r.pos), { ...EMPTY, ...dropUndefined(r), pos: r.pos, transport: r.transport, up: r.up, shift: { ...EMPTY.shift, ...dropUndefined(r.shift ?? {}) } }])),
    exchanges: live ? live.exchanges : reports,
    notRunning: live?.notRunning ?? {},
  };
}

/**
 * The document when the config itself cannot be read (a user without access to it): no tills, and
 * `permission-denied`, so monitoring reports a set-up problem instead of an agent that is down.
 */
export function unreadableConfigDocument(file: string, reason: string, now = Date.now()): StatusDocument {
  return { schema: STATUS_SCHEMA, version: version(), at: new Date(now).toISOString(), running: false, agent: 'permission-denied', agentError: `${file}: ${reason}`, tills: {}, exchanges: [], notRunning: {} };
}

function dropUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** Zabbix low-level discovery: one {#POS} (and its {#TRANSPORT}) per configured till. */
export function discovery(config: Config): { '{#POS}': string; '{#TRANSPORT}': string }[] {
  return config.exchanges.map((x) => ({ '{#POS}': String(x.pos), '{#TRANSPORT}': x.transport.type }));
}
