/**
 * /healthz and /metrics over HTTP on a loopback address (off by default).
 *
 * /healthz is red (503) when an exchange has a package that has waited longer
 * than `metrics.maxQueueAgeMs`, when its last successful push is older than that
 * while packages wait, or when an exchange could not start. Otherwise 200.
 * /metrics is the Prometheus text format (version 0.0.4).
 */
import { createServer, type Server } from 'node:http';
import type { StatusReport } from './status.js';
import type { Logger } from './util/logger.js';

export interface MetricsSource {
  /** Status of every exchange, with `live` for the ones running. */
  snapshot(): StatusReport[];
  /** Exchanges that failed to start: pos -> error. */
  failedToStart(): Map<number, string>;
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

const escapeLabel = (v: string) => v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');

export function prometheusText(reports: StatusReport[]): string {
  const out: string[] = [];
  const metric = (name: string, type: 'gauge' | 'counter', help: string, values: [Record<string, string>, number][]) => {
    out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    for (const [labels, v] of values) {
      const l = Object.entries(labels)
        .map(([k, x]) => `${k}="${escapeLabel(x)}"`)
        .join(',');
      out.push(`${name}{${l}} ${Number.isFinite(v) ? v : 0}`);
    }
  };
  const per = (f: (r: StatusReport) => number | undefined) =>
    reports.flatMap((r) => {
      const v = f(r);
      return v === undefined ? [] : [[{ pos: String(r.pos), transport: r.transport }, v] as [Record<string, string>, number]];
    });
  const ts = (iso?: string) => (iso ? Date.parse(iso) / 1000 : undefined);
  metric('kassir_agent_queued_packages', 'gauge', 'Sealed packages waiting for delivery.', per((r) => r.queued.length));
  metric('kassir_agent_oldest_queued_age_seconds', 'gauge', 'Age of the oldest package waiting for delivery (0 when none).', per((r) => (r.queued[0] ? r.queued[0].ageMs / 1000 : 0)));
  metric('kassir_agent_open_transactions', 'gauge', 'Transactions in the open (not yet sealed) package.', per((r) => r.open.transactions));
  metric('kassir_agent_incoming_waiting', 'gauge', 'Incoming parts waiting for Kassir to take the previous file.', per((r) => r.inbox.length));
  metric('kassir_agent_last_successful_push_timestamp_seconds', 'gauge', 'Unix time of the last successful push.', per((r) => ts(r.lastPushOk)));
  metric('kassir_agent_last_successful_pull_timestamp_seconds', 'gauge', 'Unix time of the last successful pull.', per((r) => ts(r.lastPullOk)));
  metric('kassir_agent_push_attempts_total', 'counter', 'Push attempts since the agent started, by outcome.', [
    ...reports.filter((r) => r.live).map((r) => [{ pos: String(r.pos), transport: r.transport, outcome: 'delivered' }, r.live!.attempts.delivered] as [Record<string, string>, number]),
    ...reports.filter((r) => r.live).map((r) => [{ pos: String(r.pos), transport: r.transport, outcome: 'failed' }, r.live!.attempts.failed] as [Record<string, string>, number]),
  ]);
  metric('kassir_agent_sent_bytes_total', 'counter', 'Package bytes delivered since the agent started.', per((r) => r.live?.bytesSent));
  metric('kassir_agent_sent_transactions_total', 'counter', 'Transactions delivered since the agent started.', per((r) => r.live?.transactionsSent));
  metric('kassir_agent_transactions_collected_total', 'counter', 'Transactions taken from the till (all time).', per((r) => r.counters.transactionsCollected));
  metric('kassir_agent_quarantined_total', 'counter', 'Bad items put aside in quarantine (all time).', per((r) => r.counters.quarantined));
  metric('kassir_agent_up', 'gauge', '1 while the exchange runs.', per((r) => (r.live ? 1 : 0)));
  return out.join('\n') + '\n';
}

export class MetricsServer {
  private server?: Server;

  constructor(
    private readonly opts: { host: string; port: number; maxQueueAgeMs: number },
    private readonly source: MetricsSource,
    private readonly log: Logger,
  ) {}

  /** Starts listening; returns the port (useful with port 0). */
  async start(): Promise<number> {
    const server = createServer((req, res) => {
      const path = new URL(req.url ?? '/', 'http://x').pathname;
      if (req.method !== 'GET') {
        res.writeHead(405).end();
        return;
      }
      if (path === '/healthz') {
        const h = health(this.source.snapshot(), this.source.failedToStart(), this.opts.maxQueueAgeMs);
        res.writeHead(h.ok ? 200 : 503, { 'content-type': 'application/json; charset=utf-8' }).end(JSON.stringify(h));
      } else if (path === '/metrics') {
        res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' }).end(prometheusText(this.source.snapshot()));
      } else {
        res.writeHead(404).end();
      }
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.opts.port, this.opts.host, () => resolve());
    });
    this.server = server;
    const port = (server.address() as { port: number }).port;
    this.log.info('metrics.listening', { url: `http://${this.opts.host}:${port}/metrics` });
    return port;
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    server.closeAllConnections?.();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
