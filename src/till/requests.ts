/**
 * The till's KKMTransfer flr requests, one owner for their state
 * (`AgentState.requests`) and their rules:
 *
 * 1. delivered: the deliverer writes a request into `till.requestFile` and,
 *    in the same commit that retires its part, records it (`delivered`);
 * 2. taken: Kassir has taken it when the request file is gone (`noticeTaken`,
 *    before every collect and every delivery pass);
 * 3. answered: the first report file written after the request was delivered,
 *    once Kassir has taken the request, is its answer: the collector claims it
 *    (`claimAnswer`) and sends it in packages of its own that carry the UID.
 *    Requests are answered in the order they were delivered; files written
 *    before a request arrived are ordinary reports.
 * Only one request file is in the till folder at a time (`fileWaiting`).
 */
import type { AgentState } from '../store/state.js';
import type { Store } from '../store/store.js';
import { statOrUndefined } from '../store/fsutil.js';
import type { Logger } from '../util/logger.js';

export class TillRequests {
  constructor(
    private readonly store: Store,
    /** The till's request file (full path); undefined where no requests are delivered. */
    private readonly requestFile: string | undefined,
    private readonly log: Logger,
  ) {}

  /** True while Kassir has not taken the request file last written (it is still there). */
  async fileWaiting(): Promise<boolean> {
    return this.requestFile !== undefined && (await statOrUndefined(this.requestFile)) !== undefined;
  }

  /**
   * Records a request just written into the till folder. Applied to the draft
   * of the commit that retires its part, so both happen in one atomic step.
   */
  delivered(draft: AgentState, uid: string, at: string): void {
    draft.requests.push({ uid, deliveredAt: at });
  }

  /**
   * Marks delivered requests whose file Kassir has taken (it is gone). Called
   * before every collect too: the report Kassir writes right after taking a
   * request is its answer and must be recognised as such.
   */
  async noticeTaken(): Promise<void> {
    const pending = this.store.state.requests.filter((r) => r.takenAt === undefined);
    if (pending.length === 0) return;
    if (this.requestFile === undefined || (await this.fileWaiting())) return;
    const at = new Date().toISOString();
    await this.store.commit((s) => {
      for (const r of s.requests) r.takenAt ??= at;
    });
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
    if (request.takenAt === undefined) {
      if (this.requestFile === undefined || (await this.fileWaiting())) return undefined; // not taken yet
    }
    await this.store.commit((d) => {
      d.requests = d.requests.filter((r) => r.uid !== request.uid);
      d.sources[takenName] = { units: 0, uid: request.uid };
    });
    this.log.info('till.request.answered', { uid: request.uid, file: takenName.replace(/^\d{15}-\d+-/, '') });
    return request.uid;
  }
}
