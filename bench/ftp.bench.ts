/**
 * FTP push throughput: a backlog of 2,000 sealed packages (a till that was
 * offline for a while) drained to a local ProFTPD by the agent's FTP
 * transport with its durable store, against a baseline measured in the same
 * run: the same files uploaded by a plain basic-ftp loop (STOR straight to
 * the final name, no temporary name, no size check, no rename, no notes, no
 * fsync). Target: the agent at 0.5x of the baseline or better.
 *
 * The drain is the exchange's push step, one package at a time in order:
 * `beginAttempt` (durable attempt count), `transport.push` (temp upload, size
 * check, notes, rename to the first free number above every existing one),
 * `delivered` (meta, history line, move to the archive, state). It is driven
 * here directly rather than through `run --once`, so the figure is the push
 * path itself, without start-up, collecting and pulling.
 * BENCH_SCALE scales the number of packages (e.g. 0.1: 200).
 */
import { mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'basic-ftp';
import { Store } from '../src/store/store.js';
import { FtpRemoteDir } from '../src/transports/ftp/ftp-remote-dir.js';
import { SequencedFilesTransport } from '../src/transports/sequenced.js';
import { nullLogger } from '../src/util/logger.js';
import { startProftpd, type ProftpdServer } from '../test/helpers/proftpd.js';
import { scale, table } from './lib/measure.js';
import { drainQueue, queuePackages } from './lib/queue.js';

/** Receipts per package (4 transactions each): about 1.6 KB, a busy hour of one till. */

export default async function ftpBench(): Promise<void> {
  const packages = Math.max(20, Math.round(2000 * scale()));
  const dir = await mkdtemp(join(tmpdir(), 'kassir-bench-ftp-'));
  const server = await startProftpd();
  try {
    const store = new Store(join(dir, 'data'), { retentionDays: 30 }, nullLogger);
    await store.open();
    const t0 = performance.now();
    const bytes = await queuePackages(store, packages);
    console.log(`queued ${packages} packages (${(bytes / 1024).toFixed(0)} KB) in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    const numbers = store.queued().map((m) => m.number);
    const paths = numbers.map((n) => store.packagePath(n));

    // Baseline before and after the agent (best of the two), so neither side gets the warmer server.
    const base1 = await baseline(server, paths, 'base1');
    const agent = await drain(server, store, packages);
    await store.close();
    // Delivered packages moved to the archive (same bytes, same names).
    const base2 = await baseline(server, numbers.map((n) => join(store.archiveDir, `${n}.rep`)), 'base2');
    const baseMs = Math.min(base1, base2);
    const delivered = (await readdir(join(server.root, 'Files'))).filter((n) => /^POS1\.rep\.\$\d+$/.test(n)).length;
    if (delivered !== packages) throw new Error(`the agent left ${delivered} packages on the server, expected ${packages}`);

    const pps = (ms: number) => (packages / (ms / 1000)).toFixed(0);
    table(
      ['measure', 'time', 'packages/s', 'ratio'],
      [
        [`plain basic-ftp loop, ${packages} STOR (baseline, best of 2)`, `${(baseMs / 1000).toFixed(2)} s`, pps(baseMs), '1.00x'],
        [`agent: transport + durable store, ${packages} packages`, `${(agent / 1000).toFixed(2)} s`, pps(agent), `**${(baseMs / agent).toFixed(2)}x**`],
      ],
    );
    console.log(`\nbaseline runs: ${(base1 / 1000).toFixed(2)} s, ${(base2 / 1000).toFixed(2)} s; target >= 0.5x`);
  } finally {
    await server.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

/** The agent's push path over every queued package, in order. Returns the wall time in ms. */
async function drain(server: ProftpdServer, store: Store, expected: number): Promise<number> {
  await mkdir(join(server.root, 'Files'));
  const remote = new FtpRemoteDir({
    host: server.host,
    port: server.port,
    user: server.user,
    password: server.password,
    secure: false,
    tls: { rejectUnauthorized: true },
    encoding: 'utf8',
    timeoutMs: 30_000,
  });
  const transport = new SequencedFilesTransport('ftp', remote, { referenceName: 'Files/POS1.spr', reportName: 'Files/POS1.rep', sequenced: true });
  return drainQueue(store, transport, expected);
}

/** The same files uploaded by a plain basic-ftp loop to their final names: no durability, no checks. */
async function baseline(server: ProftpdServer, paths: string[], folder: string): Promise<number> {
  await mkdir(join(server.root, folder));
  const t0 = performance.now();
  const c = new Client(30_000);
  await c.access({ host: server.host, port: server.port, user: server.user, password: server.password });
  let i = 0;
  for (const p of paths) await c.uploadFrom(p, `${folder}/POS1.rep.$${++i}`);
  c.close();
  const ms = performance.now() - t0;
  await rm(join(server.root, folder), { recursive: true, force: true });
  return ms;
}
