/** A real store in a temp folder (with a till folder beside it), opened, and closed and removed after the test. */
import * as fs from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { Store } from '../../src/store/store.js';
import { memoryLogger } from '../../src/util/logger.js';

export async function openTempStore(t: TestContext, label: string) {
  const root = await fs.mkdtemp(join(tmpdir(), `kassir-${label}-`));
  t.after(() => fs.rm(root, { recursive: true, force: true }));
  const till = join(root, 'till');
  await fs.mkdir(till);
  const log = memoryLogger();
  const store = new Store(join(root, 'data'), { retentionDays: 30 }, log);
  await store.open();
  t.after(() => store.close());
  return { root, till, store, log };
}
