/**
 * No import circle in src/, type-only imports included: a module's
 * dependencies can be read (and tested) without the modules that use it.
 * Reads every `import ... from`, `import type ... from`, `export ... from`
 * and `import('...')` of src/ and looks for a cycle among the relative ones.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, relative, resolve } from 'node:path';
import { it } from 'node:test';
import { SRC, sourceFiles } from '../helpers/source-files.js';

/** The relative modules `file` imports or re-exports, as .ts paths. */
export function importsOf(file: string, text: string): string[] {
  const specs = [
    ...text.matchAll(/^\s*(?:import|export)\s[^;]*?\sfrom\s+['"]([^'"]+)['"]/gms),
    ...text.matchAll(/^\s*import\s+['"]([^'"]+)['"]/gm),
    ...text.matchAll(/\bimport\(\s*['"]([^'"]+)['"]\s*\)/g),
  ].map((m) => m[1]!);
  return specs.filter((s) => s.startsWith('.')).map((s) => resolve(dirname(file), s.replace(/\.js$/, '.ts')));
}

/** One cycle in the graph, as a list of files (the first repeated at the end), or undefined. */
export function findCycle(graph: Map<string, string[]>): string[] | undefined {
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const visit = (n: string): string[] | undefined => {
    state.set(n, 'open');
    stack.push(n);
    for (const m of graph.get(n) ?? []) {
      if (state.get(m) === 'open') return [...stack.slice(stack.indexOf(m)), m];
      if (state.get(m) === undefined) {
        const found = visit(m);
        if (found) return found;
      }
    }
    stack.pop();
    state.set(n, 'done');
    return undefined;
  };
  for (const n of graph.keys()) {
    if (state.get(n) !== undefined) continue;
    const found = visit(n);
    if (found) return found;
  }
  return undefined;
}

it('the cycle finder finds a type-only circle and a re-export circle (so a pass below means something)', () => {
  const a = '/x/a.ts';
  const b = '/x/b.ts';
  const c = '/x/c.ts';
  const graph = new Map([
    [a, importsOf(a, "import type { B } from './b.js';\n")],
    [b, importsOf(b, "export { C } from './c.js';\n")],
    [c, importsOf(c, "import {\n  A,\n} from './a.js';\n")],
  ]);
  assert.deepEqual(findCycle(graph), [a, b, c, a]);
  graph.set(c, []);
  assert.equal(findCycle(graph), undefined);
});

it('src/ has no import circle, type-only imports included', () => {
  const files = sourceFiles();
  assert.ok(files.length > 50, `found only ${files.length} source files under ${SRC}`);
  const graph = new Map(files.map((f) => [f, importsOf(f, readFileSync(f, 'utf8'))]));
  for (const [f, deps] of graph) for (const d of deps) assert.ok(graph.has(d), `${relative(SRC, f)} imports ${relative(SRC, d)}, which is not a source file`);
  const cycle = findCycle(graph);
  assert.equal(cycle, undefined, `import circle: ${cycle?.map((f) => relative(SRC, f)).join(' -> ')}`);
});
