/**
 * The log file across restarts and at the stop: a service restart (or a crash
 * and a restart) must never wipe the day's log that an operator is about to
 * read, and `close()` resolves only once every line is in the file, so a
 * process that exits right after closing its log keeps its last line
 * (`agent.stopped`).
 */
import assert from 'node:assert/strict';
import fsCallbacks from 'node:fs';
import * as fs from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { createLogger } from '../../src/log.js';
import { withTempDir } from '../helpers/temp-dir.js';

/** The day's log lines, parsed, from the one `.log` file in `dir`. */
async function logLines(dir: string): Promise<Record<string, unknown>[]> {
  const files = (await fs.readdir(dir)).filter((n) => n.endsWith('.log'));
  assert.equal(files.length, 1, `one log file in ${dir}, found ${files.join(', ')}`);
  return (await fs.readFile(join(dir, files[0]!), 'utf8')).split('\n').filter((l) => l.length > 0).map((l) => JSON.parse(l) as Record<string, unknown>);
}

/**
 * A slow disk, in process: every write of a file stream (fs.write, fs.writev, which Node's
 * WriteStream calls through the `fs` module object) reaches the real file `delayMs` later, so the
 * file stream holds a backlog when the logger has taken its last line. Returns the undo.
 */
function slowDisk(delayMs: number): () => void {
  const { write, writev } = fsCallbacks;
  fsCallbacks.write = ((...args: unknown[]) => void setTimeout(() => (write as (...a: unknown[]) => void)(...args), delayMs)) as typeof write;
  fsCallbacks.writev = ((...args: unknown[]) => void setTimeout(() => (writev as (...a: unknown[]) => void)(...args), delayMs)) as typeof writev;
  return () => {
    fsCallbacks.write = write;
    fsCallbacks.writev = writev;
  };
}

describe('log file', () => {
  it('a second start appends to the day\'s file (JSON lines, private to the service user)', async () => {
    await withTempDir(async (dir) => {
      for (const run of [1, 2, 3]) {
        const log = createLogger({ level: 'info', dir, console: false, maxFiles: '30d', secrets: [], base: { pos: 1 } });
        log.info('agent.started', { run });
        await log.close();
      }
      const lines = await logLines(dir);
      assert.deepEqual(lines.map((l) => [l.event, l.run]), [['agent.started', 1], ['agent.started', 2], ['agent.started', 3]]);
      const file = (await fs.readdir(dir)).find((n) => n.endsWith('.log'))!;
      if (process.platform !== 'win32') assert.equal((await fs.stat(join(dir, file))).mode & 0o777, 0o600);
    }, 'kassir-log');
  });

  for (const disk of ['the real disk', 'a slow disk'] as const) {
    it(`close() resolves only after every line is in the file: many lines, three create-log-close rounds, read at once (${disk})`, async (t) => {
      // Many lines (and bytes), so the file stream still holds a backlog when the logger itself has taken
      // the last one; on the slow disk always: a close() that resolves on the logger's end, not the
      // file's, loses the tail (and the next run's lines land before it).
      const perRun = 3_000;
      const padding = 'x'.repeat(200);
      if (disk === 'a slow disk') t.after(slowDisk(20));
      await withTempDir(async (dir) => {
        for (const run of [1, 2, 3]) {
          const log = createLogger({ level: 'info', dir, console: false, maxFiles: '30d', secrets: [], base: { pos: 1 } });
          for (let seq = 0; seq < perRun; seq++) log.info('test.line', { run, seq, padding });
          log.info('agent.stopped', { run });
          await log.close();
          // Read right after close(), before the next run opens the file: this run's last line is there.
          const lines = await logLines(dir);
          assert.equal(lines.length, run * (perRun + 1), `after run ${run}'s close, every line written so far is in the file`);
          assert.deepEqual(lines.at(-1)!.event, 'agent.stopped');
          assert.equal(lines.at(-1)!.run, run);
        }
        const lines = await logLines(dir);
        const expected = [1, 2, 3].flatMap((run) => [...Array.from({ length: perRun }, (_, seq) => `${run}:${seq}`), `${run}:stopped`]);
        assert.deepEqual(
          lines.map((l) => (l.event === 'agent.stopped' ? `${l.run}:stopped` : `${l.run}:${l.seq}`)),
          expected,
          'every line of every run, in the order written',
        );
      }, 'kassir-log');
    });
  }
});
