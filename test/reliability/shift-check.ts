/**
 * The EquipmentService side of the harness's figures: the shifts 1C holds
 * (the emulator keeps one per SaleReport UUID, a re-post replacing it)
 * compared with the closed shifts Kassir wrote, whose figures the
 * ShiftWriter computed itself from the amounts it wrote (never from the
 * agent's ledger): each closed shift exactly once, in the order closed, with
 * the same receipt counts, totals, payments per kind and cash in/out; every
 * re-post of a SaleReport byte for byte the first (so 1C replaced it with the
 * same shift).
 */
import { isDeepStrictEqual } from 'node:util';
import type { ReceivedShift } from '../../scripts/es-emulator/sale-reports.js';
import type { PostedDoc } from '../../scripts/es-emulator/server.js';
import { compareSequences } from '../helpers/kassir-sim.js';
import { figuresOf, KIND_OF, ledgerFigures } from '../helpers/sale-reports.js';
import type { ExpectedShift } from '../helpers/shift-writer.js';

export interface ShiftFigures {
  /** Shifts Kassir closed (Z report written). */
  closed: number;
  /** Shifts 1C holds. */
  inOneC: number;
  /** SaleReports 1C took (a re-post after a kill or a lost answer counts again). */
  posts: number;
  lost: number;
  /** A shift 1C holds twice (two SaleReport UUIDs for one shift number). */
  duplicated: number;
  outOfOrder: number;
  /** Shifts whose counts or sums in 1C differ from Kassir's, or that Kassir never closed. */
  wrong: number;
  /** SaleReport UUIDs posted with different contents (1C would have replaced a shift with another). */
  repostsDiffering: number;
  samples: string[];
}

export function emptyShiftFigures(): ShiftFigures {
  return { closed: 0, inOneC: 0, posts: 0, lost: 0, duplicated: 0, outOfOrder: 0, wrong: 0, repostsDiffering: 0, samples: [] };
}

/** `expected`: every shift Kassir wrote (closed ones are checked); `held`, `posted`: the emulator's. */
export function compareShifts(expected: readonly ExpectedShift[], held: readonly ReceivedShift[], posted: readonly PostedDoc[]): ShiftFigures {
  const f = emptyShiftFigures();
  const closed = expected.filter((s) => s.state === 'closed');
  f.closed = closed.length;
  f.inOneC = held.length;
  const numbers = held.map((s) => Number(s.attrs.ShiftNumber));
  const seq = compareSequences(closed.map((s) => Number(s.number)), numbers);
  f.lost = seq.lost;
  f.duplicated = seq.duplicated;
  f.outOfOrder = seq.outOfOrder;
  if (seq.lost) f.samples.push(`shifts closed by Kassir but not in 1C: ${closed.filter((s) => !numbers.includes(Number(s.number))).map((s) => s.number).join(', ')}`);
  if (seq.duplicated) f.samples.push(`shifts 1C holds more than once: ${numbers.filter((n, i) => numbers.indexOf(n) !== i).join(', ')}`);
  const byNumber = new Map(closed.map((s) => [s.number, s]));
  for (const s of held) {
    const want = byNumber.get(s.attrs.ShiftNumber ?? '');
    let got;
    try {
      got = figuresOf(s, KIND_OF);
    } catch (e) {
      f.wrong++;
      f.samples.push(`shift ${s.attrs.ShiftNumber} in 1C: ${(e as Error).message}`);
      continue;
    }
    if (want && isDeepStrictEqual(got, ledgerFigures(want))) continue;
    f.wrong++;
    f.samples.push(`shift ${s.attrs.ShiftNumber} in 1C: ${JSON.stringify(got)}; Kassir wrote ${want ? JSON.stringify(ledgerFigures(want)) : 'no such closed shift'}`);
  }
  const reports = new Map<string, Set<string>>();
  for (const p of posted) {
    if (!p.ok || p.docType !== 'SaleReports') continue;
    for (const [report] of p.document.matchAll(/<SaleReport\b[^>]*?(?:\/>|>[\s\S]*?<\/SaleReport>)/g)) {
      f.posts++;
      const uuid = /^<SaleReport\b[^>]*\bUUID="([^"]+)"/.exec(report)?.[1] ?? '(no UUID)';
      (reports.get(uuid) ?? reports.set(uuid, new Set()).get(uuid)!).add(report);
    }
  }
  for (const [uuid, texts] of reports) {
    if (texts.size === 1) continue;
    f.repostsDiffering++;
    f.samples.push(`SaleReport ${uuid} was posted ${texts.size} times with different contents`);
  }
  return f;
}
