#!/usr/bin/env node
// Runs every test/**/*.test.ts with Node's built-in runner through tsx.
// Node 20 has no glob support in `--test`, so the files are listed here.
// Usage: node scripts/run-tests.mjs [substring-filter ...]
//
// No test file can hang the suite: each file gets TEST_FILE_TIMEOUT_MS (default 20 minutes; the
// longest file takes about 2 here). The runner's --test-timeout applies to every file's own test
// (Node 20+): a file still running when it is over (a test stuck, or a handle left open after the
// last test) is killed and reported as failed under its own name, "not ok N - test/x.test.ts ...
// test timed out after ...ms", counted under "# cancelled", and the run exits non-zero. The
// reporter and its closing summary lines are Node's own, unchanged.
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';

function walk(dir) {
  const out = [];
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...walk(p));
    else if (name.endsWith('.test.ts')) out.push(p);
  }
  return out;
}
const filters = process.argv.slice(2);
const files = walk('test').filter((f) => filters.length === 0 || filters.some((s) => f.includes(s)));
if (files.length === 0) {
  console.error('no test files matched');
  process.exit(1);
}
const concurrency = process.env.TEST_CONCURRENCY ?? '2';
const fileTimeoutMs = process.env.TEST_FILE_TIMEOUT_MS ?? '1200000';
const r = spawnSync(process.execPath, ['--import', 'tsx', '--test', `--test-concurrency=${concurrency}`, `--test-timeout=${fileTimeoutMs}`, ...files], { stdio: 'inherit' });
process.exit(r.status ?? 1);
