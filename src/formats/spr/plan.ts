/**
 * Pure planning of an SPR merge: which parts go into which output file and
 * which earlier lines a later clear makes irrelevant. No I/O, so every rule
 * is testable on hand-made scans.
 *
 * Rules (each keeps "loading the outputs one after another gives the same
 * final state as loading every part in order"):
 * 1. A part whose line 2 is '@' was already loaded: skipped. A part with
 *    neither data lines nor commands is empty: skipped. A part with commands
 *    but no data (the protocol's own sample is `##@@&&$$$RPL` alone) is
 *    delivered: what a command means to Kassir is inferred, not documented,
 *    so it is never assumed to do nothing.
 *    Skipped names are still listed in the neighbouring output's `parts`,
 *    so the caller removes them when that output is delivered.
 * 2. A clear of a known table (tables.ts) drops that table's lines from every
 *    earlier part back to the last part with unknown commands. Clears only
 *    ever remove state, so lines they remove are irrelevant even in earlier
 *    outputs.
 * 3. A part joins the current output unless: its data and the output's
 *    remaining data were written in different modes (ADD vs RPL vs neither,
 *    e.g. ADD after a replacing part), or its clear names a table we cannot
 *    map to prefixes while the output still holds OTHER lines it might clear.
 *    An output's clears are written before all its data: valid because every
 *    line of a cleared table that preceded the clear has been dropped.
 * 4. A part with unknown commands is an output of its own, copied as written
 *    (line 2 set to '#'); nothing is dropped across it.
 * 5. An output left with no data (all dropped by later clears) folds into the
 *    next output, carrying its clears: nothing stood between them.
 * 6. Tag elements (`<product_group ...>`, `<goods_attr ...>`, any `<name`
 *    line: table TAG) describe other records (a goods attribute names its
 *    goods) and what a clear does to them is not documented. So a part with
 *    tag elements, and every part before it back to the last part with
 *    unknown commands, is *protected*: a later clear drops nothing from it
 *    (its goods stay for the attributes that describe them), and a part with
 *    a clear never joins an output holding a protected part: it starts a new
 *    output, loaded after it, exactly in the order the back office wrote.
 */
import type { SprMode } from './commands.js';
import type { SprPartScan } from './scan.js';
import { KNOWN_TABLE_NAMES, OTHER, TABLE_COUNT, TAG, type TableId } from './tables.js';

export interface PartPlan {
  scan: SprPartScan;
  /** Tables whose lines are dropped from this part. */
  drop: Set<TableId>;
}

export interface GroupPlan {
  /** One part with unknown commands, delivered as written. */
  isolated: boolean;
  parts: PartPlan[];
  /** Every input name this output accounts for (merged, dropped-to-nothing or skipped), input order. */
  names: string[];
  /** Union of the parts' clears, written at the top of the output. */
  clear: Set<string>;
}

export interface MergePlan {
  groups: GroupPlan[];
  skipped: { name: string; reason: string }[];
}

export function remainingLines(p: PartPlan, table?: TableId): number {
  let n = 0;
  for (let t = 0; t < TABLE_COUNT; t++) {
    if ((table === undefined || table === t) && !p.drop.has(t as TableId)) n += p.scan.tableLines[t]!;
  }
  return n;
}

export function groupRemaining(g: GroupPlan, table?: TableId): number {
  return g.parts.reduce((n, p) => n + remainingLines(p, table), 0);
}

type PartMode = SprMode | 'NONE';

function partMode(p: PartPlan): PartMode {
  return p.scan.summary.mode ?? 'NONE';
}

/** The mode of the output's remaining data (all parts with data share it), or undefined when it has none. */
export function groupMode(g: GroupPlan): PartMode | undefined {
  const p = g.parts.find((x) => remainingLines(x) > 0);
  return p === undefined ? undefined : partMode(p);
}

/**
 * The mode command an output carries: its data's mode (none for 'NONE'). An
 * output without data still carries the mode its parts were written with
 * (rule 1: a command alone is delivered, e.g. the protocol's sample
 * `##@@&&$$$RPL`), the last part's, as loading them in order leaves it.
 */
export function groupModeCommand(g: GroupPlan): SprMode | undefined {
  const m = groupMode(g);
  if (m !== undefined) return m === 'NONE' ? undefined : m;
  return g.parts.findLast((p) => p.scan.summary.mode !== undefined)?.scan.summary.mode;
}

function effectiveClear(s: SprPartScan): Set<string> | undefined {
  const c = s.summary.clear;
  return c !== undefined && c.size > 0 ? c : undefined;
}

function canJoin(g: GroupPlan, part: PartPlan, clear: Set<string> | undefined, protectedParts: Set<PartPlan>): boolean {
  if (clear && g.parts.some((p) => protectedParts.has(p))) return false; // rule 6
  const gm = groupMode(g);
  const pm = remainingLines(part) > 0 ? partMode(part) : undefined;
  if (gm !== undefined && pm !== undefined && gm !== pm) return false;
  if (clear && [...clear].some((t) => !KNOWN_TABLE_NAMES.has(t)) && groupRemaining(g, OTHER) > 0) return false;
  return true;
}

export function planSprMerge(scans: SprPartScan[]): MergePlan {
  const groups: GroupPlan[] = [];
  const skipped: { name: string; reason: string }[] = [];
  let segmentStart = 0;
  let pending: string[] = [];
  /** Parts no clear drops anything from (rule 6). */
  const protectedParts = new Set<PartPlan>();

  for (const s of scans) {
    const clear = effectiveClear(s);
    if (s.loaded) {
      skipped.push({ name: s.name, reason: 'already loaded by the till (line 2 is @)' });
      pending.push(s.name);
      continue;
    }
    if (s.summary.unknown.length === 0 && s.dataLines === 0 && !clear && s.commands.length === 0) {
      skipped.push({ name: s.name, reason: 'empty: no data lines and no commands' });
      pending.push(s.name);
      continue;
    }
    const part: PartPlan = { scan: s, drop: new Set() };
    if (s.summary.unknown.length > 0) {
      groups.push({ isolated: true, parts: [part], names: [...pending, s.name], clear: new Set() });
      pending = [];
      segmentStart = groups.length;
      continue;
    }
    if (clear) {
      const known = [...clear].flatMap((t) => (KNOWN_TABLE_NAMES.has(t) ? [KNOWN_TABLE_NAMES.get(t)!] : []));
      for (let i = segmentStart; i < groups.length; i++) for (const p of groups[i]!.parts) if (!protectedParts.has(p)) for (const t of known) p.drop.add(t);
    }
    if (s.tableLines[TAG]! > 0) {
      // Rule 6: this part and everything before it keep all their lines.
      for (let i = segmentStart; i < groups.length; i++) for (const p of groups[i]!.parts) protectedParts.add(p);
      protectedParts.add(part);
    }
    const last = groups.length > segmentStart ? groups[groups.length - 1]! : undefined;
    if (last && canJoin(last, part, clear, protectedParts)) {
      last.parts.push(part);
      last.names.push(...pending, s.name);
      for (const t of clear ?? []) last.clear.add(t);
    } else {
      groups.push({ isolated: false, parts: [part], names: [...pending, s.name], clear: new Set(clear ?? []) });
    }
    pending = [];
  }

  // Rule 5: fold outputs left without data into the next one.
  const folded: GroupPlan[] = [];
  for (let i = 0; i < groups.length; i++) {
    const g = groups[i]!;
    const next = groups[i + 1];
    if (!g.isolated && next && !next.isolated && groupRemaining(g) === 0) {
      next.parts = [...g.parts, ...next.parts];
      next.names = [...g.names, ...next.names];
      next.clear = new Set([...g.clear, ...next.clear]);
      continue;
    }
    folded.push(g);
  }
  // Safety net: an output that would neither clear, set a mode nor load anything is not written.
  const result: GroupPlan[] = [];
  let carry: string[] = [];
  for (const g of folded) {
    if (!g.isolated && g.clear.size === 0 && groupRemaining(g) === 0 && groupModeCommand(g) === undefined) {
      if (result.length > 0) result[result.length - 1]!.names.push(...g.names);
      else carry.push(...g.names);
      continue;
    }
    g.names = [...carry, ...g.names];
    carry = [];
    result.push(g);
  }
  const tail = [...carry, ...pending];
  if (result.length > 0) result[result.length - 1]!.names.push(...tail);
  // No output at all: what a dropped output stood for is accounted for as skipped, so the caller retires it.
  else for (const name of carry) if (!skipped.some((x) => x.name === name)) skipped.push({ name, reason: 'nothing to load: no data lines, clear or mode left' });
  return { groups: result, skipped };
}
