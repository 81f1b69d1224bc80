/**
 * /healthz and /metrics over HTTP on a loopback address, or over HTTP(S) on
 * any address with the protection of a web config file (TLS and/or basic
 * auth, metrics/web-config.ts) and an optional allow-list of clients.
 * Off by default.
 *
 * /healthz is red (503) when an exchange has a package that has waited longer
 * than `metrics.maxQueueAgeMs`, when its last successful push is older than that
 * while packages wait, or when an exchange could not start. Otherwise 200.
 * /metrics is the Prometheus text format (version 0.0.4), every metric listed
 * in metrics/list.ts.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { AllowList } from './metrics/allow-list.js';
import { prometheusText } from './metrics/list.js';
import { BasicAuth, loadWebConfig } from './metrics/web-config.js';
import type { StatusReport } from './status.js';
import type { Logger } from './util/logger.js';
import { version } from './version.js';

export interface MetricsSource {
  /** Status of every exchange, with `live` for the ones running. */
  snapshot(): StatusReport[];
  /** Exchanges that failed to start: pos -> error. */
  failedToStart(): Map<number, string>;
  /** Every configured exchange. */
  configured: { pos: number; transport: string }[];
}

/** The metrics text of the agent now; `stopped`: as a stopped agent (every exchange down). */
export function metricsText(source: MetricsSource, opts: { stopped?: boolean } = {}): string {
  return prometheusText({ reports: opts.stopped ? [] : source.snapshot(), configured: source.configured, version: version(), node: process.version });
}

export interface Health {
  ok: boolean;
  problems: string[];
}

export function health(reports: StatusReport[], failed: Map<number, string>, maxQueueAgeMs: number, now = Date.now()): Health {
  const problems: string[] = [];
  for (const [pos, error] of failed) problems.push(`POS ${pos}: not running: ${error}`);
  for (const r of reports) {
    const oldest = r.queued[0];
    if (!oldest) continue;
    if (oldest.ageMs > maxQueueAgeMs) problems.push(`POS ${r.pos}: package ${oldest.package} has waited ${Math.round(oldest.ageMs / 1000)} s (${oldest.attempts} attempts${oldest.lastError ? `, last error: ${oldest.lastError}` : ''})`);
    else if (r.lastPushOk && now - Date.parse(r.lastPushOk) > maxQueueAgeMs) problems.push(`POS ${r.pos}: last successful push ${r.lastPushOk} while ${r.queued.length} package(s) wait`);
  }
  return { ok: problems.length === 0, problems };
}

export interface MetricsServerOptions {
  host: string;
  port: number;
  maxQueueAgeMs: number;
  webConfigFile?: string;
  allowFrom?: string[];
}

export class MetricsServer {
  private server?: Server;

  constructor(
    private readonly opts: MetricsServerOptions,
    private readonly source: MetricsSource,
    private readonly log: Logger,
  ) {}

  /** Starts listening; returns the port (useful with port 0). */
  async start(): Promise<number> {
    // Checked by the config loader already; read again here so a file changed since fails loudly now.
    const web = this.opts.webConfigFile !== undefined ? loadWebConfig(this.opts.webConfigFile) : undefined;
    const auth = web?.users ? new BasicAuth(web.users) : undefined;
    const allow = this.opts.allowFrom ? new AllowList(this.opts.allowFrom) : undefined;
    const handle = (req: IncomingMessage, res: ServerResponse) => {
      if (allow && !allow.allows(req.socket.remoteAddress)) {
        this.log.warn('metrics.refused', { client: req.socket.remoteAddress, reason: 'not in metrics.allowFrom' });
        res.writeHead(403).end();
        return;
      }
      if (!auth) return this.answer(req, res);
      auth.check(req.headers.authorization).then(
        (ok) => {
          if (ok) return this.answer(req, res);
          res.writeHead(401, { 'www-authenticate': 'Basic realm="kassir-agent"' }).end();
        },
        (e) => {
          this.log.error('metrics.auth.failed', { error: (e as Error).message });
          res.writeHead(500).end();
        },
      );
    };
    // node:https (and with it node:tls) is loaded only for a TLS endpoint: an agent without one never pays for it.
    const server: Server = web?.tls ? process.getBuiltinModule('node:https').createServer(web.tls, handle) : createServer(handle);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.opts.port, this.opts.host, () => resolve());
    });
    this.server = server;
    const port = (server.address() as { port: number }).port;
    const host = this.opts.host.includes(':') ? `[${this.opts.host}]` : this.opts.host;
    this.log.info('metrics.listening', {
      url: `${web?.tls ? 'https' : 'http'}://${host}:${port}/metrics`,
      basicAuth: auth !== undefined,
      ...(allow ? { allowFrom: this.opts.allowFrom!.join(',') } : {}),
    });
    return port;
  }

  private answer(req: IncomingMessage, res: ServerResponse): void {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    if (req.method !== 'GET') {
      res.writeHead(405).end();
      return;
    }
    if (path === '/healthz') {
      const h = health(this.source.snapshot(), this.source.failedToStart(), this.opts.maxQueueAgeMs);
      res.writeHead(h.ok ? 200 : 503, { 'content-type': 'application/json; charset=utf-8' }).end(JSON.stringify(h));
    } else if (path === '/metrics') {
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' }).end(metricsText(this.source));
    } else {
      res.writeHead(404).end();
    }
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    server.closeAllConnections?.();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
