/** A real store in a temp folder (with a till folder beside it), opened, and closed and removed after the test. */
import * as fs from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { Store } from '../../src/store/store.js';
import { memoryLogger } from '../../src/util/logger.js';

export async function openTempStore(t: TestContext, label: string) {
  const root = await fs.mkdtemp(join(tmpdir(), `kassir-${label}-`));
  const till = join(root, 'till');
  await fs.mkdir(till);
  const log = memoryLogger();
  const store = new Store(join(root, 'data'), { retentionDays: 30 }, log);
  // One hook, in this order: Windows refuses to delete the lock file an open store holds.
  t.after(async () => {
    await store.close();
    await fs.rm(root, { recursive: true, force: true });
  });
  await store.open();
  return { root, till, store, log };
}
