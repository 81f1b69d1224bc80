/**
 * `kassir-agent shifts`: the shift ledger of every POS, read from the data
 * folders without their lock (like `status`), so it works with the agent
 * running or stopped. Holds no secret: the config is loaded without them.
 */
import type { Config } from '../config/schema.js';
import { Store } from '../store/store.js';
import { nullLogger } from '../util/logger.js';
import type { ShiftRecord } from './record.js';

/** The JSON `shifts --json` prints. A new key may be added; changing the meaning of one makes schema 2. */
export interface ShiftsDocument {
  schema: 1;
  shifts: ShiftRecord[];
}

/** The shifts of the configured POSes (or of `pos`), each POS's oldest first, the last `last` of each when given. */
export async function readShifts(config: Config, opts: { pos?: number; last?: number } = {}): Promise<ShiftRecord[]> {
  const out: ShiftRecord[] = [];
  for (const ex of config.exchanges) {
    if (opts.pos !== undefined && ex.pos !== opts.pos) continue;
    const store = new Store(ex.dataDir, { retentionDays: ex.archive.retentionDays, readOnly: true }, nullLogger);
    await store.open();
    const shifts = store.shifts();
    out.push(...(opts.last !== undefined ? shifts.slice(-opts.last) : shifts));
  }
  return out;
}

export function shiftsDocument(shifts: ShiftRecord[]): ShiftsDocument {
  return { schema: 1, shifts };
}

/** A table for people: one line per shift, then its anomalies. */
export function formatShifts(shifts: readonly ShiftRecord[]): string {
  if (shifts.length === 0) return 'no shifts yet (the ledger counts the transactions the agent takes over from now on)';
  const head = ['POS', 'SHIFT', 'STATE', 'OPENED', 'CLOSED', 'SALES', 'RETURNS', 'CANC', 'REVENUE', 'Z REVENUE', 'MATCH', 'PAYMENTS', 'CASH IN/OUT', 'PACKAGES', 'DELIVERED'];
  // The till's local time, as Kassir and the Z report printout show it.
  const time = (iso: string | null) => {
    if (!iso) return '-';
    const d = new Date(iso);
    const p = (n: number) => String(n).padStart(2, '0');
    return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}`;
  };
  const rows = shifts.map((s) => [
    String(s.pos),
    s.number ?? '-',
    s.state + (s.partial ? ' (partial)' : ''),
    time(s.openedAt),
    time(s.closedAt),
    `${s.receipts.sales} / ${s.totals.sales}`,
    `${s.receipts.returns} / ${s.totals.returns}`,
    String(s.receipts.cancelled),
    s.totals.revenue,
    s.z?.revenue ?? '-',
    s.matches === null ? '-' : s.matches ? 'yes' : 'NO',
    Object.entries(s.payments).map(([k, v]) => `${k}:${v}`).join(' ') || '-',
    `${s.cash.in} / ${s.cash.out}`,
    s.packages.join(',') || '-',
    s.delivered ? time(s.deliveredAt) : s.state === 'closed' ? 'waiting' : '-',
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (r: string[]) => r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd();
  const lines = [line(head)];
  shifts.forEach((s, i) => {
    lines.push(line(rows[i]!));
    for (const a of s.anomalies) lines.push(`    ! ${a}`);
    if (s.unknown > 0) lines.push(`    ${s.unknown} line(s) the ledger does not understand (they travel unchanged)`);
  });
  return lines.join('\n');
}
