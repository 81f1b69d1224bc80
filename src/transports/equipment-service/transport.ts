/**
 * The 1C offline-equipment web service (`EquipmentService`, published by
 * 1C:Retail, 1C:УТ 11 and 1C:УНФ) as a transport: SOAP over undici.
 *
 * - `open()` checks the device with `Connect` and learns its format with
 *   `GetVersion` (3001-3003 only): a device 1C does not know, another format,
 *   a wrong password or a wrong base name each fail with one message saying
 *   what to fix (client.ts).
 * - `pull()` downloads one price-list transfer and stages it as one SPR
 *   reference file (download.ts, to-spr.ts).
 * - `push()` uploads sales: one SaleReport per closed shift, posted by the
 *   package holding its Z report; the packages before it are staged into the
 *   shift being assembled (upload.ts, sale-report.ts, shift-lines.ts).
 *
 * Its own durable files live in `<dataDir>/equipment-service/`: the packages
 * of the transfer in progress, the 1C <-> Kassir code map, and the staged
 * lines of the shifts being assembled (`shifts/`).
 */
import { join } from 'node:path';
import type { Agent, Dispatcher } from 'undici';
import type { Logger } from '../../util/logger.js';
import { TransportError } from '../errors.js';
import { httpAgent } from '../kkmtransfer/http.js';
import { parseServiceRoot } from '../kkmtransfer/urls.js';
import type { OutgoingPackage, PullContext, PullResult, PushContext, PushResult, Transport } from '../transport.js';
import { EsClient } from './client.js';
import { CodeMap } from './code-map.js';
import { Downloader, type RefusalLatch } from './download.js';
import type { FormatVersion } from './messages.js';
import type { SoapVersion } from './soap.js';
import type { ShiftLayout } from '../../config/schema.js';
import { Uploader } from './upload.js';
import { TransferFolder } from './transfer-folder.js';

export interface EquipmentServiceOptions {
  url: string;
  user?: string;
  password?: string;
  deviceId: string;
  soapVersion: SoapVersion;
  tls: { caFile?: string; rejectUnauthorized: boolean };
  timeoutMs: number;
  maxPackageBytes: number;
  taxGroups: Record<string, number>;
  nameMaxLength: number;
  formPollMs: number;
  formWaitMs: number;
  /** Kassir payment kind -> "cash" or a 1C electronic payment option code. */
  paymentKinds: Record<string, string>;
  taxationSystem?: number;
  /** Where shifts and money are in the report lines (config `shifts`). */
  shiftLayout: ShiftLayout;
  /** `<dataDir>/equipment-service`. */
  dir: string;
}

export interface EquipmentServiceDeps {
  log: Logger;
  /** Tests inject their own; otherwise `open()` builds an undici Agent and `close()` closes it. */
  dispatcher?: Dispatcher;
}

export class EquipmentServiceTransport implements Transport {
  readonly type = 'equipment-service';
  private client?: EsClient;
  private version?: FormatVersion;
  private ownAgent?: Agent;
  private codes?: CodeMap;
  private uploader?: Uploader;
  /** Kept across reopenings: a refused price list stops downloads until the agent restarts. */
  private readonly refusal: RefusalLatch = {};

  constructor(
    private readonly opts: EquipmentServiceOptions,
    private readonly deps: EquipmentServiceDeps,
  ) {}

  async open(): Promise<void> {
    if (this.client) return;
    const root = parseServiceRoot(this.opts.url);
    const dispatcher = this.deps.dispatcher ?? (this.ownAgent = await httpAgent(this.opts.tls, this.opts.timeoutMs));
    const client = new EsClient({
      root,
      ...(this.opts.user !== undefined ? { user: this.opts.user, password: this.opts.password ?? '' } : {}),
      soapVersion: this.opts.soapVersion,
      timeoutMs: this.opts.timeoutMs,
      maxAnswerBytes: this.opts.maxPackageBytes,
      dispatcher,
    });
    const started = Date.now();
    try {
      this.version = await client.connect(this.opts.deviceId, AbortSignal.timeout(this.opts.timeoutMs * 3));
    } catch (e) {
      await this.close();
      throw e;
    }
    this.client = client;
    this.deps.log.info('transport.open', { transport: this.type, url: root.url.href, device: this.opts.deviceId, formatVersion: this.version, soap: this.opts.soapVersion, durationMs: Date.now() - started });
  }

  async close(): Promise<void> {
    const agent = this.ownAgent;
    this.ownAgent = undefined;
    this.client = undefined;
    this.uploader = undefined;
    if (agent) await agent.close();
  }

  async pull(ctx: PullContext): Promise<PullResult> {
    if (!this.client || this.version === undefined) throw new TransportError('unreachable', 'EquipmentService: the transport is closed (open() comes first)');
    const downloader = new Downloader(
      this.client,
      this.version,
      new TransferFolder(join(this.opts.dir, 'transfer')),
      () => this.codeMap(),
      { deviceId: this.opts.deviceId, dir: this.opts.dir, taxGroups: this.opts.taxGroups, nameMaxLength: this.opts.nameMaxLength, formPollMs: this.opts.formPollMs, formWaitMs: this.opts.formWaitMs },
      this.refusal,
    );
    return downloader.pull(ctx);
  }

  async push(pkg: OutgoingPackage, ctx: PushContext): Promise<PushResult> {
    if (!this.client || this.version === undefined) throw new TransportError('unreachable', 'EquipmentService: the transport is closed (open() comes first)');
    this.uploader ??= new Uploader(
      this.client,
      this.version,
      () => this.codeMap(),
      {
        deviceId: this.opts.deviceId,
        dir: join(this.opts.dir, 'shifts'),
        layout: this.opts.shiftLayout,
        paymentKinds: this.opts.paymentKinds,
        ...(this.opts.taxationSystem !== undefined ? { taxationSystem: this.opts.taxationSystem } : {}),
      },
      this.deps.log,
    );
    return this.uploader.push(pkg, ctx);
  }

  private async codeMap(): Promise<CodeMap> {
    return (this.codes ??= await CodeMap.load(join(this.opts.dir, 'codes.json')));
  }
}
