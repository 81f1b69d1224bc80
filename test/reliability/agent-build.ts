/**
 * The compiled agent for the harness. Spawning the sources through tsx costs
 * ~0.6 s per start; hundreds of kills need the plain `node cli.js` start.
 *
 * The build goes to a private folder under node_modules/.cache (never the
 * shared `dist/` other engineers use), keyed by a fingerprint of `src/`
 * (every file's path, size and mtime), so it is never stale and test files
 * running in parallel share one build: the first writes it to a temporary
 * folder and renames it into place; a loser of that race simply uses the
 * winner's.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, statSync } from 'node:fs';
import * as fs from 'node:fs/promises';
import { join, relative } from 'node:path';
import { promisify } from 'node:util';
import { ROOT } from '../helpers/kassir.js';

const run = promisify(execFile);
const CACHE = join(ROOT, 'node_modules/.cache/kassir-reliability');

function fingerprint(dir: string, into = createHash('sha256')): ReturnType<typeof createHash> {
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    const st = statSync(p);
    if (st.isDirectory()) fingerprint(p, into);
    else into.update(`${relative(ROOT, p)}\0${st.size}\0${st.mtimeMs}\n`);
  }
  return into;
}

let built: Promise<string> | undefined;

/** The path of the compiled `cli.js` for the current sources (builds it when needed, once per process). */
export function agentCli(): Promise<string> {
  built ??= build();
  return built;
}

async function build(): Promise<string> {
  const key = fingerprint(join(ROOT, 'src')).digest('hex').slice(0, 16);
  const home = join(CACHE, key);
  const cli = join(home, 'dist/cli.js');
  if (existsSync(cli)) return cli;
  await fs.mkdir(CACHE, { recursive: true });
  const tmp = await fs.mkdtemp(join(CACHE, `.build-${key}-`));
  // tsc emits even when a colleague's work in progress has type errors (noEmitOnError is off): only a missing cli.js fails.
  await run(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', join(ROOT, 'tsconfig.build.json'), '--outDir', join(tmp, 'dist'), '--sourceMap', 'false'], {
    cwd: ROOT,
    maxBuffer: 16 * 1024 * 1024,
  }).catch((e: { stdout?: string }) => {
    if (!existsSync(join(tmp, 'dist/cli.js'))) throw new Error(`building the agent failed:\n${e.stdout ?? String(e)}`);
  });
  // `--version` reads ../package.json relative to cli.js.
  await fs.copyFile(join(ROOT, 'package.json'), join(tmp, 'package.json'));
  try {
    await fs.rename(tmp, home);
  } catch {
    await fs.rm(tmp, { recursive: true, force: true }); // another process won the race: use its build
  }
  if (!existsSync(cli)) throw new Error(`the agent build did not produce ${cli}`);
  await pruneOldBuilds(key);
  return cli;
}

/** Keep the cache small: builds of older sources are useless. Ones younger than an hour may still be in use by a parallel run. */
async function pruneOldBuilds(keep: string): Promise<void> {
  for (const name of await fs.readdir(CACHE)) {
    if (name === keep) continue;
    const p = join(CACHE, name);
    const st = await fs.stat(p).catch(() => undefined);
    if (st && Date.now() - st.mtimeMs > 3_600_000) await fs.rm(p, { recursive: true, force: true });
  }
}
