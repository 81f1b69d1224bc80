/**
 * A plain interval for a schedule: `30s`, `5m`, `1h`, `500ms`. The pull
 * schedule takes one as well as a cron expression: "every 30 s" needs no
 * cron, and node-cron's time-zone-aware matcher loads about 6 MB of ICU
 * locale data into the process (Intl.DateTimeFormat), a tenth of the memory
 * an idle agent may use on a weak till.
 */
const UNITS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 };

/** Milliseconds for an interval like `30s`, or undefined if `text` is not one. */
export function parseInterval(text: string): number | undefined {
  const m = /^\s*(\d+)\s*(ms|s|m|h)\s*$/.exec(text);
  if (!m) return undefined;
  const ms = Number(m[1]) * UNITS[m[2]!]!;
  return ms > 0 ? ms : undefined;
}
