/**
 * `kassir-agent status`: what is queued, for how long, after how many attempts
 * and why; the last closed shift; counters; the last successful pull and push. Reads the data folder
 * without taking the lock, so it works beside a running agent.
 */
import * as fs from 'node:fs/promises';
import type { Config, ExchangeConfig } from './config/schema.js';
import type { ExchangeLive } from './exchange/live.js';
import type { ProgressSnapshot } from './exchange/progress.js';
import { formatShiftLine } from './shifts/status-line.js';
import { summarizeShifts, type ShiftSummary } from './shifts/summary.js';
import { Store } from './store/store.js';
import { scanHeldFiles, type HeldFile } from './till/collect.js';

export type { HeldFile } from './till/collect.js';
import { nullLogger } from './util/logger.js';

export interface StatusReport {
  pos: number;
  transport: string;
  dataDir: string;
  queued: { package: number; transactions: number; bytes: number; ageMs: number; attempts: number; lastError?: string; uid?: string }[];
  open: { transactions: number; bytes: number; ageMs?: number };
  inbox: { part: string; kind: string; bytes: number; ageMs: number }[];
  requestsAwaitingAnswer: string[];
  /**
   * Report files held in the till folder. From the running agent: as its
   * collector holds them (`since` = when it first held the file). Read from
   * disk without an agent: every file the same rule would hold (`since` = the
   * file's last write, as no agent was watching it).
   */
  held: HeldFile[];
  counters: Record<string, number>;
  nextPackage: number;
  lastPull?: { at: string; ok: boolean; error?: string };
  lastPullOk?: string;
  lastPush?: { at: string; ok: boolean; error?: string };
  lastPushOk?: string;
  /** When reference data was last handed to Kassir (ISO). */
  lastReferenceDelivered?: string;
  /** Present when read from the running agent. */
  live?: ExchangeLive;
  /** Free space in the data folder, in bytes (undefined where the system cannot tell). */
  dataFreeBytes?: number;
  /** The shifts of the ledger, summarised (absent in a report from an agent without a ledger). */
  shift?: ShiftSummary;
}

/** Below this, `status` warns that the data folder is (nearly) full. */
export const LOW_SPACE_BYTES = 1024 * 1024;

/** Free bytes on the data folder's filesystem: a full disk is why reports stay with Kassir. */
export async function dataFreeBytes(dir: string): Promise<number | undefined> {
  try {
    const s = await fs.statfs(dir);
    return s.bavail * s.bsize;
  } catch {
    return undefined;
  }
}

/** Status of every exchange, read from the data folders (works with or without a running agent). */
export async function readStatus(config: Config, now = Date.now()): Promise<StatusReport[]> {
  const out: StatusReport[] = [];
  for (const ex of config.exchanges) {
    const store = new Store(ex.dataDir, { retentionDays: ex.archive.retentionDays, readOnly: true }, nullLogger);
    await store.open();
    const free = await dataFreeBytes(ex.dataDir);
    const held = await scanHeldFiles({ tillDir: ex.till.dir, reportFiles: ex.till.reportFiles, openReceiptMs: ex.till.openReceiptMs });
    out.push({ ...statusOf(ex, store, now, held), ...(free !== undefined ? { dataFreeBytes: free } : {}) });
  }
  return out;
}

export function statusOf(ex: ExchangeConfig, store: Store, now = Date.now(), held: HeldFile[] = []): StatusReport {
  const s = store.state;
  return {
    pos: ex.pos,
    transport: ex.transport.type,
    dataDir: ex.dataDir,
    queued: store.queued().map((m) => ({
      package: m.number,
      transactions: m.transactions,
      bytes: m.bytes,
      ageMs: now - Date.parse(m.sealedAt),
      attempts: m.attempts,
      ...(m.lastError !== undefined ? { lastError: m.lastError } : {}),
      ...(m.uid !== undefined ? { uid: m.uid } : {}),
    })),
    open: { transactions: s.open.pkg.transactions, bytes: s.open.length, ...(s.open.startedAt ? { ageMs: now - Date.parse(s.open.startedAt) } : {}) },
    inbox: s.inbox.map((i) => ({ part: i.remoteName, kind: i.kind, bytes: i.bytes, ageMs: now - Date.parse(i.stagedAt) })),
    requestsAwaitingAnswer: s.requests.map((r) => r.uid),
    held,
    counters: { ...s.counters },
    nextPackage: s.nextPackage,
    ...(s.lastPull ? { lastPull: s.lastPull } : {}),
    ...(s.lastPullOk ? { lastPullOk: s.lastPullOk } : {}),
    ...(s.lastPush ? { lastPush: s.lastPush } : {}),
    ...(s.lastPushOk ? { lastPushOk: s.lastPushOk } : {}),
    ...(s.lastReferenceDelivered ? { lastReferenceDelivered: s.lastReferenceDelivered } : {}),
    shift: summarizeShifts(store.shifts()),
  };
}

export function formatAge(ms: number): string {
  if (ms < 60_000) return `${Math.max(0, Math.round(ms / 1000))}s`;
  if (ms < 3_600_000) return `${Math.round(ms / 60_000)}m`;
  if (ms < 86_400_000) return `${(ms / 3_600_000).toFixed(1)}h`;
  return `${(ms / 86_400_000).toFixed(1)}d`;
}

function formatBytes(n: number): string {
  if (n < 10 * 1024) return `${n} B`;
  if (n < 10 * 1024 * 1024) return `${Math.round(n / 1024)} KB`;
  return `${Math.round(n / 1024 / 1024)} MB`;
}

const ACTIVITY_NAMES: Record<ProgressSnapshot['activity'], string> = { 'reference-download': 'reference download', 'backlog-drain': 'backlog drain' };

/** One activity in flight, for `status` and `run --once`'s bar: `reference download: 4 MB of 10 MB (40%), 512 KB/s, about 12s left`. */
export function describeProgress(p: ProgressSnapshot): string {
  const amount = (n: number) => (p.unit === 'bytes' ? formatBytes(Math.round(n)) : `${n} package${n === 1 ? '' : 's'}`);
  const of = p.total !== undefined ? ` of ${amount(p.total)}${p.total > 0 ? ` (${Math.floor((100 * p.done) / p.total)}%)` : ''}` : ' (total not known yet)';
  const rate = p.rate !== undefined ? `, ${p.unit === 'bytes' ? `${formatBytes(Math.round(p.rate))}/s` : `${p.rate} packages/s`}` : '';
  const eta = p.etaS !== undefined ? `, about ${formatAge(p.etaS * 1000)} left` : '';
  return `${ACTIVITY_NAMES[p.activity]}: ${amount(p.done)}${of}${rate}${eta}`;
}

/** Held files listed without --verbose; the rest are counted. */
const HELD_SHOWN = 5;

/**
 * The text `status` prints: a summary whatever the queue's length (counts, the oldest package, the last
 * error, the next retry, held till files); `verbose` adds one line per queued package.
 */
export function formatStatus(r: StatusReport, now = Date.now(), opts: { verbose?: boolean } = {}): string {
  const lines: string[] = [];
  lines.push(`POS ${r.pos} · transport ${r.transport} · data ${r.dataDir} · ${r.live ? 'agent running' : 'agent not running (read from the data folder)'}`);
  const since = (iso?: string) => (iso ? `${iso} (${formatAge(now - Date.parse(iso))} ago)` : 'never');
  if (r.dataFreeBytes !== undefined && r.dataFreeBytes < LOW_SPACE_BYTES) {
    lines.push(`DATA FOLDER FULL: ${r.dataFreeBytes} bytes free (ENOSPC): new reports stay with Kassir and nothing new is stored or sent until space is freed`);
  } else if (r.dataFreeBytes !== undefined) {
    lines.push(`data folder: ${(r.dataFreeBytes / 1024 / 1024).toFixed(0)} MB free`);
  }
  if (r.live?.lastLocalError) lines.push(`last local error: ${r.live.lastLocalError}`);
  for (const p of r.live?.inFlight ?? []) lines.push(`in flight: ${describeProgress(p)}`);
  lines.push(`last successful pull: ${since(r.lastPullOk)}${r.lastPull && !r.lastPull.ok ? ` · last attempt failed: ${r.lastPull.error}` : ''}`);
  lines.push(`last successful push: ${since(r.lastPushOk)}${r.lastPush && !r.lastPush.ok ? ` · last attempt failed: ${r.lastPush.error}` : ''}`);
  const q = r.queued;
  if (q.length === 0) lines.push('queued packages: 0');
  else {
    const tx = q.reduce((a, p) => a + Math.max(0, p.transactions), 0);
    const bytes = q.reduce((a, p) => a + p.bytes, 0);
    const head = q[0]!;
    const oldest = q.reduce((a, p) => (p.ageMs > a.ageMs ? p : a), head);
    lines.push(`queued packages: ${q.length} (#${head.package}..#${q[q.length - 1]!.package}, ${tx} transactions, ${formatBytes(bytes)}); oldest #${oldest.package}, ${formatAge(oldest.ageMs)} old`);
    lines.push(`head package #${head.package}: ${head.attempts} attempt(s)${head.lastError ? ` · last error: ${head.lastError}` : ''}`);
    if (r.live?.nextAttemptAt) {
      const inMs = Date.parse(r.live.nextAttemptAt) - now;
      lines.push(`next attempt: ${r.live.nextAttemptAt} (in ${formatAge(inMs)}; \`kassir-agent retry\` sends now)`);
    }
    if (opts.verbose) {
      for (const p of q) {
        lines.push(`  #${p.package}  ${p.transactions} tx  ${p.bytes} B  age ${formatAge(p.ageMs)}  attempts ${p.attempts}${p.uid ? `  uid ${p.uid}` : ''}${p.lastError ? `  last error: ${p.lastError}` : ''}`);
      }
    } else if (q.length > 1) lines.push('  (--verbose lists every queued package)');
  }
  if (r.shift) lines.push(formatShiftLine(r.shift, now, formatAge));
  lines.push(`open package: ${r.open.transactions} transactions, ${r.open.bytes} B${r.open.ageMs !== undefined ? `, since ${formatAge(r.open.ageMs)}` : ''}`);
  const held = r.held ?? [];
  if (held.length > 0) {
    lines.push(`report files held in the till folder: ${held.length}`);
    const shown = opts.verbose ? held : held.slice(0, HELD_SHOWN);
    for (const h of shown) lines.push(`  ${h.file}: ${h.reason} (held since ${since(h.since)}${h.takeBy ? `; taken anyway at ${h.takeBy}` : ''})`);
    if (shown.length < held.length) lines.push(`  ... and ${held.length - shown.length} more (--verbose lists them)`);
  }
  lines.push(`incoming waiting for Kassir: ${r.inbox.length}${r.inbox.length ? ` (${r.inbox.map((i) => i.part).join(', ')})` : ''}`);
  if (r.requestsAwaitingAnswer.length) lines.push(`flr requests awaiting an answer: ${r.requestsAwaitingAnswer.join(', ')}`);
  lines.push(`next package number: ${r.nextPackage}`);
  lines.push(`counters: ${Object.entries(r.counters).map(([k, v]) => `${k}=${v}`).join(' ')}`);
  return lines.join('\n');
}
