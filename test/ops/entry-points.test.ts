/**
 * The CLI starts from every form it is installed in: `bin/kassir-agent.js` (npm install), and
 * `node dist/cli.js` (the compiled module run directly, which must notice it is the main module by
 * its real path, on Windows too). The Windows job runs this under Windows Node; the single executable
 * is checked by test/ops/sea.test.ts and by build-sea's own smoke run.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { it } from 'node:test';
import { ROOT } from '../helpers/kassir.js';

const { version } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };

for (const entry of ['bin/kassir-agent.js', 'dist/cli.js']) {
  it(`node ${entry} runs the CLI (--version, and a usage error's exit code)`, () => {
    assert.ok(existsSync(join(ROOT, 'dist/cli.js')), 'dist/ is built by npm install (prepare) or npm run build');
    const v = spawnSync(process.execPath, [join(ROOT, entry), '--version'], { encoding: 'utf8' });
    assert.equal(v.status, 0, v.stderr);
    assert.equal(v.stdout.trim(), version);
    const bad = spawnSync(process.execPath, [join(ROOT, entry), 'frobnicate'], { encoding: 'utf8' });
    assert.equal(bad.status, 2, bad.stderr);
    assert.match(bad.stderr, /unknown command: frobnicate/);
  });
}
