/**
 * An operator's request for a full export of the price list
 * (`kassir-agent full-export`): a marker file in the transport's folder, so
 * it works whether the agent runs or not, and survives a restart until a pull
 * has taken it over into the transport's cursor. Asking again is harmless.
 */
import * as fs from 'node:fs/promises';
import { join } from 'node:path';
import { ensureDir, writeFileAtomic } from '../../util/fsutil.js';

/** The transport's own folder in an exchange's data folder. */
export function equipmentServiceDir(dataDir: string): string {
  return join(dataDir, 'equipment-service');
}

function marker(dir: string): string {
  return join(dir, 'full-export.requested');
}

export async function requestFullExport(dir: string): Promise<void> {
  await ensureDir(dir);
  await writeFileAtomic(marker(dir), `${new Date().toISOString()}\n`);
}

export async function fullExportRequested(dir: string): Promise<boolean> {
  try {
    await fs.access(marker(dir));
    return true;
  } catch {
    return false;
  }
}

/** Called once the request is in the transport's cursor. */
export async function fullExportTaken(dir: string): Promise<void> {
  await fs.rm(marker(dir), { force: true });
}
