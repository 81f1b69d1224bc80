/**
 * The log file across restarts: a service restart (or a crash and a restart)
 * must never wipe the day's log that an operator is about to read.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { createLogger } from '../../src/log.js';
import { withTempDir } from '../helpers/temp-dir.js';

describe('log file', () => {
  it('a second start appends to the day\'s file (JSON lines, private to the service user)', async () => {
    await withTempDir(async (dir) => {
      for (const run of [1, 2, 3]) {
        const log = createLogger({ level: 'info', dir, console: false, maxFiles: '30d', secrets: [], base: { pos: 1 } });
        log.info('agent.started', { run });
        await log.close();
      }
      const files = (await fs.readdir(dir)).filter((n) => n.endsWith('.log'));
      assert.equal(files.length, 1);
      const lines = (await fs.readFile(join(dir, files[0]!), 'utf8')).trim().split('\n').map((l) => JSON.parse(l));
      assert.deepEqual(lines.map((l) => [l.event, l.run]), [['agent.started', 1], ['agent.started', 2], ['agent.started', 3]]);
      if (process.platform !== 'win32') assert.equal((await fs.stat(join(dir, files[0]!))).mode & 0o777, 0o600);
    }, 'kassir-log');
  });
});
