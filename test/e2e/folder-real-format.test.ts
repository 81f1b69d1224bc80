/**
 * Real Kassir 5 report files (docs/FORMATS.md "Report files"), end to end through the agent as a
 * child process with the folder transport: files built from the wiki's own
 * example lines (test/formats/wiki-lines.ts), deferred and prepayment
 * receipts, 125/300 lines with their tag blocks, 125 lines appended between
 * receipts while the agent runs.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, it } from 'node:test';
import { countTransactions } from '../../src/formats/batcher.js';
import { parseReport } from '../../src/formats/report.js';
import { kassirFile, receiptLine, WIKI_125_ERRORS, WIKI_125_PREPAYMENT, WIKI_CASES, WIKI_HEADER } from '../formats/wiki-lines.js';
import { makeWorkspace, runCli, startAgent, type Workspace } from '../helpers/kassir.js';
import { waitFor } from '../helpers/wait.js';

let ws: Workspace | undefined;
afterEach(async () => {
  await ws?.cleanup();
  ws = undefined;
});

const TILL = (extra: Record<string, unknown> = {}) => ({ till: { dir: 'till', referenceFile: 'POS1.spr', reportFiles: '*.rep', settleMs: 0, rescanMs: 100, openReceiptMs: 600_000, ...extra } });

/** The share's report packages as bytes, in number order. */
async function packages(share: string): Promise<Buffer[]> {
  const names = (await fs.readdir(share)).filter((n) => /^POS1\.rep\.\$\d+$/.test(n)).sort((a, b) => Number(a.split('$')[1]) - Number(b.split('$')[1]));
  return Promise.all(names.map((n) => fs.readFile(join(share, n))));
}

/** Every package's body lines (after its block header) concatenated, CRLF: what must equal the till's body bytes. */
function bodies(pkgs: Buffer[]): Buffer {
  return Buffer.concat(pkgs.flatMap((p) => parseReport(p, 'package').units.flatMap((u) => u.lines.flatMap((l) => [l, Buffer.from('\r\n')]))));
}

const HEADER_BYTES = kassirFile(WIKI_HEADER).length;

/** Every package has a transaction and starts (after its header) with a transaction line, not a tag block. */
function assertPackagesWhole(pkgs: Buffer[], what: string): void {
  for (const p of pkgs) {
    assert.ok(countTransactions(p) > 0, `${what}: a package without a transaction`);
    const first = parseReport(p, 'package').units[0]!.lines[0]!.toString('latin1');
    assert.ok(!first.startsWith('<'), `${what}: a package starts with a tag block: ${first}`);
  }
}

describe('real Kassir 5 report files (wiki example lines), folder transport', () => {
  it('run --once takes each wiki case at once: every line byte for byte, blocks with their line, no false warning', async () => {
    for (const c of WIKI_CASES) {
      ws = await makeWorkspace({ ...TILL(), batch: { maxTransactions: 2, flushMs: 0 } });
      const data = kassirFile(c.lines);
      await fs.writeFile(join(ws.till, 'POS13.rep'), data);
      const r = await runCli(['run', '--once', '--config', ws.configFile]);
      assert.equal(r.code, 0, `${c.name}: ${r.stdout}${r.stderr}`);
      assert.deepEqual(await fs.readdir(ws.till).then((n) => n.filter((x) => x.endsWith('.rep'))), [], `${c.name}: taken at once`);
      const pkgs = await packages(ws.share);
      assert.ok(bodies(pkgs).equals(data.subarray(HEADER_BYTES)), `${c.name}: the share holds every line once, in order, byte for byte`);
      assertPackagesWhole(pkgs, c.name);
      // Receipts whole: each receipt key in one package only.
      const where = new Map<string, number>();
      pkgs.forEach((p, i) => {
        for (const u of parseReport(p, 'package').units.filter((x) => x.kind === 'receipt')) {
          const key = u.lines[0]!.toString('latin1').split(';').slice(4, 6).join('/');
          assert.ok(!where.has(key), `${c.name}: receipt ${key} in two packages`);
          where.set(key, i);
        }
      });
      assert.doesNotMatch(r.stdout + r.stderr, /till\.report\.open-receipt|till\.report\.held/, `${c.name}: no hold, no warning`);
      await ws.cleanup();
      ws = undefined;
    }
  });

  it('run --once exits 3 while the last receipt is really open; status lists the file; once it ends, it goes out whole', async () => {
    ws = await makeWorkspace(TILL());
    const open = [...WIKI_HEADER, receiptLine(99083, '03.04.23', '15:37:40', 611, 1276, '81', '100.00'), ...WIKI_125_PREPAYMENT];
    await fs.writeFile(join(ws.till, 'POS13.rep'), kassirFile(open));
    const r = await runCli(['run', '--once', '--config', ws.configFile]);
    assert.equal(r.code, 3, r.stdout + r.stderr);
    assert.equal(r.stdout.split('\n').filter((l) => l.includes('till.report.held')).length, 1, 'logged once');
    assert.deepEqual(await packages(ws.share), [], 'nothing of the open receipt went out');

    const status = await runCli(['status', '--config', ws.configFile]);
    assert.equal(status.code, 0, status.stderr);
    assert.match(status.stdout, /report files held in the till folder: 1\n {2}POS13\.rep: open receipt 1276 \(POS 13\) has no end line \(55\/56\/58\/655\) yet; open since 03\.04\.23 15:37:40 \(held since .+; taken anyway at .+\)/);
    const json = JSON.parse((await runCli(['status', '--json', '--config', ws.configFile])).stdout) as { exchanges: { held: { file: string; since: string; takeBy: string }[] }[] };
    const held = json.exchanges[0]!.held;
    assert.deepEqual(held.map((h) => h.file), ['POS13.rep']);
    assert.equal(Date.parse(held[0]!.takeBy) - Date.parse(held[0]!.since), 600_000, 'taken anyway openReceiptMs after its last write');

    // Kassir closes the prepayment receipt.
    const closed = [...open, receiptLine(99086, '03.04.23', '15:37:48', 655, 1276, '', '100.00')];
    await fs.writeFile(join(ws.till, 'POS13.rep'), kassirFile(closed));
    const r2 = await runCli(['run', '--once', '--config', ws.configFile]);
    assert.equal(r2.code, 0, r2.stdout + r2.stderr);
    const pkgs = await packages(ws.share);
    assert.equal(pkgs.length, 1);
    assert.ok(bodies(pkgs).equals(kassirFile(closed).subarray(HEADER_BYTES)));
    assert.deepEqual(JSON.parse((await runCli(['status', '--json', '--config', ws.configFile])).stdout).exchanges[0].held, []);
  });

  it('daemon: a closed receipt followed by 125 blocks appended every 1.5 s goes out while they keep coming; every appended line once, in order', async () => {
    const settleMs = 300;
    const rescanMs = 200;
    ws = await makeWorkspace({ ...TILL({ settleMs, rescanMs }), batch: { maxTransactions: 100, flushMs: 0 } });
    const w = ws;
    // A second file whose receipt stays open all along: the running agent lists it in status.
    await fs.writeFile(join(w.till, 'OPEN.rep'), kassirFile([...WIKI_HEADER, receiptLine(1, '19.11.25', '19:50:00', 11, 290, '81', '12.00')]));
    const agent = await startAgent(w.configFile);
    try {
      const file = join(w.till, 'POS13.rep');
      const written: Buffer[] = []; // body lines, without block headers
      const append = async (lines: string[]) => {
        const b = kassirFile(lines);
        written.push(b);
        // Open, append, close, as Kassir does; a new file (the agent took the old one) starts with its block header.
        const fresh = !(await fs.stat(file).then(() => true, () => false));
        await fs.appendFile(file, fresh ? Buffer.concat([kassirFile(WIKI_HEADER), b]) : b);
      };
      const started = Date.now();
      await append([receiptLine(10970, '19.11.25', '19:55:10', 11, 291, '81', '12.00'), receiptLine(10971, '19.11.25', '19:55:12', 55, 291, '', '12.00'), ...WIKI_125_ERRORS]);
      const receiptArrived = async () => (await packages(w.share)).some((p) => p.toString('latin1').includes(';55;13;291;'));
      let appends = 0;
      let arrivedAfterAppends = -1;
      let arrivedMs = -1;
      const N = 6;
      while (appends < N) {
        // Wait 1.5 s, watching the share meanwhile.
        const until = Date.now() + 1_500;
        while (Date.now() < until) {
          if (arrivedMs < 0 && (await receiptArrived())) {
            arrivedMs = Date.now() - started;
            arrivedAfterAppends = appends;
          }
          await new Promise((r) => setTimeout(r, 25));
        }
        appends++;
        const n = 10976 + appends;
        await append(WIKI_125_ERRORS.map((l, i) => (i === 0 ? l.replace(/^10973;19\.11\.25;19:56:02/, `${n};19.11.25;20:${String(appends * 10).padStart(2, '0')}:00`) : l)));
      }
      console.log(`# receipt on the share ${arrivedMs} ms after it was written (settleMs ${settleMs}, rescanMs ${rescanMs}), after ${arrivedAfterAppends} of ${N} appended 125 blocks`);
      assert.ok(arrivedMs >= 0 && arrivedAfterAppends < N, 'the receipt went out while 125 lines kept being appended');

      // Every appended 125 block arrives, exactly once, in order, byte for byte.
      const expected = Buffer.concat(written);
      await waitFor(async () => bodies(await packages(w.share)).length >= expected.length, 'every appended line on the share', 20_000);
      const pkgs = await packages(w.share);
      assert.ok(bodies(pkgs).equals(expected), 'the share holds exactly what was written, once, in order');
      assertPackagesWhole(pkgs, 'daemon');

      const status = await runCli(['status', '--config', w.configFile]);
      assert.match(status.stdout, /agent running/);
      assert.match(status.stdout, / {2}OPEN\.rep: open receipt 290 \(POS 13\)/);
      assert.equal(agent.output().split('\n').filter((l) => l.includes('till.report.held')).length, 1, 'held logged once, not every rescan');
    } finally {
      agent.child.kill('SIGTERM');
      await agent.exited;
    }
  });
});
