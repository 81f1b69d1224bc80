/**
 * The line `status` prints about a POS's last closed shift, e.g.
 * "last shift 12 closed 21:04, delivered 21:05, matches Z". Times are the
 * till's local time (the shop's), with the date when not today.
 */
import type { ShiftSummary } from './summary.js';

const pad = (n: number) => String(n).padStart(2, '0');

/** "21:04" today, "2026-11-23 21:04" another day (local time). */
export function localTime(iso: string, now: number): string {
  const d = new Date(iso);
  const today = new Date(now);
  const hm = `${pad(d.getHours())}:${pad(d.getMinutes())}`;
  const sameDay = d.getFullYear() === today.getFullYear() && d.getMonth() === today.getMonth() && d.getDate() === today.getDate();
  return sameDay ? hm : `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${hm}`;
}

export function formatShiftLine(s: ShiftSummary, now: number, age: (ms: number) => string): string {
  const last = s.lastClosed;
  if (!last) return 'last shift: none closed yet';
  const at = (iso?: string) => (iso ? localTime(iso, now) : 'at an unknown time');
  const parts = [`last shift ${last.number ?? '(no number)'} closed ${at(last.closedAt)}`];
  parts.push(last.delivered ? `delivered ${at(last.deliveredAt)}` : `waiting since ${at(last.closedAt)}${last.closedAt ? ` (${age(now - Date.parse(last.closedAt))})` : ''}`);
  if (last.matches === true) parts.push('matches Z');
  else if (last.matches === false) parts.push(`DOES NOT MATCH Z: ${last.zRevenue ?? '?'} (Z) vs ${last.revenue} (receipts)`);
  else parts.push('not checked against Z (the agent did not see its beginning)');
  const line = parts.join(', ');
  const older = s.undelivered - (last.delivered ? 0 : 1);
  const extra: string[] = [];
  if (older > 0) extra.push(`${older} earlier shift(s) not delivered, the oldest closed ${at(s.oldestUndeliveredClosedAt)}`);
  const earlierMismatches = s.mismatches - (last.matches === false ? 1 : 0);
  if (earlierMismatches > 0) extra.push(`${earlierMismatches} earlier shift(s) do not match Z (\`kassir-agent shifts\`)`);
  return extra.length ? `${line}; ${extra.join('; ')}` : line;
}
