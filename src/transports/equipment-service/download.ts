/**
 * The download side of the EquipmentService: one price-list transfer per
 * pull, assembled whole, then converted into ONE reference file for Kassir.
 *
 * The server's traps and what is done about each:
 * - A package counts as sent the moment 1C returns it. So every package is
 *   written durably (transfer-folder.ts) and counted in the transport cursor
 *   (ctx.stage with no parts) before the next one is asked for; after a crash
 *   the transfer resumes from the cursor.
 * - A package number above the one expected (an answer lost on the way, or a
 *   crash after 1C returned it): what was collected is dropped and the
 *   transfer is asked for again with `Restart=true`, which serves package 1.
 * - `IsFormed=false` before any package: 1C is still building the transfer
 *   (a background job). Polled with growing delays up to
 *   `transport.formWaitMs`, then prepared again (a pending transfer keeps its
 *   TransferID); still nothing: a `busy` error, and the next pull goes on.
 * - `IsFormed=false` after some packages: finished, superseded or a lost
 *   answer. One `Restart=true`; still unformed: the collected packages are
 *   dropped and a full export is prepared (changes registered for an
 *   incremental transfer are gone once its package 1 left).
 * - A Fault: the preparation failed in 1C. Its text is surfaced and the
 *   transfer forgotten: the next pull prepares a new one.
 * - `FullExport` is read from the packages, never assumed from the request (a
 *   pending incremental transfer is returned for a full request).
 * The first transfer of a till is a full export, later ones are incremental.
 * An empty incremental transfer delivers nothing; so does a full one without
 * goods (it would clear the till, and means a wrong exchange rule in 1C).
 * A transfer that is not valid, or that conversion refuses (to-spr.ts), is
 * kept in quarantine, nothing of it reaches the till, the next download is a
 * full export, and this process downloads nothing more until restarted or
 * asked for a full export (`kassir-agent full-export`): the operator fixes 1C
 * or the config first; preparing full exports in a loop would only load 1C.
 */
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { writeFileAtomic } from '../../util/fsutil.js';
import { TransportError } from '../errors.js';
import type { PullContext, PullResult, TransportCursor } from '../transport.js';
import { SOAP_FAULT, type EsClient } from './client.js';
import type { CodeMap } from './code-map.js';
import { PayloadInvalid, readPackage, readPriceList, readSettings, type EsSettings, type FormatVersion } from './messages.js';
import { fullExportRequested, fullExportTaken } from './full-export.js';
import { ConversionRefused, SprBuilder } from './to-spr.js';
import type { TransferFolder } from './transfer-folder.js';

export interface DownloadOptions {
  deviceId: string;
  /** The transport's own folder (for the operator's full-export request). */
  dir: string;
  taxGroups: Record<string, number>;
  nameMaxLength: number;
  /** First delay when a transfer is not formed yet; doubled each time. */
  formPollMs: number;
  /** How long to wait for a transfer to form before preparing it again. */
  formWaitMs: number;
}

interface TransferState {
  id: string;
  /** What was asked for (the packages say what came). */
  requestedFull: boolean;
  /** Packages 1..stored are on disk. */
  stored: number;
  /** PackageTotal of the packages seen. */
  total?: number;
}

export interface EsCursor extends TransportCursor {
  settings?: EsSettings;
  /** A full export has reached the store once: later transfers are incremental. */
  fullDone?: boolean;
  /** The next transfer must be full (a transfer was lost or refused). */
  needFull?: boolean;
  /** How many transfers were staged for the till. */
  transfers?: number;
  transfer?: TransferState;
}

/** Why the price list is not downloaded until the agent restarts (a refused transfer), per process. */
export interface RefusalLatch {
  message?: string;
}

export class Downloader {
  constructor(
    private readonly client: EsClient,
    private readonly version: FormatVersion,
    private readonly folder: TransferFolder,
    private readonly codes: () => Promise<CodeMap>,
    private readonly o: DownloadOptions,
    private readonly refusal: RefusalLatch,
  ) {}

  async pull(ctx: PullContext): Promise<PullResult> {
    // An operator who asks for a full export has fixed what made a price list be refused.
    const fullAsked = await fullExportRequested(this.o.dir);
    if (fullAsked) this.refusal.message = undefined;
    if (this.refusal.message) throw new TransportError('config', this.refusal.message);
    let cursor = { ...(ctx.cursor as EsCursor) };
    const dev = this.o.deviceId;
    const settings = readSettingsOrThrow(await this.client.call('GetSettings', [['DeviceID', dev]], ctx.signal), this.version);
    if (JSON.stringify(settings) !== JSON.stringify(cursor.settings)) cursor.settings = settings;

    const persist = async (next: EsCursor) => {
      await ctx.stage([], next);
      cursor = next;
    };
    if (fullAsked) {
      // A transfer under way is finished first; the full export is the next one.
      await persist({ ...cursor, needFull: true });
      await fullExportTaken(this.o.dir);
      ctx.log.info('es.full_export.requested', { note: cursor.transfer ? 'after the transfer under way' : 'now' });
    }
    if (cursor.transfer && !(await this.folder.hasAll(cursor.transfer.stored))) {
      ctx.log.warn('es.transfer.packages_missing', { transfer: cursor.transfer.id, stored: cursor.transfer.stored, note: 'asking 1C for the transfer again from package 1' });
      await persist({ ...cursor, transfer: { ...cursor.transfer, stored: 0 } });
      await this.folder.clear();
    }
    // Resuming a transfer none of whose packages is kept: package 1 may have left 1C already (a crash), so ask from the start.
    let restart = cursor.transfer !== undefined && cursor.transfer.stored === 0;
    /** Such a transfer, if 1C no longer has it, may have taken its changes with it: what replaces it must be full. */
    let mayHaveLostPackage1 = restart;
    /** A formed answer was seen for the current transfer (so an unformed one no longer means "still building"). */
    let sawPackage = cursor.transfer !== undefined && cursor.transfer.stored > 0;
    let restartedAfterUnformed = false;
    let gapsInARow = 0;
    let waitedMs = 0;
    let delay = this.o.formPollMs;
    let prepares = 0;
    for (;;) {
      ctx.signal.throwIfAborted();
      if (!cursor.transfer) {
        await this.folder.clear();
        const full = !cursor.fullDone || cursor.needFull === true;
        if (prepares >= 3) throw new TransportError('server', `1C's price-list queue for device "${dev}" lost ${prepares} transfers in one pull; the next pull starts again`);
        const started = Date.now();
        const id = (full ? await this.client.call('PrepareFullPriceList', [['DeviceID', dev], ['FullPriceList', true]], ctx.signal) : await this.client.call('PreparePriceList', [['DeviceID', dev]], ctx.signal)).trim();
        if (id === '') throw new TransportError('protocol', `${full ? 'PrepareFullPriceList' : 'PreparePriceList'}: 1C answered an empty TransferID`);
        prepares++;
        ctx.log.info('es.transfer.prepared', { transfer: id, full, durationMs: Date.now() - started });
        await persist({ ...cursor, transfer: { id, requestedFull: full, stored: 0 } });
        restart = false;
        sawPackage = false;
      }
      const t: TransferState = cursor.transfer!;
      if (t.total !== undefined && t.stored >= t.total) break;
      const started = Date.now();
      let text: string;
      try {
        text = await this.client.call('GetPriceListPackage', [['DeviceID', dev], ['TransferID', t.id], ['Restart', restart]], ctx.signal);
      } catch (e) {
        if (e instanceof TransportError && e.details.code === SOAP_FAULT) {
          // An error record in 1C's queue: every call would raise it again; the next Prepare starts anew.
          await persist({ ...cursor, transfer: undefined, ...(t.stored > 0 ? { needFull: true } : {}) });
          throw new TransportError('server', `1C could not prepare the price list for device "${dev}": ${e.details.serverAnswer ?? e.message}`, { code: e.details.code, serverAnswer: e.details.serverAnswer, cause: e });
        }
        throw e;
      }
      restart = false;
      const label = `GetPriceListPackage ${t.id} package ${t.stored + 1}`;
      let head;
      try {
        head = readPackage(text, this.version, label);
      } catch (e) {
        if (e instanceof PayloadInvalid) return this.refuse(ctx, cursor, e.message, [[`${label}.xml`, text]], true);
        throw e;
      }
      if (!head.isFormed) {
        if (t.stored === 0 && !sawPackage) {
          if (waitedMs >= this.o.formWaitMs) {
            if (prepares >= 2) {
              throw new TransportError('busy', `1C has not formed the price-list transfer ${t.id} for device "${dev}" in ${Math.round(waitedMs / 1000)} s; the next pull asks again`);
            }
            ctx.log.info('es.transfer.not_formed', { transfer: t.id, waitedMs, note: 'preparing it again' });
            // A pending transfer comes back under the same TransferID whatever is asked; a lost one is replaced by a full export.
            await persist({ ...cursor, transfer: undefined, ...(mayHaveLostPackage1 ? { needFull: true } : {}) });
            mayHaveLostPackage1 = false;
            waitedMs = 0;
            delay = this.o.formPollMs;
            continue;
          }
          ctx.log.debug('es.transfer.waiting', { transfer: t.id, delayMs: delay });
          await sleep(delay, undefined, { signal: ctx.signal });
          waitedMs += delay;
          delay = Math.min(delay * 2, Math.max(this.o.formPollMs, this.o.formWaitMs - waitedMs));
          continue;
        }
        if (!restartedAfterUnformed) {
          ctx.log.warn('es.transfer.unformed', { transfer: t.id, stored: t.stored, note: 'the transfer stopped answering; asking for it again with Restart' });
          restartedAfterUnformed = true;
          await this.dropCollected(cursor, persist);
          restart = true;
          continue;
        }
        ctx.log.warn('es.transfer.lost', { transfer: t.id, note: 'the transfer is gone from 1C\'s queue; a full export follows' });
        await this.folder.clear();
        await persist({ ...cursor, transfer: undefined, needFull: true });
        restartedAfterUnformed = false;
        continue;
      }
      const expected = t.stored + 1;
      if (head.packageNumber !== expected || head.packageTotal < head.packageNumber || (t.total !== undefined && head.packageTotal !== t.total && expected > 1)) {
        gapsInARow++;
        if (gapsInARow > 3) {
          throw new TransportError('protocol', `GetPriceListPackage ${t.id}: 1C keeps answering package ${head.packageNumber}/${head.packageTotal} where ${expected} was expected`);
        }
        ctx.log.warn('es.package.gap', { transfer: t.id, package: head.packageNumber, total: head.packageTotal, expected, note: 'an answer was lost: asking for the transfer again with Restart' });
        await this.dropCollected(cursor, persist);
        restart = true;
        continue;
      }
      gapsInARow = 0;
      sawPackage = true;
      await this.folder.save(expected, text);
      await persist({ ...cursor, transfer: { ...t, stored: expected, total: head.packageTotal } });
      ctx.log.info('es.package', { transfer: t.id, package: expected, total: head.packageTotal, bytes: Buffer.byteLength(text), durationMs: Date.now() - started });
      ctx.progress?.('packages', expected, head.packageTotal);
    }
    return this.deliver(ctx, cursor);
  }

  private async dropCollected(cursor: EsCursor, persist: (c: EsCursor) => Promise<void>): Promise<void> {
    await persist({ ...cursor, transfer: { ...cursor.transfer!, stored: 0, total: undefined } });
    await this.folder.clear();
  }

  /** Converts the whole transfer and stages it as one reference part, with the cursor that forgets the transfer. */
  private async deliver(ctx: PullContext, cursor: EsCursor): Promise<PullResult> {
    const t = cursor.transfer!;
    const started = Date.now();
    const codes = await this.codes();
    const raws: [string, string][] = [];
    let builder: SprBuilder | undefined;
    let full = false;
    try {
      for (let n = 1; n <= t.stored; n++) {
        const text = await this.folder.read(n);
        raws.push([`transfer ${t.id} package ${n}.xml`, text]);
        const what = `price list transfer ${t.id}, package ${n}/${t.total}`;
        const head = readPackage(text, this.version, what);
        if (!head.priceList) continue;
        const pl = readPriceList(head.priceList, what);
        if (!builder) {
          full = pl.fullExport;
          builder = new SprBuilder(full, codes, { taxGroups: this.o.taxGroups, nameMaxLength: this.o.nameMaxLength, allowDiscounts: cursor.settings?.allowDiscounts });
        }
        builder.add(pl, what);
      }
      // A full export asked for stays asked for until one arrives (1C returns a pending incremental transfer instead).
      const done: EsCursor = { ...cursor, transfer: undefined, needFull: full ? false : cursor.needFull === true, fullDone: cursor.fullDone || full, transfers: (cursor.transfers ?? 0) + 1 };
      const counts = builder?.counts ?? { groups: 0, goods: 0, barcodes: 0 };
      if (!builder || counts.goods === 0) {
        // An incremental transfer with nothing in it (1/1, no goods): nothing to deliver. A full one without goods
        // would clear every good on the till: far more likely a wrong exchange rule in 1C than an empty shop.
        if (full) {
          ctx.log.warn('es.transfer.empty_full', { transfer: t.id, packages: t.stored, groups: counts.groups, note: "1C sent a full price list without goods: check the device's exchange rule in 1C; Kassir's goods were not cleared" });
        } else {
          ctx.log.debug('es.transfer.empty', { transfer: t.id, packages: t.stored, groups: counts.groups });
        }
        await ctx.stage([], { ...done, transfers: cursor.transfers ?? 0 });
        await this.folder.clear();
        return { parts: 0, bytes: 0 };
      }
      const data = builder.text();
      const localPath = join(ctx.tmpDir, `es-${t.id.replace(/[^A-Za-z0-9-]/g, '_')}.spr`);
      await writeFileAtomic(localPath, data);
      // The map first: a reference file never reaches the till with codes the map could forget.
      await codes.save();
      await ctx.stage([{ localPath, remoteName: `price list transfer ${t.id} (${t.stored} packages)`, kind: 'spr' }], done);
      await this.folder.clear();
      ctx.log.info('es.transfer.staged', { transfer: t.id, full, packages: t.stored, ...counts, bytes: data.length, durationMs: Date.now() - started, outcome: 'ok' });
      return { parts: 1, bytes: data.length };
    } catch (e) {
      if (e instanceof PayloadInvalid || e instanceof ConversionRefused) return this.refuse(ctx, cursor, e.message, raws, false);
      throw e;
    }
  }

  /** Keeps the transfer's packages in quarantine, forgets it, asks for a full export next, and stops downloading until a restart. */
  private async refuse(ctx: PullContext, cursor: EsCursor, message: string, raws: [string, string][], stored: boolean): Promise<never> {
    const next: EsCursor = { ...cursor, transfer: undefined, needFull: true };
    const id = cursor.transfer?.id;
    const all: [string, string][] = [];
    // The packages kept so far (those `raws` does not hold already), then `raws`.
    const from = stored ? 1 : raws.length + 1;
    for (let n = from; cursor.transfer && n <= cursor.transfer.stored; n++) {
      all.push([`transfer ${id} package ${n}.xml`, await this.folder.read(n).catch(() => '')]);
    }
    if (stored) all.push(...raws);
    else all.unshift(...raws);
    ctx.log.error('es.transfer.refused', { transfer: id, packages: all.length, reason: message, note: 'kept in quarantine; nothing of it was delivered; the next download is a full export' });
    if (all.length === 0) await ctx.stage([], next);
    for (const [i, [name, text]] of all.entries()) {
      // The cursor moves with the last one only: a crash in between quarantines the rest again.
      await ctx.quarantine(Buffer.from(text, 'utf8'), name, message, i === all.length - 1 ? next : cursor);
    }
    await this.folder.clear();
    this.refusal.message = `the price list was refused: ${message}`;
    throw new TransportError('config', this.refusal.message);
  }
}

function readSettingsOrThrow(text: string, v: FormatVersion): EsSettings {
  try {
    return readSettings(text, v);
  } catch (e) {
    if (e instanceof PayloadInvalid) throw new TransportError('protocol', e.message);
    throw e;
  }
}
