/**
 * Runs every bench/*.bench.ts (each default-exports an async function), or
 * only those whose file name contains one of the argv substrings:
 *   npm run bench                # all
 *   npm run bench -- formats ftp # a subset
 * BENCH_SCALE (default 1) scales the data sizes, e.g. 0.1 for a quick check.
 */
import { readdirSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { join } from 'node:path';

const dir = fileURLToPath(new URL('.', import.meta.url));
const filters = process.argv.slice(2);
const files = readdirSync(dir)
  .filter((f) => f.endsWith('.bench.ts'))
  .filter((f) => filters.length === 0 || filters.some((s) => f.includes(s)))
  .sort();
if (files.length === 0) {
  console.error(`no bench matched ${filters.join(', ')}`);
  process.exit(1);
}
for (const f of files) {
  console.log(`\n## ${f}\n`);
  const mod = (await import(pathToFileURL(join(dir, f)).href)) as { default: () => Promise<void> };
  const t0 = performance.now();
  await mod.default();
  console.log(`\n(${f}: ${((performance.now() - t0) / 1000).toFixed(1)} s)`);
}
