/**
 * Reads a folder of sealed packages (`outbox/` or `archive/`): each package is
 * `<n>.rep` (its bytes) and `<n>.json` (its PackageMeta). Reading writes
 * nothing; what is unreadable or half there is reported to the caller, and
 * start-up recovery decides what to repair (recovery.ts).
 */
import * as fs from 'node:fs/promises';
import { join } from 'node:path';
import { metaNumber, packageNumber } from './layout.js';
import { packageMetaSchema, type PackageMeta } from './state.js';

export interface PackageScan {
  /** Packages with a readable meta and their bytes, or delivered (an archived meta outlives nothing else). */
  metas: Map<number, PackageMeta>;
  /** Meta files that could not be read, or that name another package. */
  unreadable: { n: number; file: string; error: string }[];
  /** Package files with no meta file at all. */
  withoutMeta: string[];
}

export async function scanPackages(dir: string): Promise<PackageScan> {
  const scan: PackageScan = { metas: new Map(), unreadable: [], withoutMeta: [] };
  let names: string[];
  try {
    names = await fs.readdir(dir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return scan;
    throw e;
  }
  const reps = new Set(names.filter((n) => packageNumber(n) !== undefined));
  for (const name of names) {
    const n = metaNumber(name);
    if (n === undefined) continue;
    const file = join(dir, name);
    const hasBytes = reps.delete(`${n}.rep`);
    let meta: PackageMeta;
    try {
      meta = packageMetaSchema.parse(JSON.parse(await fs.readFile(file, 'utf8')));
      if (meta.number !== n) throw new Error(`names package ${meta.number}`);
    } catch (e) {
      scan.unreadable.push({ n, file, error: (e as Error).message });
      continue;
    }
    // Meta without bytes: an interrupted seal (recovery handles it) or a damaged outbox; kept only once delivered.
    if (hasBytes || meta.deliveredAt !== undefined) scan.metas.set(n, meta);
  }
  scan.withoutMeta = [...reps];
  return scan;
}

/** The readable packages of a folder (see scanPackages). */
export async function readMetas(dir: string): Promise<Map<number, PackageMeta>> {
  return (await scanPackages(dir)).metas;
}
