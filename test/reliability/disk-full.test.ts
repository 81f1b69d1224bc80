/**
 * Disk full on the data folder (a 1 MiB tmpfs; CI runs as root) and an fsync
 * that fails with EIO: the report stays with Kassir (till folder, or the
 * agent's taken-files folder beside it), nothing reaches the back office that
 * was not stored, `status` says why, and everything goes out once space
 * returns.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs/promises';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { makeWorkspace, sharePackages, transactionNumbers, type Workspace } from '../helpers/kassir.js';
import { agentCli } from './agent-build.js';
import { cleanupsAfterAll } from '../helpers/cleanups.js';
import { runAgent } from './agent-run.js';
import { KassirSim, compareSequences } from '../helpers/kassir-sim.js';

let cli: string;
const cleanups = cleanupsAfterAll();
before(async () => {
  cli = await agentCli();
});

/** Report files still on Kassir's side: in the till folder or taken but not yet in the store. */
async function reportsOnTillSide(ws: Workspace): Promise<number> {
  const names = (await fs.readdir(ws.till, { recursive: true })).map(String);
  return names.filter((n) => n.endsWith('.rep')).length;
}

async function fill(dir: string): Promise<string> {
  const filler = join(dir, 'filler');
  const fh = await fs.open(filler, 'w');
  try {
    for (;;) await fh.write(Buffer.alloc(64 * 1024, 1));
  } catch (e) {
    assert.equal((e as NodeJS.ErrnoException).code, 'ENOSPC');
  } finally {
    await fh.close();
  }
  return filler;
}

async function status(ws: Workspace): Promise<string> {
  const r = await runAgent({ cli, configFile: ws.configFile, mode: 'once', args: ['status', '--config', ws.configFile] });
  return r.stdout + r.stderr;
}

describe('disk full and fsync errors on the data folder', () => {
  it('ENOSPC (tmpfs full): reports stay with Kassir, nothing sent unstored, status says why; all delivered once space returns', async () => {
    const ws = await makeWorkspace({ batch: { maxTransactions: 7, flushMs: 0 }, log: { level: 'info', dir: 'log', console: false } });
    cleanups.push(() => ws.cleanup());
    await fs.mkdir(ws.data);
    // Needs root (CI runs as root); the error says so plainly if not.
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m,mode=0700', 'tmpfs', ws.data]);
    cleanups.push(async () => {
      execFileSync('umount', ['-l', ws.data]);
    });
    const kassir = new KassirSim(ws.till);
    await kassir.sell();
    const first = await runAgent({ cli, configFile: ws.configFile, mode: 'once' });
    assert.equal(first.code, 0, first.stderr);
    const before = (await sharePackages(ws.share)).length;

    const filler = await fill(ws.data);
    await kassir.sell();
    await kassir.sell();
    const full = await runAgent({ cli, configFile: ws.configFile, mode: 'once' });
    assert.notEqual(full.code, 0, 'run --once does not claim success on a full disk');
    assert.equal(full.hung, false);
    assert.ok((await reportsOnTillSide(ws)) > 0, 'the reports stay with Kassir');
    const sentWhileFull = (await sharePackages(ws.share)).length;
    assert.equal(sentWhileFull, before, 'nothing reached the share that was not stored');
    const logs = (await fs.readdir(ws.logs)).filter((n) => n.endsWith('.log'));
    const logText = (await Promise.all(logs.map((n) => fs.readFile(join(ws.logs, n), 'utf8')))).join('');
    assert.match(logText + full.stderr, /ENOSPC/, 'the log names the full disk');
    const s = await status(ws);

    await fs.rm(filler);
    const again = await runAgent({ cli, configFile: ws.configFile, mode: 'once' });
    assert.equal(again.code, 0, again.stderr);
    const cmp = compareSequences(kassir.written, (await sharePackages(ws.share)).flatMap((p) => transactionNumbers(p.data)));
    assert.deepEqual(cmp, { lost: 0, duplicated: 0, outOfOrder: 0 });
    assert.equal(await reportsOnTillSide(ws), 0);
    // Last, so the recovery above is checked either way.
    assert.match(s, /ENOSPC|no space|disk full/i, `status said nothing about the full data folder:\n${s}`);
  });

  it('fsync fails with EIO (fail point fsync.file:eio): nothing acknowledged, the error is reported; delivered once it heals', async () => {
    const ws = await makeWorkspace({ batch: { maxTransactions: 7, flushMs: 0 }, log: { level: 'info', dir: 'log', console: false } });
    cleanups.push(() => ws.cleanup());
    const kassir = new KassirSim(ws.till);
    await kassir.sell();
    const first = await runAgent({ cli, configFile: ws.configFile, mode: 'once' });
    assert.equal(first.code, 0, first.stderr);
    await kassir.sell();
    const eio = await runAgent({ cli, configFile: ws.configFile, mode: 'once', failpoints: 'fsync.file:eio' });
    assert.notEqual(eio.code, 0, 'run --once does not claim success when fsync fails');
    assert.ok((await reportsOnTillSide(ws)) > 0, 'the new report stays with Kassir');
    const logs = (await fs.readdir(ws.logs)).filter((n) => n.endsWith('.log'));
    const text = (await Promise.all(logs.map((n) => fs.readFile(join(ws.logs, n), 'utf8')))).join('') + eio.stderr + eio.stdout;
    assert.match(text, /EIO/, 'the EIO is in the log');
    const healed = await runAgent({ cli, configFile: ws.configFile, mode: 'once' });
    assert.equal(healed.code, 0, healed.stderr);
    const cmp = compareSequences(kassir.written, (await sharePackages(ws.share)).flatMap((p) => transactionNumbers(p.data)));
    assert.deepEqual(cmp, { lost: 0, duplicated: 0, outOfOrder: 0 });
  });
});
