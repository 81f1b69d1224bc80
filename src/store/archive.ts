/**
 * `archive/`: delivered packages (bytes and meta), kept `retentionDays` for
 * `resend`. A package counts as delivered from the moment its archive meta is
 * durable; the outbox copy of the meta goes only after that (should a power
 * cut bring it back, recovery sees the archive meta and drops it).
 */
import { renameSync, writeFileSync } from 'node:fs';
import * as fs from 'node:fs/promises';
import { FILE_MODE, statOrUndefined, writeJsonAtomic } from '../util/fsutil.js';
import { metaFile, packageFile, tempNameFor, type DataLayout } from './layout.js';
import { readMetas } from './packages.js';
import type { PackageMeta } from './state.js';

/**
 * Bytes first, then the archive meta (durable, with its folder, which also
 * makes the move of the bytes durable): from then on the package counts as
 * delivered. The outbox meta left behind is removed without an fsync.
 * Used by start-up recovery; a running agent archives in checkpoints.
 */
export async function archivePackage(l: DataLayout, meta: PackageMeta): Promise<void> {
  const n = meta.number;
  if ((await statOrUndefined(packageFile(l.outbox, n))) !== undefined) await fs.rename(packageFile(l.outbox, n), packageFile(l.archive, n));
  await writeJsonAtomic(metaFile(l.archive, n), meta);
  await fs.rm(metaFile(l.outbox, n), { force: true });
}

/**
 * archivePackage for a checkpoint's batch: synchronous, without the fsyncs and
 * without removing the outbox meta (the checkpoint does both for the whole
 * batch).
 */
export function archivePackageSync(l: DataLayout, meta: PackageMeta): void {
  const n = meta.number;
  try {
    renameSync(packageFile(l.outbox, n), packageFile(l.archive, n));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  const target = metaFile(l.archive, n);
  const tmp = tempNameFor(target);
  writeFileSync(tmp, JSON.stringify(meta, null, 1) + '\n', { mode: FILE_MODE });
  renameSync(tmp, target);
}

/** Deletes archived packages delivered (or sealed) before `limit` (ms since the epoch). Returns how many went. */
export async function removeArchivedBefore(l: DataLayout, limit: number): Promise<number> {
  let removed = 0;
  for (const [n, meta] of await readMetas(l.archive)) {
    if (Date.parse(meta.deliveredAt ?? meta.sealedAt) < limit) {
      await fs.rm(packageFile(l.archive, n), { force: true });
      await fs.rm(metaFile(l.archive, n), { force: true });
      removed++;
    }
  }
  return removed;
}
