/**
 * Test helpers that play Kassir and the back office: write report files the
 * way Kassir does, read back what reached the share, and build a workspace
 * (till folder, share, data folder, config file) in a temp folder.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { makeTempDir, removeDir } from './temp-dir.js';

/** Whether these are the Windows job's bundled tests (.wintest/test/<dir>/, scripts/run-tests.mjs) or the sources through tsx. */
const COMPILED = import.meta.url.endsWith('.js');
/** The repository (with a trailing separator); a bundled test sits one level deeper, at the same depth under .wintest/. */
export const ROOT = fileURLToPath(new URL(COMPILED ? '../../..' : '../..', import.meta.url));
/**
 * The CLI a test runs as a child process, and the node arguments that run it: the sources through tsx,
 * or in the Windows job the single executable's script (.wintest/kassir-agent.cjs).
 */
export const CLI = COMPILED ? fileURLToPath(new URL('../../kassir-agent.cjs', import.meta.url)) : join(ROOT, 'src/cli.ts');
export const CLI_NODE_ARGS = COMPILED ? [] : ['--import', 'tsx'];

/** A transaction line: number;date;time;type;pos;receipt;cashier;item;section;price;qty;amount */
export function txLine(n: number, type: number, pos: number, receipt: number): string {
  return `${n};24.11.2026;10:00:00;${type};${pos};${receipt};5;${type === 11 ? 1000 + (n % 50) : ''};1;10.00;1;10.00`;
}

export interface ReceiptSpec {
  receipt: number;
  /** Sale lines before payment and close (default 2). */
  lines?: number;
}

/**
 * Writes the lines of receipts with consecutive transaction numbers starting
 * at `firstTx`. Returns the text (without block header) and the next number.
 */
export function receiptsText(specs: ReceiptSpec[], firstTx: number, pos = 1): { text: string; nextTx: number; txs: number[] } {
  let n = firstTx;
  const lines: string[] = [];
  const txs: number[] = [];
  for (const r of specs) {
    const sales = r.lines ?? 2;
    for (let i = 0; i < sales; i++) {
      txs.push(n);
      lines.push(txLine(n++, 11, pos, r.receipt));
    }
    txs.push(n);
    lines.push(txLine(n++, 40, pos, r.receipt));
    txs.push(n);
    lines.push(txLine(n++, 55, pos, r.receipt));
  }
  return { text: lines.map((l) => l + '\r\n').join(''), nextTx: n, txs };
}

export const BLOCK_HEADER = '#\r\n1\r\nPOS1\r\n';

/** A complete Kassir report file (one block). */
export function reportFile(specs: ReceiptSpec[], firstTx: number, pos = 1): { data: string; nextTx: number; txs: number[] } {
  const r = receiptsText(specs, firstTx, pos);
  return { data: BLOCK_HEADER + r.text, nextTx: r.nextTx, txs: r.txs };
}

/** Transaction numbers (field 1) of every transaction line in a report file, in file order. */
export function transactionNumbers(data: string): number[] {
  const out: number[] = [];
  for (const line of data.split(/\r?\n/)) {
    const f = line.split(';');
    if (f.length >= 6 && /^\d+$/.test(f[3]!.trim())) out.push(Number(f[0]));
  }
  return out;
}

/** Receipt numbers (field 6) per package, to check no receipt spans two packages. */
export function receiptsOf(data: string): Set<string> {
  const out = new Set<string>();
  for (const line of data.split(/\r?\n/)) {
    const f = line.split(';');
    if (f.length >= 6 && /^\d+$/.test(f[3]!.trim())) out.add(`${f[4]}/${f[5]}`);
  }
  return out;
}

/** The report packages on the share (`POS1.rep.$n`), in number order. */
export async function sharePackages(shareDir: string, reportName = 'POS1.rep'): Promise<{ n: number; name: string; data: string }[]> {
  const out: { n: number; name: string; data: string }[] = [];
  for (const name of await fs.readdir(shareDir)) {
    const m = new RegExp(`^${reportName.replace(/\./g, '\\.')}\\.\\$(\\d+)$`).exec(name);
    if (m) out.push({ n: Number(m[1]), name, data: await fs.readFile(join(shareDir, name), 'latin1') });
  }
  return out.sort((a, b) => a.n - b.n);
}

export interface Workspace {
  root: string;
  till: string;
  share: string;
  data: string;
  logs: string;
  configFile: string;
  cleanup(): Promise<void>;
}

export async function makeWorkspace(overrides: Record<string, unknown> = {}, transport?: Record<string, unknown>): Promise<Workspace> {
  const root = await makeTempDir('kassir-e2e');
  const ws = { root, till: join(root, 'till'), share: join(root, 'share'), data: join(root, 'data'), logs: join(root, 'log'), configFile: join(root, 'agent.yaml') };
  await fs.mkdir(ws.till);
  await fs.mkdir(ws.share);
  const config = {
    pos: 1,
    dataDir: 'data',
    till: { dir: 'till', referenceFile: 'POS1.spr', reportFiles: '*.rep', settleMs: 0, rescanMs: 100, openReceiptMs: 0 },
    transport: transport ?? { type: 'folder', dir: 'share', referenceName: 'POS1.spr', reportName: 'POS1.rep', sequenced: true },
    batch: { maxTransactions: 10, flushMs: 0 },
    schedule: { pull: '* * * * * *', retry: { initialMs: 50, maxMs: 400, jitter: 0.2 } },
    log: { level: 'debug', dir: 'log', console: true },
    ...overrides,
  };
  await fs.writeFile(ws.configFile, stringify(config));
  return { ...ws, cleanup: () => endDaemons(ws.configFile).then(() => removeDir(root)) };
}

/**
 * Daemons started by startAgent, by config file. A workspace's clean-up ends those still running first
 * (SIGKILL): Windows refuses to delete the files a live agent holds open.
 */
const daemons = new Map<string, { child: ChildProcess; exited: Promise<number | null> }[]>();

async function endDaemons(configFile: string): Promise<void> {
  for (const d of daemons.get(configFile) ?? []) {
    if (d.child.exitCode === null && d.child.signalCode === null) d.child.kill('SIGKILL');
    await d.exited;
  }
  daemons.delete(configFile);
}

/**
 * Writes a report file into the till folder the way a careful writer does (temp, then rename),
 * by default with an mtime a minute old so it counts as finished at once; `mtime: 'now'` keeps the
 * real time (what Kassir leaves; the flr answer rule compares it with the request's delivery).
 */
export async function dropReport(till: string, name: string, data: string, opts: { mtime?: 'old' | 'now' } = {}): Promise<void> {
  const tmp = join(till, `.${name}.writing`);
  await fs.writeFile(tmp, data, 'latin1');
  if (opts.mtime !== 'now') {
    const old = new Date(Date.now() - 60_000);
    await fs.utimes(tmp, old, old);
  }
  await fs.rename(tmp, join(till, name));
}

/**
 * Drops `files` report files `POS1_0.rep`.. into the till folder, each of `receipts` receipts of 1 to 4
 * sale lines (receipt numbers f*100+i), transactions numbered on from 1; returns every transaction, in order.
 */
export async function dropReportFiles(till: string, files: number, receipts: number): Promise<number[]> {
  let tx = 1;
  const all: number[] = [];
  for (let f = 0; f < files; f++) {
    const specs = Array.from({ length: receipts }, (_, i) => ({ receipt: f * 100 + i, lines: 1 + ((f + i) % 4) }));
    const r = reportFile(specs, tx);
    tx = r.nextTx;
    all.push(...r.txs);
    await dropReport(till, `POS1_${f}.rep`, r.data);
  }
  return all;
}

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs the CLI in a child process (through tsx on the sources, or compiled) and waits for it. */
export async function runCli(args: string[], opts: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<RunResult> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await runCliOnce(args, opts);
    } catch (e) {
      // Wine (the Windows job) now and then fails CreateProcess itself ("spawn UNKNOWN", seen once in a full run):
      // the process never started, so nothing ran; it is started again. Any other error, or a third one, is the test's.
      if (!(e instanceof NeverStarted) || attempt === 3) throw e instanceof NeverStarted ? e.cause : e;
      await new Promise((r) => setTimeout(r, 500));
    }
  }
}

/** A child that failed to start (its 'error' came before 'spawn') with an error Wine gives for a failed CreateProcess. */
class NeverStarted extends Error {}

function runCliOnce(args: string[], opts: { env?: NodeJS.ProcessEnv; timeoutMs?: number }): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...CLI_NODE_ARGS, CLI, ...args], { cwd: ROOT, env: { ...process.env, ...opts.env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let spawned = false;
    child.once('spawn', () => (spawned = true));
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    // A guard against a hung command only: under Wine (the Windows job) a loaded machine starts a process in tens of seconds.
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? (COMPILED ? 300_000 : 60_000));
    child.on('error', (e: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      reject(!spawned && process.platform === 'win32' && e.code === 'UNKNOWN' ? new NeverStarted(e.message, { cause: e }) : e);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

/** Starts the daemon in a child process; resolves once it logged `agent.started`. */
export async function startAgent(configFile: string, env: NodeJS.ProcessEnv = {}): Promise<{ child: ChildProcess; output: () => string; exited: Promise<number | null> }> {
  const child = spawn(process.execPath, [...CLI_NODE_ARGS, CLI, 'run', '--config', configFile], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const exited = new Promise<number | null>((r) => child.on('exit', (code, signal) => { if (signal) out += `\n(killed by ${signal})`; r(code); }));
  daemons.set(configFile, [...(daemons.get(configFile) ?? []), { child, exited }]);
  await new Promise<void>((resolve, reject) => {
    const onData = (d: Buffer) => {
      out += d;
      if (out.includes('agent.started')) resolve();
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', (d) => (out += d));
    child.on('exit', (code) => reject(new Error(`agent exited early (${code}): ${out}`)));
  });
  return { child, output: () => out, exited };
}

/**
 * Stops a daemon from startAgent the way its service manager does and resolves with its exit code:
 * SIGTERM (systemd), or on Windows, where kill('SIGTERM') is TerminateProcess, the `stop` command.
 */
export async function stopDaemon(agent: { child: ChildProcess; exited: Promise<number | null> }, configFile: string): Promise<number | null> {
  if (process.platform === 'win32') {
    const r = await runCli(['stop', '--config', configFile]);
    if (r.code !== 0) throw new Error(`kassir-agent stop exited ${r.code}: ${r.stdout}${r.stderr}`);
  } else agent.child.kill('SIGTERM');
  return agent.exited;
}

/** A random integer in [min, max). */
export function randInt(min: number, max: number): number {
  return min + Math.floor(Math.random() * (max - min));
}
