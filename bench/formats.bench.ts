/**
 * Formats: SPR merge throughput vs `cat` of the same parts, report parsing vs
 * `wc -l` of the same file, and the merge's peak RSS at two input sizes, all
 * measured in the same run on the same (page-cached) files.
 * Targets: merge >= 0.5x cat, parsing >= 0.3x wc -l, RSS flat as input grows.
 */
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseReport } from '../src/formats/report.js';
import { mergeSprParts } from '../src/formats/spr.js';
import { writeReport, writeSprParts } from './lib/generate.js';
import { MB, bestOf, bestOfCommand, mbps, runChild, scale, table } from './lib/measure.js';

const child = fileURLToPath(new URL('./lib/merge-child.ts', import.meta.url));

export default async function formatsBench(): Promise<void> {
  const s = scale();
  const dir = await mkdtemp(join(tmpdir(), 'kassir-bench-formats-'));
  try {
    const sprBytes = Math.round(200 * MB * s);
    const repBytes = Math.round(100 * MB * s);
    const parts = await writeSprParts(await mkdirp(join(dir, 'spr')), 8, sprBytes / 8);
    const clearParts = await writeSprParts(await mkdirp(join(dir, 'spr-clear')), 8, sprBytes / 8, { lastCommands: '$$$CLR{NO_TOV}{USR}' });
    const report = join(dir, 'POS1.rep');
    await writeReport(report, repBytes);
    const out = await mkdirp(join(dir, 'out'));
    const named = (ps: string[]) => ps.map((p) => ({ path: p, name: basename(p) }));
    const total = (await Promise.all(parts.map((p) => readFile(p).then((b) => b.length)))).reduce((a, b) => a + b, 0);

    // Warm the page cache, then measure each side best-of-3.
    await bestOfCommand(1, 'cat', [...parts, ...clearParts, report]);
    const catFile = await bestOfCommand(3, 'cat', parts, join(out, 'cat.spr'));
    const catNull = await bestOfCommand(3, 'cat', parts);
    const merge = await bestOf(3, () => mergeSprParts(named(parts), out));
    const mergeClear = await bestOf(3, () => mergeSprParts(named(clearParts), out, { filePrefix: 'clear-' }));
    const wc = await bestOfCommand(3, 'wc', ['-l', report]);
    let units = 0;
    const parse = await bestOf(3, async () => {
      units = parseReport(await readFile(report), 'POS1.rep').units.length;
    });
    const data = await readFile(report);
    const parseOnly = await bestOf(3, () => parseReport(data, 'POS1.rep'));

    console.log(`SPR: 8 parts, ${(total / MB).toFixed(0)} MB; report: ${(data.length / MB).toFixed(0)} MB, ${units} units\n`);
    table(
      ['what', 'time', 'throughput', 'ratio vs baseline', 'target'],
      [
        ['`cat parts > file` (baseline)', `${catFile.toFixed(0)} ms`, mbps(total, catFile), '1.00', ''],
        ['`cat parts > /dev/null`', `${catNull.toFixed(0)} ms`, mbps(total, catNull), '', ''],
        ['mergeSprParts (no clear: copy path)', `${merge.toFixed(0)} ms`, mbps(total, merge), `${(catFile / merge).toFixed(2)}x`, '>= 0.5x'],
        ['mergeSprParts (clear at end: drops earlier users)', `${mergeClear.toFixed(0)} ms`, mbps(total, mergeClear), `${(catFile / mergeClear).toFixed(2)}x`, ''],
        ['`wc -l report` (baseline)', `${wc.toFixed(0)} ms`, mbps(data.length, wc), '1.00', ''],
        ['readFile + parseReport', `${parse.toFixed(0)} ms`, mbps(data.length, parse), `${(wc / parse).toFixed(2)}x`, '>= 0.3x'],
        ['parseReport (in memory)', `${parseOnly.toFixed(0)} ms`, mbps(data.length, parseOnly), `${(wc / parseOnly).toFixed(2)}x`, ''],
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
    await rm(dir, { recursive: true, force: true });
  }
}

async function mkdirp(p: string): Promise<string> {
  await mkdir(p, { recursive: true });
  return p;
}
