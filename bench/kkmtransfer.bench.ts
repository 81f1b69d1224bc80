/**
 * KKMTransfer over loopback, against the back-office emulator (in this process):
 *
 * (a) Latency: the daemon runs as a child process (settleMs 50, flushMs 0);
 *     a report file (one receipt) appears in the till folder, and the clock
 *     stops when the emulator has stored its package. Sequential receipts,
 *     median and 99th percentile.
 * (b) Backlog: 10,000 sealed packages queued through the Store API (as
 *     collecting would after a long outage) and drained in order by the
 *     agent's push path (`beginAttempt`, `KkmTransferTransport.push` with its
 *     notes, `delivered`), the same path and method as bench/ftp.bench.ts.
 *     Baseline in the same run: a raw undici `request` loop POSTing the very
 *     same bodies (base64 of the same ZIPs) to the same emulator, one at a
 *     time, reading each JSON answer; no store, no notes, no fsync; run once,
 *     before the agent. A third row, the transport's push alone without the
 *     store, shows where the difference goes.
 *
 * BENCH_SCALE scales the receipt and package counts (0.1: 20 receipts, 1,000 packages).
 */
import { spawn } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Agent, request } from 'undici';
import { stringify } from 'yaml';
import { startKkmEmulator, type KkmEmulator } from '../scripts/kkm-emulator/server.js';
import { encodeBase64 } from '../src/formats/base64.js';
import { makeZip } from '../src/formats/zip.js';
import { Store } from '../src/store/store.js';
import { KkmTransferTransport } from '../src/transports/kkmtransfer/transport.js';
import { nullLogger, type LogFields, type Logger } from '../src/util/logger.js';
import { CLI, ROOT, reportFile } from '../test/helpers/kassir.js';
import { scale, table } from './lib/measure.js';
import { drainQueue, queuePackages, RECEIPTS_PER_PACKAGE } from './lib/queue.js';
import { makeTempDir, removeDir } from '../test/helpers/temp-dir.js';

/** Receipts per backlog package (4 transactions each), as in bench/ftp.bench.ts. */

export default async function kkmTransferBench(): Promise<void> {
  const receipts = Math.max(20, Math.round(200 * scale()));
  const packages = Math.max(100, Math.round(10_000 * scale()));
  const dir = await makeTempDir('kassir-bench-kkm');
  try {
    const lat = await latency(dir, receipts);
    console.log(`(a) report file -> package stored by the emulator, ${receipts} receipts one after another, daemon with settleMs 50:\n`);
    table(
      ['measure', 'median', 'p90', 'p99', 'max'],
      [[`latency (${receipts} receipts)`, ms(lat.p50), ms(lat.p90), ms(lat.p99), ms(lat.max)]],
    );
    console.log('');
    await backlog(dir, packages);
  } finally {
    await removeDir(dir);
  }
}

// ---------------------------------------------------------------- (a) latency

/** A logger that tells when the emulator has stored a SendData (it logs after storing, before answering). */
function storedSignal(): { log: Logger; next(): Promise<number> } {
  let waiter: ((at: number) => void) | undefined;
  const line = (event: string, f: LogFields = {}) => {
    if (event === 'emulator.request' && f.kind === 'send' && f.errcode === 0) waiter?.(performance.now());
  };
  const log: Logger = { debug: line, info: line, warn: line, error: line, child: () => log };
  return { log, next: () => new Promise<number>((resolve) => (waiter = resolve)) };
}

async function latency(dir: string, receipts: number): Promise<{ p50: number; p90: number; p99: number; max: number }> {
  const stored = storedSignal();
  const emu = await startKkmEmulator({ dir: join(dir, 'emu-latency'), log: stored.log });
  const root = join(dir, 'latency');
  const till = join(root, 'till');
  await mkdir(till, { recursive: true });
  const config = join(root, 'agent.yaml');
  await writeFile(
    config,
    stringify({
      pos: 1,
      dataDir: 'data',
      till: { dir: 'till', referenceFile: 'POS1.spr', settleMs: 50, rescanMs: 1_000, openReceiptMs: 0 },
      transport: { type: 'kkmtransfer', url: emu.url },
      batch: { maxTransactions: 1000, flushMs: 0 },
      schedule: { pull: '*/30 * * * * *', retry: { initialMs: 100, maxMs: 2_000 } },
      // info: `agent.started` tells us when it is up; the lines are read from a pipe and dropped.
      log: { level: 'info', console: true },
    }),
  );
  const child = spawn(process.execPath, ['--import', 'tsx', CLI, 'run', '--config', config], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    let out = '';
    await withTimeout(
      new Promise<void>((resolve, reject) => {
        child.stdout.on('data', (d: Buffer) => {
          out += d;
          if (out.includes('agent.started')) resolve();
        });
        child.once('exit', (code) => reject(new Error(`agent exited (${code}): ${out}`)));
      }),
      60_000,
      'the agent did not start',
    );
    child.stdout.removeAllListeners('data');
    child.stdout.resume();
    const samples: number[] = [];
    let tx = 1;
    for (let i = 0; i < receipts; i++) {
      const r = reportFile([{ receipt: i + 1 }], tx);
      tx = r.nextTx;
      const done = stored.next();
      // Kassir writes the file in place (no rename): the agent waits settleMs of quiet before taking it.
      const t0 = performance.now();
      await writeFile(join(till, `R${i}.rep`), r.data, 'latin1');
      samples.push((await withTimeout(done, 30_000, `receipt ${i} not stored`)) - t0);
    }
    const got = await emu.received(1);
    if (got.length !== receipts) throw new Error(`the emulator stored ${got.length} packages, expected ${receipts}`);
    const slow = samples.map((x, i) => [i, x] as const).filter(([, x]) => x > 500);
    if (slow.length > 0) console.log(`receipts slower than 500 ms (index: ms): ${slow.map(([i, x]) => `${i}: ${x.toFixed(0)}`).join(', ')}`);
    samples.sort((a, b) => a - b);
    const q = (p: number) => samples[Math.min(samples.length - 1, Math.ceil((p / 100) * samples.length) - 1)]!;
    return { p50: q(50), p90: q(90), p99: q(99), max: samples.at(-1)! };
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => (child.exitCode !== null ? r(undefined) : child.once('exit', r)));
    await emu.stop();
  }
}

// ---------------------------------------------------------------- (b) backlog

async function backlog(dir: string, packages: number): Promise<void> {
  const emu = await startKkmEmulator({ dir: join(dir, 'emu-backlog') });
  try {
    const store = new Store(join(dir, 'data'), { retentionDays: 30 }, nullLogger);
    await store.open();
    const tq = performance.now();
    const bytes = await queuePackages(store, packages);
    const queueMs = performance.now() - tq;
    const numbers = store.queued().map((m) => m.number);

    // The baseline's bodies: exactly what the transport sends (base64 of a ZIP with one entry POS1_{n}.rep), built before timing.
    const bodies: string[] = [];
    for (const n of numbers) bodies.push(encodeBase64(await makeZip([{ name: `POS1_${n}.rep`, data: await readFile(store.packagePath(n)) }])));

    // One baseline run, before the agent, to a POS of its own so nothing is a duplicate. (A second run after the
    // agent, as in bench/ftp.bench.ts, would add about 20 s for 10,000 packages and break the 3-minute budget;
    // the emulator's code is already warm from part (a).)
    const baseMs = await baseline(emu, 2, numbers, bodies);
    const agent = await drain(emu, store, packages);
    await store.close();
    // Where the difference goes: the same transport without the store (notes kept in memory), the archived files, POS 3.
    const paths = numbers.map((n) => join(store.archiveDir, `${n}.rep`));
    const transportOnly = await pushOnly(emu, 3, numbers, paths);

    const got = await emu.received(1);
    if (got.length !== packages || got.some((p, i) => p.number !== i + 1)) throw new Error(`the emulator holds ${got.length} packages 1..n, expected ${packages}`);

    const pps = (t: number) => (packages / (t / 1000)).toFixed(0);
    console.log(`(b) backlog: ${packages} packages (${RECEIPTS_PER_PACKAGE * 4} transactions, ${(bytes / packages / 1024).toFixed(1)} KB each), queued through the Store API in ${(queueMs / 1000).toFixed(1)} s:\n`);
    table(
      ['measure', 'time', 'packages/s', 'ratio'],
      [
        [`raw undici POST loop, same bodies, same emulator (baseline)`, `${(baseMs / 1000).toFixed(2)} s`, pps(baseMs), '1.00x'],
        [`KkmTransferTransport.push alone (no store: notes in memory)`, `${(transportOnly / 1000).toFixed(2)} s`, pps(transportOnly), `${(baseMs / transportOnly).toFixed(2)}x`],
        [`agent: KkmTransferTransport.push + durable store`, `${(agent / 1000).toFixed(2)} s`, pps(agent), `**${(baseMs / agent).toFixed(2)}x**`],
      ],
    );
  } finally {
    await emu.stop();
  }
}

/** The agent's push path over every queued package, in order (what Exchange.pushOne does). Returns the wall time in ms. */
async function drain(emu: KkmEmulator, store: Store, expected: number): Promise<number> {
  const transport = new KkmTransferTransport(
    { url: emu.url, pos: 1, tls: { rejectUnauthorized: true }, timeoutMs: 30_000, zipReports: true, maxPackageBytes: 1024 ** 3 },
    { log: nullLogger },
  );
  return drainQueue(store, transport, expected);
}

/** The transport's push alone over the same report files: reading, hashing, zipping, base64, HTTP; no durable store. */
async function pushOnly(emu: KkmEmulator, pos: number, numbers: number[], paths: string[]): Promise<number> {
  const transport = new KkmTransferTransport(
    { url: emu.url, pos, tls: { rejectUnauthorized: true }, timeoutMs: 30_000, zipReports: true, maxPackageBytes: 1024 ** 3 },
    { log: nullLogger },
  );
  const signal = new AbortController().signal;
  const t0 = performance.now();
  await transport.open();
  for (let i = 0; i < numbers.length; i++) {
    let notes = {};
    const r = await transport.push(
      { number: numbers[i]!, path: paths[i]!, bytes: 0, transactions: 0 },
      { notes, saveNotes: async (n) => void (notes = n), log: nullLogger, signal },
    );
    if (r.outcome !== 'delivered') throw new Error(`push-only package ${numbers[i]}: ${r.outcome}`);
  }
  await transport.close();
  return performance.now() - t0;
}

/** The same bodies POSTed by a plain undici loop, one at a time, each answer read. */
async function baseline(emu: KkmEmulator, pos: number, numbers: number[], bodies: string[]): Promise<number> {
  const dispatcher = new Agent();
  const t0 = performance.now();
  for (let i = 0; i < numbers.length; i++) {
    const res = await request(`${emu.url}/SendData/${pos}/${numbers[i]}`, {
      method: 'POST',
      body: bodies[i],
      headers: { 'content-type': 'text/plain; charset=utf-8' },
      dispatcher,
    });
    const answer = (await res.body.json()) as { errcode: number };
    if (answer.errcode !== 0) throw new Error(`baseline SendData ${pos}/${numbers[i]}: errcode ${answer.errcode}`);
  }
  const t = performance.now() - t0;
  await dispatcher.close();
  return t;
}

// ---------------------------------------------------------------- helpers

function ms(x: number): string {
  return `${x.toFixed(0)} ms`;
}

function withTimeout<T>(p: Promise<T>, timeoutMs: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([p, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`timed out: ${what}`)), timeoutMs)))]).finally(() => clearTimeout(timer));
}
