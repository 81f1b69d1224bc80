/**
 * Crash-safe file primitives. Every durable write in the agent goes through
 * here: write a temporary file in the same folder, fsync it, rename it over
 * the target, fsync the folder (so the rename itself survives a power cut).
 */
import { closeSync, fsyncSync, openSync } from 'node:fs';
import * as fs from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { failpoint } from '../util/failpoints.js';

/** Files and folders the agent creates are private to the service user. */
export const FILE_MODE = 0o600;
export const DIR_MODE = 0o700;

export async function ensureDir(dir: string): Promise<void> {
  await fs.mkdir(dir, { recursive: true, mode: DIR_MODE });
}

/** fsync a folder so that renames and creations inside it are durable. No-op where folders cannot be opened (Windows). */
export async function fsyncDir(dir: string): Promise<void> {
  if (process.platform === 'win32') return;
  failpoint('fsync.dir');
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

let tmpCounter = 0;
/** A temporary name next to `target`, unique within this process and across restarts. */
export function tempNameFor(target: string): string {
  return join(dirname(target), `.${basename(target)}.${process.pid}.${Date.now()}.${++tmpCounter}.tmp`);
}

/** `mode`: for a file other programs read (a metrics export); set explicitly, whatever the umask. */
export async function writeFileAtomic(target: string, data: Buffer | string, opts: { mode?: number } = {}): Promise<void> {
  const tmp = tempNameFor(target);
  const fh = await fs.open(tmp, 'w', opts.mode ?? FILE_MODE);
  try {
    if (opts.mode !== undefined && process.platform !== 'win32') await fh.chmod(opts.mode);
    await fh.writeFile(data);
    failpoint('fsync.file');
    await fh.sync();
  } finally {
    await fh.close();
  }
  failpoint('atomic.before-rename');
  try {
    await fs.rename(tmp, target);
  } catch (e) {
    await fs.rm(tmp, { force: true });
    throw e;
  }
  failpoint('atomic.after-rename');
  await fsyncDir(dirname(target));
}

export async function writeJsonAtomic(target: string, value: unknown): Promise<void> {
  await writeFileAtomic(target, JSON.stringify(value, null, 1) + '\n');
}

/** Copy a file to `target` durably (temp, fsync, rename, fsync the folder). */
export async function copyFileAtomic(src: string, target: string): Promise<void> {
  const tmp = tempNameFor(target);
  await fs.copyFile(src, tmp);
  await fsyncFile(tmp);
  await fs.rename(tmp, target);
  await fsyncDir(dirname(target));
}

export async function fsyncFile(path: string): Promise<void> {
  const fh = await fs.open(path, 'r+');
  try {
    failpoint('fsync.file');
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** Rename durably; falls back to copy + delete across filesystems (EXDEV). */
export async function moveFile(src: string, target: string): Promise<void> {
  try {
    await fs.rename(src, target);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EXDEV') throw e;
    await copyFileAtomic(src, target);
    await fs.rm(src, { force: true });
  }
  await fsyncDir(dirname(target));
}

export async function statOrUndefined(path: string) {
  try {
    return await fs.stat(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
}

/** Temporary files left by writeFileAtomic/copyFileAtomic in `dir` (from a crash). */
export function isAtomicTemp(name: string): boolean {
  return /^\..+\.\d+\.\d+\.\d+\.tmp$/.test(name);
}
