/**
 * FTP push throughput: a backlog of 2,000 sealed packages (a till that was
 * offline for a while) drained to a local ProFTPD by the agent's FTP
 * transport with its durable store, against a baseline measured in the same
 * run: the same files uploaded by a plain basic-ftp loop (STOR straight to
 * the final name, no temporary name, no size check, no rename, no notes, no
 * fsync). Target: the agent at 0.5x of the baseline or better.
 *
 * The drain is the exchange's push step, packages renamed one at a time in
 * order: `beginAttempt`, `transport.push` (temp upload, which runs ahead on
 * two more sessions for the next packages; size check; notes in the outbox
 * journal; rename to the first free number above every existing one),
 * `delivered` (journal record, history line), and the checkpoint that ends
 * the run (the move to the archive, fsynced). It is driven here directly
 * rather than through `run --once`, so the figure is the push path itself,
 * without start-up, collecting and pulling.
 * BENCH_SCALE scales the number of packages (e.g. 0.1: 200).
 */
import { execFileSync } from 'node:child_process';
import { mkdir, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { Client } from 'basic-ftp';
import { Store } from '../src/store/store.js';
import { FtpRemoteDir } from '../src/transports/ftp/ftp-remote-dir.js';
import { SequencedFilesTransport } from '../src/transports/sequenced.js';
import { nullLogger } from '../src/util/logger.js';
import { startProftpd, type ProftpdServer } from '../test/helpers/proftpd.js';
import { scale, table } from './lib/measure.js';
import { drainQueue, queuePackages } from './lib/queue.js';
import { makeTempDir, removeDir } from '../test/helpers/temp-dir.js';
import { ftpOptions } from '../test/helpers/ftp-config.js';

/** Receipts per package (4 transactions each): about 1.6 KB, a busy hour of one till. */

export default async function ftpBench(): Promise<void> {
  const packages = Math.max(20, Math.round(2000 * scale()));
  const dir = await makeTempDir('kassir-bench-ftp');
  const server = await startProftpd();
  try {
    // Two queues of the same packages, so the agent, like the baseline, gets two runs.
    const stores = [new Store(join(dir, 'data1'), { retentionDays: 30 }, nullLogger), new Store(join(dir, 'data2'), { retentionDays: 30 }, nullLogger)];
    const t0 = performance.now();
    let bytes = 0;
    for (const store of stores) {
      await store.open();
      bytes = await queuePackages(store, packages);
    }
    console.log(`queued 2 x ${packages} packages (${(bytes / 1024).toFixed(0)} KB each) in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    const paths = stores[1]!.queued().map((m) => stores[1]!.packagePath(m.number));

    // Baseline and agent runs alternate (best of two each), so neither side always gets the warmer
    // server or the cooler machine. Each run starts with the disk flushed (\`sync\`), so no run pays
    // for writing back another's files. Every run adds some thousands of TCP connections in
    // TIME_WAIT (one per passive-mode transfer), which slows the runs after it a little.
    const runs = { base: [] as number[], agent: [] as number[] };
    for (let round = 0; round < 2; round++) {
      flushDisk();
      runs.base.push(await baseline(server, paths, `base${round + 1}`));
      flushDisk();
      runs.agent.push(await drain(server, stores[round]!, packages, `Files${round + 1}`));
      await stores[round]!.close();
      const delivered = (await readdir(join(server.root, `Files${round + 1}`))).filter((n) => /^POS1\.rep\.\$\d+$/.test(n)).length;
      if (delivered !== packages) throw new Error(`the agent left ${delivered} packages on the server, expected ${packages}`);
    }
    const baseMs = Math.min(...runs.base);
    const agentMs = Math.min(...runs.agent);

    const pps = (ms: number) => (packages / (ms / 1000)).toFixed(0);
    const secs = (list: number[]) => list.map((ms) => `${(ms / 1000).toFixed(2)} s`).join(', ');
    table(
      ['measure', 'time', 'packages/s', 'ratio'],
      [
        [`plain basic-ftp loop, ${packages} STOR (baseline, best of 2)`, `${(baseMs / 1000).toFixed(2)} s`, pps(baseMs), '1.00x'],
        [`agent: transport + durable store, ${packages} packages (best of 2)`, `${(agentMs / 1000).toFixed(2)} s`, pps(agentMs), `**${(baseMs / agentMs).toFixed(2)}x**`],
      ],
    );
    console.log(`\nbaseline runs: ${secs(runs.base)}; agent runs: ${secs(runs.agent)}; target >= 0.5x`);
  } finally {
    await server.stop();
    await removeDir(dir);
  }
}

/** Writes back every dirty page of the machine (coreutils `sync`). */
function flushDisk(): void {
  execFileSync('sync');
}

/** The agent's push path over every queued package, in order. Returns the wall time in ms. */
async function drain(server: ProftpdServer, store: Store, expected: number, folder: string): Promise<number> {
  await mkdir(join(server.root, folder));
  const remote = new FtpRemoteDir(ftpOptions(server, { timeoutMs: 30_000 }));
  const transport = new SequencedFilesTransport('ftp', remote, { referenceName: `${folder}/POS1.spr`, reportName: `${folder}/POS1.rep`, sequenced: true });
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
  // The uploaded files stay until the server is stopped: deleting thousands of files makes the
  // file system busy for a while afterwards (discard, journal), which would slow down whichever
  // run comes next.
  return performance.now() - t0;
}
