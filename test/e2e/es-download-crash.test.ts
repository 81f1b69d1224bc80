/**
 * The SIGKILL crash test of the equipment-service download: the agent (a real
 * process) is killed at random moments, keyed to its own progress (start-up,
 * a transfer prepared, a package kept, a reference file staged), while it
 * downloads price lists from the EquipmentService emulator (a real HTTP
 * server) in packages: a full export first, then incremental transfers of the
 * changes the test makes in the emulator's catalogue between the runs (new
 * prices, new goods, new barcodes), and a full export the operator asks for
 * half-way after goods were withdrawn. After every restart and at the end:
 * - every reference file Kassir loaded is exactly the transfer (or the run of
 *   transfers the till merged while Kassir had not taken the previous file)
 *   1C formed, in order: no transfer lost, none delivered twice, none half;
 * - the code map never gives one Kassir code to two 1C codes, and a code once
 *   given never changes;
 * at the end Kassir's goods equal the emulator's catalogue.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { makeWorkspace, randInt, runCli } from '../helpers/kassir.js';
import { runAndKill, type KillAt } from '../helpers/kill-at.js';
import { ES_DEVICE, ES_PASSWORD, ES_USER, esEmulatorFor } from '../helpers/es-emulator.js';
import { logLines } from '../helpers/kkm-agent.js';
import type { Catalog, CatalogItem, Element } from '../../scripts/es-emulator/catalog.js';
import type { EsTransferRecord } from '../../scripts/es-emulator/server.js';

const KILLS = Number(process.env.CRASH_KILLS ?? 40);
const PER_PACKAGE = 12;
const GOODS = 180;
const env = { ES_PASSWORD };

// ------------------------------------------------------------------ the catalogue and its changes

/** Goods with plain numeric codes (they pass through) and, every seventh, a code with letters (mapped). */
function goodItem(i: number, round: number): CatalogItem {
  return {
    attrs: {
      UUID: `b0000000-0000-0000-0000-${String(i).padStart(12, '0')}`,
      Code: i % 7 === 0 ? `АРТ-${i}` : String(10_000 + i),
      Name: `Товар ${i}`,
      TaxRate: '20',
      UnitCode: '796',
      CalculationSubject: 1,
      Price: price(round, i),
      GroupCode: `Г-${i % 4}`,
    },
    barcodes: [`46${String(i).padStart(11, '0')}`],
  };
}

/** A price unique to (round, good): a good delivered twice by one transfer or by two would show it. */
function price(round: number, i: number): string {
  return ((round * 10_000 + i) / 100).toFixed(2);
}

function initialCatalog(): Catalog {
  return {
    groups: [
      { Code: 'Г-0', Name: 'Бакалея', UUID: 'a0000000-0000-0000-0000-000000000000' },
      { Code: 'Г-1', Name: 'Молочные', UUID: 'a0000000-0000-0000-0000-000000000001' },
      { Code: 'Г-2', Name: 'Сыры', UUID: 'a0000000-0000-0000-0000-000000000002', ParentGroupCode: 'Г-1' },
      { Code: 'Г-3', Name: 'Напитки', UUID: 'a0000000-0000-0000-0000-000000000003' },
    ],
    goods: Array.from({ length: GOODS }, (_, i) => goodItem(i + 1, 0)),
  };
}

/** 1C's changes between two runs: new prices for 13-30 goods (some with a new barcode), one or two new goods. */
function changeCatalog(c: Catalog, round: number, nextGood: () => number): void {
  const picked = new Set<number>();
  for (let n = randInt(13, 31); picked.size < Math.min(n, c.goods.length); ) picked.add(randInt(0, c.goods.length));
  for (const k of picked) {
    const g = c.goods[k]!;
    g.attrs.Price = price(round, Number(String(g.attrs.UUID).slice(-12)));
    if (randInt(0, 5) === 0) g.barcodes = [...(g.barcodes ?? []), `47${String(round).padStart(4, '0')}${String(k).padStart(7, '0')}`];
  }
  for (let n = randInt(1, 3); n > 0; n--) c.goods.push(goodItem(nextGood(), round));
}

// ------------------------------------------------------------------ what 1C formed and what Kassir loaded, in 1C's codes

/** A reference file reduced to what the test compares: the clear, and its data lines with 1C codes. */
interface Loaded {
  clr: boolean;
  lines: string[];
}

function transferLines(elements: Element[]): string[] {
  return elements.flatMap((e) => {
    if (e.kind === 'group') return [`G|${String(e.attrs.Code)}|${String(e.attrs.Name)}|${String(e.attrs.ParentGroupCode ?? '')}`];
    const a = e.item.attrs;
    const [first, ...more] = e.item.barcodes ?? [];
    return [`T|${String(a.Code)}|${first ?? ''}|${String(a.Name)}|${Number(a.Price).toFixed(2)}|${String(a.GroupCode ?? '')}`, ...more.map((b) => `B|${String(a.Code)}|${b}`)];
  });
}

interface CodeMapFile {
  goods: Record<string, number>;
  groups: Record<string, number>;
}

class Codes {
  readonly goods = new Map<number, string>();
  readonly groups = new Map<number, string>();
  constructor(m: CodeMapFile) {
    for (const [c, k] of Object.entries(m.goods)) this.goods.set(k, c);
    for (const [c, k] of Object.entries(m.groups)) this.groups.set(k, c);
  }
  good(k: string): string {
    return this.goods.get(Number(k)) ?? `(Kassir code ${k} not in the code map)`;
  }
  group(k: string): string {
    return k === '' ? '' : (this.groups.get(Number(k)) ?? `(Kassir group ${k} not in the code map)`);
  }
}

function readLoaded(text: string, codes: Codes): Loaded {
  const lines = text.replace(/^\uFEFF/, '').split('\r\n');
  assert.deepEqual(lines.slice(0, 2), ['##@@&&', '#']);
  assert.equal(lines.at(-1), '', 'the file ends with CRLF');
  const commands = lines.slice(2).filter((l) => l.startsWith('$$$'));
  const data = lines.slice(2, -1).filter((l) => !l.startsWith('$$$'));
  return {
    clr: commands.includes('$$$CLR'),
    lines: data.map((l) => {
      const f = l.split(';');
      if (l.startsWith('#')) return `B|${codes.good(f[0]!.slice(1))}|${f[1]}`;
      if (f[16] === '0') return `G|${codes.group(f[0]!)}|${f[2]}|${codes.group(f[15]!)}`;
      return `T|${codes.good(f[0]!)}|${f[1]}|${f[2]}|${f[4]}|${codes.group(f[15]!)}`;
    }),
  };
}

/**
 * Matches Kassir's files, in order, to the transfers 1C formed, in order. One file is one transfer, or a run
 * of them the till merged (Kassir had not taken the previous file): their lines in order, where a full export
 * (a clear) makes the transfers before it in the run irrelevant. Returns how many transfers the files account
 * for; fails on a file that is no such run (a transfer lost, half-delivered or delivered twice).
 */
function matchTransfers(files: Loaded[], transfers: { full: boolean; lines: string[] }[]): number {
  let i = 0;
  files.forEach((f, n) => {
    let found = -1;
    for (let j = i; j < transfers.length && found === -1; j++) {
      const run = transfers.slice(i, j + 1);
      const lastFull = run.findLastIndex((t) => t.full);
      const lines = run.slice(Math.max(lastFull, 0)).flatMap((t) => t.lines);
      if (f.clr === lastFull >= 0 && lines.length === f.lines.length && lines.every((l, k) => l === f.lines[k])) found = j;
    }
    const next = transfers[i];
    assert.ok(
      found !== -1,
      `reference file ${n + 1} Kassir loaded (${f.clr ? 'full' : 'incremental'}, ${f.lines.length} lines) is not transfer ${i + 1} of 1C (${next ? `${next.full ? 'full' : 'incremental'}, ${next.lines.length} lines` : 'none left'}) nor a merged run from it: a transfer lost, half-delivered or delivered twice.\nfile:\n${f.lines.slice(0, 8).join('\n')}\ntransfer:\n${next?.lines.slice(0, 8).join('\n')}`,
    );
    i = found + 1;
  });
  return i;
}

/** Kassir's goods and groups after loading the files in order (a clear empties them; a line replaces its code). */
function kassirState(files: Loaded[]): string[] {
  const goods = new Map<string, { line: string; barcodes: Set<string> }>();
  const groups = new Map<string, string>();
  for (const f of files) {
    if (f.clr) {
      goods.clear();
      groups.clear();
    }
    for (const l of f.lines) {
      const [kind, code, ...rest] = l.split('|');
      if (kind === 'G') groups.set(code!, l);
      else if (kind === 'T') goods.set(code!, { line: `${code}|${rest[1]}|${rest[2]}|${rest[3]}`, barcodes: new Set(rest[0] ? [rest[0]] : []) });
      else goods.get(code!)?.barcodes.add(rest[0]!);
    }
  }
  return [...groups.values(), ...[...goods.values()].map((g) => `${g.line}|${[...g.barcodes].sort().join(',')}`)].sort();
}

function catalogState(c: Catalog): string[] {
  return [
    ...(c.groups ?? []).map((g) => `G|${String(g.Code)}|${String(g.Name)}|${String(g.ParentGroupCode ?? '')}`),
    ...c.goods.map((g) => `${String(g.attrs.Code)}|${String(g.attrs.Name)}|${Number(g.attrs.Price).toFixed(2)}|${String(g.attrs.GroupCode ?? '')}|${[...(g.barcodes ?? [])].sort().join(',')}`),
  ].sort();
}

// ------------------------------------------------------------------ the kills

/**
 * Where a round's kill lands, keyed to the agent's progress: right after a transfer was prepared or a package
 * kept (inside the download), somewhere in its life, right after the reference file was staged (before or
 * during its delivery to the till), or in start-up recovery: right after it took over the lock the previous
 * kill left (its own log line; polling the lock file itself would, on Windows, make the agent's exclusive
 * open of it fail now and then).
 */
function killPoint(round: number): KillAt {
  const points: KillAt[] = [
    { after: ' es.transfer.prepared ', delayMs: [0, 80] },
    { after: ' es.package ', delayMs: [0, 60] },
    { after: 'store.opened', delayMs: [0, 1500] },
    { after: ' es.transfer.staged ', delayMs: [0, 20] },
    { after: ' store.lock.stale ', delayMs: [0, 60] },
  ];
  return { ...points[round % points.length]!, env };
}

/** Whether the agent died inside a download: a transfer prepared or a package kept after the last staged or empty one. */
function diedDownloading(output: string): boolean {
  const last = (s: string) => output.lastIndexOf(s);
  return Math.max(last(' es.transfer.prepared '), last(' es.package ')) > Math.max(last(' es.transfer.staged '), last(' es.transfer.empty '));
}

describe('SIGKILL at random moments during equipment-service downloads (the agent, the emulator over HTTP)', () => {
  it(`every transfer reaches Kassir whole and once, the code map stays one-to-one, across ${KILLS} kills`, { timeout: 900_000 }, async (t) => {
    const catalog = initialCatalog();
    let lastGood = GOODS;
    const emu = await esEmulatorFor(t, { devices: { [ES_DEVICE]: { version: 3003, perPackage: PER_PACKAGE } }, catalog: structuredClone(catalog) });
    const ws = await makeWorkspace(
      { log: { level: 'debug', dir: 'log', console: true } },
      { type: 'equipment-service', url: emu.url, user: ES_USER, password: '${ES_PASSWORD}', deviceId: ES_DEVICE, taxGroups: { '20': 1 }, timeoutMs: 5_000, formPollMs: 10, formWaitMs: 3_000 },
    );
    t.after(() => ws.cleanup());
    const reference = join(ws.till, 'POS1.spr');
    /** The files Kassir loaded, as read. */
    const loaded: string[] = [];
    const kassirLoads = async () => {
      const text = await fs.readFile(reference, 'utf8').catch(() => undefined);
      if (text === undefined || !text.startsWith('\uFEFF##@@&&\r\n#\r\n')) return;
      loaded.push(text);
      await fs.writeFile(reference, text.replace('\r\n#\r\n', '\r\n@\r\n'));
    };
    /** Every (1C code -> Kassir code) the map ever held: a code once given must never change. */
    const given = { goods: new Map<string, number>(), groups: new Map<string, number>() };
    const check = async (when: string): Promise<{ files: Loaded[]; accounted: number; transfers: EsTransferRecord[] }> => {
      const text = await fs.readFile(join(ws.data, 'equipment-service', 'codes.json'), 'utf8').catch(() => '{"goods":{},"groups":{}}');
      const map = JSON.parse(text) as CodeMapFile;
      for (const kind of ['goods', 'groups'] as const) {
        const values = Object.values(map[kind]);
        assert.equal(new Set(values).size, values.length, `${when}: the code map gives one Kassir code to two 1C ${kind} codes`);
        for (const [c, k] of Object.entries(map[kind])) {
          assert.ok(kind === 'goods' ? k < 900_000_000 : k >= 900_000_000, `${when}: ${kind} code ${c} -> ${k} outside its range`);
          assert.equal(given[kind].get(c) ?? k, k, `${when}: 1C ${kind} code ${c} changed its Kassir code`);
          given[kind].set(c, k);
        }
        for (const [c, k] of given[kind]) assert.equal(map[kind][c], k, `${when}: 1C ${kind} code ${c} (Kassir ${k}) left the code map`);
      }
      const codes = new Codes(map);
      const files = loaded.map((l) => readLoaded(l, codes));
      // Transfers without goods deliver nothing.
      const transfers = emu.transfers.filter((x) => x.elements.some((e) => e.kind === 'good'));
      try {
        const accounted = matchTransfers(files, transfers.map((x) => ({ full: x.full, lines: transferLines(x.elements) })));
        return { files, accounted, transfers };
      } catch (e) {
        throw new Error(`${when}: ${(e as Error).message}\n${await history(transfers)}`, { cause: e });
      }
    };

    /** What 1C formed and what the agent did with it, for a failure's message. */
    const history = async (transfers: EsTransferRecord[]) => {
      const short = (tid: unknown) => String(tid).slice(0, 8);
      const formed = transfers.map((x, i) => `transfer ${i + 1}: ${short(x.tid)} ${x.full ? 'full' : 'incremental'}, ${x.packages} packages, ${transferLines(x.elements).length} lines`);
      const calls = emu.requests
        .filter((q) => q.op.startsWith('Prepare') || q.op === 'GetPriceListPackage')
        .map((q) => (q.op === 'GetPriceListPackage' ? `  get ${short(q.params.TransferID)}${q.params.Restart === 'true' ? ' R' : ''} -> ${q.answer ?? q.result}` : `${q.op} -> ${short(q.answer ?? q.result)}`));
      const events = (await logLines(ws))
        .filter((l) => /^(es\.|pull\.|till\.reference|store\.opened)/.test(String(l.event)))
        .map((l) => `${String(l.event)} ${short(l.transfer ?? '')} ${l.package ?? ''}${l.total !== undefined ? `/${String(l.total)}` : ''} ${l.note ?? l.error ?? ''}`);
      return ['1C formed:', ...formed, '1C was asked:', ...calls.slice(-150), 'the agent logged:', ...events.slice(-200)].join('\n');
    };

    const FULL_AT = Math.floor(KILLS / 2);
    let reached = 0;
    const missed: string[] = [];
    let downloading = 0;
    for (let round = 0; round < KILLS; round++) {
      if (round > 0) {
        changeCatalog(catalog, round, () => ++lastGood);
        if (round === FULL_AT) {
          // Goods withdrawn in 1C leave the till only with a full export: the operator asks for one.
          catalog.goods.splice(randInt(0, catalog.goods.length - 3), 3);
          const asked = await runCli(['full-export', '--config', ws.configFile], { env });
          assert.equal(asked.code, 0, asked.stdout + asked.stderr);
            }
        emu.setCatalog(structuredClone(catalog));
      }
      const k = await runAndKill(ws.configFile, killPoint(round));
      if (k.reached) reached++;
      else missed.push(`round ${round} (${String(killPoint(round).after).trim()}): ${k.output.split('\n').slice(-6).join(' | ')}`);
      if (diedDownloading(k.output)) downloading++;
      await kassirLoads();
      await check(`after kill ${round + 1}`);
    }

    // Let it finish: Kassir takes each file as it comes; run --once until nothing is pending and nothing waits.
    let finished = false;
    for (let i = 0; i < 20 && !finished; i++) {
      const before = loaded.length;
      const r = await runCli(['run', '--once', '--config', ws.configFile], { env });
      assert.ok(r.code === 0 || r.code === 3, r.stdout + r.stderr);
      await kassirLoads();
      finished = r.code === 0 && loaded.length === before;
    }
    assert.ok(finished, 'run --once reached "nothing pending" with nothing new for Kassir');

    const { files, accounted, transfers } = await check('at the end');
    assert.equal(accounted, transfers.length, `every transfer 1C formed reached Kassir (${accounted} of ${transfers.length})`);
    assert.deepEqual(kassirState(files), catalogState(catalog), "Kassir's goods and groups equal the emulator's catalogue");
    const fulls = transfers.filter((x) => x.full).length;
    // A kill inside a transfer costs it (a package 1C returned to a dead agent is asked for again from package 1),
    // and the changes of the rounds until one is done go into one transfer; every fifth round lets one be staged.
    assert.ok(fulls >= 2 && transfers.length - fulls >= 2, `a full export, incremental transfers, the full export asked for (${fulls} full of ${transfers.length})`);
    assert.ok(transfers.every((x) => x.packages >= 2), 'every transfer comes in several packages');
    assert.equal(reached, KILLS, `every kill came at its milestone; not: ${missed.join('\n')}`);
    // Two rounds in five kill right after a transfer was prepared or a package kept: most of those die inside it.
    assert.ok(downloading >= KILLS / 10, `the kills hit an agent inside a download (${downloading} of ${KILLS})`);
    const restarts = emu.requests.filter((q) => q.op === 'GetPriceListPackage' && q.params.Restart === 'true').length;
    const packages = emu.requests.filter((q) => q.op === 'GetPriceListPackage' && q.result === 'ok').length;
    console.log(
      `# es download crash test: ${KILLS} kills (${downloading} inside a download), ${transfers.length} transfers (${fulls} full) in ${packages} package answers (${restarts} with Restart), ${files.length} reference files loaded by Kassir: 0 lost, 0 duplicated, 0 half`,
    );
  });
});
