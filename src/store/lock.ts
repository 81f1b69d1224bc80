/**
 * One agent per data folder, and a lock a dead owner can never hold.
 *
 * The rule (README, "The data folder"):
 * - Windows: `agent.lock` is held open with an exclusive share mode
 *   (libuv's UV_FS_O_EXLOCK open flag, 0x10000000) for the life of the process. The OS lets go of it when
 *   the process ends in any way (exit, crash, kill, power cut), so a file left
 *   behind means nothing; a second agent's open fails (EBUSY) and it is refused.
 *   Any other handle refuses that open too, a reader's as well (a virus scanner,
 *   a backup, someone looking at the file): the open is tried again for 2 s
 *   before the folder is taken as another agent's.
 * - Elsewhere (Linux): `agent.lock` records the owner's pid beside what makes
 *   that pid unique: the kernel's boot id (`/proc/sys/kernel/random/boot_id`,
 *   new at every boot) and the pid's start time (`/proc/<pid>/stat`). The lock
 *   is held only while a process with that pid, started at that time, runs in
 *   this boot. After a power cut the boot id differs, so a pid reused by any
 *   other process after the reboot never keeps the agent from starting; after a
 *   SIGKILL in the same boot the pid is gone or belongs to a process with
 *   another start time. Without /proc (macOS) the boot time stands in for the
 *   boot id. A lock that records no start time (pid and time only) is held
 *   only by a live pid that started before the lock was written.
 * A refused start exits 4 naming the data folder and the owner's pid.
 */
import { constants as fsConstants, readFileSync } from 'node:fs';
import * as fs from 'node:fs/promises';
import { hostname, uptime } from 'node:os';
import { join } from 'node:path';
import type { Logger } from '../util/logger.js';
import { FILE_MODE } from '../util/fsutil.js';
import { LOCK_FILE } from './layout.js';

export class DataDirLockedError extends Error {
  override readonly name = 'DataDirLockedError';
  constructor(
    readonly dataDir: string,
    readonly ownerPid: number | undefined,
  ) {
    super(
      `${dataDir} is in use by another kassir-agent (${ownerPid === undefined ? 'its pid is not readable' : `pid ${ownerPid}`}); ` +
        'two agents must never share one dataDir: stop the other agent, or give this one its own dataDir',
    );
  }
}

export interface DataDirLock {
  release(): Promise<void>;
}

/** What `agent.lock` holds. Only `pid` is required; the rest tells whether that pid is still its owner. */
export interface LockRecord {
  pid?: number;
  host?: string;
  since?: string;
  /** Linux: the kernel's boot id when the lock was written. */
  bootId?: string;
  /** Linux: the owner's start time in clock ticks since boot (field 22 of /proc/<pid>/stat). */
  pidStart?: string;
  /** Where there is no boot id: when the machine booted (ISO, to the second). */
  bootTime?: string;
}

/** How far two computations of the boot time (now minus uptime) may drift apart within one boot. */
const BOOT_TIME_SLACK_MS = 120_000;
/** /proc/<pid>/stat start times are in clock ticks (USER_HZ, 100 on every Linux the agent runs on). */
const TICKS_PER_SECOND = 100;

function readProc(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

export function currentBootId(): string | undefined {
  return readProc('/proc/sys/kernel/random/boot_id')?.trim() || undefined;
}

/** A process's start time in ticks since boot, or undefined (no /proc, or no such process). */
export function processStart(pid: number): string | undefined {
  const stat = readProc(`/proc/${pid}/stat`);
  if (stat === undefined) return undefined;
  // The command name (field 2) may contain spaces and parentheses: count fields after the last ')'.
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
}

function bootTime(): number {
  return Date.now() - uptime() * 1000;
}

/** Whether a process with this pid exists (EPERM: it does, owned by another user). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export function ownRecord(): LockRecord {
  const bootId = currentBootId();
  const pidStart = processStart(process.pid);
  return {
    pid: process.pid,
    host: hostname(),
    since: new Date().toISOString(),
    ...(bootId !== undefined ? { bootId } : { bootTime: new Date(Math.round(bootTime() / 1000) * 1000).toISOString() }),
    ...(pidStart !== undefined ? { pidStart } : {}),
  };
}

/** Why the recorded owner cannot be holding the lock now, or undefined when it may be. */
export function whyStale(owner: LockRecord): string | undefined {
  if (typeof owner.pid !== 'number') return 'no owner recorded (empty or torn lock file)';
  if (owner.host !== undefined && owner.host !== hostname()) return undefined; // another machine's pid: cannot tell, keep it
  if (owner.pid === process.pid) return 'written by this process id in an earlier life';
  const bootId = currentBootId();
  if (owner.bootId !== undefined && bootId !== undefined && owner.bootId !== bootId) return 'written before the last boot';
  if (owner.bootId === undefined && owner.bootTime !== undefined && Math.abs(Date.parse(owner.bootTime) - bootTime()) > BOOT_TIME_SLACK_MS) {
    return 'written before the last boot';
  }
  if (!processAlive(owner.pid)) return 'its process is gone';
  const start = processStart(owner.pid);
  if (owner.pidStart !== undefined && start !== undefined && owner.pidStart !== start) return 'its process id now belongs to another process';
  if (owner.pidStart === undefined && owner.since !== undefined && start !== undefined && bootId !== undefined) {
    // No start time recorded: a process that started after the lock was written cannot have written it.
    const startedAt = bootTime() + (Number(start) / TICKS_PER_SECOND) * 1000;
    if (startedAt > Date.parse(owner.since) + BOOT_TIME_SLACK_MS) return 'its process id now belongs to a process started after the lock was written';
  }
  return undefined;
}

/**
 * libuv's exclusive-open flag (UV_FS_O_EXLOCK: open with no sharing). Windows Node does not export it in
 * fs.constants (only UV_FS_O_FILEMAP), but libuv's fs open honours the value on Windows.
 */
const UV_FS_O_EXLOCK = 0x10000000;
/** Windows only (libuv's exclusive share mode); undefined elsewhere. */
const EXLOCK = process.platform === 'win32' ? ((fsConstants as unknown as Record<string, number | undefined>).UV_FS_O_EXLOCK ?? UV_FS_O_EXLOCK) : undefined;

export async function lockDataDir(dataDir: string, log: Logger): Promise<DataDirLock> {
  const file = join(dataDir, LOCK_FILE);
  if (EXLOCK !== undefined) return lockExclusive(dataDir, file, log);
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      await fs.writeFile(file, JSON.stringify(ownRecord()), { flag: 'wx', mode: FILE_MODE });
      return { release: () => fs.rm(file, { force: true }) };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    let owner: LockRecord = {};
    try {
      owner = JSON.parse(await fs.readFile(file, 'utf8')) as LockRecord;
    } catch {
      /* empty or torn lock file (power cut while writing it): stale */
    }
    const why = whyStale(owner);
    if (why === undefined) throw new DataDirLockedError(dataDir, owner.pid);
    log.warn('store.lock.stale', { dataDir, stalePid: owner.pid, reason: why, note: 'lock left by an agent that is gone; taking it over' });
    await fs.rm(file, { force: true });
  }
  throw new Error(`${file}: could not take the lock`);
}

/** Windows: how long a refused exclusive open is tried again before the folder is taken as another agent's, and how often. */
const LOCK_BUSY_WAIT_MS = 2000;
const LOCK_BUSY_STEP_MS = 100;

/** Windows: the open handle is the lock; the file's content only says who holds it. */
async function lockExclusive(dataDir: string, file: string, log: Logger): Promise<DataDirLock> {
  const existed = await fs.stat(file).then(
    () => true,
    () => false,
  );
  let fh: fs.FileHandle | undefined;
  for (let waited = 0; !fh; ) {
    try {
      fh = await fs.open(file, fsConstants.O_RDWR | fsConstants.O_CREAT | EXLOCK!, FILE_MODE);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code !== 'EBUSY' && code !== 'EPERM' && code !== 'EACCES') throw e;
      // Any open handle refuses an exclusive open, a reader's too (a virus scanner, a backup, someone
      // looking at the file): those let go within moments, an agent holds it for its life.
      if (waited >= LOCK_BUSY_WAIT_MS) throw new DataDirLockedError(dataDir, undefined);
      if (waited === 0) log.info('store.lock.busy', { dataDir, waitMs: LOCK_BUSY_WAIT_MS, note: 'agent.lock is open elsewhere; waiting in case it is a reader, not another agent' });
      await new Promise((r) => setTimeout(r, LOCK_BUSY_STEP_MS));
      waited += LOCK_BUSY_STEP_MS;
    }
  }
  if (existed) log.info('store.lock.stale', { dataDir, reason: 'no process holds it open', note: 'lock file left by an agent that is gone; taking it over' });
  await fh.truncate(0);
  await fh.write(JSON.stringify(ownRecord()), 0);
  return {
    release: async () => {
      await fh.close();
      await fs.rm(file, { force: true }).catch(() => undefined);
    },
  };
}
