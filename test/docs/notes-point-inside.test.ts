/**
 * Notes in the code and the docs point into the repository: whoever clones it
 * has docs/FORMATS.md and the code, and none of the steering folder the
 * project was started from (its protocol notes, its design sketch, its
 * numbered source documents). A note that cites one of those again fails here;
 * cite a section of docs/FORMATS.md or the code instead.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
/** Where notes live: the code, the tests, the scripts, the benchmarks and the docs. */
const WHERE = ['src', 'test', 'scripts', 'bench', 'docs', 'README.md', 'BENCHMARKS.md', 'RELIABILITY.md'];
const TEXT = /\.(ts|mjs|js|md|json|ya?ml|sh|ps1)$/;

/** References to what a clone does not have; written in pieces so this file does not match itself. */
const OUTSIDE: { what: string; pattern: RegExp }[] = [
  { what: 'the steering folder', pattern: new RegExp(['\\.\\.', '/shared'].join('')) },
  { what: 'the protocol notes outside the project', pattern: new RegExp(['PROTO', 'COLS', '\\.md'].join('')) },
  { what: 'the design sketch outside the project', pattern: new RegExp(['DESIGN', '\\.md'].join('')) },
  { what: 'a numbered source document', pattern: new RegExp(['seed', ' 00'].join(''), 'i') },
];

function files(path: string): string[] {
  const st = statSync(path, { throwIfNoEntry: false });
  if (!st) return [];
  if (st.isFile()) return TEXT.test(path) ? [path] : [];
  return readdirSync(path)
    .filter((n) => n !== 'node_modules' && n !== 'dist' && !n.startsWith('.'))
    .flatMap((n) => files(join(path, n)));
}

test('no note in the code, the tests or the docs points outside the repository', () => {
  const all = WHERE.flatMap((w) => files(join(ROOT, w)));
  assert.ok(all.some((f) => f.endsWith(join('docs', 'FORMATS.md'))), 'docs/FORMATS.md is among the files read');
  assert.ok(all.length > 100, `the walk found the code (${all.length} files)`);
  const found: string[] = [];
  for (const file of all) {
    const lines = readFileSync(file, 'utf8').split('\n');
    lines.forEach((line, i) => {
      for (const { what, pattern } of OUTSIDE) {
        if (pattern.test(line)) found.push(`${relative(ROOT, file)}:${i + 1}: ${what}: ${line.trim().slice(0, 120)}`);
      }
    });
  }
  assert.deepEqual(found, [], 'cite docs/FORMATS.md or the code instead');
});

test('the check finds such a note', () => {
  const sample = ['see ', 'PROTO', 'COLS', '.md and ', 'seed', ' 001'].join('');
  assert.deepEqual(OUTSIDE.filter(({ pattern }) => pattern.test(sample)).map((o) => o.what), ['the protocol notes outside the project', 'a numbered source document']);
});
