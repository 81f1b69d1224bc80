/**
 * The agent's lifecycle: build the parts (constructors only store
 * dependencies), open the store with its recovery, start the flows, and stop
 * cleanly on SIGTERM/SIGINT (Ctrl+C, a Windows service stop) within a deadline,
 * flushing the last log line.
 */
import type { LoadedConfig } from './config/load.js';
import { Exchange, type OnceResult } from './exchange/exchange.js';
import { createLogger, type ClosableLogger } from './log.js';
import { Store } from './store/store.js';
import { createTransport } from './transports/create.js';

export interface Agent {
  exchange: Exchange;
  log: ClosableLogger;
  stop(): Promise<void>;
}

export async function buildAgent(loaded: LoadedConfig, overrides: { console?: boolean } = {}): Promise<{ exchange: Exchange; log: ClosableLogger; store: Store }> {
  const { config } = loaded;
  const log = createLogger({
    level: config.log.level,
    dir: config.log.dir,
    console: overrides.console ?? config.log.console,
    maxFiles: config.log.maxFiles,
    secrets: loaded.secrets,
    base: { pos: config.pos, transport: config.transport.type },
  });
  for (const w of loaded.warnings) log.warn('config.warning', { message: w });
  const store = new Store(config.dataDir, { retentionDays: config.archive.retentionDays }, log);
  const transport = await createTransport(config, log);
  return { exchange: new Exchange(config, store, transport, log), log, store };
}

/** Runs one full cycle and stops. */
export async function runOnce(loaded: LoadedConfig): Promise<OnceResult> {
  const { exchange, log } = await buildAgent(loaded);
  try {
    await exchange.prepare();
    const r = await exchange.runOnce();
    log.info('agent.once.done', { ...r, outcome: r.queued === 0 && r.inbox === 0 && !r.pullError ? 'ok' : 'pending' });
    return r;
  } finally {
    await exchange.stop(5_000).catch(() => undefined);
    await log.close();
  }
}

/** Runs the daemon until a stop signal; resolves with the exit code. */
export async function runDaemon(loaded: LoadedConfig, opts: { stopDeadlineMs?: number } = {}): Promise<number> {
  const { exchange, log } = await buildAgent(loaded);
  const started = Date.now();
  await exchange.prepare();
  await exchange.start();
  log.info('agent.started', { pid: process.pid, config: loaded.file, node: process.version });
  return new Promise<number>((resolve) => {
    let stopping = false;
    const stop = (signal: string) => {
      if (stopping) return;
      stopping = true;
      log.info('agent.stopping', { signal });
      exchange
        .stop(opts.stopDeadlineMs ?? 10_000)
        .then(
          () => 0,
          (e) => {
            log.error('agent.stop.failed', { error: (e as Error).message });
            return 1;
          },
        )
        .then(async (code) => {
          log.info('agent.stopped', { uptimeMs: Date.now() - started, outcome: code === 0 ? 'ok' : 'failed' });
          await log.close();
          resolve(code);
        });
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
    if (process.platform === 'win32') process.once('SIGBREAK', () => stop('SIGBREAK'));
  });
}
