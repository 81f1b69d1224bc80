/**
 * The README's quick start, run as written (with `npx kassir-agent` pointing
 * at the sources) in a copy of the shipped config and `examples/`: the report
 * reaches the "back office" byte for byte, the two SPR parts reach Kassir
 * merged, and status shows nothing queued.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import iconv from 'iconv-lite';
import { CLI, ROOT } from '../helpers/kassir.js';
import { withTempDir } from '../helpers/temp-dir.js';

function quickStart(readme: string): string {
  const m = /<!-- quickstart:begin -->\s*```sh\n([\s\S]*?)```\s*<!-- quickstart:end -->/.exec(readme);
  assert.ok(m, 'the README has a quick-start block');
  return m[1]!;
}

describe('README quick start', () => {
  it('runs as written on the example files', async () => {
    await withTempDir(async (dir) => {
      await fs.cp(join(ROOT, 'config'), join(dir, 'config'), { recursive: true });
      await fs.cp(join(ROOT, 'examples'), join(dir, 'examples'), { recursive: true });
      await fs.mkdir(join(dir, 'var/till'), { recursive: true });
      await fs.mkdir(join(dir, 'var/backoffice'), { recursive: true });
      const tsx = import.meta.resolve('tsx');
      const script = quickStart(await fs.readFile(join(ROOT, 'README.md'), 'utf8')).replaceAll('npx kassir-agent', `"${process.execPath}" --import "${tsx}" "${CLI}"`);
      const r = spawnSync('sh', ['-e', '-c', script], { cwd: dir, encoding: 'utf8', timeout: 120_000 });
      assert.equal(r.status, 0, r.stdout + r.stderr);
      const rep = await fs.readFile(join(ROOT, 'examples/POS1.rep'));
      assert.deepEqual(await fs.readFile(join(dir, 'var/backoffice/POS1.rep.$1')), rep, 'the report reached the back office unchanged');
      assert.match(r.stdout, /POS1\.rep\.\$1/);
      assert.match(r.stdout, /queued packages: 0/);
      const spr = iconv.decode(await fs.readFile(join(dir, 'var/till/POS1.spr')), 'cp1251');
      assert.match(spr, /^##@@&&\r\n#\r\n/);
      assert.ok(spr.indexOf('Хлеб Бородинский') > 0 && spr.indexOf('Хлеб Бородинский') < spr.indexOf('Молоко 3,2% 1 л'), spr);
      assert.match(r.stdout, /Молоко 3,2% 1 л/, 'iconv printed the merged file');
    }, 'kassir-quickstart');
  });
});
