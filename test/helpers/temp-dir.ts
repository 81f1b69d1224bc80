/**
 * Temp folders for tests: every test file that needs the real filesystem works
 * in one of these and removes it afterwards, so no test uses a fixed path.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, type TestContext } from 'node:test';

/** A fresh, empty folder under the system temp folder, named `<label>-XXXXXX`. */
export function makeTempDir(label: string): Promise<string> {
  return mkdtemp(join(tmpdir(), `${label}-`));
}

/** Removes a folder made by makeTempDir with all it holds (no error if it is gone). */
export function removeDir(dir: string): Promise<void> {
  return rm(dir, { recursive: true, force: true });
}

/** Runs `fn` in a fresh temp folder, removed afterwards whatever `fn` did. */
export async function withTempDir<T>(fn: (dir: string) => Promise<T>, label = 'kassir-test'): Promise<T> {
  const dir = await makeTempDir(label);
  try {
    return await fn(dir);
  } finally {
    await removeDir(dir);
  }
}

/** A fresh temp folder removed when test `t` ends. */
export async function tempDirFor(t: TestContext, label = 'kassir-test'): Promise<string> {
  const dir = await makeTempDir(label);
  t.after(() => removeDir(dir));
  return dir;
}

/**
 * A temp folder made before the tests of the calling file or suite and removed after them (registers the
 * `before`/`after` hooks where it is called). The returned function gives its path inside a test.
 */
export function suiteTempDir(label = 'kassir-test'): () => string {
  let dir: string | undefined;
  before(async () => {
    dir = await makeTempDir(label);
  });
  after(() => (dir === undefined ? undefined : removeDir(dir)));
  return () => {
    if (dir === undefined) throw new Error(`suiteTempDir(${label}) used outside a test`);
    return dir;
  };
}
