/**
 * Names of SPR parts. The back office publishes `POS1.spr` (no suffix, the
 * "FTP by 1C means" variant) or `POS1.spr.$1` .. `POS1.spr.$n`; the till
 * loads them in numeric suffix order, so `$10` comes after `$9` (docs/FORMATS.md
 * "Sequenced files: the folder share and FTP").
 */

const SUFFIX = /^(.*)\.\$([1-9][0-9]*)$/;

function baseName(p: string): string {
  const i = Math.max(p.lastIndexOf('/'), p.lastIndexOf('\\'));
  return i === -1 ? p : p.slice(i + 1);
}

/**
 * 'POS1.spr' -> 0, 'POS1.spr.$12' -> 12, anything else -> undefined.
 * `referenceName` may carry a folder (`Files/POS1.spr`); `name` is compared
 * with it as given and, when `name` has no folder, with its last component.
 * The comparison is exact (case-sensitive): a share or FTP server that lists
 * `pos1.SPR` serves a different file on a case-sensitive system.
 * `$0` and zero-padded numbers (`$01`) are not part names: the publisher never
 * writes them, and accepting them would make two names map to one number.
 */
export function sprPartNumber(name: string, referenceName: string): number | undefined {
  const candidates = new Set([referenceName, baseName(referenceName)]);
  if (candidates.has(name)) return 0;
  const m = SUFFIX.exec(name);
  if (!m || !candidates.has(m[1]!)) return undefined;
  const n = Number(m[2]);
  return Number.isSafeInteger(n) ? n : undefined;
}

function split(name: string): { base: string; n: number } {
  const m = SUFFIX.exec(name);
  if (!m) return { base: name, n: 0 };
  const n = Number(m[2]);
  return { base: m[1]!, n: Number.isSafeInteger(n) ? n : Number.MAX_SAFE_INTEGER };
}

/** Sort comparator: by base name, then numeric suffix (`$9` < `$10`), the plain name first. */
export function compareSprPartNames(a: string, b: string): number {
  const x = split(a);
  const y = split(b);
  if (x.base !== y.base) return x.base < y.base ? -1 : 1;
  if (x.n !== y.n) return x.n - y.n;
  return a < b ? -1 : a > b ? 1 : 0;
}
