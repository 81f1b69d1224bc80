/**
 * The command line: the product's interface, documented in the README.
 *
 *   kassir-agent run --config FILE [--once]
 *   kassir-agent check-config --config FILE [--no-secrets] [--online]
 *   kassir-agent status --config FILE [--json | --discovery] [--verbose]
 *   kassir-agent exchange-now --config FILE [--pos N]
 *   kassir-agent retry --config FILE [--pos N]
 *   kassir-agent history --config FILE [--since DATE] [--package N] [--errors] [--pos N] [--json]
 *   kassir-agent resend PACKAGE --config FILE [--pos N]
 *   kassir-agent full-export --config FILE [--pos N]
 *   kassir-agent shifts --config FILE [--pos N] [--last K] [--json]
 *   kassir-agent stop --config FILE
 *
 * Exit codes: EXIT below; HELP's "Exit codes" list is the one place that
 * says what each means (0-5), so the two cannot drift apart.
 */
import { accessSync, constants, realpathSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';
import { checkOnDisk } from './config/check.js';
import { ConfigError, loadConfig, type ConfigProblem, type LoadedConfig, type LoadOptions } from './config/load.js';
import { askStatus, isPermissionError } from './control/ask-status.js';
import { controlRequest } from './control/client.js';
import { controlSocketPath } from './control/socket-path.js';
import { agentLogger, runDaemon, runOnce } from './daemon.js';
import { pending, type ExchangeOnceResult } from './exchange/once.js';
import { formatHistoryRow, readHistory } from './history.js';
import { formatShifts, readShifts, shiftsDocument } from './shifts/show.js';
import { formatStatus, readStatus } from './status.js';
import { discovery, statusDocument, unreadableConfigDocument } from './status-json.js';
import { DataDirLockedError, processAlive } from './store/lock.js';
import { Store } from './store/store.js';
import { NotFoundError } from './util/not-found.js';
import { version } from './version.js';

export const EXIT = { ok: 0, failure: 1, usage: 2, pending: 3, locked: 4, notRunning: 5 } as const;

const HELP = `kassir-agent: exchange agent for the Kassir 5 point of sale

Usage:
  kassir-agent run --config FILE [--once]   run the agent (--once: one full cycle, then exit)
  kassir-agent check-config --config FILE [--no-secrets] [--online]
                                            validate the config and the folders and files it names;
                                            prints "key: problem" lines (--no-secrets: do not resolve
                                            passwords, for a shell without the service's environment;
                                            --online: also ask the back office: an equipment-service
                                            transport's device, format version, password and URL)
  kassir-agent status --config FILE [--json | --discovery] [--verbose]
                                            queued packages (counts, oldest, last error, next retry),
                                            held till files, counters; --verbose lists every package
                                            (live from the running agent, else from the data folder);
                                            --json: the versioned format monitoring reads (README);
                                            --discovery: the tills, for Zabbix low-level discovery
  kassir-agent exchange-now --config FILE [--pos N]
                                            the running agent performs a full exchange now; prints the result
  kassir-agent retry --config FILE [--pos N]
                                            the running agent forgets its backoff and sends everything queued now
  kassir-agent history --config FILE [--since DATE] [--package N] [--errors] [--pos N] [--json]
                                            every attempt with its outcome and the server's answer
  kassir-agent resend PACKAGE --config FILE [--pos N]
                                            put a delivered (archived) package back in the queue under a new number
  kassir-agent full-export --config FILE [--pos N]
                                            equipment-service: the next pull downloads the whole price list from 1C
                                            (and replaces Kassir's goods with it), also after a refused price list
  kassir-agent shifts --config FILE [--pos N] [--last K] [--json]
                                            each shift's receipts and money, its Z report (matches or not),
                                            its packages and when the last was delivered; --json: schema 1 (README)
  kassir-agent stop --config FILE           the running agent stops cleanly, as on SIGTERM (the Windows
                                            service's stop); waits until it has exited
  kassir-agent --help | --version

Exit codes:
  0  done (run --once: everything delivered)
  1  unexpected failure (see the log)
  2  usage error, invalid configuration, or an unknown POS or package number
  3  run --once / exchange-now: something is still queued (network down, Kassir has not taken a file...)
  4  the data folder is in use by another kassir-agent
  5  exchange-now / retry / stop: no agent is running for this config
`;

function reportProblems(file: string, problems: ConfigProblem[]): number {
  for (const p of problems) process.stderr.write(`${p.path}: ${p.message}\n`);
  process.stderr.write(`${file}: invalid configuration (${problems.length} problem${problems.length === 1 ? '' : 's'})\n`);
  return EXIT.usage;
}

/**
 * Commands that only read the data folder or talk to the running agent load the config without its
 * secrets: an operator's shell does not have the service's environment (`password: ${FTP_PASSWORD}`).
 */
const READ_ONLY: LoadOptions = { secrets: false };

async function load(file: string | undefined, opts: LoadOptions = {}): Promise<LoadedConfig | number> {
  if (!file) {
    process.stderr.write('--config FILE is required\n');
    return EXIT.usage;
  }
  try {
    return await loadConfig(file, process.env, opts);
  } catch (e) {
    if (e instanceof ConfigError) return reportProblems(e.file, e.problems);
    throw e;
  }
}

/** An unknown --pos is a usage error (exit 2), caught before anything is asked of the agent or the data folder. */
function unknownPos(loaded: LoadedConfig, pos: number | undefined): boolean {
  const known = loaded.config.exchanges.map((x) => x.pos);
  if (pos === undefined || known.includes(pos)) return false;
  process.stderr.write(`--pos ${pos}: ${loaded.file} has no exchange with that POS (it has: ${known.join(', ')})\n`);
  return true;
}

/** The running agent's refusal: 404 (no such POS or package) is the operator's mistake, anything else a failure. */
function agentRefused(status: number, error: string | undefined): number {
  process.stderr.write(`${error ?? `the agent answered ${status}`}\n`);
  return status === 404 || status === 400 ? EXIT.usage : EXIT.failure;
}

/**
 * How long `status` waits for the running agent. --json answers within the Zabbix agent's default
 * Timeout=3 s, so a hung agent shows as `not-answering` rather than as a Zabbix item that timed out.
 */
const STATUS_WAIT_MS = 10_000;
const STATUS_JSON_WAIT_MS = 2_000;

/** The reason `file` cannot be read by this user, when that is a permission error (else undefined). */
function permissionDenied(file: string): string | undefined {
  try {
    accessSync(file, constants.R_OK);
    return undefined;
  } catch (e) {
    return isPermissionError(e) ? `cannot read the config: permission denied; run status as the service user (sudo -u kassir-agent)` : undefined;
  }
}

/** undefined: not given; null: given but not a number (reported). */
function parsePos(v: string | undefined): number | undefined | null {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (Number.isInteger(n) && n > 0) return n;
  process.stderr.write(`--pos: not a workplace number: ${v}\n`);
  return null;
}

type Values = ReturnType<typeof parseCommandLine>['values'];

function parseCommandLine(argv: string[]) {
  return parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      config: { type: 'string', short: 'c' },
      once: { type: 'boolean' },
      json: { type: 'boolean' },
      verbose: { type: 'boolean' },
      'no-secrets': { type: 'boolean' },
      online: { type: 'boolean' },
      discovery: { type: 'boolean' },
      pos: { type: 'string' },
      since: { type: 'string' },
      package: { type: 'string' },
      errors: { type: 'boolean' },
      last: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
      version: { type: 'boolean', short: 'v' },
    },
  });
}

/** `check-config`: the config and the folders and files it names. */
async function checkConfigCommand(values: Values): Promise<number> {
  const loaded = await load(values.config, values['no-secrets'] ? READ_ONLY : {});
  if (typeof loaded === 'number') return loaded;
  const problems = checkOnDisk(loaded.config);
  if (problems.length > 0) return reportProblems(loaded.file, problems);
  for (const w of loaded.warnings) process.stderr.write(`warning: ${w.message}\n`);
  if (values.online) {
    const { checkOnline } = await import('./config/check-online.js');
    const online = await checkOnline(loaded.config);
    for (const n of online.notes) process.stdout.write(`${n}\n`);
    if (online.problems.length > 0) return reportProblems(loaded.file, online.problems);
  }
  const ex = loaded.config.exchanges;
  process.stdout.write(`${loaded.file}: ok (${ex.map((x) => `POS ${x.pos}, transport ${x.transport.type}`).join('; ')})\n`);
  return EXIT.ok;
}

/** `status`: from the running agent, else from the data folder; --json and --discovery for monitoring. */
async function statusCommand(values: Values): Promise<number> {
  // Monitoring parses --json: a config this user may not read is a set-up problem it must see as such.
  const denied = values.json && values.config ? permissionDenied(values.config) : undefined;
  if (denied) {
    process.stdout.write(JSON.stringify(unreadableConfigDocument(resolve(values.config!), denied), null, 2) + '\n');
    return EXIT.ok;
  }
  const loaded = await load(values.config, READ_ONLY);
  if (typeof loaded === 'number') return loaded;
  if (values.discovery) {
    process.stdout.write(JSON.stringify(discovery(loaded.config)) + '\n');
    return EXIT.ok;
  }
  const asked = await askStatus(controlSocketPath(loaded.config), values.json ? STATUS_JSON_WAIT_MS : STATUS_WAIT_MS);
  if (values.json) {
    process.stdout.write(JSON.stringify(await statusDocument(loaded.config, asked), null, 2) + '\n');
    return EXIT.ok;
  }
  if (asked.state !== 'running' && asked.error) process.stderr.write(`cannot ask the running agent (${asked.state}): ${asked.error}\n`);
  const reports = asked.state === 'running' ? asked.live.exchanges : await readStatus(loaded.config);
  const notRunning = asked.state === 'running' ? asked.live.notRunning : {};
  process.stdout.write(reports.map((r) => formatStatus(r, Date.now(), { verbose: values.verbose })).join('\n\n') + '\n');
  for (const [pos, error] of Object.entries(notRunning)) process.stdout.write(`\nPOS ${pos}: not running: ${error}\n`);
  return EXIT.ok;
}

/**
 * Asks the running agent to do `command` (exchange-now, retry) and prints its
 * answer, one line per POS. Returns the results, or the exit code when there are none.
 */
async function askAgent<T extends { pos: number }>(command: 'exchange-now' | 'retry', values: Values): Promise<T[] | number> {
  const loaded = await load(values.config, READ_ONLY);
  if (typeof loaded === 'number') return loaded;
  const pos = parsePos(values.pos);
  if (pos === null || unknownPos(loaded, pos)) return EXIT.usage;
  const path = `/${command}${pos !== undefined ? `?pos=${pos}` : ''}`;
  const answer = await controlRequest<{ results?: T[]; error?: string }>(controlSocketPath(loaded.config), 'POST', path);
  if (!answer) {
    process.stderr.write(`no kassir-agent is running for ${loaded.file} (start it, or use: kassir-agent run --once --config ${loaded.file})\n`);
    return EXIT.notRunning;
  }
  if (answer.status !== 200) return agentRefused(answer.status, answer.body.error);
  const results = answer.body.results ?? [];
  for (const r of results) {
    const detail = Object.entries(r as Record<string, unknown>)
      .filter(([k, v]) => k !== 'pos' && v !== undefined && typeof v !== 'object')
      .map(([k, v]) => `${k}=${String(v)}`)
      .join(' ');
    process.stdout.write(`POS ${String(r.pos)}: ${detail}\n`);
  }
  return results;
}

/** `exchange-now`: the running agent runs a full exchange; exit 3 while anything is pending (the rule `run --once` uses). */
async function exchangeNowCommand(values: Values): Promise<number> {
  const results = await askAgent<ExchangeOnceResult>('exchange-now', values);
  if (typeof results === 'number') return results;
  return results.some(pending) ? EXIT.pending : EXIT.ok;
}

/** `retry`: the running agent forgets its backoff and sends everything queued now. */
async function retryCommand(values: Values): Promise<number> {
  const results = await askAgent('retry', values);
  return typeof results === 'number' ? results : EXIT.ok;
}

/** `history`: every attempt, filtered. */
async function historyCommand(values: Values): Promise<number> {
  const loaded = await load(values.config, READ_ONLY);
  if (typeof loaded === 'number') return loaded;
  const pos = parsePos(values.pos);
  if (pos === null || unknownPos(loaded, pos)) return EXIT.usage;
  const since = values.since !== undefined ? new Date(values.since) : undefined;
  if (since && Number.isNaN(since.getTime())) {
    process.stderr.write(`--since: not a date: ${values.since} (e.g. 2026-11-24 or 2026-11-24T10:00)\n`);
    return EXIT.usage;
  }
  const pkg = values.package !== undefined ? Number(values.package) : undefined;
  if (pkg !== undefined && !Number.isInteger(pkg)) {
    process.stderr.write(`--package: not a package number: ${values.package}\n`);
    return EXIT.usage;
  }
  const { rows, unreadable } = await readHistory(loaded.config.exchanges, { since, package: pkg, errorsOnly: values.errors, pos });
  for (const r of rows) process.stdout.write((values.json ? JSON.stringify(r) : formatHistoryRow(r)) + '\n');
  if (unreadable > 0) process.stderr.write(`${unreadable} unreadable line(s) skipped (torn by a power cut?)\n`);
  if (!values.json) process.stderr.write(`${rows.length} attempt(s)\n`);
  return EXIT.ok;
}

/** `resend`: through the running agent, else directly in the data folder (under its lock). */
async function resendCommand(values: Values, positionals: string[]): Promise<number> {
  const loaded = await load(values.config, READ_ONLY);
  if (typeof loaded === 'number') return loaded;
  const pos = parsePos(values.pos);
  const pkg = Number(positionals[1]);
  if (pos === null || !Number.isInteger(pkg) || pkg < 1) {
    process.stderr.write('usage: kassir-agent resend PACKAGE --config FILE [--pos N]\n');
    return EXIT.usage;
  }
  if (unknownPos(loaded, pos)) return EXIT.usage;
  const path = `/resend?package=${pkg}${pos !== undefined ? `&pos=${pos}` : ''}`;
  const answer = await controlRequest<{ package?: number; error?: string }>(controlSocketPath(loaded.config), 'POST', path);
  if (answer) {
    if (answer.status !== 200) return agentRefused(answer.status, answer.body.error);
    process.stdout.write(`package ${pkg} queued again as package ${answer.body.package}\n`);
    return EXIT.ok;
  }
  // No agent running: change the data folder directly (under its lock); it goes out at the next run.
  const candidates = loaded.config.exchanges.filter((x) => pos === undefined || x.pos === pos);
  if (candidates.length !== 1) {
    process.stderr.write(candidates.length === 0 ? `no exchange with pos ${pos}\n` : 'several exchanges: say which with --pos\n');
    return EXIT.usage;
  }
  const ex = candidates[0]!;
  const agentLog = agentLogger(loaded);
  const log = agentLog.child({ pos: ex.pos, transport: ex.transport.type });
  const store = new Store(ex.dataDir, { retentionDays: ex.archive.retentionDays }, log);
  try {
    await store.open();
    const meta = await store.requeueArchived(pkg);
    process.stdout.write(`package ${pkg} queued again as package ${meta.number}; it is sent at the next run\n`);
    return EXIT.ok;
  } catch (e) {
    if (e instanceof DataDirLockedError) throw e;
    process.stderr.write(`${(e as Error).message}\n`);
    return e instanceof NotFoundError ? EXIT.usage : EXIT.failure;
  } finally {
    await store.close();
    await agentLog.close();
  }
}

/** `run`: the daemon, or one full cycle with --once. */
async function fullExportCommand(values: Values): Promise<number> {
  const loaded = await load(values.config, READ_ONLY);
  if (typeof loaded === 'number') return loaded;
  const pos = parsePos(values.pos);
  if (pos === null || unknownPos(loaded, pos)) return EXIT.usage;
  const chosen = loaded.config.exchanges.filter((x) => (pos === undefined || x.pos === pos) && x.transport.type === 'equipment-service');
  if (chosen.length === 0) {
    process.stderr.write(`no exchange${pos !== undefined ? ` with POS ${pos}` : ''} in ${loaded.file} uses transport equipment-service: only it downloads a full export on request\n`);
    return EXIT.usage;
  }
  const { equipmentServiceDir, requestFullExport } = await import('./transports/equipment-service/full-export.js');
  for (const x of chosen) {
    await requestFullExport(equipmentServiceDir(x.dataDir));
    process.stdout.write(`POS ${x.pos}: a full export of the price list is asked for; the next pull downloads it (exchange-now: at once)\n`);
  }
  return EXIT.ok;
}

/** `shifts`: the shift ledger read from the data folders (the agent running or not). */
async function shiftsCommand(values: Values): Promise<number> {
  const loaded = await load(values.config, READ_ONLY);
  if (typeof loaded === 'number') return loaded;
  const pos = parsePos(values.pos);
  if (pos === null || unknownPos(loaded, pos)) return EXIT.usage;
  const last = values.last !== undefined ? Number(values.last) : undefined;
  if (last !== undefined && !(Number.isInteger(last) && last > 0)) {
    process.stderr.write(`--last: not a number of shifts: ${values.last}\n`);
    return EXIT.usage;
  }
  const shifts = await readShifts(loaded.config, { pos, last });
  process.stdout.write((values.json ? JSON.stringify(shiftsDocument(shifts), null, 2) : formatShifts(shifts)) + '\n');
  return EXIT.ok;
}

/** How long `stop` waits beyond the agent's own stop deadline before it says the agent did not stop. */
const STOP_GRACE_MS = 5_000;

/**
 * `stop`: the running agent stops the way SIGTERM stops it (its deadline, `agent.stopped` last, the lock
 * released); this waits until its process is gone, so a service manager may consider it stopped then.
 */
async function stopCommand(values: Values): Promise<number> {
  const loaded = await load(values.config, READ_ONLY);
  if (typeof loaded === 'number') return loaded;
  const answer = await controlRequest<{ pid?: number; deadlineMs?: number; error?: string }>(controlSocketPath(loaded.config), 'POST', '/stop', STATUS_WAIT_MS);
  if (!answer) {
    process.stderr.write(`no kassir-agent is running for ${loaded.file}\n`);
    return EXIT.notRunning;
  }
  if (answer.status !== 200 || typeof answer.body.pid !== 'number') return agentRefused(answer.status, answer.body.error);
  const { pid } = answer.body;
  const until = Date.now() + (answer.body.deadlineMs ?? loaded.config.stop.deadlineMs) + STOP_GRACE_MS;
  while (processAlive(pid)) {
    if (Date.now() > until) {
      process.stderr.write(`kassir-agent (pid ${pid}) is still running ${STOP_GRACE_MS} ms after its stop deadline\n`);
      return EXIT.failure;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  process.stdout.write(`kassir-agent (pid ${pid}) stopped\n`);
  return EXIT.ok;
}

async function runCommand(values: Values): Promise<number> {
  const loaded = await load(values.config);
  if (typeof loaded === 'number') return loaded;
  try {
    if (values.once) return (await runOnce(loaded)).ok ? EXIT.ok : EXIT.pending;
    return await runDaemon(loaded);
  } catch (e) {
    if (e instanceof DataDirLockedError) {
      process.stderr.write(`${e.message}\n`);
      return EXIT.locked;
    }
    throw e;
  }
}

const COMMANDS: Record<string, (values: Values, positionals: string[]) => Promise<number>> = {
  'check-config': checkConfigCommand,
  status: statusCommand,
  'exchange-now': exchangeNowCommand,
  retry: retryCommand,
  history: historyCommand,
  resend: resendCommand,
  'full-export': fullExportCommand,
  shifts: shiftsCommand,
  stop: stopCommand,
  run: runCommand,
};

export async function main(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseCommandLine(argv);
  } catch (e) {
    process.stderr.write(`${(e as Error).message}\n\n${HELP}`);
    return EXIT.usage;
  }
  const { values, positionals } = parsed;
  const command = positionals[0];
  if (values.version) {
    process.stdout.write(`${version()}\n`);
    return EXIT.ok;
  }
  if (values.help || command === undefined || command === 'help') {
    process.stdout.write(HELP);
    return command === undefined && !values.help ? EXIT.usage : EXIT.ok;
  }
  const run = COMMANDS[command];
  if (run === undefined) {
    process.stderr.write(`unknown command: ${command}\n\n${HELP}`);
    return EXIT.usage;
  }
  return run(values, positionals);
}

/** Whether this module is the one node was started with (`node dist/cli.js`, `tsx src/cli.ts`), on any platform. */
function startedDirectly(): boolean {
  try {
    return process.argv[1] !== undefined && pathToFileURL(realpathSync(process.argv[1])).href === import.meta.url;
  } catch {
    return false;
  }
}

// Run when executed directly; bin/kassir-agent.js and the single executable import main().
if (startedDirectly()) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (err) => {
      process.stderr.write(`${(err as Error)?.stack ?? String(err)}\n`);
      process.exitCode = EXIT.failure;
    },
  );
}
