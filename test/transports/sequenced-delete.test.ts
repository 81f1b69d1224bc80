/**
 * Regression (reliability harness, FTP random kills): the agent was killed after deleting a fetched
 * part but before clearing its pending-delete record; the back office then published its next part
 * under the freed name, same size, same second. At the next start the stale record deleted the new,
 * never-fetched part. Small parts are now compared by content before deletion.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs/promises';
import { join } from 'node:path';
import { it } from 'node:test';
import { FolderRemoteDir } from '../../src/transports/folder/folder-remote-dir.js';
import { SequencedFilesTransport } from '../../src/transports/sequenced.js';
import type { IncomingPart, PullContext, TransportCursor } from '../../src/transports/transport.js';
import { nullLogger } from '../../src/util/logger.js';
import { withTempDir } from '../helpers/temp-dir.js';

it('a stale pending delete never removes a new part published under the same name, size and mtime', async () => {
  await withTempDir(async (root) => {
    const share = join(root, 'share');
    const tmp = join(root, 'tmp');
    await fs.mkdir(share);
    await fs.mkdir(tmp);
    const t = new SequencedFilesTransport('folder', new FolderRemoteDir(share), { referenceName: 'POS1.spr', reportName: 'POS1.rep', sequenced: true });
    const staged: { name: string; data: string }[] = [];
    const ctx = (cursor: TransportCursor): PullContext => ({
      tmpDir: tmp,
      cursor,
      log: nullLogger,
      signal: new AbortController().signal,
      stage: async (parts: IncomingPart[], next: TransportCursor) => {
        for (const p of parts) staged.push({ name: p.remoteName, data: await fs.readFile(p.localPath, 'latin1') });
        c.cursor = next;
        saved = next;
      },
      quarantine: async () => {
        throw new Error('nothing should be quarantined');
      },
    });
    let saved: TransportCursor = {};
    let c = ctx({});
    const old = '##@@&&\r\n#\r\nP5;;part;;1;\r\n';
    const fresh = '##@@&&\r\n#\r\nP6;;part;;1;\r\n'; // same length
    await fs.writeFile(join(share, 'POS1.spr.$1'), old);
    const when = new Date(Math.floor(Date.now() / 1000) * 1000);
    await fs.utimes(join(share, 'POS1.spr.$1'), when, when);

    // Fetch and stage; then, as if killed after the delete but before the record was cleared:
    const remote = new FolderRemoteDir(share);
    const stageOnly = { ...c, stage: async (parts: IncomingPart[], next: TransportCursor) => {
      for (const p of parts) staged.push({ name: p.remoteName, data: await fs.readFile(p.localPath, 'latin1') });
      saved = next;
      throw new Error('killed');
    } };
    await assert.rejects(t.pull(stageOnly), /killed/);
    assert.ok(Array.isArray((saved as { pendingDelete?: unknown[] }).pendingDelete) && (saved as { pendingDelete: unknown[] }).pendingDelete.length === 1);
    await remote.remove('POS1.spr.$1');
    // The back office publishes its next part under the freed name: same size, same second.
    await fs.writeFile(join(share, 'POS1.spr.$1'), fresh);
    await fs.utimes(join(share, 'POS1.spr.$1'), when, when);

    // The restarted agent: its stale record must not delete the new part; the new part is fetched.
    c = ctx(saved);
    await t.pull(c);
    assert.deepEqual(
      staged.map((s) => s.data),
      [old, fresh],
      'the new part reached the stage after the old one, and nothing was deleted unseen',
    );
    assert.deepEqual(await fs.readdir(share), [], 'once fetched, the new part is deleted too');
  }, 'kassir-seqdel');
});
