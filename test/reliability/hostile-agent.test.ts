/**
 * Hostile input through the running agent (folder transport): mutated report
 * files dropped among Kassir's good ones, and mutated reference parts among the
 * back office's good ones (fast-check generates them). The good ones must flow
 * (every good transaction once, in order; every good part applied once, in
 * order); each bad one is either read (when the mutation left it valid) or
 * kept in quarantine with a .why.txt naming it; no hang, no crash.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { dropReport, makeWorkspace, reportFile, sharePackages, transactionNumbers, type Workspace } from '../helpers/kassir.js';
import { applyMutations, hostileBytes } from '../fuzz/hostile.js';
import { agentCli } from './agent-build.js';
import { runAgent } from './agent-run.js';
import { compareSequences, partText } from '../helpers/kassir-sim.js';

const ROUNDS = Number(process.env.HOSTILE_AGENT_ROUNDS ?? 12);
const PER_ROUND = 4;

let cli: string;
let ws: Workspace | undefined;
before(async () => {
  cli = await agentCli();
});
after(() => ws?.cleanup());

describe('hostile input through the running agent', () => {
  it(`${ROUNDS * PER_ROUND * 2 + 4} bad reports and parts among good ones: the good flow, the bad are quarantined with a reason`, { timeout: 600_000 }, async () => {
    ws = await makeWorkspace({ batch: { maxTransactions: 7, flushMs: 0 }, log: { level: 'info', dir: 'log', console: true } });
    const w = ws;
    const goodTx: number[] = [];
    const applied: number[] = [];
    const hostileNames: string[] = [];
    let tx = 1;
    let receipt = 1;
    let part = 0;
    let file = 0;
    // Seeds far from the good numbers, so a mutated report that is still readable cannot be confused with a good one.
    const seeds = [Buffer.from(reportFile([{ receipt: 90_001, lines: 3 }], 900_001).data, 'latin1'), Buffer.from(partText(9999), 'latin1')];
    const samples = fc.sample(hostileBytes(seeds), { numRuns: ROUNDS * PER_ROUND * 2 });
    // Plus the plain nasty ones: NUL-filled, empty, binary, a report cut mid-line.
    samples.push(Buffer.alloc(300), Buffer.alloc(0), Buffer.from([0xff, 0xfe, 0, 1, 2, 3]), applyMutations(seeds[0]!, [{ op: 'truncate', at: 0.5 }]));
    const kassirLoads = async () => {
      const path = join(w.till, 'POS1.spr');
      const ref = await fs.readFile(path, 'latin1').catch(() => undefined);
      if (ref === undefined || ref.replace(/^\xef\xbb\xbf/, '').split('\r\n')[1] !== '#') return;
      for (const m of ref.matchAll(/^P(\d+);;part;;1;\r?$/gm)) if (Number(m[1]) !== 9999) applied.push(Number(m[1]));
      await fs.writeFile(path, ref.replace('\r\n#\r\n', '\r\n@\r\n'), 'latin1');
    };
    const publish = async (data: Buffer | string) => {
      const names = await fs.readdir(w.share);
      const next = Math.max(0, ...names.filter((x) => x.startsWith('POS1.spr.$')).map((x) => Number(x.slice(10)))) + 1;
      await fs.writeFile(join(w.share, '.publishing'), data);
      await fs.rename(join(w.share, '.publishing'), join(w.share, `POS1.spr.$${next}`));
      return `POS1.spr.$${next}`;
    };
    let s = 0;
    for (let round = 0; round < ROUNDS; round++) {
      for (let i = 0; i < PER_ROUND; i++) {
        const r = reportFile([{ receipt: receipt++, lines: 2 }], tx);
        tx = r.nextTx;
        goodTx.push(...r.txs);
        await dropReport(w.till, `G${String(++file).padStart(5, '0')}.rep`, r.data);
        const bad = `H${String(file).padStart(5, '0')}.rep`;
        hostileNames.push(bad);
        await dropReport(w.till, bad, samples[s++]!.toString('latin1'));
        hostileNames.push(await publish(samples[s++]!));
        await publish(partText(++part));
      }
      await kassirLoads();
      const run = await runAgent({ cli, configFile: w.configFile, mode: 'once' });
      assert.ok(!run.hung && (run.code === 0 || run.code === 3), `round ${round}: exit ${run.code}: ${run.stderr.slice(0, 500)}`);
    }
    // The plain nasty ones go in last, two as reports and two as parts.
    for (let i = 0; s < samples.length; i++) {
      if (i % 2 === 0) {
        const bad = `H${String(++file).padStart(5, '0')}.rep`;
        hostileNames.push(bad);
        await dropReport(w.till, bad, samples[s++]!.toString('latin1'));
      } else hostileNames.push(await publish(samples[s++]!));
    }
    for (let i = 0; i < 30; i++) {
      await kassirLoads();
      const run = await runAgent({ cli, configFile: w.configFile, mode: 'once' });
      if (run.code === 0) break;
      assert.equal(run.code, 3, run.stderr);
    }
    await kassirLoads();

    const sent = (await sharePackages(w.share)).flatMap((p) => transactionNumbers(p.data)).filter((t) => t < 900_000);
    assert.deepEqual(compareSequences(goodTx, sent), { lost: 0, duplicated: 0, outOfOrder: 0 }, 'the good transactions flowed once, in order');
    assert.deepEqual(compareSequences(Array.from({ length: part }, (_, i) => i + 1), applied), { lost: 0, duplicated: 0, outOfOrder: 0 }, 'the good parts reached Kassir once, in order');
    const q = await fs.readdir(join(w.data, 'quarantine'));
    const whys = q.filter((n) => n.endsWith('.why.txt'));
    assert.ok(whys.length >= 4, `the plainly bad items are in quarantine (${whys.length})`);
    assert.ok(whys.length <= hostileNames.length, 'only hostile items were quarantined');
    for (const why of whys) {
      const text = await fs.readFile(join(w.data, 'quarantine', why), 'utf8');
      assert.ok(text.trim().length > 0, `${why} gives a reason`);
      const item = why.slice(0, -'.why.txt'.length);
      assert.ok(q.includes(item), `the item ${item} itself is kept beside its reason`);
    }
    // Nothing of ours left in the till folder, nothing unfetched on the share.
    assert.deepEqual((await fs.readdir(w.till)).filter((n) => n.endsWith('.rep')), []);
    assert.deepEqual((await fs.readdir(w.share)).filter((n) => !/^POS1\.rep\.\$\d+$/.test(n)), []);
    console.log(`# hostile through the agent: ${samples.length} hostile items among ${goodTx.length} good transactions and ${part} good parts; ${whys.length} quarantined, the rest read; 0 good lost`);
  });
});
