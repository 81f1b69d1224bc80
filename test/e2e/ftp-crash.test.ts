/**
 * The SIGKILL crash test against a real ProFTPD: the agent is killed at
 * random moments (at least 50 times; `CRASH_KILLS` overrides) while Kassir
 * writes reports and the back office publishes reference parts over FTP.
 * Afterwards the server holds every transaction exactly once, in order, in
 * packages `$1..$n` without gaps, no receipt split, no temporary file left;
 * and Kassir received every reference part exactly once, in order.
 *
 * Kills land in every step of a push (upload, size check, notes, rename) and
 * of a pull (download, staging, deletes), because the agent spends its life
 * in them: with a short random lifetime and small packages, most kills hit a
 * transfer in progress.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs/promises';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { makeWorkspace, receiptsOf, runCli, sharePackages, transactionNumbers, type Workspace } from '../helpers/kassir.js';
import { KassirSim } from '../helpers/kassir-sim.js';
import { runAndKill } from '../helpers/kill-at.js';
import { assertEveryPartAppliedOnce } from '../helpers/reference-trail.js';
import { startProftpd, type ProftpdServer } from '../helpers/proftpd.js';
import { ftpTransportConfig } from '../helpers/ftp-config.js';

const KILLS = Number(process.env.CRASH_KILLS ?? 50);

let ws: Workspace | undefined;
let server: ProftpdServer | undefined;
after(async () => {
  await ws?.cleanup();
  await server?.stop();
});


describe('SIGKILL at random moments (FTP transport, real ProFTPD)', () => {
  it(`loses and duplicates nothing across ${KILLS} kills`, { timeout: 600_000 }, async () => {
    server = await startProftpd();
    const files = join(server.root, 'Files');
    await fs.mkdir(files);
    ws = await makeWorkspace(
      { batch: { maxTransactions: 7, flushMs: 0 } },
      ftpTransportConfig(server),
    );
    const kassir = new KassirSim(ws.till);
    const all = kassir.written;
    let kills = 0;
    let working = 0;
    for (let round = 0; round < KILLS; round++) {
      await kassir.sell();
      if (round % 5 === 0) await kassir.publishNextPart(files, { viaTemp: true });
      await kassir.load();
      // Start-up (tsx compiling) takes most of a second here, more on a loaded machine, and does nothing worth
      // killing: the random lifetime counts from the moment the store has opened, so every kill lands in real work.
      if ((await runAndKill(ws.configFile, { after: 'store.opened', delayMs: [0, 700] })).reached) working++;
      kills++;
    }
    // Let it finish: Kassir loads the reference files as they come; run --once until nothing is pending.
    let finished = false;
    for (let i = 0; i < 40 && !finished; i++) {
      await kassir.load();
      const r = await runCli(['run', '--once', '--config', ws.configFile]);
      assert.ok(r.code === 0 || r.code === 3, r.stdout + r.stderr);
      finished = r.code === 0;
    }
    assert.ok(finished, 'run --once reached "nothing pending"');
    await kassir.load();

    assert.equal(kills, KILLS);
    assert.equal(working, KILLS, 'every kill hit an agent whose store had opened');
    const pkgs = await sharePackages(files);
    assert.deepEqual(pkgs.map((p) => p.n), pkgs.map((_, i) => i + 1), 'package numbers $1..$n without gaps or reuse');
    const sent = pkgs.flatMap((p) => transactionNumbers(p.data));
    const seen = new Set(sent);
    assert.equal(sent.length - seen.size, 0, 'no transaction twice');
    assert.equal(all.filter((t) => !seen.has(t)).length, 0, 'no transaction lost');
    assert.deepEqual(sent, all, 'in order');
    const owner = new Map<string, number>();
    for (const p of pkgs) {
      assert.ok(p.data.startsWith('#\r\n') && p.data.endsWith('\r\n'), `${p.name} is a complete package`);
      for (const rc of receiptsOf(p.data)) {
        assert.ok(!owner.has(rc), `receipt ${rc} split between packages ${owner.get(rc)} and ${p.n}`);
        owner.set(rc, p.n);
      }
    }
    const leftovers = (await fs.readdir(files)).filter((n) => !/^POS1\.rep\.\$\d+$/.test(n));
    assert.deepEqual(leftovers, [], 'no temporary file left on the server, no part left unfetched');
    await assertEveryPartAppliedOnce(kassir, ws);
    console.log(`# ftp crash test: ${kills} kills, ${all.length} transactions in ${pkgs.length} packages, ${kassir.published} reference parts: 0 lost, 0 duplicated`);
  });
});
