/**
 * An HTTP server that behaves like the 1C web service EquipmentService as
 * 1C:УТ 11 publishes it, for tests and for integrators trying the agent
 * without a 1C licence: SOAP 1.1 and 1.2 (answered in the version asked),
 * formats 3001-3003 per device, HTTP basic auth (UTF-8 names), 404 for any
 * other base (publication) name, case-sensitive as in 1C.
 *
 * The price-list queue follows 1C's rules: Prepare returns a pending
 * transfer's TransferID while any of its packages is unsent (so a full request
 * is ignored then); a new preparation clears the device's queue; groups go
 * first, N elements per package, every package repeats Units and FullExport;
 * a package counts as sent the moment it is returned, and the change
 * registrations it carries go when package 1 leaves; an element changed again
 * after the transfer was prepared stays registered for the next one, as 1C's
 * exchange registrations do (a record made after a message was formed is not
 * deleted with it; that УТ's offline-equipment registrations keep this rule
 * is assumed, not known); `Restart=true` marks all unsent
 * again; an error record answers a Fault on every call.
 * `GetPriceList` gives the changes in one piece (dropping the registrations
 * as it answers), `GetGood` the goods with a barcode; `GetDocs` nothing.
 * Traps on demand: a lost answer (the call is carried out, the connection is
 * dropped), a Fault, an HTTP status, a transfer that stays unformed for a
 * number of calls, a preparation that fails.
 * PostDocs: `SaleReports` / `SalesReport` / `SaleReport` are read in the
 * device's namespace against the format's rules (sale-reports.ts): invalid is
 * answered IsSuccess=false with a Description, as 1C does; valid shifts are
 * kept (`shifts`), a re-post with the same SaleReport UUID replacing the
 * earlier one, and logged under dir/received/<device>/ (each document, and
 * shifts.json listing the shifts held). Any other DocType loads nothing and
 * answers success, as 1C does. Trap `refuse`: IsSuccess=false for the next
 * posts, as when 1C's import cancels.
 */
import { randomUUID } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { nullLogger, type Logger } from '../../src/util/logger.js';
import { SUPPORTED_VERSIONS, versionNamespace, type FormatVersion } from '../../src/transports/equipment-service/messages.js';
import { buildFault, buildResponse, readRequest, type SoapVersion } from '../../src/transports/equipment-service/soap.js';
import { receiveShifts, saleReportsProblem, type ReceivedShift } from './sale-reports.js';
import { elementKey, elementsOf, packageXml, postDocsResponseXml, priceListXml, settingsXml, unformedXml, type Catalog, type CatalogItem, type Element, type SettingsSpec } from './catalog.js';

export interface EsDevice {
  /** The format version set in the device card (1C answers it in GetVersion; any number is allowed here, to test refusals). */
  version: number;
  /** Elements (groups + goods) per package; 0 = all in one. */
  perPackage: number;
}

export type EsTrap =
  /** The call is carried out and its answer dropped; `skip`: the first calls of `op` pass. */
  | { kind: 'lost-answer'; op: string; times?: number; skip?: number }
  | { kind: 'fault'; op: string; text: string; times?: number }
  | { kind: 'http'; op?: string; status: number; times?: number }
  /** The next transfer prepared stays unformed for this many GetPriceListPackage calls. */
  | { kind: 'unformed'; calls: number; times?: number }
  /** The next preparation fails in 1C: every GetPriceListPackage of it answers a Fault with `text`. */
  | { kind: 'prepare-error'; text: string; times?: number }
  /** The next SaleReports posts are answered IsSuccess=false with `text` (1C's import cancelled), nothing kept. */
  | { kind: 'refuse'; text: string; times?: number };

export interface EsEmulatorOptions {
  port?: number;
  host?: string;
  /** The publication (base) name: `/{base}/ws/EquipmentService.1cws`. */
  base?: string;
  user?: string;
  password?: string;
  devices?: Record<string, EsDevice>;
  catalog?: Catalog;
  settings?: Partial<SettingsSpec>;
  traps?: EsTrap[];
  /** Where posted documents are logged (received/<device>/...); nothing is written without it. */
  dir?: string;
  /** Serve HTTPS with this key and certificate (PEM). */
  tls?: { key: string; cert: string };
  log?: Logger;
}

export interface EsRequestRecord {
  op: string;
  soap: SoapVersion;
  params: Record<string, string>;
  /** `ok`, `fault`, `dropped` or an HTTP status. */
  result: string | number;
  /** GetPriceListPackage: what was answered (`3/5`, `unformed`); PreparePriceList, PrepareFullPriceList: the TransferID. */
  answer?: string;
}

/** A transfer the price-list queue formed (what it holds, for tests that check what reached the till). */
export interface EsTransferRecord {
  device: string;
  tid: string;
  full: boolean;
  packages: number;
  /** Its elements (groups first) as they were when it was prepared. */
  elements: Element[];
}

export interface PostedDoc {
  device: string;
  docType: string;
  document: string;
  ok: boolean;
  description?: string;
}

export interface EsEmulator {
  /** The service URL to configure: http://127.0.0.1:PORT/{base}/ws/EquipmentService.1cws */
  url: string;
  port: number;
  readonly requests: readonly EsRequestRecord[];
  readonly posted: readonly PostedDoc[];
  /** Every transfer formed, in order (a pending one returned again is not a new one). */
  readonly transfers: readonly EsTransferRecord[];
  /** The shifts 1C holds now: one per SaleReport UUID (a re-post replaced it), in the order first received. */
  readonly shifts: readonly ReceivedShift[];
  /** Traps that went off so far, by kind (an armed trap counts once it acted, not when armed). */
  readonly trapsFired: Readonly<Partial<Record<EsTrap['kind'], number>>>;
  /** Replaces the catalogue; what changed is registered for every device's next incremental transfer. */
  setCatalog(c: Catalog): void;
  addTrap(t: EsTrap): void;
  /** Drops every trap still armed (the operator fixed what 1C complained about). */
  clearTraps(): void;
  setDevice(id: string, d: EsDevice): void;
  stop(): Promise<void>;
}

interface QueuedPackage {
  xml: string;
  sent: boolean;
}

interface Queue {
  tid: string;
  packages: QueuedPackage[];
  error?: string;
  /** GetPriceListPackage calls still answered "not formed". */
  unformedLeft: number;
  /**
   * The change registrations this transfer carries (key -> the element as it was when prepared): dropped when
   * package 1 leaves, unless the element changed again since (that change goes into the next transfer).
   */
  carries: Map<string, string | undefined>;
}

const DEFAULT_SETTINGS: SettingsSpec = { companyName: 'ООО "Ромашка"', storeName: 'Магазин №1', inn: '7701234567', allowDiscounts: true };
const DEFAULT_UNITS = [{ Code: '796', Name: 'шт', OKEICode: '796' }, { Code: '166', Name: 'кг', OKEICode: '166' }];

export async function startEsEmulator(opts: EsEmulatorOptions = {}): Promise<EsEmulator> {
  const base = opts.base ?? 'retail';
  const log = opts.log ?? nullLogger;
  const devices = new Map<string, EsDevice>(Object.entries(opts.devices ?? { 'KASSA-01': { version: 3003, perPackage: 0 } }));
  const settings: SettingsSpec = { ...DEFAULT_SETTINGS, ...opts.settings };
  const traps: (EsTrap & { left: number })[] = [];
  const trapsFired: Partial<Record<EsTrap['kind'], number>> = {};
  const addTrap = (t: EsTrap) => traps.push({ ...t, left: t.times ?? 1 });
  for (const t of opts.traps ?? []) addTrap(t);
  const requests: EsRequestRecord[] = [];
  const posted: PostedDoc[] = [];
  const transfers: EsTransferRecord[] = [];
  const shifts: ReceivedShift[] = [];
  const queues = new Map<string, Queue>();
  /** Per device: keys of elements changed since they last left in a package 1. */
  const registrations = new Map<string, Set<string>>();
  let catalog: Catalog = { goods: [] };
  let snapshot = new Map<string, string>();

  const setCatalog = (c: Catalog) => {
    const next = new Map(elementsOf(c).map((e) => [elementKey(e), JSON.stringify(e)]));
    for (const [k, v] of next) {
      if (snapshot.get(k) === v) continue;
      for (const id of devices.keys()) (registrations.get(id) ?? registrations.set(id, new Set()).get(id)!).add(k);
    }
    catalog = c;
    snapshot = next;
  };
  setCatalog(opts.catalog ?? { goods: [] });

  const takeTrap = <K extends EsTrap['kind']>(kind: K, op?: string): Extract<EsTrap, { kind: K }> | undefined => {
    const i = traps.findIndex((t) => t.kind === kind && t.left > 0 && (!('op' in t) || t.op === undefined || t.op === op));
    if (i === -1) return undefined;
    const t = traps[i]!;
    if ('skip' in t && t.skip !== undefined && t.skip > 0) {
      t.skip--;
      return undefined;
    }
    t.left--;
    trapsFired[t.kind] = (trapsFired[t.kind] ?? 0) + 1;
    return t as unknown as Extract<EsTrap, { kind: K }>;
  };

  function prepare(id: string, dev: EsDevice, full: boolean): string {
    const pending = queues.get(id);
    if (pending && !pending.error && pending.packages.some((p) => !p.sent)) return pending.tid;
    const tid = randomUUID();
    const failure = takeTrap('prepare-error');
    if (failure) {
      queues.set(id, { tid, packages: [], error: failure.text, unformedLeft: 0, carries: new Map() });
      return tid;
    }
    const regs = registrations.get(id) ?? new Set<string>();
    const all = elementsOf(catalog);
    const chosen: Element[] = full ? all : all.filter((e) => regs.has(elementKey(e)));
    const n = dev.perPackage > 0 ? dev.perPackage : Math.max(chosen.length, 1);
    const total = Math.max(1, Math.ceil(chosen.length / n));
    const version = dev.version as FormatVersion;
    const units = catalog.units ?? DEFAULT_UNITS;
    const packages: QueuedPackage[] = [];
    for (let i = 0; i < total; i++) {
      packages.push({ xml: packageXml({ version, number: i + 1, total, fullExport: full, units, elements: chosen.slice(i * n, (i + 1) * n) }), sent: false });
    }
    const carried = full ? [...regs] : chosen.map(elementKey);
    queues.set(id, { tid, packages, unformedLeft: takeTrap('unformed')?.calls ?? 0, carries: new Map(carried.map((k) => [k, snapshot.get(k)])) });
    transfers.push({ device: id, tid, full, packages: total, elements: structuredClone(chosen) });
    return tid;
  }

  function getPackage(id: string, dev: EsDevice, tid: string, restart: boolean): { xml: string; label: string } {
    const q = queues.get(id);
    const version = dev.version as FormatVersion;
    if (q && q.tid === tid && q.error) throw new OneCError(q.error);
    if (!q || q.tid !== tid) return { xml: unformedXml(version), label: 'unformed' };
    if (q.unformedLeft > 0) {
      q.unformedLeft--;
      return { xml: unformedXml(version), label: 'unformed' };
    }
    if (restart) for (const p of q.packages) p.sent = false;
    const i = q.packages.findIndex((p) => !p.sent);
    if (i === -1) return { xml: unformedXml(version), label: 'unformed' };
    q.packages[i]!.sent = true;
    if (i === 0) {
      const regs = registrations.get(id);
      for (const [k, was] of q.carries) if (snapshot.get(k) === was) regs?.delete(k);
    }
    return { xml: q.packages[i]!.xml, label: `${i + 1}/${q.packages.length}` };
  }

  async function postDocs(id: string, dev: EsDevice, docType: string, document: string): Promise<string> {
    const version = dev.version as FormatVersion;
    if (!['SaleReports', 'SalesReport', 'SaleReport'].includes(docType)) {
      posted.push({ device: id, docType, document, ok: true, description: 'loaded nothing (DocType not read)' });
      return postDocsResponseXml(version, true, 'Данные успешно загружены');
    }
    const refused = takeTrap('refuse');
    const problem = saleReportsProblem(document, versionNamespace(version));
    const ok = problem === undefined && !refused;
    const description = problem
      ? `Отчет о продажах не соответствует формату версии ${version}: ${problem}`
      : refused
        ? refused.text
        : 'Данные успешно загружены';
    posted.push({ device: id, docType, document, ok, ...(ok ? {} : { description }) });
    if (ok) receiveShifts(shifts, id, document, versionNamespace(version));
    if (opts.dir) {
      const dir = join(opts.dir, 'received', id.replace(/[^\w.-]/g, '_'));
      await mkdir(dir, { recursive: true });
      await writeFile(join(dir, `${String(posted.length).padStart(5, '0')}-${ok ? 'ok' : 'refused'}.xml`), document);
      const held = shifts.filter((x) => x.device === id).map((x) => ({ ...x.attrs, posts: x.posts, checks: x.checks.length, cash: x.cash.length }));
      await writeFile(join(dir, 'shifts.json'), JSON.stringify(held, null, 1));
    }
    log.info('es-emulator.posted', { device: id, docType, ok, ...(ok ? {} : { description }), shifts: shifts.length });
    return postDocsResponseXml(version, ok, description);
  }

  /** The operation's answer (the text of `return`); throws OneCError for a Fault. */
  async function operate(op: string, p: Map<string, string>): Promise<{ value: string | number | boolean; answer?: string }> {
    if (op === 'GetDocTypes') return { value: '' };
    const id = p.get('DeviceID') ?? '';
    const dev = devices.get(id);
    if (op === 'Connect') return { value: dev !== undefined };
    if (op === 'GetVersion') return { value: dev?.version ?? 0 };
    if (!dev) throw new OneCError(`Не найдено подключаемое оборудование с идентификатором "${id}"`);
    const version = dev.version as FormatVersion;
    if (!SUPPORTED_VERSIONS.includes(version)) throw new OneCError(`Формат ${dev.version} не поддерживается эмулятором`);
    switch (op) {
      case 'GetSettings':
        return { value: settingsXml(version, settings) };
      case 'PreparePriceList':
      case 'PrepareFullPriceList': {
        const tid = prepare(id, dev, op === 'PrepareFullPriceList' && p.get('FullPriceList') === 'true');
        return { value: tid, answer: tid };
      }
      case 'GetPriceListPackage': {
        const r = getPackage(id, dev, p.get('TransferID') ?? '', p.get('Restart') === 'true');
        return { value: r.xml, answer: r.label };
      }
      case 'GetPriceList': {
        // The incremental list in one piece; the registrations go as it is returned (a lost answer loses them).
        const regs = registrations.get(id) ?? new Set<string>();
        const chosen = elementsOf(catalog).filter((e) => regs.has(elementKey(e)));
        regs.clear();
        return { value: priceListXml(version, false, catalog.units ?? DEFAULT_UNITS, chosen) };
      }
      case 'GetGood': {
        const barcode = p.get('Barcode') ?? '';
        const has = (it: CatalogItem): boolean => (it.barcodes ?? []).includes(barcode) || [...(it.characteristics ?? []), ...(it.packs ?? [])].some(has);
        const found = elementsOf(catalog).filter((e) => e.kind === 'good' && has(e.item));
        return { value: priceListXml(version, false, catalog.units ?? DEFAULT_UNITS, found) };
      }
      case 'PostDocs':
        return { value: await postDocs(id, dev, p.get('DocType') ?? '', p.get('Document') ?? '') };
      case 'GetDocs':
        return { value: '' };
      default:
        throw new OneCError(`Операция ${op} не поддерживается эмулятором`);
    }
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = new URL(req.url ?? '/', 'http://emulator').pathname;
    if (path !== `/${base}/ws/EquipmentService.1cws` && path !== `/${base}/ws/EquipmentService`) {
      return reply(res, 404, 'text/html; charset=utf-8', '<html><body><h1>404 Not Found</h1></body></html>');
    }
    if (!authorized(req, opts)) {
      res.setHeader('www-authenticate', 'Basic realm="1C:Enterprise"');
      return reply(res, 401, 'text/html; charset=utf-8', '<html><body><h1>401 Unauthorized</h1></body></html>');
    }
    const body = await readBody(req);
    let call;
    try {
      call = readRequest(body);
    } catch (e) {
      return reply(res, 500, 'text/xml; charset=utf-8', buildFault('1.1', (e as Error).message));
    }
    const rec: EsRequestRecord = { op: call.op, soap: call.version, params: Object.fromEntries(call.params), result: 'ok' };
    if (rec.params.Document !== undefined) rec.params.Document = `(${rec.params.Document.length} characters)`;
    requests.push(rec);
    const type = call.version === '1.1' ? 'text/xml; charset=utf-8' : 'application/soap+xml; charset=utf-8';
    const status = takeTrap('http', call.op);
    if (status) {
      rec.result = status.status;
      return reply(res, status.status, 'text/html; charset=utf-8', `<html><body>HTTP ${status.status}</body></html>`);
    }
    const fault = takeTrap('fault', call.op);
    if (fault) {
      rec.result = 'fault';
      return reply(res, 500, type, buildFault(call.version, fault.text));
    }
    let text: string;
    let code = 200;
    try {
      const r = await operate(call.op, call.params);
      if (r.answer) rec.answer = r.answer;
      text = buildResponse(call.version, call.op, r.value);
    } catch (e) {
      if (!(e instanceof OneCError)) throw e;
      rec.result = 'fault';
      code = 500;
      text = buildFault(call.version, e.message);
    }
    if (takeTrap('lost-answer', call.op)) {
      // Carried out, but the answer never arrives.
      rec.result = 'dropped';
      log.info('es-emulator.request', { ...rec });
      req.socket.destroy();
      return;
    }
    log.info('es-emulator.request', { ...rec });
    reply(res, code, type, text);
  }

  const onRequest = (req: IncomingMessage, res: ServerResponse) => {
    handle(req, res).catch((e: unknown) => {
      log.error('es-emulator.failed', { error: (e as Error).message });
      if (!res.headersSent) reply(res, 500, 'text/plain; charset=utf-8', `emulator error: ${(e as Error).message}`);
      else res.destroy();
    });
  };
  const server: Server = opts.tls ? createHttpsServer({ key: opts.tls.key, cert: opts.tls.cert }, onRequest) : createServer(onRequest);
  await new Promise<void>((ok, fail) => {
    server.once('error', fail);
    server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', () => ok());
  });
  const port = (server.address() as AddressInfo).port;
  return {
    url: `${opts.tls ? 'https' : 'http'}://${opts.host ?? '127.0.0.1'}:${port}/${base}/ws/EquipmentService.1cws`,
    port,
    requests,
    posted,
    transfers,
    shifts,
    trapsFired,
    setCatalog,
    addTrap,
    clearTraps: () => {
      traps.length = 0;
    },
    setDevice: (id, d) => {
      devices.set(id, d);
    },
    stop: () =>
      new Promise<void>((ok) => {
        server.closeAllConnections();
        server.close(() => ok());
      }),
  };
}

/** An exception inside a 1C operation: the platform answers it as a SOAP Fault with HTTP 500. */
class OneCError extends Error {}

function reply(res: ServerResponse, status: number, type: string, body: string): void {
  res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

function authorized(req: IncomingMessage, o: EsEmulatorOptions): boolean {
  if (o.user === undefined) return true;
  const h = req.headers.authorization ?? '';
  if (!h.startsWith('Basic ')) return false;
  return Buffer.from(h.slice(6), 'base64').toString('utf8') === `${o.user}:${o.password ?? ''}`;
}
