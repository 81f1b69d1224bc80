/**
 * Start-up recovery of a data folder (layout.ts), run by `Store.open` before
 * anything else touches it. Its rules:
 *
 * Trusts
 * - the newest readable state slot, for counters, the open package's
 *   committed length, the inbox index and the transport cursor;
 * - an archive meta: a package with one is delivered, and never sent again;
 * - the outbox journal's readable records (a torn last line is an append that
 *   never finished);
 * - a sealed package's bytes over its meta: the meta can be rebuilt, the bytes
 *   cannot.
 * Repairs (each with a log line)
 * - completes what the journal records (deliveries archived, notes written),
 *   then empties it;
 * - finishes an interrupted seal, archive move or delivery record;
 * - cuts the open package back to its committed length (the source of the cut
 *   bytes is still in the till folder and is taken again);
 * - rebuilds a sealed package's missing or unreadable meta from its bytes;
 * - moves the package counter past every number in the outbox and archive;
 * - drops what is only work in progress: tmp/, temporaries of durable writes,
 *   inbox files no index names (the remote still has them).
 * Quarantines (a copy, whole on disk before the original is touched)
 * - a damaged state slot, an unreadable journal, an unreadable meta;
 * - with no readable state: the open package and every staged part, since
 *   whether they were committed, and in which order, is unknown.
 * Never guesses
 * - never sends twice what may have been delivered: a package whose bytes
 *   reached the archive without its delivery record goes back to the queue,
 *   and its transport settles it with the back office from its notes;
 * - never reuses a package number, never drops a file silently.
 */
import * as fs from 'node:fs/promises';
import { basename, join } from 'node:path';
import type { Logger } from '../util/logger.js';
import { failpoint } from '../util/failpoints.js';
import { archivePackage } from './archive.js';
import type { CommittedState } from './committed-state.js';
import { fsyncDir, fsyncFile, statOrUndefined, writeJsonAtomic } from '../util/fsutil.js';
import { inboxFileId, isAtomicTemp, metaFile, metaNumber, packageFile, type DataLayout } from './layout.js';
import type { Outbox } from './outbox.js';
import { readJournal, type JournalRecord } from './outbox-journal.js';
import { readMetas, scanPackages } from './packages.js';
import type { Quarantine } from './quarantine.js';
import { emptyOpenPackage, packageMetaSchema, type AgentState, type PackageMeta } from './state.js';
import { openPackageLost, sealedAs, settleDeliveries } from '../shifts/ledger.js';
import { logShiftEvents } from '../shifts/log-events.js';

export interface RecoveryDeps {
  layout: DataLayout;
  state: CommittedState;
  outbox: Outbox;
  quarantine: Quarantine;
  log: Logger;
}

/** Recovers the data folder; the state and the outbox's queue are as recovered when it returns. */
export async function recover(d: RecoveryDeps): Promise<void> {
  const { layout: l, state, log } = d;
  const loaded = await state.load(async (file, reason) => {
    await d.quarantine.copy(file, `state slot ${basename(file)}: ${reason}`);
  });
  const fresh = loaded.state === undefined;
  /** No readable state, though there was one: what was committed is unknown. */
  const lost = fresh && loaded.damaged.length > 0;
  if (lost) {
    log.error('store.state.lost', {
      dataDir: l.dataDir,
      note: 'no readable state slot: counters are rebuilt from the outbox and archive; the open package and inbox index start empty (their files are quarantined)',
    });
  }

  // tmp/ holds only work in progress: downloads that were never staged.
  for (const name of await fs.readdir(l.tmp)) await fs.rm(join(l.tmp, name), { recursive: true, force: true });

  const draft = state.draft();
  const { sealed, highest, deliveredAt } = await recoverOutbox(d);
  let changed = await recoverOpenPackage(d, draft, sealed, lost);
  // Deliveries whose state change a crash took away (it is saved with the next change): the archive has them.
  // Saved whenever a package leaves a shift's undelivered list, not only when a shift is complete: the
  // journal that recorded the delivery is emptied below, and nothing running would ever deliver it again.
  const settle = settleDeliveries(draft.shiftLedger, (n) => deliveredAt.get(n));
  if (settle.settled.length > 0) changed = true;
  logShiftEvents(log, settle.events);
  // A meta written by an interrupted seal whose rename never happened.
  const strayMeta = metaFile(l.outbox, draft.nextPackage);
  if (!sealed.has(draft.nextPackage) && (await statOrUndefined(strayMeta)) !== undefined) {
    await fs.rm(strayMeta, { force: true });
    log.info('store.recover.unsealed', { package: draft.nextPackage, note: 'seal was interrupted before the rename; the package stays open' });
  }
  if (draft.nextPackage <= highest) {
    log.warn('store.recover.counter', { from: draft.nextPackage, to: highest + 1, note: 'package counter behind the outbox/archive; moved forward so no number is reused' });
    draft.nextPackage = highest + 1;
    changed = true;
  }
  if (await recoverInbox(d, draft, lost)) changed = true;

  for (const dir of [l.dataDir, l.outbox, l.archive]) {
    for (const name of await fs.readdir(dir)) if (isAtomicTemp(name)) await fs.rm(join(dir, name), { force: true });
  }

  if (changed || fresh) await state.save(draft);
  d.outbox.restore(sealed);
  log.info('store.opened', {
    dataDir: l.dataDir,
    nextPackage: state.current.nextPackage,
    queued: sealed.size,
    openTransactions: state.current.open.pkg.transactions,
    inbox: state.current.inbox.length,
    fresh,
  });
}

/** The journal, the outbox and the archive: returns the queue and the highest package number in use. */
async function recoverOutbox(d: RecoveryDeps): Promise<{ sealed: Map<number, PackageMeta>; highest: number; deliveredAt: Map<number, string> }> {
  const { layout: l, log } = d;
  // The outbox journal: deliveries recorded since the last checkpoint are completed first.
  const journal = await readJournalForRecovery(d);
  for (const r of journal) {
    if (r.op !== 'delivered') continue;
    await archivePackage(l, r.meta);
    log.info('store.recover.journal', { package: r.meta.number, note: 'delivery recorded in the journal; archived now, not resent' });
  }

  // Sealed packages and the archive: the counter must never reuse a number.
  const archived = await readMetas(l.archive);
  for (const name of await fs.readdir(l.outbox)) {
    const n = metaNumber(name);
    if (n === undefined) continue;
    if (archived.get(n)?.deliveredAt !== undefined) {
      // Delivered and archived; the outbox meta came back after a power cut (or its removal was cut short).
      await fs.rm(join(l.outbox, name), { force: true });
      await fs.rm(packageFile(l.outbox, n), { force: true });
      log.info('store.recover.archived', { package: n, note: 'already delivered; not resent' });
    } else if ((await statOrUndefined(packageFile(l.outbox, n))) === undefined && (await statOrUndefined(packageFile(l.archive, n))) !== undefined) {
      // The bytes were moved to the archive but the delivery record was not written: back to
      // the queue; the transport's notes (or KKMTransfer's "already processed") settle it without a duplicate.
      await fs.rename(packageFile(l.archive, n), packageFile(l.outbox, n));
      await fsyncDir(l.outbox);
      await fsyncDir(l.archive);
      log.warn('store.recover.unarchived', { package: n, note: 'delivery was being recorded when the agent stopped; checked again with the back office' });
    }
  }
  const sealed = await repairOutboxMetas(d);
  // Transport notes from the journal (the last one per package wins) go into the package metas.
  const notes = new Map<number, Record<string, unknown>>();
  for (const r of journal) if (r.op === 'notes') notes.set(r.n, r.notes);
  for (const [n, value] of notes) {
    const meta = sealed.get(n);
    if (!meta) continue;
    await writeJsonAtomic(metaFile(l.outbox, n), { ...meta, notes: value });
    sealed.set(n, { ...meta, notes: value });
  }
  await d.outbox.journal.reset();
  const deliveredAt = new Map<number, string>();
  for (const [n, meta] of archived) if (meta.deliveredAt !== undefined) deliveredAt.set(n, meta.deliveredAt);
  for (const meta of [...sealed.values()]) {
    if (meta.deliveredAt !== undefined) {
      deliveredAt.set(meta.number, meta.deliveredAt);
      // Delivered, but the move to the archive was interrupted.
      await archivePackage(l, meta);
      sealed.delete(meta.number);
      log.info('store.recover.archived', { package: meta.number, note: 'delivered before the crash; archived now, not resent' });
    }
  }
  return { sealed, highest: Math.max(0, ...sealed.keys(), ...archived.keys()), deliveredAt };
}

/** The journal's records; unreadable lines are kept in quarantine and reported (never silently dropped). */
async function readJournalForRecovery(d: RecoveryDeps): Promise<JournalRecord[]> {
  const { records, bad } = await readJournal(d.layout.journal);
  if (bad.length > 0) {
    const q = await d.quarantine.copy(d.layout.journal, `outbox journal: unreadable line(s) ${bad.map((b) => `${b.line} (${b.error})`).join(', ')}`);
    d.log.error('store.recover.journal-damaged', { lines: bad.map((b) => b.line), quarantined: q, note: 'the readable records are applied; packages whose record was lost are checked with the back office again' });
  }
  return records;
}

/** The outbox's packages; a meta that is unreadable is quarantined and rebuilt from the bytes, and so is a missing one. */
async function repairOutboxMetas(d: RecoveryDeps): Promise<Map<number, PackageMeta>> {
  const dir = d.layout.outbox;
  const { metas, unreadable, withoutMeta } = await scanPackages(dir);
  for (const { n, file, error } of unreadable) {
    // The package bytes are what matters; rebuild the meta from them.
    await d.quarantine.copy(file, `package ${n} meta unreadable: ${error}`);
    const st = await statOrUndefined(packageFile(dir, n));
    if (st === undefined) {
      await fs.rm(file, { force: true });
      continue;
    }
    const meta = packageMetaSchema.parse({ number: n, transactions: -1, bytes: st.size, sealedAt: st.mtime.toISOString(), lastError: 'meta rebuilt after damage' });
    await writeJsonAtomic(file, meta);
    d.log.warn('store.recover.meta-rebuilt', { package: n });
    metas.set(n, meta);
  }
  for (const rep of withoutMeta) {
    // Bytes without meta: the meta write of a seal was lost; rebuild it.
    const n = Number(rep.slice(0, -4));
    const st = await fs.stat(join(dir, rep));
    const meta = packageMetaSchema.parse({ number: n, transactions: -1, bytes: st.size, sealedAt: st.mtime.toISOString() });
    await writeJsonAtomic(metaFile(dir, n), meta);
    metas.set(n, meta);
    d.log.warn('store.recover.meta-rebuilt', { package: n, note: 'package without its meta file' });
  }
  return metas;
}

/** The open package: cut an interrupted append, or finish an interrupted seal. Returns whether `draft` changed. */
async function recoverOpenPackage(d: RecoveryDeps, draft: AgentState, sealed: Map<number, PackageMeta>, lost: boolean): Promise<boolean> {
  const { layout: l, log } = d;
  const open = await statOrUndefined(l.openPackage);
  if (open === undefined && draft.open.length > 0) {
    if (sealed.has(draft.nextPackage)) {
      log.info('store.recover.sealed', { package: draft.nextPackage, note: 'seal was interrupted after the rename; completed' });
      sealedAs(draft.shiftLedger, draft.nextPackage);
      draft.nextPackage += 1;
    } else {
      log.error('store.recover.open-missing', { expectedBytes: draft.open.length, note: 'the open package file is gone; its transactions cannot be recovered from the store' });
      openPackageLost(draft.shiftLedger, 'the open package file was gone at start-up: some of its transactions never reached the back office');
    }
    draft.open = emptyOpenPackage();
    return true;
  }
  if (open !== undefined && open.size > 0 && lost) {
    // No readable state: which part of the open package was committed is unknown, and its
    // sources are gone from the till. Keep it for a person rather than cut it or send it twice.
    const q = await d.quarantine.copy(l.openPackage, `open package (${open.size} bytes) found with no readable state: whether its transactions were committed is unknown`);
    log.error('store.recover.open-quarantined', { bytes: open.size, quarantined: q, note: 'check it against the back office; it is not sent' });
    await dropOpenPackage(l, draft);
    return true;
  }
  if (open !== undefined && open.size > draft.open.length) {
    log.warn('store.recover.truncate-open', { bytes: open.size - draft.open.length, note: 'an append was interrupted before it was committed; its source is still in the till folder and is taken again' });
    await fs.truncate(l.openPackage, draft.open.length);
    await fsyncFile(l.openPackage);
    return false;
  }
  if (open !== undefined && open.size < draft.open.length) {
    const q = await d.quarantine.copy(l.openPackage, `open package shorter (${open.size} bytes) than committed (${draft.open.length}): damaged by a power cut`);
    log.error('store.recover.open-damaged', { quarantined: q });
    await dropOpenPackage(l, draft);
    return true;
  }
  return false;
}

/** Removes the open package once its quarantined copy is durable. */
async function dropOpenPackage(l: DataLayout, draft: AgentState): Promise<void> {
  await fs.rm(l.openPackage, { force: true });
  failpoint('store.recover.after-quarantine');
  draft.open = emptyOpenPackage();
  openPackageLost(draft.shiftLedger, 'the open package was quarantined at start-up (damaged, or found without a readable state): some of its transactions are not sent');
}

/** The inbox: files staged but never committed are dropped (the remote still has them and they are fetched again). Returns whether `draft` changed. */
async function recoverInbox(d: RecoveryDeps, draft: AgentState, lost: boolean): Promise<boolean> {
  const { layout: l, log } = d;
  const indexed = new Set(draft.inbox.map((i) => i.file));
  for (const name of await fs.readdir(l.inbox)) {
    if (indexed.has(name)) continue;
    if (lost) {
      await d.quarantine.move(join(l.inbox, name), name, 'staged part found without a readable state; order unknown');
    } else {
      await fs.rm(join(l.inbox, name), { force: true });
      // Ids are given at staging and committed with it: an id below the next one was staged, then retired.
      if (inboxFileId(name) < draft.nextInboxId) log.info('store.recover.retired', { file: name, note: 'a part already delivered (or skipped); its staged file was left by a stop before its removal' });
      else log.info('store.recover.unstaged', { file: name, note: 'staging was interrupted before it was committed; the part is fetched again' });
    }
  }
  const present = new Set(await fs.readdir(l.inbox));
  const missing = draft.inbox.filter((i) => !present.has(i.file));
  if (missing.length === 0) return false;
  log.error('store.recover.inbox-missing', { parts: missing.map((m) => m.remoteName), note: 'indexed parts whose files are gone; skipped' });
  draft.inbox = draft.inbox.filter((i) => present.has(i.file));
  return true;
}
