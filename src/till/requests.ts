/**
 * The till's KKMTransfer flr requests: the rules of when a request is taken
 * and which report answers it. Their state (`AgentState.requests`) changes
 * only through the store's operations (store/state-changes.ts):
 *
 * 1. delivered: the deliverer writes a request into `till.requestFile`; the
 *    commit that retires its part records it (`partsRetired`);
 * 2. taken: Kassir has taken it when the request file is gone (`noticeTaken`,
 *    before every collect and every delivery pass);
 * 3. answered: the first report file written after the request was delivered,
 *    once Kassir has taken the request, is its answer: the collector claims it
 *    (`claimAnswer`) and sends it in packages of its own that carry the UID.
 *    Requests are answered in the order they were delivered; files written
 *    before a request arrived are ordinary reports.
 * Only one request file is in the till folder at a time (`fileWaiting`).
 * The deliverer builds the one instance (deliver.ts); the collector uses it.
 */
import { join } from 'node:path';
import type { Store } from '../store/store.js';
import { statOrUndefined } from '../util/fsutil.js';
import type { Logger } from '../util/logger.js';
import { originalName } from './taken.js';

export class TillRequests {
  /** The till's request file (full path). */
  readonly path: string;

  constructor(
    private readonly store: Store,
    tillDir: string,
    /** `till.requestFile`: its name in the till folder. */
    requestFile: string,
    private readonly log: Logger,
  ) {
    this.path = join(tillDir, requestFile);
  }

  /** True while Kassir has not taken the request file last written (it is still there). */
  async fileWaiting(): Promise<boolean> {
    return (await statOrUndefined(this.path)) !== undefined;
  }

  /**
   * Marks delivered requests whose file Kassir has taken (it is gone). Called
   * before every collect too: the report Kassir writes right after taking a
   * request is its answer and must be recognised as such.
   */
  async noticeTaken(): Promise<void> {
    const pending = this.store.state.requests.filter((r) => r.takenAt === undefined);
    if (pending.length === 0) return;
    if (await this.fileWaiting()) return;
    await this.store.markRequestsTaken();
    for (const r of pending) this.log.info('till.request.taken', { uid: r.uid });
  }

  /**
   * The UID of the request that the report file `takenName` (last written at
   * `mtimeMs`) answers, if any. A claimed request leaves the list and the
   * file's source record carries its UID, in one commit, so a crash never
   * answers a request twice or with the wrong file.
   */
  async claimAnswer(takenName: string, mtimeMs: number): Promise<string | undefined> {
    const request = this.store.state.requests[0];
    if (!request) return undefined;
    if (mtimeMs <= Date.parse(request.deliveredAt)) return undefined; // written before the request arrived
    if (request.takenAt === undefined && (await this.fileWaiting())) return undefined; // not taken yet
    await this.store.claimAnswer(takenName, request.uid);
    this.log.info('till.request.answered', { uid: request.uid, file: originalName(takenName) });
    return request.uid;
  }
}
