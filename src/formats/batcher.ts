/**
 * Outgoing packages: report units appended to the open package until the next
 * unit would exceed `maxTransactions` ("the number of transactions to unload",
 * docs/FORMATS.md "Packages"). A unit is never split (a receipt split across packages makes the
 * back-office import fail on its stornos/discounts); a unit larger than the
 * limit alone forms its own package.
 *
 * Pure: the caller owns the open package's bytes on disk and persists the
 * tiny state below with them. Every package is a valid report file: it starts
 * with a block header (`#` and the two service lines of the units' source
 * block), and repeats a header whenever the source block changes, so units
 * from several source files (Kassir writes more while a package is open) can
 * share one package.
 */
import { createHash } from 'node:crypto';
import { bomOf, type TextEncoding } from './encoding.js';
import { parseReport, unitLinesCrlf, type BlockHeader, type ReportUnit } from './report.js';

export interface OpenPackageState {
  transactions: number;
  bytes: number;
  /** Identity of the block header last written (its service lines), to know when to write another. */
  lastHeaderKey?: string;
  /** Encoding of the package's bytes; a unit in another encoding starts a new package. */
  encoding?: TextEncoding;
}

export const emptyPackage: OpenPackageState = Object.freeze({ transactions: 0, bytes: 0 });

export interface AppendPlan {
  /** Seal the open package first; `chunk`/`state` are then for a fresh, empty package. */
  sealFirst: boolean;
  /** Why, when `sealFirst`: the unit would take it over the limit, or is in another encoding. */
  sealReason?: 'full' | 'encoding';
  /** Bytes to append: block header lines if needed + the unit's lines, all CRLF. */
  chunk: Buffer;
  /** State after appending. The caller seals right away when `state.transactions >= maxTransactions`. */
  state: OpenPackageState;
}

const CRLF = Buffer.from('\r\n', 'latin1');
const BLOCK_START = Buffer.from('#\r\n', 'latin1');

/** A short stable identity for a block header (hash of its service lines; 22 characters). */
export function headerKey(h: BlockHeader): string {
  let key = headerKeys.get(h);
  if (key === undefined) {
    const hash = createHash('sha256');
    hash.update(h.service[0]);
    hash.update('\n');
    hash.update(h.service[1]);
    key = hash.digest('base64url').slice(0, 22);
    headerKeys.set(h, key);
  }
  return key;
}

/**
 * headerKey per header object: every unit of a block shares its header, and
 * hashing it again for each unit cost more than the rest of planAppend.
 * (Headers are values: parseReport makes a new one for each block and never
 * changes it.)
 */
const headerKeys = new WeakMap<BlockHeader, string>();

export interface BatchPlan {
  /** Bytes to append to the open package: the units `from`..`upTo - 1`, with block headers where needed. */
  chunk: Buffer;
  /** The open package's state after the append. */
  state: OpenPackageState;
  /** The first unit not in this batch. */
  upTo: number;
  /** Transactions in this batch. */
  transactions: number;
  /** The package is full after it: seal it now. */
  full: boolean;
}

/**
 * Plans one append to the open package: units from `from` on, in order, until
 * the package is full or the next unit cannot join it (over the limit, or in
 * another encoding). Undefined when not even the first fits: seal the open
 * package, then plan again on an empty one (which always takes a unit).
 */
export function planBatch(
  state: OpenPackageState,
  units: readonly ReportUnit[],
  from: number,
  maxTransactions: number,
  /** The batch ends after a unit for which this is true (a Z report, when the package is sealed after a shift closes). */
  endsAfter?: (unit: ReportUnit) => boolean,
): BatchPlan | undefined {
  let pkg = state;
  const chunks: Buffer[] = [];
  let transactions = 0;
  let j = from;
  while (j < units.length) {
    const plan = planAppend(pkg, units[j]!, maxTransactions);
    if (plan.sealFirst) break; // the open package cannot take this unit: seal it first
    chunks.push(plan.chunk);
    pkg = plan.state;
    transactions += units[j]!.transactions;
    j++;
    if (pkg.transactions >= maxTransactions || endsAfter?.(units[j - 1]!)) break;
  }
  if (chunks.length === 0) return undefined;
  return { chunk: Buffer.concat(chunks), state: pkg, upTo: j, transactions, full: pkg.transactions >= maxTransactions };
}

export function planAppend(state: OpenPackageState, unit: ReportUnit, maxTransactions: number): AppendPlan {
  if (!Number.isInteger(maxTransactions) || maxTransactions < 1) throw new RangeError(`maxTransactions must be a positive integer, got ${maxTransactions}`);
  const encoding = unit.header.encoding ?? 'cp1251';
  const open = state.bytes > 0;
  const over = open && state.transactions + unit.transactions > maxTransactions;
  const otherEncoding = open && (state.encoding ?? 'cp1251') !== encoding;
  const sealFirst = over || otherEncoding;
  const base = sealFirst ? emptyPackage : state;
  const key = headerKey(unit.header);
  const lines = unitLinesCrlf(unit);
  let chunk = lines;
  if (base.bytes === 0 || base.lastHeaderKey !== key) {
    // Always '#': a package is by definition not yet loaded by the back office.
    const parts: Buffer[] = [];
    if (base.bytes === 0) parts.push(bomOf(encoding));
    parts.push(BLOCK_START, unit.header.service[0], CRLF, unit.header.service[1], CRLF, lines);
    chunk = Buffer.concat(parts);
  }
  return {
    sealFirst,
    ...(sealFirst ? { sealReason: over ? ('full' as const) : ('encoding' as const) } : {}),
    chunk,
    state: { transactions: base.transactions + unit.transactions, bytes: base.bytes + chunk.length, lastHeaderKey: key, encoding },
  };
}

/** Transactions in a report file's not-yet-loaded ('#') blocks: a helper for tests and verification. */
export function countTransactions(reportFile: Buffer): number {
  let n = 0;
  for (const u of parseReport(reportFile, 'package').units) n += u.transactions;
  return n;
}
