/**
 * Delivers staged incoming parts to Kassir's folder.
 *
 * Reference parts (spr): merged in order (formats/spr) and written to
 * `till.referenceFile` atomically (the merged file moved to a temporary name in
 * the same folder, fsync, rename), and only when Kassir has taken the previous file: it is gone, or its
 * line 2 is `@`. Until then newer parts simply wait in the inbox, and are merged
 * into the same delivery when it happens. A merge that yields several files
 * (commands that cannot be expressed as one) delivers them one after another.
 *
 * Request files (flr, KKMTransfer): written to `till.requestFile` the same way,
 * one at a time; what happens to a request then is requests.ts's.
 *
 * Exactly once: before the rename, the state records what is being delivered
 * (`delivering`); after a crash, a temporary file still present means the
 * rename did not happen (it is redone from the inbox), a missing one means it
 * did (the parts are retired). So a part with `$$$ADD` is never loaded twice.
 * Undoing an interrupted delivery forgets the intent durably before it removes
 * the temporary file, so "intent without its file" always means "renamed".
 */
import * as fs from 'node:fs/promises';
import { join } from 'node:path';
import { mergeSprParts, type SprOutputEncoding } from '../formats/spr.js';
import type { Store } from '../store/store.js';
import type { InboxItem } from '../store/state.js';
import { fsyncDir, fsyncFile, renameOrCopy, statOrUndefined } from '../util/fsutil.js';
import { failpoint } from '../util/failpoints.js';
import type { Logger } from '../util/logger.js';
import { TillRequests } from './requests.js';
import { SprScans } from './spr-scans.js';

export interface DelivererOptions {
  tillDir: string;
  referenceFile: string;
  requestFile: string;
  encoding: SprOutputEncoding;
}

export interface DeliverResult {
  /** Files written into the till folder in this pass. */
  delivered: number;
  /** True when something waits for Kassir to take the previous file. */
  waiting: boolean;
}

export class TillDeliverer {
  /** The till's flr requests: built here, once, and shared with the collector. */
  readonly requests: TillRequests;

  constructor(
    private readonly opts: DelivererOptions,
    private readonly store: Store,
    private readonly log: Logger,
    /** Scans the pull flow made of staged parts (empty after a restart: the merge scans those parts itself). */
    private readonly scans: SprScans = new SprScans(),
  ) {
    this.requests = new TillRequests(store, opts.tillDir, opts.requestFile, log);
  }

  /** Finishes a delivery interrupted by a crash (see the module comment). */
  async recover(): Promise<void> {
    const d = this.store.state.delivering;
    if (!d) return;
    if ((await statOrUndefined(d.tmp)) !== undefined) {
      // The intent goes first: were the temporary file removed first and the agent cut before the undo, the
      // next start would find the intent without its file, read that as "renamed", and retire parts never delivered.
      await this.store.undoDelivery();
      failpoint('till.recover.after-undo');
      await fs.rm(d.tmp, { force: true });
      this.log.info('till.recover.redeliver', { file: d.target, note: 'delivery interrupted before the rename; it is made again' });
    } else {
      await this.retire(d.inboxIds, d.kind, d.uid);
      this.log.info('till.recover.delivered', { file: d.target, note: 'delivery completed before the crash; parts retired' });
    }
  }

  /** Delivers what can be delivered now, in inbox order. */
  async deliver(): Promise<DeliverResult> {
    await this.recover();
    await this.noticeTakenRequests();
    let delivered = 0;
    for (;;) {
      const head = this.store.state.inbox[0];
      if (!head) return { delivered, waiting: false };
      const ok = head.kind === 'flr' ? await this.deliverRequest(head) : await this.deliverReference();
      if (!ok) return { delivered, waiting: true };
      delivered++;
    }
  }

  private async deliverReference(): Promise<boolean> {
    if (!(await this.tillHasTaken(join(this.opts.tillDir, this.opts.referenceFile)))) return false;
    const run: InboxItem[] = [];
    for (const item of this.store.state.inbox) {
      if (item.kind !== 'spr') break;
      run.push(item);
    }
    const mergeDir = await fs.mkdtemp(join(this.store.tmpDir, 'merge-'));
    try {
      const started = Date.now();
      const result = await mergeSprParts(
        run.map((i) => ({ path: this.store.inboxPath(i), name: i.file, scan: this.scans.get(i) })),
        mergeDir,
        { encoding: this.opts.encoding },
      );
      const byFile = new Map(run.map((i) => [i.file, i]));
      for (const s of result.skipped) this.log.info('till.reference.skipped', { part: byFile.get(s.name)?.remoteName ?? s.name, reason: s.reason });
      const first = result.outputs[0];
      if (!first) {
        const skipped = result.skipped.map((s) => byFile.get(s.name)!.id);
        // Nothing retired would make the caller's loop take the same head again, for ever.
        if (skipped.length === 0) throw new Error(`merging ${run.length} staged reference part(s) gave neither a file nor a skipped part; they stay staged`);
        await this.retire(skipped, 'spr');
        return true;
      }
      const ids = first.parts.map((name) => byFile.get(name)!.id);
      // The merged file is the merge's own: moved into the till folder, not copied once more.
      await this.place(first.path, this.opts.referenceFile, ids, 'spr', undefined, 'move');
      this.log.info('till.reference.delivered', {
        file: this.opts.referenceFile,
        parts: first.parts.map((n) => byFile.get(n)?.remoteName ?? n),
        dataLines: first.dataLines,
        bytes: first.bytes,
        encoding: first.encoding,
        more: result.outputs.length - 1,
        durationMs: Date.now() - started,
      });
      return true;
    } finally {
      await fs.rm(mergeDir, { recursive: true, force: true });
    }
  }

  private async deliverRequest(item: InboxItem): Promise<boolean> {
    if (await this.requests.fileWaiting()) return false; // Kassir has not taken the previous request
    await this.place(this.store.inboxPath(item), this.opts.requestFile, [item.id], 'flr', item.uid);
    this.log.info('till.request.delivered', { file: this.opts.requestFile, uid: item.uid, part: item.remoteName });
    return true;
  }

  /**
   * Copies `source` to a temporary file beside the till file `name`, records the intent, renames, retires the parts.
   * `move`: `source` is a file of ours nothing else needs (a merge's output): renamed there instead, copied only
   * when it lies on another volume. Either way the temporary file is fsynced before the intent is recorded.
   */
  private async place(source: string, name: string, inboxIds: number[], kind: 'spr' | 'flr', uid?: string, how: 'copy' | 'move' = 'copy'): Promise<void> {
    const target = join(this.opts.tillDir, name);
    const tmp = join(this.opts.tillDir, `.${name}.kassir-agent.tmp`);
    if (how === 'move') await renameOrCopy(source, tmp);
    else await fs.copyFile(source, tmp);
    await fsyncFile(tmp);
    await this.store.startDelivery({ tmp, target, inboxIds, kind, ...(uid !== undefined ? { uid } : {}) });
    failpoint('till.deliver.before-rename');
    await fs.rename(tmp, target);
    await fsyncDir(this.opts.tillDir);
    failpoint('till.deliver.after-rename');
    await this.retire(inboxIds, kind, uid);
  }

  private async retire(ids: readonly number[], kind: 'spr' | 'flr', uid?: string): Promise<void> {
    await this.store.retireParts(ids, kind, uid);
    this.scans.retain(this.store.state.inbox);
  }

  /** Kassir has taken a reference file when it is gone or its line 2 is `@`. */
  private async tillHasTaken(target: string): Promise<boolean> {
    let head: Buffer;
    try {
      const fh = await fs.open(target, 'r');
      try {
        const buf = Buffer.alloc(4096);
        const { bytesRead } = await fh.read(buf, 0, buf.length, 0);
        head = buf.subarray(0, bytesRead);
      } finally {
        await fh.close();
      }
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return true;
      throw e;
    }
    const nl = head.indexOf(0x0a);
    const flag = nl < 0 ? undefined : head[nl + 1];
    if (flag === 0x40 /* @ */) return true;
    if (flag === 0x23 /* # */) return false;
    this.log.warn('till.reference.unknown-flag', { file: target, note: 'line 2 is neither # nor @; treated as taken' });
    return true;
  }

  /** Marks delivered requests whose file Kassir has taken (see requests.ts). */
  noticeTakenRequests(): Promise<void> {
    return this.requests.noticeTaken();
  }
}
