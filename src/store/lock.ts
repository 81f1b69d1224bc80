/**
 * One agent per data folder. The lock file holds the owner's pid and host;
 * a lock left by a dead process (power cut, SIGKILL) is taken over, with a log
 * line, so a crash never keeps the agent from starting again.
 */
import * as fs from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import type { Logger } from '../util/logger.js';
import { FILE_MODE } from './fsutil.js';

export class DataDirLockedError extends Error {
  override readonly name = 'DataDirLockedError';
  constructor(
    readonly dataDir: string,
    readonly ownerPid: number,
  ) {
    super(`${dataDir} is in use by another kassir-agent (pid ${ownerPid}); two agents must never share one dataDir`);
  }
}

export interface DataDirLock {
  release(): Promise<void>;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export async function lockDataDir(dataDir: string, log: Logger): Promise<DataDirLock> {
  const file = join(dataDir, 'agent.lock');
  const me = JSON.stringify({ pid: process.pid, host: hostname(), since: new Date().toISOString() });
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      await fs.writeFile(file, me, { flag: 'wx', mode: FILE_MODE });
      return {
        release: async () => {
          await fs.rm(file, { force: true });
        },
      };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    let owner: { pid?: number; host?: string } = {};
    try {
      owner = JSON.parse(await fs.readFile(file, 'utf8')) as typeof owner;
    } catch {
      /* empty or torn lock file (power cut while writing it): stale */
    }
    const samehost = owner.host === undefined || owner.host === hostname();
    if (typeof owner.pid === 'number' && owner.pid !== process.pid && samehost && alive(owner.pid)) {
      throw new DataDirLockedError(dataDir, owner.pid);
    }
    log.warn('store.lock.stale', { dataDir, stalePid: owner.pid, note: 'lock left by a process that is gone; taking it over' });
    await fs.rm(file, { force: true });
  }
  throw new Error(`${file}: could not take the lock`);
}
