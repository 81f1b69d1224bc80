/**
 * `quarantine/`: bad input and damaged files, kept for a person. Each item has
 * a `.why.txt` beside it naming what it was and why it is there; the agent
 * never deletes anything here. An item is whole on disk (fsynced, with its
 * folder) before the caller removes or rewrites the original.
 */
import { basename, join } from 'node:path';
import type { Logger } from '../util/logger.js';
import { copyFileAtomic, ensureDir, moveFile, statOrUndefined, writeFileAtomic } from '../util/fsutil.js';

export class Quarantine {
  constructor(
    readonly dir: string,
    private readonly log: Logger,
  ) {}

  /** Moves a bad item into quarantine (the caller counts it in its commit). Returns the quarantined path. */
  async move(path: string, label: string, reason: string): Promise<string> {
    const target = await this.target(label);
    await moveFile(path, target);
    await this.writeWhy(target, label, reason);
    this.log.error('quarantine.added', { item: label, quarantined: target, reason });
    return target;
  }

  /** Copies a damaged file into quarantine (the original is then repaired or replaced by the caller). */
  async copy(path: string, reason: string): Promise<string> {
    const target = await this.target(basename(path));
    // The caller removes or rewrites the original next: the copy must be whole on disk first.
    await copyFileAtomic(path, target);
    await this.writeWhy(target, path, reason);
    this.log.error('quarantine.added', { item: path, quarantined: target, reason });
    return target;
  }

  /** Keeps bytes that have no file of their own (an unreadable incoming item). The caller logs it once its commit is saved. */
  async keep(raw: Buffer, label: string, reason: string): Promise<string> {
    const target = await this.target(label);
    await writeFileAtomic(target, raw);
    await this.writeWhy(target, label, reason);
    return target;
  }

  private async target(label: string): Promise<string> {
    await ensureDir(this.dir);
    const safe = label.replace(/[\\/:*?"<>|]/g, '_');
    const stamp = new Date().toISOString().replace(/[:.]/g, '-');
    let target = join(this.dir, `${stamp}-${safe}`);
    for (let i = 1; (await statOrUndefined(target)) !== undefined; i++) target = join(this.dir, `${stamp}-${i}-${safe}`);
    return target;
  }

  private async writeWhy(target: string, item: string, reason: string): Promise<void> {
    await writeFileAtomic(`${target}.why.txt`, `item: ${item}\nat: ${new Date().toISOString()}\nreason: ${reason}\n`);
  }
}
