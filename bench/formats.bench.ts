/**
 * Formats: SPR merge throughput vs `cat` of the same parts, report parsing vs
 * `wc -l` of the same file, and the merge's peak RSS at two input sizes, all
 * measured in the same run on the same (page-cached) files.
 * Targets: merge >= 0.5x cat, parsing >= 0.3x wc -l, RSS flat as input grows.
 *
 * Method (see lib/measure.ts and BENCHMARKS.md): one warm-up round, then
 * BENCH_RUNS (default 7) interleaved rounds of the agent and its baseline,
 * each run after a full GC; medians are compared. `true` is timed the same
 * way: it is the cost of spawning a command, included in every baseline.
 */
import { mkdir, readFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { emptyPackage, planAppend } from '../src/formats/batcher.js';
import { readFilePooled } from '../src/formats/pooled-read.js';
import { parseReport } from '../src/formats/report.js';
import { mergeSprParts } from '../src/formats/spr.js';
import { writeReport, writeSprParts } from './lib/generate.js';
import { MB, benchRuns, command, interleaved, mbps, ratio, runChild, scale, showStats, table } from './lib/measure.js';
import { makeTempDir, removeDir } from '../test/helpers/temp-dir.js';

const child = fileURLToPath(new URL('./lib/merge-child.ts', import.meta.url));
const LF = 0x0a;

/** The floor of any line-by-line parser in JS: one Buffer.indexOf per line, nothing else. */
function lineLoop(data: Buffer): number {
  let lines = 0;
  for (let p = 0; p < data.length; lines++) {
    const lf = data.indexOf(LF, p);
    p = lf === -1 ? data.length : lf + 1;
  }
  return lines;
}

/** Reads and parses a report as the collector does: into a pooled buffer, given back once the units are done with. */
async function readParsePooled(path: string, name: string): Promise<number> {
  const file = await readFilePooled(path);
  try {
    return parseReport(file.data, name).units.length;
  } finally {
    file.release();
  }
}

/** Batches every unit as the collector does (packages of 1000 transactions), in memory. */
function batchAll(units: ReturnType<typeof parseReport>['units']): number {
  let state = emptyPackage;
  let bytes = 0;
  for (const u of units) {
    const plan = planAppend(state, u, 1000);
    state = plan.state.transactions >= 1000 ? emptyPackage : plan.state;
    bytes += plan.chunk.length;
  }
  return bytes;
}

export default async function formatsBench(): Promise<void> {
  const s = scale();
  const runs = benchRuns(7);
  const dir = await makeTempDir('kassir-bench-formats');
  try {
    const sprBytes = Math.round(200 * MB * s);
    const repBytes = Math.round(100 * MB * s);
    const parts = await writeSprParts(await mkdirp(join(dir, 'spr')), 8, sprBytes / 8);
    const clearParts = await writeSprParts(await mkdirp(join(dir, 'spr-clear')), 8, sprBytes / 8, { lastCommands: '$$$CLR{NO_TOV}{USR}' });
    const report = join(dir, 'POS1.rep');
    await writeReport(report, repBytes);
    const realReport = join(dir, 'POS13.rep');
    await writeReport(realReport, repBytes, { real: true });
    const out = await mkdirp(join(dir, 'out'));
    const named = (ps: string[]) => ps.map((p) => ({ path: p, name: basename(p) }));
    const size = async (ps: string[]) => (await Promise.all(ps.map((p) => readFile(p).then((b) => b.length)))).reduce((a, b) => a + b, 0);
    const total = await size(parts);
    const totalClear = await size(clearParts);

    // SPR merge: every output (cat's and ours) is rewritten in place each run, after the warm-up made them full size.
    const m = await interleaved(runs, {
      cat: command('cat', parts, join(out, 'cat.spr')),
      merge: () => mergeSprParts(named(parts), out),
      catClear: command('cat', clearParts, join(out, 'cat-clear.spr')),
      mergeClear: () => mergeSprParts(named(clearParts), out, { filePrefix: 'clear-' }),
      spawn: command('true', []),
    });

    // Report parsing; `data` is the same file, read once for the in-memory rows.
    const data = await readFile(report);
    const lines = lineLoop(data);
    const units = parseReport(data, 'POS1.rep').units;
    const realData = await readFile(realReport);
    const realLines = lineLoop(realData);
    const realUnits = parseReport(realData, 'POS13.rep').units;
    const tagLines = realUnits.reduce((k, u) => k + u.lines.filter((l) => l[0] === 0x3c || l[0] === 0x7b || l[0] === 0x20 || l[0] === 0x7d).length, 0);
    const r = await interleaved(runs, {
      wc: command('wc', ['-l', report]),
      readParse: () => readParsePooled(report, 'POS1.rep'),
      readFileParse: async () => parseReport(await readFile(report), 'POS1.rep'),
      read: () => readFile(report),
      readPooled: async () => (await readFilePooled(report)).release(),
      parse: () => parseReport(data, 'POS1.rep'),
      lineLoop: () => lineLoop(data),
      batch: () => batchAll(units),
      wcReal: command('wc', ['-l', realReport]),
      readParseReal: () => readParsePooled(realReport, 'POS13.rep'),
      parseReal: () => parseReport(realData, 'POS13.rep'),
      batchReal: () => batchAll(realUnits),
      spawn: command('true', []),
    });

    console.log(`SPR: 8 parts, ${(total / MB).toFixed(0)} MB; report: ${(data.length / MB).toFixed(0)} MB, ${lines} lines, ${units.length} units; real-format report: ${(realData.length / MB).toFixed(0)} MB, ${realLines} lines (${((100 * tagLines) / realLines).toFixed(1)}% in tag blocks), ${realUnits.length} units; median of ${runs} interleaved runs (best in brackets)\n`);
    const nsPerLine = (ms: number) => `${((ms * 1e6) / lines).toFixed(0)} ns/line`;
    table(
      ['what', 'time', 'throughput', 'ratio vs baseline', 'target'],
      [
        ['`true` (spawn cost, inside every baseline)', showStats(m.spawn), '', '', ''],
        ['`cat parts > file` (baseline)', showStats(m.cat), mbps(total, m.cat.median), '1.00', ''],
        ['mergeSprParts (no clear)', showStats(m.merge), mbps(total, m.merge.median), ratio(m.cat, m.merge), '>= 0.5x'],
        ['`cat clear-parts > file` (baseline)', showStats(m.catClear), mbps(totalClear, m.catClear.median), '1.00', ''],
        ['mergeSprParts (clear at end: drops earlier users)', showStats(m.mergeClear), mbps(totalClear, m.mergeClear.median), ratio(m.catClear, m.mergeClear), ''],
        ['`wc -l report` (baseline)', showStats(r.wc), mbps(data.length, r.wc.median), '1.00', ''],
        ['read (pooled buffer, as the collector) + parseReport', showStats(r.readParse), mbps(data.length, r.readParse.median), ratio(r.wc, r.readParse), '>= 0.3x'],
        ['of which the pooled read alone', showStats(r.readPooled), mbps(data.length, r.readPooled.median), ratio(r.wc, r.readPooled), ''],
        ['fs.readFile + parseReport (a fresh buffer of the whole file)', showStats(r.readFileParse), mbps(data.length, r.readFileParse.median), ratio(r.wc, r.readFileParse), ''],
        ['of which fs.readFile alone', showStats(r.read), mbps(data.length, r.read.median), ratio(r.wc, r.read), ''],
        ['parseReport (in memory)', showStats(r.parse), `${mbps(data.length, r.parse.median)}, ${nsPerLine(r.parse.median)}`, ratio(r.wc, r.parse), ''],
        ['floor: one Buffer.indexOf per line, nothing else', showStats(r.lineLoop), `${mbps(data.length, r.lineLoop.median)}, ${nsPerLine(r.lineLoop.median)}`, ratio(r.wc, r.lineLoop), ''],
        ['planAppend of every unit (1000 per package)', showStats(r.batch), mbps(data.length, r.batch.median), '', ''],
        ['`wc -l` real-format report (baseline)', showStats(r.wcReal), mbps(realData.length, r.wcReal.median), '1.00', ''],
        ['pooled read + parseReport, real format', showStats(r.readParseReal), mbps(realData.length, r.readParseReal.median), ratio(r.wcReal, r.readParseReal), ''],
        ['parseReport (in memory), real format', showStats(r.parseReal), `${mbps(realData.length, r.parseReal.median)}, ${((r.parseReal.median * 1e6) / realLines).toFixed(0)} ns/line`, ratio(r.wcReal, r.parseReal), ''],
        ['planAppend of every unit, real format', showStats(r.batchReal), mbps(realData.length, r.batchReal.median), '', ''],
      ],
    );

    // Peak RSS in fresh child processes: idle baseline, a quarter of the input, all of it.
    const idle = runChild<{ maxRssMB: number }>(child, [out, 'idle']);
    const quarter = runChild<{ maxRssMB: number; ms: number }>(child, [out, ...parts.slice(0, 2)]);
    const full = runChild<{ maxRssMB: number; ms: number }>(child, [out, ...parts]);
    console.log('');
    table(
      ['merge input', 'peak RSS (child process)', 'above idle process'],
      [
        ['none (node + tsx, module loaded)', `${idle.maxRssMB.toFixed(0)} MB`, ''],
        [`${((total / 4) / MB).toFixed(0)} MB (2 parts)`, `${quarter.maxRssMB.toFixed(0)} MB`, `${(quarter.maxRssMB - idle.maxRssMB).toFixed(0)} MB`],
        [`${(total / MB).toFixed(0)} MB (8 parts)`, `${full.maxRssMB.toFixed(0)} MB`, `${(full.maxRssMB - idle.maxRssMB).toFixed(0)} MB`],
      ],
    );
  } finally {
    await removeDir(dir);
  }
}

async function mkdirp(p: string): Promise<string> {
  await mkdir(p, { recursive: true });
  return p;
}
