/**
 * The store's state has one writer: its named operations (src/store/store.ts,
 * the changes in src/store/state-changes.ts). No source file outside
 * src/store/ commits a change of its own or appends with an edit of its own.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { it } from 'node:test';
import { SRC, sourceFiles } from '../helpers/source-files.js';

/** Lines of `text` that call `name(` as a method (`x.commit(`, `store\n  .commit(`). */
function callsOf(text: string, name: string): number[] {
  const lines: number[] = [];
  for (const m of text.matchAll(new RegExp(`\\.\\s*${name}\\s*[(<]`, 'g'))) lines.push(text.slice(0, m.index).split('\n').length);
  return lines;
}

it('the scan sees the store calling commit (so an empty result outside it means something)', () => {
  const store = readFileSync(join(SRC, 'store', 'store.ts'), 'utf8');
  assert.ok(callsOf(store, 'commit').length >= 5, 'store.ts applies its operations through commit');
  assert.deepEqual(callsOf('await store\n  .commit((d) => {});', 'commit'), [2]);
});

it('no source file outside src/store/ calls commit( or appendPlanned(', () => {
  const outside = sourceFiles().filter((f) => relative(SRC, f).split(sep)[0] !== 'store');
  assert.ok(outside.length > 40, `found only ${outside.length} source files`);
  const found: string[] = [];
  for (const f of outside) {
    const text = readFileSync(f, 'utf8');
    for (const name of ['commit', 'appendPlanned']) for (const line of callsOf(text, name)) found.push(`${relative(SRC, f)}:${line}: ${name}(`);
  }
  assert.deepEqual(found, [], 'state changes outside src/store/ (add a named operation to the store instead)');
});
