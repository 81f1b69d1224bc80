/**
 * Crash-safe file primitives. Every durable write in the agent goes through
 * here: write a temporary file in the same folder, fsync it, rename it over
 * the target, fsync the folder (so the rename itself survives a power cut).
 *
 * Durability audit of src/ (test/reliability checks it by crashing at the fail
 * points): every copy, rename, unlink and mkdir,
 * with the rule "the only remaining copy of data is fsynced, and its folder,
 * before the original goes":
 * - store quarantine (quarantine.ts): a copy is copyFileAtomic (a plain
 *   copy could be left empty by a power cut after the damaged original
 *   went); a move is moveFile: the file is fsynced before the rename and both
 *   folders after it; the EXDEV fallback copies durably before it deletes.
 *   The quarantine folder is created with ensureDir.
 * - ensureDir: a folder it creates is recorded in its parent (the parents
 *   are fsynced), so `till/.kassir-agent/taken` and the data folders survive a
 *   power cut with the renames made into them.
 * - store: recovery's `archive -> outbox` (unarchived) fsyncs both folders;
 *   archivePackage (archive.ts) writes the archive meta atomically (fsyncing
 *   the archive folder, which makes the move of the bytes durable) before the
 *   outbox copy goes; the checkpoint (outbox.ts) first syncs the journal's
 *   delivery records, then moves each outbox meta into the archive and
 *   fsyncs the metas and both folders before the journal is emptied; Inbox.stage
 *   fsyncs each download before its rename and the inbox folder after; the
 *   open package is fsynced after a cut.
 * - till: taking a report is a rename fsynced in both folders; a taken file is
 *   deleted only after its transactions are committed to the fsynced open
 *   package; delivery copies (a merged reference file: moves) to a temporary
 *   file, fsyncs it, renames, fsyncs the till folder, then retires the inbox parts.
 * - transports: the folder share fsyncs uploads before renaming them and
 *   fsyncs the folders after (best effort: SMB may refuse); FTP downloads are
 *   fsynced before the store renames them; KKMTransfer downloads are fsynced
 *   by Inbox.stage.
 * - deletions that need no fsync: tmp/ (work in progress), retention cleanup,
 *   atomic temporaries, the lock file.
 * Every fsync goes through fsyncFile / fsyncDir / syncHandle, which record it
 * when KASSIR_FSYNC_TRACE names a file: the power-loss tests drop what was
 * never synced.
 */
import { appendFileSync, closeSync, fstatSync, fsyncSync, openSync, writeSync } from 'node:fs';
import * as fs from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { failpoint } from './failpoints.js';

/** Test hook: `F <dev>:<ino> <size>` for a synced file, `D <path>` for a synced folder, in order. */
const TRACE = process.env.KASSIR_FSYNC_TRACE;
function trace(line: string): void {
  if (TRACE) appendFileSync(TRACE, line + '\n');
}
function traceFile(st: { dev: number; ino: number; size: number }): void {
  trace(`F ${st.dev}:${st.ino} ${st.size}`);
}

/** Files and folders the agent creates are private to the service user. */
export const FILE_MODE = 0o600;
export const DIR_MODE = 0o700;

/** mkdir -p; every folder it creates is made durable in its parent. */
export async function ensureDir(dir: string): Promise<void> {
  const first = await fs.mkdir(dir, { recursive: true, mode: DIR_MODE });
  if (first === undefined) return;
  const top = resolve(first);
  for (let d = resolve(dir); ; d = dirname(d)) {
    await fsyncDir(dirname(d));
    if (d === top || dirname(d) === d) break;
  }
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
  if (TRACE) trace(`D ${resolve(dir)}`);
}

/** fsync (or fdatasync) an open file: the one way the agent syncs a handle it keeps. */
export async function syncHandle(fh: fs.FileHandle, how: 'sync' | 'datasync' = 'sync'): Promise<void> {
  if (how === 'datasync') await fh.datasync();
  else await fh.sync();
  if (TRACE) traceFile(fstatSync(fh.fd));
}

/** `mode`: for a file other programs read (a metrics export); set explicitly, whatever the umask. */
export async function writeFileAtomic(target: string, data: Buffer | string, opts: { mode?: number } = {}): Promise<void> {
  const tmp = tempNameFor(target);
  const fh = await fs.open(tmp, 'w', opts.mode ?? FILE_MODE);
  try {
    if (opts.mode !== undefined && process.platform !== 'win32') await fh.chmod(opts.mode);
    await fh.writeFile(data);
    failpoint('fsync.file');
    await syncHandle(fh);
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
  try {
    await fs.copyFile(src, tmp);
    await fsyncFile(tmp);
    await fs.rename(tmp, target);
  } catch (e) {
    await fs.rm(tmp, { force: true });
    throw e;
  }
  await fsyncDir(dirname(target));
}

/**
 * Renames `src` to `target`, or copies it there when the two lie on different
 * volumes (EXDEV; `src` then stays). Syncs nothing: the caller fsyncs what it
 * depends on.
 */
export async function renameOrCopy(src: string, target: string): Promise<void> {
  try {
    await fs.rename(src, target);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EXDEV') throw e;
    await fs.copyFile(src, target);
  }
}

export async function fsyncFile(path: string): Promise<void> {
  const fh = await fs.open(path, 'r+');
  try {
    failpoint('fsync.file');
    await syncHandle(fh);
  } finally {
    await fh.close();
  }
}

/**
 * Move durably: the file is fsynced first (it may be the only copy, e.g. a
 * download), then renamed, then both folders are fsynced. Across filesystems
 * (EXDEV) it is copied durably before the original is deleted.
 */
export async function moveFile(src: string, target: string): Promise<void> {
  await fsyncFile(src);
  try {
    await fs.rename(src, target);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EXDEV') throw e;
    await copyFileAtomic(src, target);
    await fs.rm(src, { force: true });
  }
  await fsyncDir(dirname(target));
  if (dirname(resolve(src)) !== dirname(resolve(target))) await fsyncDir(dirname(src));
}

export async function statOrUndefined(path: string) {
  try {
    return await fs.stat(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
}

let tmpCounter = 0;
/** A temporary name next to `target`, unique within this process and across restarts. */
export function tempNameFor(target: string): string {
  return join(dirname(target), `.${basename(target)}.${process.pid}.${Date.now()}.${++tmpCounter}.tmp`);
}

/** Temporary files left by writeFileAtomic/copyFileAtomic in `dir` (from a crash). */
export function isAtomicTemp(name: string): boolean {
  return /^\..+\.\d+\.\d+\.\d+\.tmp$/.test(name);
}

/** Writes all of `data` at `position` (a short write is continued, as the promise API does). */
export function writeAllSync(fd: number, data: Buffer, position: number | null): void {
  let off = 0;
  while (off < data.length) off += writeSync(fd, data, off, data.length - off, position === null ? null : position + off);
}
