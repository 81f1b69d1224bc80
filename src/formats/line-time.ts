/**
 * A report line's date and time (fields 2 and 3: `DD.MM.YY` or `DD.MM.YYYY`, and `HH:MM` or `HH:MM:SS`,
 * the till's local time, no zone). One reading for every user: the shift ledger turns it into an ISO
 * instant, the EquipmentService upload writes it back as 1C's zone-less dateTime.
 */
export interface LineClock {
  year: number;
  /** 1-12. */
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
}

/** The fields' date and time (blanks around them allowed); undefined when they are not a date and a time. */
export function lineClock(date: string | undefined, time: string | undefined): LineClock | undefined {
  const d = /^\s*(\d\d)\.(\d\d)\.(\d\d|\d{4})\s*$/.exec(date ?? '');
  const t = /^\s*(\d\d):(\d\d)(?::(\d\d))?\s*$/.exec(time ?? '');
  if (!d || !t) return undefined;
  const year = d[3]!.length === 2 ? 2000 + Number(d[3]) : Number(d[3]);
  return { year, month: Number(d[2]), day: Number(d[1]), hour: Number(t[1]), minute: Number(t[2]), second: Number(t[3] ?? 0) };
}
