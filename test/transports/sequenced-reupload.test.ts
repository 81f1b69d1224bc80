/**
 * The sequenced push (src/transports/sequenced.ts) over a real share folder and
 * a real store: a package whose notes say its temporary file is whole, but
 * whose temporary file turns out incomplete, is uploaded again; its notes go
 * back to "not uploaded" first, so an upload cut off on a server that deletes
 * aborted uploads is redone instead of read as renamed.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import type { Store } from '../../src/store/store.js';
import { FolderRemoteDir } from '../../src/transports/folder/folder-remote-dir.js';
import { SequencedFilesTransport } from '../../src/transports/sequenced.js';
import { nullLogger } from '../../src/util/logger.js';
import { openTempStore } from '../helpers/temp-store.js';

/** Package `n`'s bytes: a block header and one transaction. */
const body = (n: number) => `#\r\n${n};01.01.2026;10:00:00;11;1;;;;;;\r\n`;

/** A real store with `n` sealed packages, one transaction each. */
async function queued(t: TestContext, n: number): Promise<{ store: Store; share: string }> {
  const { store, root } = await openTempStore(t, 'ahead-notes');
  for (let i = 1; i <= n; i++) {
    const text = body(i);
    await store.appendPlanned(() => ({ chunk: Buffer.from(text), edit: (d) => {
      d.open.pkg = { transactions: 1, bytes: text.length };
    }, result: undefined }));
    await store.seal();
  }
  const share = join(root, 'share');
  await fs.mkdir(share);
  return { store, share };
}

/** A transport session (opened) over the share `dir`. */
async function openSession(dir: string): Promise<{ transport: SequencedFilesTransport }> {
  const transport = new SequencedFilesTransport('folder', new FolderRemoteDir(dir), { referenceName: 'POS1.spr', reportName: 'POS1.rep', sequenced: true });
  await transport.open();
  return { transport };
}

describe('a noted temporary file found incomplete', () => {
  it('is noted back to "not uploaded" before it is uploaded again: an upload cut off on a server that deletes aborted uploads is redone, not read as renamed', async (t) => {
    const { store, share: dir } = await queued(t, 1);
    // An earlier attempt noted package 1 as uploaded, then its temporary file turned out short (a cut-off upload).
    const temp = 'POS1.rep.kassir-agent-1.tmp';
    const first = await store.beginAttempt(1);
    await store.saveNotes(1, { stage: 'uploaded', temp, final: 'POS1.rep.$1' });
    await fs.writeFile(join(dir, temp), body(1).slice(0, 5));
    /** A share whose next upload is cut off and deleted by the server, as ProFTPD does with DeleteAbortedStores. */
    class CutOff extends FolderRemoteDir {
      override async upload(_local: string, path: string): Promise<void> {
        await fs.rm(join(dir, path), { force: true });
        throw new Error('injected: the data connection was cut, the server deleted the partial upload');
      }
    }
    const push = (transport: SequencedFilesTransport, notes: unknown) =>
      transport.push(store.outgoing(first), { notes: structuredClone(notes) as never, saveNotes: (n, ahead) => store.saveNotes(1, n, ahead), log: nullLogger, signal: new AbortController().signal, upcoming: [] });
    const cut = new SequencedFilesTransport('folder', new CutOff(dir), { referenceName: 'POS1.spr', reportName: 'POS1.rep', sequenced: true });
    await cut.open();
    await assert.rejects(push(cut, { stage: 'uploaded', temp, final: 'POS1.rep.$1' }), /injected/);
    await cut.close();
    const again = await store.beginAttempt(1);
    assert.notEqual((again.notes as { stage?: string }).stage, 'uploaded', 'the notes no longer say the temporary file is whole');
    const session = await openSession(dir);
    const r = await push(session.transport, again.notes);
    await session.transport.close();
    assert.equal(r.remoteName, 'POS1.rep.$1');
    assert.equal(await fs.readFile(join(dir, 'POS1.rep.$1'), 'utf8'), body(1), 'the package is on the share, whole');
  });
});
