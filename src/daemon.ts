/**
 * The process around the agent: logging, signals, and a clean, ordered stop on
 * SIGTERM/SIGINT (Ctrl+C) or the `stop` command over the control channel (what
 * the Windows service runs to stop it) within `stop.deadlineMs`:
 * the agent stops (its work aborted at the deadline), then `agent.stopped` is
 * logged and the log flushed and closed, last, after everything that logs.
 * The process then exits even if a socket the agent gave up on is still open;
 * a watchdog exits at the deadline should the stop itself hang.
 */
import { Agent } from './agent.js';
import type { LoadedConfig } from './config/load.js';
import { pending, type ExchangeOnceResult } from './exchange/once.js';
import { createLogger, type ClosableLogger } from './log.js';
import { ProgressBar } from './progress-bar.js';
import { releaseStartupGarbage } from './util/startup-garbage.js';
import { STOP_TIMINGS } from './util/stop-step.js';

export function agentLogger(loaded: LoadedConfig): ClosableLogger {
  const { log } = loaded.config;
  return createLogger({ level: log.level, dir: log.dir, console: log.console, maxFiles: log.maxFiles, secrets: loaded.secrets });
}

/** Runs one full cycle of every exchange and stops. */
export async function runOnce(loaded: LoadedConfig): Promise<{ ok: boolean; results: ExchangeOnceResult[] }> {
  const log = agentLogger(loaded);
  const agent = new Agent(loaded, log);
  // A bar on a terminal only: no escape codes in logs, pipes or scheduled tasks.
  const bar = ProgressBar.forTerminal();
  if (bar) agent.onProgress = (pos, inFlight) => bar.update(pos, inFlight);
  try {
    const results = await agent.runOnce();
    return { ok: !results.some(pending), results };
  } finally {
    bar?.clear();
    await log.close();
  }
}

/** Runs the daemon until a stop signal; resolves with the exit code (the process exits by then). */
export async function runDaemon(loaded: LoadedConfig, opts: { stopDeadlineMs?: number } = {}): Promise<number> {
  const deadlineMs = opts.stopDeadlineMs ?? loaded.config.stop.deadlineMs;
  const log = agentLogger(loaded);
  const agent = new Agent(loaded, log);
  const started = Date.now();
  // Signals are taken from the first moment: a stop during a slow start-up is a stop too (after the start).
  let signalled: ((signal: string) => void) | undefined;
  const signals = new Promise<string>((resolve) => (signalled = resolve));
  const onSignal = (signal: NodeJS.Signals) => () => signalled!(signal);
  const handlers = (['SIGTERM', 'SIGINT', ...(process.platform === 'win32' ? ['SIGBREAK' as const] : [])] as NodeJS.Signals[]).map((sig) => [sig, onSignal(sig)] as const);
  for (const [sig, h] of handlers) process.on(sig, h);
  agent.onStopRequest = () => {
    signalled!('stop command');
    return { pid: process.pid, deadlineMs };
  };
  try {
    await agent.start();
  } catch (e) {
    await agent.stop(STOP_TIMINGS.notStartedMs).catch((err) => log.error('agent.stop.failed', { error: (err as Error).message }));
    await log.close();
    for (const [sig, h] of handlers) process.off(sig, h);
    throw e;
  }
  log.info('agent.started', { pid: process.pid, config: loaded.file, exchanges: loaded.config.exchanges.map((x) => x.pos), node: process.version, stopDeadlineMs: deadlineMs });
  const settled = releaseStartupGarbage();
  const signal = await signals;
  clearTimeout(settled);
  const stopFrom = Date.now();
  // Should anything below hang, the process still ends at the deadline (the service manager kills later).
  setTimeout(() => {
    process.stderr.write(`kassir-agent: the stop did not finish within ${deadlineMs} ms; exiting\n`);
    process.exit(1);
  }, deadlineMs).unref();
  log.info('agent.stopping', { signal, deadlineMs });
  const code = await agent.stop(Math.max(0, deadlineMs - STOP_TIMINGS.logCloseMs)).then(
    () => 0,
    (e) => {
      log.error('agent.stop.failed', { error: (e as Error).message });
      return 1;
    },
  );
  log.info('agent.stopped', { uptimeMs: Date.now() - started, stopMs: Date.now() - stopFrom, outcome: code === 0 ? 'ok' : 'failed' });
  await log.close();
  // What the agent gave up on at the deadline (a socket to a silent server) must not keep the process.
  setTimeout(() => process.exit(code), 200).unref();
  return code;
}
