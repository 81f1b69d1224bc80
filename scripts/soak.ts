/**
 * `npm run soak -- --minutes N [--transports folder,ftp,kkmtransfer,equipment-service] [--rounds R] [--no-write | --out FILE]`
 *
 * Runs the reliability harness (test/reliability/harness.ts) continuously for
 * N minutes: per transport in turn, kills at every fail point, random kills and
 * network faults in scenarios of R rounds each, plus the hostile-input property
 * tests (test/fuzz) with more inputs; adds the figures up and (re)writes
 * RELIABILITY.md after every scenario, so an interrupted soak still leaves the
 * figures so far. Exits 1 if any invariant was broken (lost, duplicated, out of
 * order, temporary file under a final name, hang, password in a log; for the
 * EquipmentService: a closed shift not in 1C once with Kassir's sums).
 */
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { FAILPOINTS } from '../src/util/failpoints.js';
import { TRANSPORTS, type TransportKind } from '../test/reliability/backends.js';
import { runScenario, type Figures, type Plan } from '../test/reliability/harness.js';
import type { ShiftFigures } from '../test/reliability/shift-check.js';

const ROOT = new URL('..', import.meta.url).pathname;
const { values } = parseArgs({
  options: {
    minutes: { type: 'string', default: '10' },
    transports: { type: 'string', default: TRANSPORTS.join(',') },
    rounds: { type: 'string', default: '40' },
    'fuzz-runs': { type: 'string', default: '1000' },
    'no-write': { type: 'boolean', default: false },
    /** Where the figures go (RELIABILITY.md by default; elsewhere for a look at a trial run). */
    out: { type: 'string', default: 'RELIABILITY.md' },
  },
});
const minutes = Number(values.minutes);
const rounds = Number(values.rounds);
const transports = values.transports!.split(',') as TransportKind[];
for (const t of transports) if (!TRANSPORTS.includes(t)) throw new Error(`--transports: unknown transport ${t} (expected ${TRANSPORTS.join(', ')})`);
if (!(minutes > 0) || !(rounds > 0)) throw new Error('--minutes and --rounds must be positive numbers');

const SHIFT_COUNTS = ['closed', 'inOneC', 'posts', 'lost', 'duplicated', 'outOfOrder', 'wrong', 'repostsDiffering'] as const satisfies readonly (keyof ShiftFigures)[];
type ShiftCount = (typeof SHIFT_COUNTS)[number];

interface Totals {
  transport: TransportKind;
  scenarios: number;
  runs: number;
  killsByPoint: Record<string, number>;
  randomFailpoint: number;
  randomExternal: number;
  faults: Record<string, number>;
  written: number;
  sent: number;
  lost: number;
  duplicated: number;
  outOfOrder: number;
  packages: number;
  partsPublished: number;
  partsApplied: number;
  partsLost: number;
  partsDuplicated: number;
  tempUnderFinal: number;
  hangs: number;
  unexpectedExits: number;
  secretsInLogs: number;
  leftovers: number;
  /** EquipmentService: closed shifts against the SaleReports 1C holds. */
  shifts: Record<ShiftCount, number>;
  problems: string[];
}

const empty = (transport: TransportKind): Totals => ({
  transport, scenarios: 0, runs: 0, killsByPoint: {}, randomFailpoint: 0, randomExternal: 0, faults: {}, written: 0, sent: 0, lost: 0, duplicated: 0, outOfOrder: 0,
  packages: 0, partsPublished: 0, partsApplied: 0, partsLost: 0, partsDuplicated: 0, tempUnderFinal: 0, hangs: 0, unexpectedExits: 0, secretsInLogs: 0, leftovers: 0, shifts: Object.fromEntries(SHIFT_COUNTS.map((k) => [k, 0])) as Record<ShiftCount, number>, problems: [],
});
const totals = new Map<TransportKind, Totals>(transports.map((t) => [t, empty(t)]));
const hostile: { name: string; inputs: number; refused: number }[] = [];
const started = new Date();
const deadline = Date.now() + minutes * 60_000;

function add(t: Totals, f: Figures): void {
  t.scenarios++;
  t.runs += f.runs;
  for (const [p, n] of Object.entries(f.killsByPoint)) t.killsByPoint[p] = (t.killsByPoint[p] ?? 0) + n;
  t.randomFailpoint += f.randomKills.failpoint;
  t.randomExternal += f.randomKills.external;
  for (const [k, n] of Object.entries(f.faults)) t.faults[k] = (t.faults[k] ?? 0) + (n ?? 0);
  t.written += f.transactions.written;
  t.sent += f.transactions.sent;
  t.lost += f.transactions.lost;
  t.duplicated += f.transactions.duplicated;
  t.outOfOrder += f.transactions.outOfOrder;
  t.packages += f.packages.count;
  t.partsPublished += f.referenceParts.published;
  t.partsApplied += f.referenceParts.applied;
  t.partsLost += f.referenceParts.lost;
  t.partsDuplicated += f.referenceParts.duplicated + f.referenceParts.outOfOrder;
  t.tempUnderFinal += f.tempUnderFinal;
  t.hangs += f.hangs;
  t.unexpectedExits += f.unexpectedExits.length;
  t.secretsInLogs += f.secretsInLogs;
  t.leftovers += f.leftovers.length;
  for (const k of SHIFT_COUNTS) t.shifts[k] += f.shifts[k];
  const where = `${f.transport}/${f.plan}`;
  const s = f.shifts;
  if (s.inOneC !== s.closed || s.lost || s.duplicated || s.outOfOrder || s.wrong || s.repostsDiffering) {
    t.problems.push(`${where}: shifts closed ${s.closed}, in 1C ${s.inOneC}, lost ${s.lost}, duplicated ${s.duplicated}, out of order ${s.outOfOrder}, wrong sums ${s.wrong}, re-posts differing ${s.repostsDiffering}: ${s.samples.slice(0, 3).join('; ')}`);
  }
  if (f.transactions.lost || f.transactions.duplicated || f.transactions.outOfOrder) t.problems.push(`${where}: transactions lost ${f.transactions.lost}, duplicated ${f.transactions.duplicated}, out of order ${f.transactions.outOfOrder}`);
  if (f.referenceParts.lost || f.referenceParts.duplicated || f.referenceParts.outOfOrder) t.problems.push(`${where}: reference parts ${JSON.stringify(f.referenceParts)}`);
  if (f.packages.numberGaps || f.packages.splitReceipts) t.problems.push(`${where}: package numbers with gaps ${f.packages.numberGaps}, split receipts ${f.packages.splitReceipts}`);
  for (const s of f.tempUnderFinalSamples) t.problems.push(`${where}: incomplete under a final name: ${s}`);
  for (const s of f.unexpectedExits.slice(0, 3)) t.problems.push(`${where}: ${s}`);
  for (const s of f.leftovers.slice(0, 3)) t.problems.push(`${where}: left on the remote side: ${s}`);
  if (f.hangs) t.problems.push(`${where}: ${f.hangs} agent run(s) hung`);
  if (f.secretsInLogs) t.problems.push(`${where}: a password appeared ${f.secretsInLogs} time(s) in logs or output`);
  if (!f.finished) t.problems.push(`${where}: never reached "nothing pending" after the attacks`);
}

/** The hostile-input property tests, in a child process, with `runs` inputs per property. */
function runFuzz(runs: number): void {
  const files = ['test/fuzz/formats.fuzz.test.ts', 'test/fuzz/kkm-config.fuzz.test.ts'];
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--test', ...files], { cwd: ROOT, env: { ...process.env, FUZZ_RUNS: String(runs) }, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  for (const m of (r.stdout ?? '').matchAll(/# \\?# ([^:\n]+): (\d+) inputs \((\d+) accepted, (\d+) refused/g)) {
    const prev = hostile.find((h) => h.name === m[1]);
    if (prev) {
      prev.inputs += Number(m[2]);
      prev.refused += Number(m[4]);
    } else hostile.push({ name: m[1]!, inputs: Number(m[2]), refused: Number(m[4]) });
  }
  if (r.status !== 0) {
    const failed = [...(r.stdout ?? '').matchAll(/^\s*not ok \d+ - (.*)$/gm)].map((m) => m[1]).filter((x) => !x!.startsWith('hostile input'));
    for (const t of totals.values()) t.problems.push(`hostile input: failing property: ${failed.join('; ') || 'see the fuzz test output'}`);
  }
}

function table(): string {
  const ts = [...totals.keys()];
  const row = (label: string, f: (t: Totals) => string | number) => `| ${label} | ${ts.map((t) => f(totals.get(t)!)).join(' | ')} |`;
  const kills = (t: Totals) => Object.values(t.killsByPoint).reduce((a, b) => a + b, 0) - t.randomFailpoint;
  // The EquipmentService's 1C holds shifts, not transactions: its column counts shifts where the others count transactions.
  const es = (t: Totals) => t.transport === 'equipment-service';
  const bySales = (t: Totals, tx: number, shifts: number) => (es(t) ? `${shifts} shifts` : tx);
  const lines = [
    `| | ${ts.join(' | ')} |`,
    `|---|${ts.map(() => '---:').join('|')}|`,
    row('harness scenarios / agent runs', (t) => `${t.scenarios} / ${t.runs}`),
    row('**crashes survived: at named fail points**', (t) => kills(t)),
    row('**crashes survived: random** (fail point with probability / SIGKILL from outside)', (t) => `${t.randomFailpoint + t.randomExternal} (${t.randomFailpoint} / ${t.randomExternal})`),
    row('**faults injected**', (t) => Object.entries(t.faults).map(([k, v]) => `${k} ${v}`).join(', ') || '-'),
    row('transactions written by Kassir', (t) => t.written),
    row('**transactions sent**', (t) => (es(t) ? `in ${t.shifts.inOneC} of ${t.shifts.closed} closed shifts` : t.sent)),
    row('packages', (t) => (es(t) ? `${t.packages} SaleReports posted` : t.packages)),
    row('**lost** (must be 0)', (t) => bySales(t, t.lost, t.shifts.lost)),
    row('**duplicated** (must be 0)', (t) => bySales(t, t.duplicated, t.shifts.duplicated)),
    row('**out of order** (must be 0)', (t) => bySales(t, t.outOfOrder, t.shifts.outOfOrder)),
    row('**shifts in 1C with counts or sums other than Kassir wrote / re-posts differing from the first** (must be 0)', (t) => (es(t) ? `${t.shifts.wrong} / ${t.shifts.repostsDiffering}` : '-')),
    row('**temporary files seen under a final name** (must be 0)', (t) => t.tempUnderFinal),
    row('reference parts published / applied by Kassir', (t) => `${t.partsPublished} / ${t.partsApplied}`),
    row('reference parts lost / duplicated or out of order', (t) => `${t.partsLost} / ${t.partsDuplicated}`),
    row('agent runs hung', (t) => t.hangs),
    row('unexpected exits', (t) => t.unexpectedExits),
    row('passwords found in logs and output', (t) => t.secretsInLogs),
    row('files left on the remote side', (t) => t.leftovers),
  ];
  return lines.join('\n');
}

function killsTable(): string {
  const ts = [...totals.keys()];
  const lines = [`| fail point | ${ts.join(' | ')} |`, `|---|${ts.map(() => '---:').join('|')}|`];
  for (const p of FAILPOINTS) lines.push(`| \`${p}\` | ${ts.map((t) => totals.get(t)!.killsByPoint[p] ?? 0).join(' | ')} |`);
  return lines.join('\n');
}

function write(final: boolean): void {
  if (values['no-write']) return;
  const elapsed = (Date.now() - started.getTime()) / 60_000;
  const problems = [...new Set([...totals.values()].flatMap((t) => t.problems))];
  const cpu = cpus()[0]?.model ?? 'unknown CPU';
  const text = `# Reliability figures

Written by \`npm run soak\` (scripts/soak.ts) from its last run; do not edit by hand.

- Command: \`npm run soak -- --minutes ${minutes} --rounds ${rounds} --transports ${transports.join(',')} --fuzz-runs ${values['fuzz-runs']}\`
- Date: ${started.toISOString()} (${final ? 'finished' : 'in progress'}, ${elapsed.toFixed(1)} minutes)
- Machine: ${cpus().length} x ${cpu}, ${(totalmem() / 1024 ** 3).toFixed(0)} GiB RAM, Node ${process.version}, ${process.platform}
- What it does: the compiled agent (\`node cli.js run\`), a real process, against a share folder, a real ProFTPD behind a TCP
  proxy, the KKMTransfer emulator (basic auth) behind a TCP proxy, and the 1C EquipmentService emulator (basic auth,
  price lists in packages of 50 goods) behind a TCP proxy, while Kassir (simulated) writes reports and the back office
  publishes reference parts. Every run is attacked: SIGKILL at a named fail point (\`KASSIR_FAILPOINTS=name:N\`), at
  a random fail point (\`*:random:0.04\`), SIGKILL from outside at a random moment, or a network fault (for the
  EquipmentService also 1C's own traps: a SOAP Fault, a transfer left unformed, a post refused with IsSuccess=false); then
  the agent finishes undisturbed and the back office's packages are compared with what Kassir wrote.
- EquipmentService: 1C takes sales as one SaleReport per closed shift, without transaction numbers. Kassir writes whole
  shifts with Z reports (and closes the last one before the finish); its column counts shifts: each closed shift must be in
  1C exactly once (one SaleReport UUID; a re-post after a kill or a lost answer replaces it and must be byte for byte the
  first), in order, with the receipt counts, totals, payments per kind and cash in/out Kassir's simulator computed from
  what it wrote. A reference part there is 60 new goods added to 1C's catalogue at once, which reach Kassir in the
  reference file of an incremental transfer (several packages). "Temporary files under a final name" there counts the
  posted documents 1C's reader refused.

## Per transport

${table()}

## Crashes by fail point

${killsTable()}

Fail points with 0 here were not reached on that transport (e.g. \`pull.before-ack\` and \`push.after-*\` live in the
sequenced-files logic that KKMTransfer does not use; \`es.upload.after-post\` (1C took a shift, nothing noted yet) and
\`es.upload.after-notes\` (noted, the older staged lines not yet removed) live in the EquipmentService upload only).

## Hostile input (in-process property tests, fast-check)

| parser | inputs tried | refused with the typed error |
|---|---:|---:|
${hostile.map((h) => `| ${h.name} | ${h.inputs} | ${h.refused} |`).join('\n') || '| (not run yet) | 0 | 0 |'}

Every input was either accepted or refused with FormatError / TransportError / UnreadablePackage / ConfigError within a
hang guard. End-to-end bad input through the running agent, power loss, disk full and the security checks are CI tests
(\`test/reliability/*.test.ts\`, \`test/fuzz/*.test.ts\`); see their output for their figures.

## Problems found in this run

${problems.length ? problems.map((p) => `- ${p}`).join('\n') : '- none: 0 lost, 0 duplicated, 0 out of order, 0 temporary files under a final name, 0 hangs, 0 passwords in logs.'}

## Bugs the harness found (each has a regression test, which failed before the fix)

- A YAML alias that refers to itself, or an alias bomb, crashed config loading (RangeError / ReferenceError instead of a
  ConfigError): \`test/fuzz/config-regressions.test.ts\` (fixed in d8bd29f).
- A YAML syntax error quoted the password of the broken config line: \`test/fuzz/config-regressions.test.ts\` (fixed in d8bd29f).
- A queued package damaged on disk (truncated, NUL-filled, last record cut) was sent as it was (NUL-filled: under a final
  name) or blocked the queue forever: \`test/reliability/power-loss.test.ts\` (fixed in a98de4c: a SHA-256 taken at sealing
  is checked before every attempt; a damaged package is quarantined with an error line and the queue moves on).
- With both state slots unreadable, start-up truncated the open package although its sources were gone:
  \`test/reliability/power-loss.test.ts\` (fixed in a98de4c: the open package is quarantined and the loss of state is logged).
- \`status\` said nothing when the data folder was full: \`test/reliability/disk-full.test.ts\` (fixed in a98de4c: free
  space and the last local error are shown).
- The log rotation's audit file was created 0644: \`test/reliability/security.test.ts\` (fixed in a98de4c).
- Under random kills a package appeared under its final name without its block header: a seal by the push flow came
  between the collector planning an append and making it, so the next package began with a header-less chunk
  (\`test/till/collect-race.test.ts\` reproduces it deterministically; fixed in 6c7a900: appends are planned under the
  store's lock). Nothing was lost or duplicated, but a back-office importer would have rejected that package.
- With the share dropping away during a pull, deleting a fetched part "succeeded" (ENOENT counted as already deleted), so
  the part was forgotten while still on the share and applied a second time when the share came back:
  \`test/transports/remote-dir-folder.test.ts\` (fixed: a delete whose folder is gone is \`unreachable\`).
- FTP, random kills: killed after deleting a fetched part but before clearing its pending-delete record, while the back
  office published its next part under the freed name with the same size in the same second (FTP mtimes have 1 s
  resolution); the stale record deleted the new part unseen: \`test/transports/sequenced-delete.test.ts\` (fixed: parts up
  to 1 MB are compared by SHA-256 before deletion).

## In CI and for longer runs

- CI: \`node scripts/run-tests.mjs reliability fuzz\` runs the harness at CI size: per transport 120 fail-point runs,
  100 random-kill runs (about 200 kills) and 24 network-fault runs, plus 300 hostile inputs per property (over 1,000 per
  parser family); \`RELIABILITY_SCALE=0.2\` for a quick look, \`RELIABILITY_SCALE=5\` for a bigger one.
- Longer: \`npm run soak -- --minutes 60\` (this file is rewritten after every scenario).
`;
  writeFileSync(resolve(ROOT, values.out!), text);
}

const plans: Plan[] = ['points', 'random', 'faults'];
let i = 0;
runFuzz(Number(values['fuzz-runs']));
write(false);
// At least one scenario per transport, even when the hostile-input tests took the time: a soak that attacked nothing proves nothing.
while (Date.now() < deadline || i < transports.length) {
  const transport = transports[i % transports.length]!;
  const plan = plans[Math.floor(i / transports.length) % plans.length]!;
  i++;
  const f = await runScenario({ transport, plan, rounds });
  add(totals.get(transport)!, f);
  const what =
    transport === 'equipment-service'
      ? `shifts ${f.shifts.inOneC}/${f.shifts.closed} in 1C, lost ${f.shifts.lost}, duplicated ${f.shifts.duplicated}, out of order ${f.shifts.outOfOrder}, wrong ${f.shifts.wrong}`
      : `lost ${f.transactions.lost}, duplicated ${f.transactions.duplicated}, out of order ${f.transactions.outOfOrder}`;
  process.stdout.write(`${new Date().toISOString()} ${transport}/${plan}: ${f.rounds} rounds, ${f.runs} runs, ${what}, temp under final ${f.tempUnderFinal}, ${(f.durationMs / 1000).toFixed(0)} s\n`);
  write(false);
}
write(true);
const bad = [...totals.values()].some((t) => t.problems.length > 0);
process.stdout.write(`soak finished after ${((Date.now() - started.getTime()) / 60_000).toFixed(1)} minutes: ${bad ? 'PROBLEMS (see RELIABILITY.md)' : 'all invariants held'}\n`);
process.exit(bad ? 1 : 0);
