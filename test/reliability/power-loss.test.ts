/**
 * Power loss: the data folder's files damaged the way an interrupted write on
 * a disk that lied about fsync leaves them (truncated, zero-length, NUL-filled,
 * the last record cut), then the agent (the compiled one, a real process)
 * started again. It must recover what is intact, quarantine the rest with a
 * log line that says what happened, never resend what was delivered, and
 * never start empty-handed without saying so. The reports hold whole shifts:
 * the shift ledger after the repair equals the figures of the lines written,
 * and the shifts whose packages went out are delivered.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Store } from '../../src/store/store.js';
import { nullLogger } from '../../src/util/logger.js';
import { BLOCK_HEADER, makeWorkspace, receiptsText, sharePackages, transactionNumbers, type Workspace } from '../helpers/kassir.js';
import { agentCli } from './agent-build.js';
import { runAgent } from './agent-run.js';
import { KassirSim, compareSequences } from '../helpers/kassir-sim.js';
import { comparable } from '../helpers/shift-writer.js';
import type { ShiftRecord } from '../../src/shifts/record.js';

type Damage = 'truncate-half' | 'zero-length' | 'nul-filled' | 'last-record-cut';
const DAMAGES: Damage[] = ['truncate-half', 'zero-length', 'nul-filled', 'last-record-cut'];

async function damage(path: string, how: Damage): Promise<void> {
  const data = await fs.readFile(path);
  switch (how) {
    case 'truncate-half':
      await fs.writeFile(path, data.subarray(0, Math.floor(data.length / 2)));
      break;
    case 'zero-length':
      await fs.writeFile(path, '');
      break;
    case 'nul-filled':
      await fs.writeFile(path, Buffer.alloc(data.length));
      break;
    case 'last-record-cut': {
      // The last line (record) cut in the middle, as an interrupted append leaves it.
      const text = data.toString('latin1').replace(/[\r\n]+$/, '');
      const lastStart = text.lastIndexOf('\n') + 1;
      await fs.writeFile(path, Buffer.from(text.slice(0, lastStart + Math.floor((text.length - lastStart) / 2)), 'latin1'));
      break;
    }
  }
}

interface LogLine {
  level: string;
  event: string;
  [k: string]: unknown;
}

async function logLines(ws: Workspace): Promise<LogLine[]> {
  const out: LogLine[] = [];
  for (const n of (await fs.readdir(ws.logs).catch(() => [] as string[])).filter((x) => x.endsWith('.log'))) {
    for (const l of (await fs.readFile(join(ws.logs, n), 'utf8')).split('\n')) {
      try {
        out.push(JSON.parse(l) as LogLine);
      } catch {
        // a line torn by a kill
      }
    }
  }
  return out;
}

let cli: string;
before(async () => {
  cli = await agentCli();
});

/**
 * A till that has delivered some packages ($1..$k on the share) and holds more
 * queued (the share was away): the state worth damaging.
 */
async function tillWithHistory(): Promise<{ ws: Workspace; kassir: KassirSim; deliveredBefore: number[] }> {
  const ws = await makeWorkspace({ batch: { maxTransactions: 7, flushMs: 0 }, log: { level: 'info', dir: 'log', console: false } });
  const kassir = new KassirSim(ws.till, { shifts: true });
  await kassir.sell();
  await kassir.sell();
  const first = await runAgent({ cli, configFile: ws.configFile, mode: 'once' });
  assert.equal(first.code, 0, first.stderr);
  const deliveredBefore = (await sharePackages(ws.share)).flatMap((p) => transactionNumbers(p.data));
  await fs.rename(ws.share, `${ws.share}.away`);
  await kassir.sell();
  await kassir.sell();
  const second = await runAgent({ cli, configFile: ws.configFile, mode: 'once' });
  assert.equal(second.code, 3, 'share away: packages stay queued');
  await fs.rename(`${ws.share}.away`, ws.share);
  return { ws, kassir, deliveredBefore };
}

async function finish(ws: Workspace): Promise<{ code: number | null; stderr: string }> {
  let r = await runAgent({ cli, configFile: ws.configFile, mode: 'once' });
  for (let i = 0; i < 5 && r.code === 3; i++) r = await runAgent({ cli, configFile: ws.configFile, mode: 'once' });
  return r;
}

/** `shifts --json` of the compiled agent. */
async function shifts(ws: Workspace): Promise<ShiftRecord[]> {
  const r = await runAgent({ cli, configFile: ws.configFile, mode: 'once', args: ['shifts', '--json', '--config', ws.configFile] });
  assert.equal(r.code, 0, r.stderr);
  return (JSON.parse(r.stdout) as { shifts: ShiftRecord[] }).shifts;
}

/** The ledger equals the figures of the lines written; every closed shift is delivered unless a package of it is in `lostPackages`. */
async function assertLedger(ws: Workspace, kassir: KassirSim, lostPackages: number[] = []): Promise<void> {
  const got = await shifts(ws);
  assert.deepEqual(got.map(comparable), kassir.expectedShifts(), 'the shift ledger equals the figures of the lines written');
  for (const s of got.filter((x) => x.state === 'closed')) {
    const lost = s.packages.some((p) => lostPackages.includes(p));
    assert.equal(s.delivered, !lost, `shift ${s.number} (packages ${s.packages.join(',')}) delivered: ${!lost}`);
  }
}

async function quarantined(ws: Workspace): Promise<string[]> {
  return (await fs.readdir(join(ws.data, 'quarantine')).catch(() => [] as string[])).sort();
}

const workspaces: Workspace[] = [];
after(async () => {
  for (const ws of workspaces) await ws.cleanup();
});

describe('power loss: damaged files in the data folder', { concurrency: 2 }, () => {
  for (const how of DAMAGES) {
    it(`newest state slot ${how}: recovered from the other slot, the damaged one quarantined and logged, nothing resent`, async () => {
      const { ws, kassir, deliveredBefore } = await tillWithHistory();
      workspaces.push(ws);
      const slots = await Promise.all(
        ['state.a.json', 'state.b.json'].map(async (n) => ({ n, seq: (JSON.parse(await fs.readFile(join(ws.data, n), 'utf8')) as { seq: number }).seq })),
      );
      const newest = slots.sort((a, b) => b.seq - a.seq)[0]!.n;
      await damage(join(ws.data, newest), how);
      const r = await finish(ws);
      assert.equal(r.code, 0, r.stderr);
      const sent = (await sharePackages(ws.share)).flatMap((p) => transactionNumbers(p.data));
      const cmp = compareSequences(kassir.written, sent);
      assert.equal(cmp.duplicated, 0, 'nothing delivered before was resent');
      assert.equal(cmp.lost, 0, 'the queued packages went out');
      assert.ok(sent.length >= deliveredBefore.length);
      assert.ok((await quarantined(ws)).some((q) => q.includes(newest)), `${newest} is in quarantine: ${await quarantined(ws)}`);
      const lines = await logLines(ws);
      assert.ok(lines.some((l) => l.event === 'store.state.damaged' && l.level === 'warn'), 'a warning names the damaged slot');
      await assertLedger(ws, kassir);
    });
  }

  it('both state slots NUL-filled: the agent says it starts without its state, rebuilds the counter, and resends nothing delivered', async () => {
    const { ws, kassir } = await tillWithHistory();
    workspaces.push(ws);
    for (const n of ['state.a.json', 'state.b.json']) await damage(join(ws.data, n), 'nul-filled');
    const r = await finish(ws);
    assert.equal(r.code, 0, r.stderr);
    const lines = await logLines(ws);
    assert.ok(lines.some((l) => l.event === 'store.state.lost' && l.level === 'error'), 'an error line says the state was lost');
    const pkgs = await sharePackages(ws.share);
    assert.deepEqual(pkgs.map((p) => p.n), pkgs.map((_, i) => i + 1), 'no package number reused');
    const sent = pkgs.flatMap((p) => transactionNumbers(p.data));
    const cmp = compareSequences(kassir.written, sent);
    assert.equal(cmp.duplicated, 0, 'nothing resent');
    // What could not be sent must at least be kept: every transaction is on the share or in a quarantined file.
    const kept = new Set(sent);
    for (const q of await quarantined(ws)) for (const t of transactionNumbers(await fs.readFile(join(ws.data, 'quarantine', q), 'latin1'))) kept.add(t);
    const gone = kassir.written.filter((t) => !kept.has(t));
    assert.deepEqual(gone, [], 'transactions neither delivered nor quarantined (the open package was truncated at start-up although its sources were already released)');
  });

  for (const how of DAMAGES) {
    it(`a queued package's meta (<n>.json) ${how}: rebuilt from the package bytes, quarantined, delivered once`, async () => {
      const { ws, kassir } = await tillWithHistory();
      workspaces.push(ws);
      const metas = (await fs.readdir(join(ws.data, 'outbox'))).filter((n) => /^\d+\.json$/.test(n));
      assert.ok(metas.length > 0, 'packages are queued');
      await damage(join(ws.data, 'outbox', metas[0]!), how);
      const r = await finish(ws);
      assert.equal(r.code, 0, r.stderr);
      const cmp = compareSequences(kassir.written, (await sharePackages(ws.share)).flatMap((p) => transactionNumbers(p.data)));
      assert.deepEqual(cmp, { lost: 0, duplicated: 0, outOfOrder: 0 });
      assert.ok((await quarantined(ws)).length > 0, 'the damaged meta is in quarantine');
      assert.ok((await logLines(ws)).some((l) => l.event === 'store.recover.meta-rebuilt'), 'the repair is logged');
      await assertLedger(ws, kassir);
    });
  }

  for (const how of ['truncate-half', 'nul-filled', 'last-record-cut'] as Damage[]) {
    it(`a queued package's bytes (<n>.rep) ${how}: never sent as it is under a final name; quarantined with a log line`, async () => {
      const { ws, kassir } = await tillWithHistory();
      workspaces.push(ws);
      const reps = (await fs.readdir(join(ws.data, 'outbox'))).filter((n) => /^\d+\.rep$/.test(n)).sort((a, b) => parseInt(a) - parseInt(b));
      assert.ok(reps.length > 0, 'packages are queued');
      const victim = reps[0]!;
      const victimTxs = transactionNumbers(await fs.readFile(join(ws.data, 'outbox', victim), 'latin1'));
      await damage(join(ws.data, 'outbox', victim), how);
      await finish(ws);
      // The rest keeps flowing: everything but the damaged package reaches the share.
      const sent = new Set((await sharePackages(ws.share)).flatMap((p) => transactionNumbers(p.data)));
      const stuck = kassir.written.filter((t) => !sent.has(t) && !victimTxs.includes(t));
      assert.deepEqual(stuck, [], `packages after the damaged ${victim} are held up behind it`);
      for (const p of await sharePackages(ws.share)) {
        assert.ok(p.data.startsWith('#\r\n') && p.data.endsWith('\r\n') && !p.data.includes('\0'), `${p.name} is a damaged package delivered as if whole: ${JSON.stringify(p.data.slice(-80))}`);
      }
      assert.ok((await quarantined(ws)).some((q) => q.includes(victim.replace('.rep', ''))), `package ${victim} is in quarantine`);
      assert.ok((await logLines(ws)).some((l) => (l.level === 'error' || l.level === 'warn') && JSON.stringify(l).includes(victim.replace('.rep', ''))), 'a log line names it');
      // Its transactions were counted when taken over; its shift is never delivered whole.
      await assertLedger(ws, kassir, [parseInt(victim)]);
    });
  }

  it('the history journal with its last record cut: the agent runs on; the torn line is skipped, not fatal', async () => {
    const { ws, kassir } = await tillWithHistory();
    workspaces.push(ws);
    const days = (await fs.readdir(join(ws.data, 'history'))).filter((n) => n.endsWith('.jsonl'));
    assert.ok(days.length > 0);
    await damage(join(ws.data, 'history', days[0]!), 'last-record-cut');
    const r = await finish(ws);
    assert.equal(r.code, 0, r.stderr);
    const cmp = compareSequences(kassir.written, (await sharePackages(ws.share)).flatMap((p) => transactionNumbers(p.data)));
    assert.deepEqual(cmp, { lost: 0, duplicated: 0, outOfOrder: 0 });
    const h = await runAgent({ cli, configFile: ws.configFile, mode: 'once', args: ['history', '--config', ws.configFile] });
    assert.equal(h.code, 0, h.stderr);
    await assertLedger(ws, kassir);
  });
});

/**
 * What a power cut leaves of a folder tree, from the agent's fsync trace
 * (KASSIR_FSYNC_TRACE, see util/fsutil.ts): a file keeps only the bytes it
 * had when it was last fsynced (none if never), and a file in `entriesOf`
 * keeps its name only if that folder was fsynced after the file was.
 */
async function dropUnsynced(root: string, traceFile: string, entriesOf: string): Promise<void> {
  const lines = (await fs.readFile(traceFile, 'utf8').catch(() => '')).split('\n');
  const synced = new Map<string, { size: number; at: number }>();
  const dirSynced = new Map<string, number>();
  lines.forEach((l, at) => {
    const [kind, a, b] = l.split(' ');
    if (kind === 'F') synced.set(a!, { size: Number(b), at });
    else if (kind === 'D') dirSynced.set(resolve(l.slice(2)), at);
  });
  const walk = async (dir: string): Promise<string[]> =>
    (await Promise.all((await fs.readdir(dir, { withFileTypes: true })).map((e) => (e.isDirectory() ? walk(join(dir, e.name)) : [join(dir, e.name)])))).flat();
  for (const file of await walk(root)) {
    const st = await fs.stat(file);
    const s = synced.get(`${st.dev}:${st.ino}`);
    if (resolve(dirname(file)) === resolve(entriesOf) && (s === undefined || (dirSynced.get(resolve(entriesOf)) ?? -1) < s.at)) {
      await fs.rm(file);
      continue;
    }
    if (st.size > (s?.size ?? 0)) await fs.truncate(file, s?.size ?? 0);
  }
}

describe('power loss right after a quarantine', () => {
  it('a damaged open package quarantined at start-up, the agent killed right after the original went, unsynced data dropped: the quarantined copy is whole', async () => {
    const ws = await makeWorkspace({ log: { level: 'info', dir: 'log', console: false } });
    workspaces.push(ws);
    const store = new Store(ws.data, { retentionDays: 30 }, nullLogger);
    await store.open();
    const text = BLOCK_HEADER + receiptsText([{ receipt: 1 }, { receipt: 2 }], 1).text;
    await store.appendPlanned(() => ({ chunk: Buffer.from(text, 'latin1'), edit: (d) => {
      d.open.pkg = { transactions: 2, bytes: text.length };
    }, result: undefined }));
    await store.close();
    // A power cut shortened the open package below what the state committed: start-up quarantines it.
    const kept = Buffer.from(text.slice(0, text.length - 5), 'latin1');
    await fs.truncate(join(ws.data, 'outbox', 'open.rep'), kept.length);
    const traceFile = join(ws.root, 'fsync-trace');
    const r = await runAgent({ cli, configFile: ws.configFile, mode: 'once', failpoints: 'store.recover.after-quarantine', env: { KASSIR_FSYNC_TRACE: traceFile } });
    assert.deepEqual(r.fired, ['store.recover.after-quarantine'], r.stderr);
    await assert.rejects(fs.stat(join(ws.data, 'outbox', 'open.rep')), 'the original is gone');
    await dropUnsynced(ws.data, traceFile, join(ws.data, 'quarantine'));
    const names = await quarantined(ws);
    const copy = names.find((n) => n.endsWith('open.rep'));
    assert.ok(copy, `the quarantined copy survived the power cut: ${names.join(', ')}`);
    assert.ok((await fs.readFile(join(ws.data, 'quarantine', copy))).equals(kept), 'the quarantined copy is whole');
    assert.match(await fs.readFile(join(ws.data, 'quarantine', `${copy}.why.txt`), 'utf8'), /shorter .* than committed/);
  });
});
