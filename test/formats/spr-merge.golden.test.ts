/**
 * Golden-file tests for the SPR merge: each folder under
 * test/fixtures/formats/spr-merge/ holds the parts (`in/`, in arbitrary
 * listing order: the test sorts them like the core does), the expected result
 * (`expected.json`) and the expected output bytes (`expected/`).
 * Regenerate after a deliberate change with UPDATE_GOLDEN=1, then review the diff.
 */
import { strict as assert } from 'node:assert';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { compareSprPartNames, mergeSprParts } from '../../src/formats/spr.js';
import { withTempDir } from '../helpers/temp-dir.js';

const root = fileURLToPath(new URL('../fixtures/formats/spr-merge/', import.meta.url));
const update = process.env.UPDATE_GOLDEN === '1';

for (const name of (await readdir(root)).sort()) {
  test(`SPR merge golden: ${name}`, async () => {
    const caseDir = join(root, name);
    const inDir = join(caseDir, 'in');
    const names = (await readdir(inDir)).sort(compareSprPartNames);
    const parts = names.map((n) => ({ name: n, path: join(inDir, n) }));
    await withTempDir(async (out) => {
      const result = await mergeSprParts(parts, out);
      const summary = {
        outputs: result.outputs.map((o) => ({ file: basename(o.path), parts: o.parts, encoding: o.encoding, dataLines: o.dataLines, bytes: o.bytes })),
        skipped: result.skipped,
      };
      const files = await readdir(out);
      if (update) {
        await rm(join(caseDir, 'expected'), { recursive: true, force: true });
        await mkdir(join(caseDir, 'expected'), { recursive: true });
        await writeFile(join(caseDir, 'expected.json'), `${JSON.stringify(summary, null, 2)}\n`);
        for (const f of files) await writeFile(join(caseDir, 'expected', f), await readFile(join(out, f)));
      }
      const expected = JSON.parse(await readFile(join(caseDir, 'expected.json'), 'utf8'));
      assert.deepEqual(summary, expected);
      const expectedFiles = await readdir(join(caseDir, 'expected')).catch(() => [] as string[]);
      assert.deepEqual(files.sort(), expectedFiles.sort(), 'output files');
      for (const f of files) {
        const got = await readFile(join(out, f));
        const want = await readFile(join(caseDir, 'expected', f));
        assert.ok(got.equals(want), `${name}/${f} differs:\n got: ${JSON.stringify(got.toString('latin1'))}\nwant: ${JSON.stringify(want.toString('latin1'))}`);
      }
      // Every input name is accounted for exactly once by the outputs, or (no outputs) by `skipped`.
      const accounted = result.outputs.length > 0 ? result.outputs.flatMap((o) => o.parts) : result.skipped.map((s) => s.name);
      assert.deepEqual(accounted, names);
    });
  });
}
