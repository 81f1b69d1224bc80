/**
 * Where the packages of the transfer in progress are kept until the whole
 * transfer is in: `<dataDir>/equipment-service/transfer/<n>.xml`, each written
 * atomically and fsynced before the transport cursor counts it. 1C marks a
 * package sent the moment it returns it, so the only copy of a package is
 * here. The cursor is the authority on how many count; a file beyond it (a
 * crash between the write and the cursor) is overwritten or cleared.
 */
import * as fs from 'node:fs/promises';
import { join } from 'node:path';
import { ensureDir, fsyncDir, writeFileAtomic } from '../../util/fsutil.js';

export class TransferFolder {
  constructor(readonly dir: string) {}

  path(n: number): string {
    return join(this.dir, `${n}.xml`);
  }

  async save(n: number, text: string): Promise<void> {
    await ensureDir(this.dir);
    await writeFileAtomic(this.path(n), text);
  }

  async read(n: number): Promise<string> {
    return fs.readFile(this.path(n), 'utf8');
  }

  /** Whether packages 1..count are all on disk. */
  async hasAll(count: number): Promise<boolean> {
    for (let n = 1; n <= count; n++) {
      try {
        await fs.access(this.path(n));
      } catch {
        return false;
      }
    }
    return true;
  }

  /** Removes every package (the transfer is delivered, refused or started again). */
  async clear(): Promise<void> {
    let names: string[];
    try {
      names = await fs.readdir(this.dir);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw e;
    }
    if (names.length === 0) return;
    for (const name of names) await fs.rm(join(this.dir, name), { force: true });
    await fsyncDir(this.dir);
  }
}
