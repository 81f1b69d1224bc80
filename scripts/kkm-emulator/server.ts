/**
 * An HTTP server that behaves like the Shtrih-M back office's KKMTransfer
 * service (ReceiveData/SendData: docs/FORMATS.md "The KKMTransfer service"), for tests and for trying the agent
 * by hand. Routes match the path's tail, so any publication prefix works
 * (`/trade/hs/KKMTransfer/1/5` and `/1/5` are the same request).
 *
 * Answers imitate 1C: `errcode` as a string in ReceiveData ("0", "3" with the
 * wiki's message), base64 wrapped with `\r\n` every 64 characters as in the
 * wiki's sample, `Content-Type: application/json; charset=utf-8`.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { decodeBase64, encodeBase64 } from '../../src/formats/base64.js';
import { FormatError } from '../../src/formats/errors.js';
import { isZip, makeZip, readZipEntries } from '../../src/formats/zip.js';
import { nullLogger, type Logger } from '../../src/util/logger.js';
import { FaultBoard, type FaultSpec, type RequestKind } from './faults.js';
import { EmulatorStore, sha256, type PublishedPackage, type ReceivedPackage } from './store.js';

export interface KkmEmulatorOptions {
  dir: string;
  /** 0 (default) = a free port. */
  port?: number;
  host?: string;
  /** When set, every request needs HTTP basic auth with these. */
  user?: string;
  password?: string;
  /** The path the returned `url` points at (any prefix is accepted anyway). */
  prefix?: string;
  faults?: FaultSpec[];
  log?: Logger;
}

export interface RequestRecord {
  method: string;
  path: string;
  kind?: RequestKind;
  /** The HTTP status sent, or `dropped`. */
  result: number | 'dropped';
  fault?: string;
  /** SendData: sha256 of the body (the base64 text), so tests can prove a resend carried the same bytes. */
  bodySha256?: string;
  /** SendData: what the server answered (0 stored, 1 already processed, 2 unreadable), when it got that far. */
  errcode?: number;
}

export interface KkmEmulator {
  /** The service root to configure the agent with, e.g. http://127.0.0.1:40123/hs/KKMTransfer */
  url: string;
  port: number;
  dir: string;
  /** Every SendData stored for `pos`, in package order. */
  received(pos: number): Promise<ReceivedPackage[]>;
  /** The `.rep` files stored for `pos` (one per processed package). */
  storedFiles(pos: number): Promise<string[]>;
  /** Drop a file into the outbox; `pos` undefined = for every POS. */
  publish(name: string, data: Buffer | string, opts?: { pos?: number; uid?: string }): Promise<void>;
  /** The numbered packages of `pos` (publishing new outbox files first). */
  packages(pos: number): Promise<PublishedPackage[]>;
  setFault(fault: FaultSpec): void;
  clearFaults(): void;
  /** Every request handled, in arrival order. */
  readonly requests: readonly RequestRecord[];
  stop(): Promise<void>;
}

export const NOTHING_TO_SEND = 'Не найдены данные для отправки';
/** The seed's sample wraps base64 at 64 characters. */
const LINE = 64;
const MAX_BODY = 512 * 1024 * 1024;

const IIS_500 = `<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Strict//EN" "http://www.w3.org/TR/xhtml1/DTD/xhtml1-strict.dtd">
<html xmlns="http://www.w3.org/1999/xhtml"><head><meta http-equiv="Content-Type" content="text/html; charset=iso-8859-1"/>
<title>IIS 10.0 Detailed Error - 500.0 - Internal Server Error</title><style type="text/css">body{margin:0;font-size:.7em;}</style></head>
<body><div id="content"><div class="content-container"><h3>HTTP Error 500.0 - Internal Server Error</h3>
<h4>The page cannot be displayed because an internal server error has occurred.</h4></div></div></body></html>`;

export async function startKkmEmulator(opts: KkmEmulatorOptions): Promise<KkmEmulator> {
  const store = new EmulatorStore(opts.dir);
  await store.init();
  const faults = new FaultBoard();
  for (const f of opts.faults ?? []) faults.add(f);
  const log = opts.log ?? nullLogger;
  const requests: RequestRecord[] = [];
  // One request at a time touches the store: publishing and "already processed" checks must not interleave.
  let queue: Promise<unknown> = Promise.resolve();
  const serialized = <T>(fn: () => Promise<T>): Promise<T> => {
    const run = queue.then(fn, fn);
    queue = run.catch(() => undefined);
    return run;
  };

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((e: unknown) => {
      log.error('emulator.failed', { method: req.method, path: req.url, error: (e as Error).message });
      if (!res.headersSent) reply(res, 500, 'text/plain; charset=utf-8', `emulator error: ${(e as Error).message}`);
      else res.destroy();
    });
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = new URL(req.url ?? '/', 'http://emulator').pathname;
    const rec: RequestRecord = { method: req.method ?? '?', path, result: 0 };
    requests.push(rec);
    const done = (result: number | 'dropped') => {
      rec.result = result;
      log.info('emulator.request', { ...rec });
    };
    // The route is read first only to label the record (tests count refused SendData calls too).
    const route = parseRoute(req.method ?? '', path);
    if (route) rec.kind = route.kind;
    if (!authorized(req, opts)) {
      res.setHeader('www-authenticate', 'Basic realm="KKMTransfer"');
      reply(res, 401, 'text/html; charset=utf-8', '<html><body><h1>401 Unauthorized</h1></body></html>');
      return done(401);
    }
    if (!route) {
      reply(res, 404, 'text/plain; charset=utf-8', `no such KKMTransfer function: ${req.method} ${path}`);
      return done(404);
    }
    const body = route.kind === 'send' ? await readBody(req) : '';
    if (route.kind === 'send') rec.bodySha256 = sha256(body);
    const { delayMs, fault } = faults.take(route.kind);
    if (fault) rec.fault = fault.kind;
    if (delayMs > 0) {
      // Stop waiting when the client gives up, so a stopped emulator leaves no timer behind.
      const gone = new AbortController();
      res.once('close', () => gone.abort());
      try {
        await sleep(delayMs, undefined, { signal: gone.signal });
      } catch {
        return done('dropped');
      }
    }
    switch (fault?.kind) {
      case 'drop':
        req.socket.destroy();
        return done('dropped');
      case 'http500':
        reply(res, 500, 'text/html', IIS_500);
        return done(500);
      case 'garbage':
        reply(res, 200, 'application/json; charset=utf-8', '{"errcode": "0", "data": "UEsDBBQAAAgIAB');
        return done(200);
      case 'errcode2':
        json(res, { errcode: route.kind === 'receive' ? '2' : 2, errmessage: fault.message ?? 'Ошибка обработки пакета (эмулятор)' });
        return done(200);
      default:
        break;
    }
    const answer =
      route.kind === 'receive' ? await serialized(() => receiveData(route.pos, route.number)) : await serialized(() => sendData(route.pos, route.number, route.uid, body));
    if ('errcode' in answer && typeof answer.errcode === 'number') rec.errcode = answer.errcode;
    if (fault?.kind === 'lost-reply') {
      // Processed, but the answer never reaches the till: the case that makes resending dangerous.
      req.socket.destroy();
      return done('dropped');
    }
    json(res, answer);
    return done(200);
  }

  async function receiveData(pos: number, n: number): Promise<Record<string, string>> {
    const packages = await store.syncPackages(pos);
    const pkg = packages[n - 1];
    if (n < 1 || !pkg) return { data: '', errcode: '3', errmessage: NOTHING_TO_SEND };
    const content = await store.packageContent(pos, pkg);
    const zip = await makeZip([content]);
    const answer: Record<string, string> = { data: wrap(encodeBase64(zip)), errcode: '0', errmessage: '', packagetype: pkg.type };
    if (pkg.uid !== undefined) answer.UID = pkg.uid;
    return answer;
  }

  async function sendData(pos: number, n: number, uid: string | undefined, body: string): Promise<{ errcode: number; errmessage: string }> {
    if (await store.isReceived(pos, n)) return { errcode: 1, errmessage: `Пакет с номером ${n} уже обработан` };
    let raw: Buffer;
    let data: Buffer;
    let entries: string[] | undefined;
    try {
      raw = decodeBase64(body, `SendData ${pos}/${n}`);
      if (isZip(raw)) {
        const files = await readZipEntries(raw, `SendData ${pos}/${n}`);
        entries = files.map((f) => f.name);
        data = Buffer.concat(files.map((f) => f.data));
      } else data = raw;
    } catch (e) {
      if (e instanceof FormatError) return { errcode: 2, errmessage: e.message };
      throw e;
    }
    const rec: ReceivedPackage = { pos, number: n, receivedAt: new Date().toISOString(), data, zipped: entries !== undefined, bodySha256: sha256(body) };
    if (uid !== undefined) rec.uid = uid;
    if (entries) rec.entries = entries;
    await store.saveReceived(rec);
    return { errcode: 0, errmessage: '' };
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const host = opts.host ?? '127.0.0.1';
  const prefix = (opts.prefix ?? '/hs/KKMTransfer').replace(/\/+$/, '');
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}${prefix}`,
    port,
    dir: opts.dir,
    received: (pos) => store.received(pos),
    storedFiles: (pos) => store.storedFiles(pos),
    publish: (name, data, o) => store.publish(name, data, o),
    packages: (pos) => serialized(() => store.syncPackages(pos)),
    setFault: (f) => faults.add(f),
    clearFaults: () => faults.clear(),
    requests,
    stop: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

type Route = { kind: 'receive'; pos: number; number: number } | { kind: 'send'; pos: number; number: number; uid?: string };

/** Match the tail: `.../{pos}/{n}` (GET) or `.../SendData/{pos}/{n}[/{uid}]` (POST). */
function parseRoute(method: string, path: string): Route | undefined {
  let segs: string[];
  try {
    segs = path.split('/').filter((s) => s !== '').map((s) => decodeURIComponent(s));
  } catch {
    return undefined;
  }
  const num = (s: string | undefined) => (s !== undefined && /^\d+$/.test(s) ? Number(s) : undefined);
  if (method === 'GET' && segs.length >= 2) {
    const pos = num(segs[segs.length - 2]);
    const n = num(segs[segs.length - 1]);
    if (pos !== undefined && n !== undefined) return { kind: 'receive', pos, number: n };
  }
  if (method === 'POST') {
    for (const tail of [3, 4]) {
      const i = segs.length - tail;
      if (i < 0 || segs[i]!.toLowerCase() !== 'senddata') continue;
      const pos = num(segs[i + 1]);
      const n = num(segs[i + 2]);
      if (pos === undefined || n === undefined) continue;
      return tail === 4 ? { kind: 'send', pos, number: n, uid: segs[i + 3]! } : { kind: 'send', pos, number: n };
    }
  }
  return undefined;
}

function authorized(req: IncomingMessage, opts: KkmEmulatorOptions): boolean {
  if (opts.user === undefined) return true;
  const h = req.headers.authorization ?? '';
  const m = /^Basic\s+(\S+)$/i.exec(h);
  if (!m) return false;
  const [user, ...rest] = Buffer.from(m[1]!, 'base64').toString('utf8').split(':');
  return user === opts.user && rest.join(':') === (opts.password ?? '');
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const c of req) {
    total += (c as Buffer).length;
    if (total > MAX_BODY) throw new Error(`request body larger than ${MAX_BODY} bytes`);
    chunks.push(c as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function wrap(b64: string): string {
  const lines: string[] = [];
  for (let i = 0; i < b64.length; i += LINE) lines.push(b64.slice(i, i + LINE));
  return lines.join('\r\n');
}

function json(res: ServerResponse, body: unknown): void {
  reply(res, 200, 'application/json; charset=utf-8', JSON.stringify(body));
}

function reply(res: ServerResponse, status: number, type: string, body: string): void {
  res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body) });
  res.end(body);
}
