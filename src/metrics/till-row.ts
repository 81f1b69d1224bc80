/**
 * One row per till: the "Показатели ККМ" view of the back office (POS, up,
 * queued, oldest, last push, last pull, held files, last error, shifts),
 * computed once from the status reports. The Prometheus metrics (list.ts) and the `tills`
 * map of `status --json` (what the Zabbix template reads) are both this row,
 * so the two monitoring doors always agree.
 */
import type { ShiftSummary } from '../shifts/summary.js';
import type { StatusReport } from '../status.js';
import type { FailureKind } from '../transports/errors.js';

/** What the error of a flow is: a TransportError kind, 'local' (this machine), 'unknown' (agent not running), or 'none'. */
export type ErrorKind = FailureKind | 'unknown' | 'none';

export interface TillRow {
  pos: number;
  transport: string;
  /** 1 while the exchange runs in a running agent. */
  up: 0 | 1;
  queuedPackages?: number;
  oldestQueuedAgeSeconds?: number;
  openTransactions?: number;
  incomingWaiting?: number;
  heldFiles?: number;
  oldestHeldFileAgeSeconds?: number;
  lastSuccessfulPushTimestampSeconds?: number;
  lastSuccessfulPullTimestampSeconds?: number;
  lastReferenceDeliveryTimestampSeconds?: number;
  referenceFilesDelivered?: number;
  quarantined?: number;
  transactionsCollected?: number;
  pushErrorKind?: ErrorKind;
  pullErrorKind?: ErrorKind;
  /** The shifts of the ledger (shifts/summary.ts); absent when the report has none. */
  shift?: ShiftRow;
}

/** The shift columns of a till: Unix times, counts; a time or number absent when there is none. */
export interface ShiftRow {
  /** The last closed shift's number (absent: none closed, or its number is not a plain number). */
  lastClosedNumber?: number;
  lastClosedTimestampSeconds?: number;
  /** When the last closed shift was completely delivered (absent while it waits). */
  lastDeliveredTimestampSeconds?: number;
  undelivered: number;
  /** When the oldest closed shift that is not delivered closed (absent: none waits). */
  oldestUndeliveredClosedTimestampSeconds?: number;
  mismatches: number;
}

/** Every flow whose error kind is reported. */
export const FLOWS = ['push', 'pull'] as const;

const seconds = (iso: string | undefined) => (iso ? Date.parse(iso) / 1000 : undefined);

function errorKind(r: StatusReport, flow: (typeof FLOWS)[number]): ErrorKind {
  const live = r.live;
  if (live) {
    const failing = flow === 'push' ? live.pushFailing : live.pullFailing;
    return failing ? ((flow === 'push' ? live.lastPushErrorKind : live.lastPullErrorKind) ?? 'unknown') : 'none';
  }
  // Read from the data folder: the kind is not stored, only whether the last attempt failed.
  const last = flow === 'push' ? r.lastPush : r.lastPull;
  return last && !last.ok ? 'unknown' : 'none';
}

export function shiftRow(s: ShiftSummary): ShiftRow {
  const last = s.lastClosed;
  return {
    lastClosedNumber: last?.number != null && /^\d+$/.test(last.number) ? Number(last.number) : undefined,
    lastClosedTimestampSeconds: seconds(last?.closedAt),
    lastDeliveredTimestampSeconds: seconds(last?.deliveredAt),
    undelivered: s.undelivered,
    oldestUndeliveredClosedTimestampSeconds: seconds(s.oldestUndeliveredClosedAt),
    mismatches: s.mismatches,
  };
}

export function rowOf(r: StatusReport, now = Date.now()): TillRow {
  const held = r.held ?? [];
  const oldestHeld = held.reduce((min, h) => Math.min(min, Date.parse(h.since)), Infinity);
  return {
    pos: r.pos,
    transport: r.transport,
    up: r.live ? 1 : 0,
    queuedPackages: r.queued.length,
    oldestQueuedAgeSeconds: r.queued[0] ? r.queued[0].ageMs / 1000 : 0,
    openTransactions: r.open.transactions,
    incomingWaiting: r.inbox.length,
    heldFiles: held.length,
    oldestHeldFileAgeSeconds: held.length ? Math.max(0, (now - oldestHeld) / 1000) : 0,
    lastSuccessfulPushTimestampSeconds: seconds(r.lastPushOk),
    lastSuccessfulPullTimestampSeconds: seconds(r.lastPullOk),
    lastReferenceDeliveryTimestampSeconds: seconds(r.lastReferenceDelivered),
    referenceFilesDelivered: r.counters.referenceFilesDelivered ?? 0,
    quarantined: r.counters.quarantined ?? 0,
    transactionsCollected: r.counters.transactionsCollected ?? 0,
    pushErrorKind: errorKind(r, 'push'),
    pullErrorKind: errorKind(r, 'pull'),
    shift: r.shift ? shiftRow(r.shift) : undefined,
  };
}

/**
 * A row for every configured exchange, in config order: from its report when
 * there is one, else just `up: 0` (it failed to start and nothing was read).
 */
export function tillRows(configured: { pos: number; transport: string }[], reports: StatusReport[], now = Date.now()): TillRow[] {
  return configured.map((c) => {
    const r = reports.find((x) => x.pos === c.pos);
    return r ? rowOf(r, now) : { pos: c.pos, transport: c.transport, up: 0 };
  });
}
