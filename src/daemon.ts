/**
 * The process around the agent: logging, signals, and a clean, ordered stop on
 * SIGTERM/SIGINT (Ctrl+C, a Windows service stop) within a deadline, flushing
 * the last log line.
 */
import { Agent, onceOk } from './agent.js';
import type { LoadedConfig } from './config/load.js';
import type { OnceResult } from './exchange/exchange.js';
import { createLogger, type ClosableLogger } from './log.js';

export function agentLogger(loaded: LoadedConfig): ClosableLogger {
  const { log } = loaded.config;
  return createLogger({ level: log.level, dir: log.dir, console: log.console, maxFiles: log.maxFiles, secrets: loaded.secrets });
}

/** Runs one full cycle of every exchange and stops. */
export async function runOnce(loaded: LoadedConfig): Promise<{ ok: boolean; results: (OnceResult & { pos: number; error?: string })[] }> {
  const log = agentLogger(loaded);
  try {
    const results = await new Agent(loaded, log).runOnce();
    return { ok: results.every(onceOk), results };
  } finally {
    await log.close();
  }
}

/** Runs the daemon until a stop signal; resolves with the exit code. */
export async function runDaemon(loaded: LoadedConfig, opts: { stopDeadlineMs?: number } = {}): Promise<number> {
  const log = agentLogger(loaded);
  const agent = new Agent(loaded, log);
  const started = Date.now();
  try {
    await agent.start();
  } catch (e) {
    await agent.stop(1_000).catch(() => undefined);
    await log.close();
    throw e;
  }
  log.info('agent.started', { pid: process.pid, config: loaded.file, exchanges: loaded.config.exchanges.map((x) => x.pos), node: process.version });
  return new Promise<number>((resolve) => {
    let stopping = false;
    const stop = (signal: string) => {
      if (stopping) return;
      stopping = true;
      log.info('agent.stopping', { signal });
      agent
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
