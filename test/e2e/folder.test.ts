/**
 * End to end over real folders: the agent runs as a child process on a till
 * folder and a "share", exactly as a shop runs it.
 */
import assert from 'node:assert/strict';
import { constants as fsConstants } from 'node:fs';
import * as fs from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, it } from 'node:test';
import iconv from 'iconv-lite';
import { dropReport, dropReportFiles, makeWorkspace, receiptsOf, reportFile, runCli, sharePackages, startAgent, stopDaemon, transactionNumbers, type Workspace } from '../helpers/kassir.js';
import { waitFor } from '../helpers/wait.js';

let ws: Workspace | undefined;
afterEach(async () => {
  await ws?.cleanup();
  ws = undefined;
});

describe('folder transport, end to end', () => {
  it('merges parts $1..$12 in numeric order into the till reference file and empties the share', async () => {
    ws = await makeWorkspace();
    for (let n = 1; n <= 12; n++) {
      await fs.writeFile(join(ws.share, `POS1.spr.$${n}`), iconv.encode(`##@@&&\r\n#\r\n${n};;Товар ${n};;1;\r\n`, 'cp1251'));
    }
    const r = await runCli(['run', '--once', '--config', ws.configFile]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const spr = iconv.decode(await fs.readFile(join(ws.till, 'POS1.spr')), 'cp1251');
    const lines = spr.split('\r\n');
    assert.equal(lines[0], '##@@&&');
    assert.equal(lines[1], '#');
    assert.deepEqual(
      lines.slice(2).filter((l) => l !== '').map((l) => Number(l.split(';')[0])),
      [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12],
    );
    assert.deepEqual((await fs.readdir(ws.share)).sort(), []);
  });

  it('a till, share and data folder with Cyrillic names, deeper than Windows\' 260-character limit', async () => {
    ws = await makeWorkspace();
    let deep = join(ws.root, 'Магазин №1');
    while (deep.length <= 300) deep = join(deep, 'Обмен с кассой');
    await fs.mkdir(join(deep, 'till'), { recursive: true });
    await fs.mkdir(join(deep, 'share'));
    // The workspace's config, moved down there: its folders are relative to it.
    await fs.writeFile(join(deep, 'agent.yaml'), await fs.readFile(ws.configFile));
    await fs.writeFile(join(deep, 'share', 'POS1.spr.$1'), iconv.encode('##@@&&\r\n#\r\n1;;Товар;;1;\r\n', 'cp1251'));
    const report = reportFile([{ receipt: 1 }, { receipt: 2 }], 1);
    await dropReport(join(deep, 'till'), 'Смена 1.rep', report.data);
    const r = await runCli(['run', '--once', '--config', join(deep, 'agent.yaml')]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const pkgs = await sharePackages(join(deep, 'share'));
    assert.deepEqual(pkgs.flatMap((p) => transactionNumbers(p.data)), report.txs);
    assert.match(iconv.decode(await fs.readFile(join(deep, 'till', 'POS1.spr')), 'cp1251'), /1;;Товар;;1;/);
  });

  it('waits for Kassir to take the reference file, then delivers what came meanwhile merged', async () => {
    ws = await makeWorkspace();
    await fs.writeFile(join(ws.share, 'POS1.spr.$1'), '##@@&&\r\n#\r\nA;;first;;1;\r\n');
    assert.equal((await runCli(['run', '--once', '--config', ws.configFile])).code, 0);
    await fs.writeFile(join(ws.share, 'POS1.spr.$1'), '##@@&&\r\n#\r\nB;;second;;1;\r\n');
    await fs.writeFile(join(ws.share, 'POS1.spr.$2'), '##@@&&\r\n#\r\nC;;third;;1;\r\n');
    // Kassir has not loaded the first file (line 2 still '#'): nothing replaces it; exit code says "pending".
    const waiting = await runCli(['run', '--once', '--config', ws.configFile]);
    assert.equal(waiting.code, 3, waiting.stdout);
    assert.match(await fs.readFile(join(ws.till, 'POS1.spr'), 'latin1'), /first/);
    // Kassir loads it and marks line 2 '@'.
    await fs.writeFile(join(ws.till, 'POS1.spr'), '##@@&&\r\n@\r\nA;;first;;1;\r\n');
    assert.equal((await runCli(['run', '--once', '--config', ws.configFile])).code, 0);
    const now = await fs.readFile(join(ws.till, 'POS1.spr'), 'latin1');
    assert.equal(now, '##@@&&\r\n#\r\nB;;second;;1;\r\nC;;third;;1;\r\n');
  });

  it('packages reports into POS1.rep.$1..$n of at most maxTransactions, never splitting a receipt, in order', async () => {
    ws = await makeWorkspace();
    // 5 files of 7 receipts of 3..6 transactions, max 10 per package
    const all = await dropReportFiles(ws.till, 5, 7);
    const r = await runCli(['run', '--once', '--config', ws.configFile]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const pkgs = await sharePackages(ws.share);
    assert.ok(pkgs.length >= 12, `expected many packages, got ${pkgs.length}`);
    assert.deepEqual(pkgs.map((p) => p.n), pkgs.map((_, i) => i + 1), 'numbers $1..$n without gaps');
    const seen = new Map<string, number>();
    for (const p of pkgs) {
      assert.ok(p.data.startsWith('#\r\n1\r\nPOS1\r\n'), `package ${p.name} starts with the block header and service lines`);
      assert.ok(transactionNumbers(p.data).length <= 10, `${p.name} holds at most maxTransactions`);
      for (const rc of receiptsOf(p.data)) {
        assert.ok(!seen.has(rc), `receipt ${rc} in ${p.name} and in package ${seen.get(rc)}`);
        seen.set(rc, p.n);
      }
    }
    assert.deepEqual(pkgs.flatMap((p) => transactionNumbers(p.data)), all, 'every transaction exactly once, in order');
    assert.deepEqual((await fs.readdir(ws.till)).filter((n) => n.endsWith('.rep')), [], 'report files taken from the till folder');
  });

  it('sequenced: false writes POS1.rep only when the back office has taken the previous one', async () => {
    ws = await makeWorkspace({}, { type: 'folder', dir: 'share', referenceName: 'POS1.spr', reportName: 'POS1.rep', sequenced: false });
    const a = reportFile([{ receipt: 1 }], 1);
    await dropReport(ws.till, 'a.rep', a.data);
    assert.equal((await runCli(['run', '--once', '--config', ws.configFile])).code, 0);
    assert.deepEqual(transactionNumbers(await fs.readFile(join(ws.share, 'POS1.rep'), 'latin1')), a.txs);
    const b = reportFile([{ receipt: 2 }], a.nextTx);
    await dropReport(ws.till, 'b.rep', b.data);
    const waiting = await runCli(['run', '--once', '--config', ws.configFile]);
    assert.equal(waiting.code, 3, 'still queued while the back office has not taken POS1.rep');
    assert.deepEqual(transactionNumbers(await fs.readFile(join(ws.share, 'POS1.rep'), 'latin1')), a.txs, 'the first file was not overwritten');
    const status = await runCli(['status', '--config', ws.configFile]);
    assert.match(status.stdout, /queued packages: 1/);
    assert.match(status.stdout, /not been taken by the back office/);
    await fs.rm(join(ws.share, 'POS1.rep')); // the back office takes it
    assert.equal((await runCli(['run', '--once', '--config', ws.configFile])).code, 0);
    assert.deepEqual(transactionNumbers(await fs.readFile(join(ws.share, 'POS1.rep'), 'latin1')), b.txs);
  });

  it('daemon: no temporary file is ever visible under a final name, and an unreachable share only delays delivery', async () => {
    ws = await makeWorkspace();
    const agent = await startAgent(ws.configFile);
    const share = ws.share;
    const offline = `${share}.offline`;
    const seenFinal = new Map<string, number>();
    let violations = 0;
    let watching = true;
    // Observe the share continuously: a final name must always hold a complete package.
    const observer = (async () => {
      while (watching) {
        for (const name of await fs.readdir(share).catch(() => [] as string[])) {
          if (!/^POS1\.rep\.\$\d+$/.test(name)) continue;
          const data = await fs.readFile(join(share, name), 'latin1').catch(() => undefined);
          if (data === undefined) continue;
          if (!data.endsWith('\r\n') || !data.startsWith('#\r\n')) violations++;
          const prev = seenFinal.get(name);
          if (prev !== undefined && prev !== data.length) violations++;
          seenFinal.set(name, data.length);
        }
        await new Promise((r) => setTimeout(r, 2));
      }
    })();
    try {
      let tx = 1;
      const all: number[] = [];
      const drop = async (i: number) => {
        const r = reportFile([{ receipt: i * 2, lines: 3 }, { receipt: i * 2 + 1, lines: 1 }], tx);
        tx = r.nextTx;
        all.push(...r.txs);
        await dropReport(ws!.till, `r${i}.rep`, r.data);
      };
      for (let i = 0; i < 5; i++) await drop(i);
      await waitFor(async () => (await sharePackages(share)).flatMap((p) => transactionNumbers(p.data)).length === all.length, 'first batch delivered');
      // The share goes away (unmounted); Kassir keeps selling.
      await fs.rename(share, offline);
      for (let i = 5; i < 15; i++) await drop(i);
      await waitFor(async () => (await fs.readdir(ws!.till)).filter((n) => n.endsWith('.rep')).length === 0, 'reports collected while offline');
      await waitFor(() => agent.output().includes('push.failed'), 'the failure is logged');
      await fs.rename(offline, share);
      await waitFor(async () => (await sharePackages(share)).flatMap((p) => transactionNumbers(p.data)).length >= all.length, 'backlog delivered after the share returned');
      const pkgs = await sharePackages(share);
      assert.deepEqual(pkgs.flatMap((p) => transactionNumbers(p.data)), all, 'nothing lost, nothing twice, in order');
      assert.ok(agent.output().includes('push.recovered'));
    } finally {
      watching = false;
      await observer;
      assert.equal(await stopDaemon(agent, ws.configFile), 0, 'graceful stop exits 0');
    }
    assert.equal(violations, 0, 'a final name never showed a partial or changing file');
    assert.ok(seenFinal.size > 0);
  });

  it('daemon: a report file Kassir holds open is retried quietly, not lost or half-taken, and delivered once when let go', async () => {
    // Windows: Kassir holds the file with no sharing (libuv's exclusive-open flag, 0x10000000; Windows Node does
    // not export UV_FS_O_EXLOCK), so the agent's read and rename of it fail (EBUSY/EPERM) until it is let go;
    // they are retried at every scan, at debug level only. Linux has no such lock: an open handle does not stop
    // the rename, so there the file is taken while still open; everything else asserted holds on both.
    const windows = process.platform === 'win32';
    ws = await makeWorkspace();
    const first = reportFile([{ receipt: 1 }], 1);
    const heldReport = reportFile([{ receipt: 2, lines: 3 }, { receipt: 3 }], first.nextTx);
    await dropReport(ws.till, 'a.rep', first.data);
    await dropReport(ws.till, 'held.rep', heldReport.data);
    const heldPath = join(ws.till, 'held.rep');
    const exclusive = (fsConstants as unknown as Record<string, number | undefined>).UV_FS_O_EXLOCK ?? 0x10000000;
    const kassir = await fs.open(heldPath, windows ? fsConstants.O_RDWR | exclusive : 'r+');
    let released = false;
    const agent = await startAgent(ws.configFile);
    const delivered = async () => (await sharePackages(ws!.share)).flatMap((p) => transactionNumbers(p.data));
    try {
      await waitFor(async () => (await delivered()).length >= first.txs.length, 'the file nobody holds delivered');
      if (windows) {
        const busy = () => agent.output().split('\n').filter((l) => /till\.report\.busy .*file=held\.rep/.test(l));
        await waitFor(() => busy().length >= 2, 'the held file tried at two scans');
        assert.ok(busy().every((l) => / debug /.test(l)), busy().join('\n'));
        // Not lost, not half-taken: still whole under its name, nothing of it taken or sent.
        const bytes = Buffer.alloc(heldReport.data.length + 1);
        const { bytesRead } = await kassir.read(bytes, 0, bytes.length, 0);
        assert.equal(bytes.subarray(0, bytesRead).toString('latin1'), heldReport.data);
        assert.deepEqual((await fs.readdir(join(ws.till, '.kassir-agent', 'taken'))).filter((n) => n.endsWith('held.rep')), []);
        assert.deepEqual(await delivered(), first.txs, 'only the file nobody holds was sent');
      } else {
        await waitFor(() => /till\.report\.taken .*file=held\.rep/.test(agent.output()), 'the open file taken (no lock on Linux)');
      }
      await kassir.close();
      released = true;
      await waitFor(async () => (await delivered()).length >= first.txs.length + heldReport.txs.length, 'the let-go file delivered');
      await waitFor(async () => !(await fs.readdir(ws!.till)).includes('held.rep') && (await fs.readdir(join(ws!.till, '.kassir-agent', 'taken'))).length === 0, 'the let-go file released');
    } finally {
      if (!released) await kassir.close();
      assert.equal(await stopDaemon(agent, ws.configFile), 0, 'graceful stop exits 0');
    }
    assert.deepEqual(await delivered(), [...first.txs, ...heldReport.txs], 'every transaction exactly once, in order');
    const loud = agent.output().split('\n').filter((l) => /held\.rep/.test(l) && /^\S+ (warn|error) /.test(l));
    assert.deepEqual(loud, [], 'nothing above debug about the held file');
  });

  it('bad input is quarantined with a reason naming the file and line; the rest keeps flowing', async () => {
    ws = await makeWorkspace();
    const good = reportFile([{ receipt: 1 }, { receipt: 2 }], 1);
    await dropReport(ws.till, 'a.rep', good.data);
    await dropReport(ws.till, 'b.rep', '1;24.11.2026;10:00:00;11;1;7;5;1;1;1;1;1\r\n'); // no block header
    await fs.writeFile(join(ws.share, 'POS1.spr.$1'), 'garbage\r\n#\r\n');
    await fs.writeFile(join(ws.share, 'POS1.spr.$2'), '##@@&&\r\n#\r\nGOOD;;x;;1;\r\n');
    const r = await runCli(['run', '--once', '--config', ws.configFile]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.deepEqual((await sharePackages(ws.share)).flatMap((p) => transactionNumbers(p.data)), good.txs);
    assert.match(await fs.readFile(join(ws.till, 'POS1.spr'), 'latin1'), /GOOD/);
    const q = (await fs.readdir(join(ws.data, 'quarantine'))).sort();
    const whys = await Promise.all(q.filter((n) => n.endsWith('.why.txt')).map((n) => fs.readFile(join(ws!.data, 'quarantine', n), 'utf8')));
    assert.equal(whys.length, 2, q.join(', '));
    assert.ok(whys.some((w) => /b\.rep/.test(w)), whys.join('\n'));
    assert.ok(whys.some((w) => /POS1\.spr\.\$1 line 1: /.test(w)), whys.join('\n'));
    assert.ok(q.some((n) => n.endsWith('-b.rep')) && q.some((n) => n.endsWith('POS1.spr.$1')), 'the items themselves are kept');
    assert.match(r.stdout, /quarantine\.added/);
    const status = await runCli(['status', '--config', ws.configFile]);
    assert.match(status.stdout, /quarantined=2/);
  });
});
