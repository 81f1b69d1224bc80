/**
 * `inbox/`: incoming parts (reference data, requests) staged in the order they
 * arrived, until they are delivered to the till. A part and the transport
 * cursor past it are committed together: after a crash either both are there
 * or neither (recovery drops a staged file its index does not name, and the
 * remote still has it). A part the pull flow found unreadable is quarantined instead,
 * and the rest keeps flowing.
 *
 * Every method that changes something runs under the store's lock (store.ts).
 */
import * as fs from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '../util/logger.js';
import { failpoint } from '../util/failpoints.js';
import type { IncomingPart, TransportCursor } from '../transports/transport.js';
import type { CommittedState } from './committed-state.js';
import { fsyncDir, fsyncFile } from '../util/fsutil.js';
import { inboxFileName } from './layout.js';
import type { Quarantine } from './quarantine.js';
import * as change from './state-changes.js';
import type { InboxItem } from './state.js';

export class Inbox {
  constructor(
    readonly dir: string,
    private readonly state: CommittedState,
    private readonly quarantine: Quarantine,
    private readonly log: Logger,
  ) {}

  /** Stages `parts` in order and commits `cursor` with them. A part in `unreadable` (local path -> why) is quarantined instead. */
  async stage(parts: IncomingPart[], cursor: TransportCursor, unreadable: ReadonlyMap<string, string>): Promise<InboxItem[]> {
    const draft = this.state.draft();
    const staged: InboxItem[] = [];
    for (const part of parts) {
      await fsyncFile(part.localPath);
      const why = unreadable.get(part.localPath);
      if (why !== undefined) {
        await this.quarantine.move(part.localPath, part.remoteName, why);
        change.quarantined(draft);
        continue;
      }
      const id = change.nextInboxId(draft);
      const file = inboxFileName(id, part.kind);
      const st = await fs.stat(part.localPath);
      await fs.rename(part.localPath, join(this.dir, file));
      failpoint('store.stage.after-move');
      const item: InboxItem = { id, file, remoteName: part.remoteName, kind: part.kind, uid: part.uid, bytes: st.size, stagedAt: new Date().toISOString() };
      staged.push(item);
    }
    if (parts.length > 0) await fsyncDir(this.dir);
    change.staged(draft, staged, cursor);
    await this.state.save(draft);
    return staged;
  }

  /** Keeps the raw bytes of an unreadable incoming item in quarantine and commits the transport cursor past it. */
  async quarantineIncoming(raw: Buffer, remoteName: string, reason: string, cursor: TransportCursor): Promise<string> {
    const target = await this.quarantine.keep(raw, remoteName, reason);
    const draft = this.state.draft();
    change.incomingQuarantined(draft, cursor);
    await this.state.save(draft);
    this.log.error('quarantine.added', { item: remoteName, quarantined: target, reason });
    return target;
  }

  path(item: InboxItem): string {
    return join(this.dir, item.file);
  }
}
