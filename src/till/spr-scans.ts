/**
 * Scans of staged reference parts, kept in memory by inbox item, so a part is
 * read and checked once: the pull flow scans it before staging (to quarantine
 * an unreadable one) and leaves the scan here; the deliverer hands it to the
 * merge, which then skips its own pass 1 over that part.
 *
 * Promises: a scan is used only for the item it was made for and only while
 * the file still has the size the scan read (an inbox file is never rewritten:
 * it is renamed in whole and removed when retired); anything missing (after a
 * restart, past the bound) is simply scanned again by the merge. Nothing here
 * is durable, so nothing here can be lost. Memory stays bounded: at most
 * MAX_SCANS scans and SKIPPED_LINES_BUDGET located lines in all (the same
 * budget one merge holds).
 */
import { SKIPPED_LINES_BUDGET, type SprPartScan } from '../formats/spr.js';
import type { InboxItem } from '../store/state.js';

const MAX_SCANS = 1024;

export class SprScans {
  private readonly byId = new Map<number, SprPartScan>();
  private located = 0;

  /** Keeps the scan of a staged item, unless the bound is reached (the merge will scan it then). */
  keep(item: InboxItem, scan: SprPartScan): void {
    const located = scan.skips.length / 3;
    if (this.byId.size >= MAX_SCANS || this.located + located > SKIPPED_LINES_BUDGET || this.byId.has(item.id)) return;
    this.byId.set(item.id, scan);
    this.located += located;
  }

  /** The scan made for `item` when it still describes the staged file, else undefined. */
  get(item: InboxItem): SprPartScan | undefined {
    const s = this.byId.get(item.id);
    return s !== undefined && s.bytes === item.bytes ? s : undefined;
  }

  /** Forgets every scan whose item is no longer in `inbox` (delivered, retired). */
  retain(inbox: readonly InboxItem[]): void {
    const live = new Set(inbox.map((i) => i.id));
    for (const [id, s] of this.byId) {
      if (live.has(id)) continue;
      this.byId.delete(id);
      this.located -= s.skips.length / 3;
    }
  }
}
