/**
 * Notes saved ahead by the sequenced push (src/transports/sequenced.ts), over a
 * real share folder and a real store: while a backlog drains, the notes of the
 * packages whose uploads ahead are whole go with an earlier package's notes
 * (one sync for several packages), each with the final name it gets if every
 * rename before it takes the next number. A predicted name that is no longer
 * the next one when its package's turn comes is chosen and noted again, in a
 * running session and in a new one (after a crash or a reconnect), so nothing
 * lands below a package renamed before it; a package with notes is not
 * uploaded early again.
 *
 * The uploads ahead wait at a gate that the drive loop opens before each push
 * and closes again once they are over: which uploads are whole when a package
 * is noted follows from the order of the pushes alone, not from timing.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import type { Store } from '../../src/store/store.js';
import { FolderRemoteDir } from '../../src/transports/folder/folder-remote-dir.js';
import type { RemoteDir } from '../../src/transports/remote-dir.js';
import { SequencedFilesTransport } from '../../src/transports/sequenced.js';
import { UPCOMING_PACKAGES } from '../../src/transports/transport.js';
import { nullLogger } from '../../src/util/logger.js';
import { openTempStore } from '../helpers/temp-store.js';

/** A gate that opens and closes again (Promise.withResolvers is newer than Node 20). */
function closedGate(): { promise: Promise<void>; open: () => void; fail: () => void } {
  let open!: () => void;
  let fail!: () => void;
  const promise = new Promise<void>((resolve, reject) => {
    open = resolve;
    fail = () => reject(new Error('injected: this session is gone'));
  });
  promise.catch(() => undefined);
  return { promise, open, fail };
}

/** A share whose uploads ahead (on forked sessions) wait at a gate, and whose main session records what it looks at. */
class GatedShare extends FolderRemoteDir {
  readonly early: number[] = [];
  readonly looked: string[] = [];
  private gate = closedGate();
  private running: Promise<unknown>[] = [];

  override fork(): RemoteDir {
    const main = this;
    // The forked session's own look (its upload's size check) is not the main session's.
    return Object.assign(Object.create(this) as FolderRemoteDir, {
      upload(this: FolderRemoteDir, localPath: string, path: string) {
        const upload = main.gate.promise.then(() => {
          main.early.push(Number(/kassir-agent-(\d+)\.tmp$/.exec(path)![1]));
          return FolderRemoteDir.prototype.upload.call(this, localPath, path);
        });
        main.running.push(upload.catch(() => undefined));
        return upload;
      },
      size(this: FolderRemoteDir, path: string) {
        return FolderRemoteDir.prototype.size.call(this, path);
      },
      async close() {},
    });
  }

  override async size(path: string): Promise<number | undefined> {
    this.looked.push(path);
    return super.size(path);
  }

  /** Lets every upload ahead started so far run (and the ones queued behind them), waits until all are over, closes the gate again. */
  async letAheadRun(): Promise<void> {
    this.gate.open();
    for (;;) {
      // An upload queued behind another on its session starts in the microtasks after it: a macrotask later it has.
      await new Promise((resolve) => setImmediate(resolve));
      if (this.running.length === 0) break;
      await Promise.all(this.running.splice(0));
    }
    this.gate = closedGate();
  }

  /** The session is gone (a killed agent's): uploads ahead waiting at the gate fail. */
  async abandon(): Promise<void> {
    this.gate.fail();
    await Promise.all(this.running.splice(0));
  }
}

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

interface NotesWrite {
  package: number;
  ahead: number[];
}

interface Session {
  share: GatedShare;
  transport: SequencedFilesTransport;
}

/** A transport session (opened) over a gated share of `dir`. */
async function openSession(dir: string): Promise<Session> {
  const share = new GatedShare(dir);
  const transport = new SequencedFilesTransport('folder', share, { referenceName: 'POS1.spr', reportName: 'POS1.rep', sequenced: true });
  await transport.open();
  return { share, transport };
}

/**
 * What the exchange's push flow does, for the queued packages (`count` of them, or all),
 * recording each notes write in `writes` and each package's final name in `finals`.
 */
async function drain(store: Store, { share, transport }: Session, writes: NotesWrite[], finals: Map<number, string>, count = Infinity): Promise<void> {
  for (const head of store.queued().slice(0, count)) {
    await share.letAheadRun();
    const meta = await store.beginAttempt(head.number);
    const upcoming = store.queuedAfter(meta.number, UPCOMING_PACKAGES).map((m) => store.outgoing(m));
    const r = await transport.push(store.outgoing(meta), {
      notes: structuredClone(meta.notes),
      saveNotes: (notes, ahead) => {
        writes.push({ package: meta.number, ahead: (ahead ?? []).map((a) => a.number) });
        return store.saveNotes(meta.number, notes, ahead);
      },
      log: nullLogger,
      signal: new AbortController().signal,
      upcoming,
    });
    await store.delivered(meta.number, r, {});
    finals.set(meta.number, r.remoteName);
  }
}

const record = () => ({ writes: [] as NotesWrite[], finals: new Map<number, string>() });

/** Each package under its final name with its own bytes, and the finals rising with the package numbers. */
async function assertInOrder(share: string, finals: Map<number, string>): Promise<void> {
  let last = 0;
  for (const [n, name] of [...finals].sort((a, b) => a[0] - b[0])) {
    assert.equal(await fs.readFile(join(share, name), 'utf8'), body(n), `package ${n} under ${name}`);
    const k = Number(name.slice('POS1.rep.$'.length));
    assert.ok(k > last, `package ${n} at ${name}, below the package before it ($${last})`);
    last = k;
  }
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

describe('notes saved ahead', () => {
  it('go with an earlier package\'s notes for the uploads ahead that are whole; those packages are renamed without a notes write or a look at their temporary file', async (t) => {
    const { store, share: dir } = await queued(t, 10);
    const session = await openSession(dir);
    const { writes, finals } = record();
    await drain(store, session, writes, finals);
    await session.transport.close();
    const { share } = session;
    // 1: nothing ahead is whole yet. 2: the uploads of 3-5 are (6 was started during this push).
    // 3-5: noted already. 6: 7-9 are whole (10 was started during this push). 10: nothing after it.
    assert.deepEqual(writes, [
      { package: 1, ahead: [] },
      { package: 2, ahead: [3, 4, 5] },
      { package: 6, ahead: [7, 8, 9] },
      { package: 10, ahead: [] },
    ]);
    assert.deepEqual([...finals.values()], Array.from({ length: 10 }, (_, i) => `POS1.rep.$${i + 1}`));
    await assertInOrder(dir, finals);
    assert.deepEqual(share.early.sort((a, b) => a - b), [2, 3, 4, 5, 6, 7, 8, 9, 10], 'each later package uploaded ahead once');
    // Package 1 was uploaded by its own push, which checks the size it left; no package after it is looked at again.
    assert.deepEqual(share.looked.filter((p) => p.endsWith('.tmp')), ['POS1.rep.kassir-agent-1.tmp'], 'no look at a temporary file uploaded and noted in this session');
    assert.deepEqual((await fs.readdir(dir)).filter((n) => n.endsWith('.tmp')), [], 'no temporary file left');
  });

  it('a predicted name another writer took is chosen again, and so is the next one noted ahead, in order', async (t) => {
    const { store, share: dir } = await queued(t, 8);
    const session = await openSession(dir);
    const { writes, finals } = record();
    await drain(store, session, writes, finals, 3);
    assert.deepEqual(writes.at(-1), { package: 2, ahead: [3, 4, 5] }, 'package 4 noted ahead as $4');
    await fs.writeFile(join(dir, 'POS1.rep.$4'), 'another writer');
    await drain(store, session, writes, finals);
    await session.transport.close();
    assert.equal(await fs.readFile(join(dir, 'POS1.rep.$4'), 'utf8'), 'another writer', 'the other file is left as it was');
    assert.equal(finals.get(4), 'POS1.rep.$5');
    assert.equal(finals.get(5), 'POS1.rep.$6', 'noted ahead as $5, which package 4 now holds: chosen again');
    assert.ok(writes.some((w) => w.package === 4) && writes.some((w) => w.package === 5), 'both noted again before their renames');
    await assertInOrder(dir, finals);
  });

  it('in a new session (a crash, a reconnect), a noted name below a report renamed since is chosen again; noted packages are not uploaded ahead again', async (t) => {
    const { store, share: dir } = await queued(t, 7);
    const first = await openSession(dir);
    const { writes, finals } = record();
    await drain(store, first, writes, finals, 2);
    assert.deepEqual(writes.at(-1), { package: 2, ahead: [3, 4, 5] });
    // Another writer's files at $3 and $5: package 3 goes above them, to $6, above the $4 noted for package 4.
    await fs.writeFile(join(dir, 'POS1.rep.$3'), 'another writer');
    await fs.writeFile(join(dir, 'POS1.rep.$5'), 'another writer');
    await drain(store, first, writes, finals, 1);
    assert.equal(finals.get(3), 'POS1.rep.$6');
    // The session ends as a killed agent's would (its uploads ahead never run); the next one starts from the store's notes.
    await first.share.abandon();
    await first.transport.close();
    const second = await openSession(dir);
    await drain(store, second, writes, finals);
    await second.transport.close();
    assert.equal(finals.get(4), 'POS1.rep.$7', 'not $4, below package 3');
    assert.equal(finals.get(5), 'POS1.rep.$8');
    const early = second.share.early;
    assert.ok(!early.includes(4) && !early.includes(5), `packages with notes are not uploaded ahead again (ahead: ${early.join(', ')})`);
    await assertInOrder(dir, finals);
    assert.deepEqual((await fs.readdir(dir)).filter((n) => n.endsWith('.tmp')), [], 'no temporary file left');
  });
});
