/**
 * The upload of sales: one `SaleReport` per closed shift, posted with
 * `PostDocs(deviceId, "SaleReports", ...)` in the namespace of the device's
 * format version.
 *
 * The exchange pushes the sealed report packages one at a time, in order. A
 * package whose transactions close no shift is "accepted into the shift being
 * assembled": its lines are staged here, durably, and the push answers
 * `delivered` although nothing reached 1C yet (1C takes sales per closed
 * shift only). The package holding a shift's Z report posts the whole shift.
 *
 * Staging: `<dir>/shifts/<package number>.json` holds, per POS, every line
 * not yet in a posted shift (the open shift's lines, and those of receipts
 * carried over a Z report). Each push reads the file of the package before
 * it, adds its own lines, posts the shifts they close, writes its own file
 * (atomic, fsynced with its folder), records in its push notes that it is
 * done, and only then removes the older file. So:
 * - a crash before the notes: the retry reads the same older file and the
 *   same package, builds the identical document (name-based UUIDs) and posts
 *   it again, which replaces in 1C, never duplicates;
 * - a crash after the notes: the retry only finishes the clean-up;
 * - a lost PostDocs answer is a failed push: the retry re-posts the same.
 * The document is rebuilt on each attempt rather than stored: the same lines
 * and maps give the same bytes, and a fix to the maps (paymentKinds, a code
 * added in 1C) applies on the next try.
 *
 * `IsSuccess=false` keeps the shift (and every package after it) queued with
 * 1C's Description in the error, retried at the operator's pace; a shift the
 * map cannot express (ShiftHeld) likewise, with the receipts named.
 */
import { readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { ShiftLayout } from '../../config/schema.js';
import { parseReport } from '../../formats/report.js';
import { formatAmount } from '../../shifts/money.js';
import { failpoint } from '../../util/failpoints.js';
import { ensureDir, fsyncDir, writeJsonAtomic } from '../../util/fsutil.js';
import type { Logger } from '../../util/logger.js';
import { TransportError } from '../errors.js';
import type { OutgoingPackage, PushContext, PushResult } from '../transport.js';
import type { EsClient } from './client.js';
import type { CodeMap } from './code-map.js';
import { PayloadInvalid, readPostDocsResponse, readSettings, saleReportsXml, type EsSettings, type FormatVersion } from './messages.js';
import { buildSaleReport, ShiftHeld, type BuiltShift } from './sale-report.js';
import { splitShifts, transactionLines, type OpenLines } from './shift-lines.js';

/** The error code of a shift held back (the map cannot express it) or refused by 1C (IsSuccess=false). */
export const SHIFT_HELD = 'shift-held';
export const POST_REFUSED = 'post-refused';

export interface UploadOptions {
  deviceId: string;
  /** `<dataDir>/equipment-service/shifts`. */
  dir: string;
  layout: ShiftLayout;
  paymentKinds: Record<string, string>;
  /** 1C's taxation system code for the checks; undefined: the first one of 1C's Settings. */
  taxationSystem?: number;
}

interface StagedFile {
  schema: 1;
  package: number;
  open: Record<string, OpenLines>;
}

interface UploadNotes {
  esUpload?: 'done';
  remoteName?: string;
  serverAnswer?: string;
}

export class Uploader {
  private settings?: EsSettings;

  constructor(
    private readonly client: EsClient,
    private readonly version: FormatVersion,
    private readonly codes: () => Promise<CodeMap>,
    private readonly o: UploadOptions,
    private readonly log: Logger,
  ) {}

  async push(pkg: OutgoingPackage, ctx: PushContext): Promise<PushResult> {
    const notes = ctx.notes as UploadNotes;
    if (notes.esUpload === 'done') {
      await this.dropBefore(pkg.number);
      return { outcome: 'delivered', remoteName: notes.remoteName ?? 'SaleReports', ...(notes.serverAnswer ? { serverAnswer: notes.serverAnswer } : {}) };
    }
    const before = await this.stagedBefore(pkg.number);
    const lines = transactionLines(parseReport(await readFile(pkg.path), pkg.path).units);
    const { closed, open } = splitShifts(before?.open ?? {}, lines, this.o.layout);
    let remoteName = `shift being assembled (package ${pkg.number} staged)`;
    let serverAnswer: string | undefined;
    if (closed.length > 0) {
      const started = Date.now();
      const built = await this.build(closed, pkg, ctx);
      const answer = await this.post(built, pkg, ctx.signal);
      failpoint('es.upload.after-post');
      remoteName = `SaleReports ${built.map((b) => b.uuid).join(', ')}`;
      serverAnswer = answer;
      for (const b of built) {
        this.log.info('es.shift.posted', {
          transport: 'equipment-service', pos: b.pos, shift: b.number, package: pkg.number, uuid: b.uuid, checks: b.checks, returns: b.returns,
          revenue: formatAmount(b.revenue), durationMs: Date.now() - started, answer,
        });
      }
    }
    await ensureDir(this.o.dir);
    await writeJsonAtomic(this.file(pkg.number), { schema: 1, package: pkg.number, open } satisfies StagedFile);
    await ctx.saveNotes({ esUpload: 'done', remoteName, ...(serverAnswer ? { serverAnswer } : {}) } satisfies UploadNotes);
    failpoint('es.upload.after-notes');
    await this.dropBefore(pkg.number);
    return { outcome: 'delivered', remoteName, ...(serverAnswer ? { serverAnswer } : {}) };
  }

  private async build(closed: Parameters<typeof buildSaleReport>[0][], pkg: OutgoingPackage, ctx: PushContext): Promise<BuiltShift[]> {
    const codes = await this.codes();
    const settings = await this.readSettings(ctx.signal);
    const taxationSystem = this.o.taxationSystem ?? settings.taxationSystems[0];
    const built: BuiltShift[] = [];
    for (const shift of closed) {
      try {
        if (taxationSystem === undefined) {
          throw new ShiftHeld('', shift.pos, ['1C sends no taxation system in the device Settings: set transport.taxationSystem to 1C\'s code of the shop\'s taxation system, then restart the agent']);
        }
        built.push(
          buildSaleReport(shift, {
            deviceId: this.o.deviceId,
            layout: this.o.layout,
            paymentKinds: this.o.paymentKinds,
            taxationSystem,
            paymentOptions: new Set(settings.electronicPaymentOptions.map((p) => p.code)),
            goods: (k) => {
              const code = codes.oneCCode(k);
              return code === undefined ? undefined : { code, ...(codes.taxRate(code) !== undefined ? { taxRate: codes.taxRate(code)! } : {}) };
            },
          }),
        );
      } catch (e) {
        if (!(e instanceof ShiftHeld)) throw e;
        this.log.warn('es.shift.held', { transport: 'equipment-service', pos: e.pos, shift: e.shiftNumber, package: pkg.number, problems: e.problems.length, reason: e.message });
        throw new TransportError('config', `package ${pkg.number}: ${e.message}`, { code: SHIFT_HELD, shiftProblems: e.problems });
      }
    }
    return built;
  }

  /** Posts the shifts; resolves with 1C's Description. Throws TransportError (IsSuccess=false: kind `config`, code `post-refused`). */
  private async post(built: BuiltShift[], pkg: OutgoingPackage, signal: AbortSignal): Promise<string> {
    const xml = saleReportsXml(this.version, built.map((b) => b.node));
    const text = await this.client.call('PostDocs', [['DeviceID', this.o.deviceId], ['DocType', 'SaleReports'], ['Document', xml]], signal);
    let answer;
    try {
      answer = readPostDocsResponse(text, this.version);
    } catch (e) {
      if (!(e instanceof PayloadInvalid)) throw e;
      throw new TransportError('protocol', `package ${pkg.number}: ${e.message}`);
    }
    if (!answer.isSuccess) {
      const shifts = built.map((b) => `${b.number} of POS ${b.pos}`).join(', ');
      throw new TransportError(
        'config',
        `package ${pkg.number}: 1C refused shift ${shifts} (IsSuccess=false): ${answer.description || 'no description'}. This is a data error for an operator: fix what 1C names (a goods code unknown in 1C, the device's format version, a payment option), the shift is posted again with the same UUIDs on the next try`,
        { code: POST_REFUSED, serverAnswer: answer.description },
      );
    }
    return answer.description;
  }

  private async readSettings(signal: AbortSignal): Promise<EsSettings> {
    return (this.settings ??= readSettings(await this.client.call('GetSettings', [['DeviceID', this.o.deviceId]], signal), this.version));
  }

  private file(n: number): string {
    return join(this.o.dir, `${String(n).padStart(10, '0')}.json`);
  }

  private async numbers(): Promise<number[]> {
    let names: string[];
    try {
      names = await readdir(this.o.dir);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw e;
    }
    return names.map((n) => /^(\d{10})\.json$/.exec(n)).filter((m): m is RegExpExecArray => m !== null).map((m) => Number(m[1])).sort((a, b) => a - b);
  }

  /** The staged lines left by the last package before `n`, if any. */
  private async stagedBefore(n: number): Promise<StagedFile | undefined> {
    const last = (await this.numbers()).filter((k) => k < n).at(-1);
    if (last === undefined) return undefined;
    const file = this.file(last);
    try {
      const data = JSON.parse(await readFile(file, 'utf8')) as StagedFile;
      if (data.schema !== 1 || typeof data.open !== 'object') throw new Error('unknown layout');
      return data;
    } catch (e) {
      throw new TransportError('config', `${file}: the staged lines of the shift being assembled cannot be read (${(e as Error).message}); restore the file from a backup: without it the shift would be posted incomplete`, { cause: e });
    }
  }

  private async dropBefore(n: number): Promise<void> {
    const old = (await this.numbers()).filter((k) => k < n);
    for (const k of old) await rm(this.file(k), { force: true });
    if (old.length > 0) await fsyncDir(this.o.dir);
  }
}
