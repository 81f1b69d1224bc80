/**
 * The outbox journal (src/store/outbox-journal.ts): transport notes and
 * deliveries are journal records until a checkpoint moves them into the
 * package files. Each case leaves the data folder as a crash would (a copy of
 * it taken while the store is open: what a SIGKILL leaves, the page cache
 * included) or as a power cut might (records lost or torn), and checks what
 * the store makes of it.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { OutboxJournal, readJournal } from '../../src/store/outbox-journal.js';
import { Store } from '../../src/store/store.js';
import { setFailpoints } from '../../src/util/failpoints.js';
import { tempNameFor } from '../../src/util/fsutil.js';
import { memoryLogger, type LogRecord } from '../../src/util/logger.js';

let root: string;
let records: LogRecord[];
const open = async (dir: string, readOnly = false) => {
  const s = new Store(dir, { retentionDays: 30, readOnly }, memoryLogger({}, records));
  await s.open();
  return s;
};
const events = () => records.map((r) => r.event);

/** A store with `n` sealed packages of one transaction each. */
async function withPackages(dir: string, n: number): Promise<Store> {
  const s = await open(dir);
  for (let i = 1; i <= n; i++) {
    const text = `#\r\n${i};01.01.2026;10:00:00;11;1;;;;;;\r\n`;
    await s.appendPlanned(() => ({ chunk: Buffer.from(text), edit: (d) => {
      d.open.pkg = { transactions: 1, bytes: text.length };
    }, result: undefined }));
    await s.seal();
  }
  return s;
}

/** Records the delivery of each package `n` as `POS1.rep.$n`. */
async function deliver(s: Store, ...numbers: number[]): Promise<void> {
  for (const n of numbers) await s.delivered(n, { outcome: 'delivered', remoteName: `POS1.rep.$${n}` }, {});
}

/** What a SIGKILL leaves: the data folder as it is now (copied while the store is open). */
async function crashCopy(dir: string): Promise<string> {
  const copy = join(root, `crash-${Date.now()}-${Math.random().toString(36).slice(2)}`);
  // Without the lock: the dead process's lock would not hold (and on Windows it is open for no one else to read).
  await fs.cp(dir, copy, { recursive: true, filter: (src) => basename(src) !== 'agent.lock' });
  return copy;
}

/** Makes `n` packages in a data folder, does `what` to the open store, and returns what a SIGKILL right then leaves. */
async function crashedAfter(n: number, what: (s: Store) => Promise<void>): Promise<string> {
  const s = await withPackages(join(root, 'data'), n);
  await what(s);
  const copy = await crashCopy(join(root, 'data'));
  await s.close();
  return copy;
}

beforeEach(async () => {
  root = await fs.mkdtemp(join(tmpdir(), 'kassir-journal-'));
  records = [];
});
afterEach(async () => {
  setFailpoints(undefined);
  await fs.rm(root, { recursive: true, force: true });
});

describe('outbox journal', () => {
  it('a delivery is one journal record until the checkpoint moves the package to the archive', async () => {
    const dir = join(root, 'data');
    const s = await withPackages(dir, 2);
    await s.saveNotes(1, { stage: 'uploaded', temp: 't1', final: 'POS1.rep.$1' });
    await deliver(s, 1);
    assert.deepEqual(s.queued().map((m) => m.number), [2]);
    assert.ok((await fs.readdir(join(dir, 'outbox'))).includes('1.rep'), 'the files stay in the outbox until the checkpoint');
    const journal = (await readJournal(join(dir, 'outbox/journal.jsonl'))).records.map((r) => r.op);
    assert.deepEqual(journal, ['notes', 'delivered']);

    await s.checkpoint();
    assert.deepEqual((await fs.readdir(join(dir, 'archive'))).sort(), ['1.json', '1.rep']);
    assert.ok(!(await fs.readdir(join(dir, 'outbox'))).includes('1.json'));
    const archived = JSON.parse(await fs.readFile(join(dir, 'archive/1.json'), 'utf8'));
    assert.equal(archived.remoteName, 'POS1.rep.$1');
    assert.equal((await fs.stat(join(dir, 'outbox/journal.jsonl'))).size, 0, 'the journal is emptied');
    await s.close();
  });

  it('a crash after a delivery was recorded: the package is archived at start-up, not sent again', async () => {
    const copy = await crashedAfter(3, (s) => deliver(s, 1, 2));

    const s2 = await open(copy);
    assert.deepEqual(s2.queued().map((m) => m.number), [3]);
    assert.deepEqual((await fs.readdir(join(copy, 'archive'))).sort(), ['1.json', '1.rep', '2.json', '2.rep']);
    assert.equal(events().filter((e) => e === 'store.recover.journal').length, 2);
    assert.equal((await fs.stat(join(copy, 'outbox/journal.jsonl'))).size, 0);
    await s2.close();
  });

  it('notes written only to the journal reach the package meta after a crash', async () => {
    const notes = { stage: 'uploaded', temp: 'Files/POS1.rep.kassir-agent-1.tmp', final: 'Files/POS1.rep.$4' };
    const copy = await crashedAfter(1, (s) => s.saveNotes(1, notes));
    const onDisk = JSON.parse(await fs.readFile(join(copy, 'outbox/1.json'), 'utf8'));
    assert.deepEqual(onDisk.notes, {}, 'the meta file itself was not rewritten');

    const s2 = await open(copy);
    assert.deepEqual(s2.queued()[0]?.notes, notes);
    assert.deepEqual(JSON.parse(await fs.readFile(join(copy, 'outbox/1.json'), 'utf8')).notes, notes, 'written into the meta at start-up');
    await s2.close();
  });

  it('notes saved ahead for queued packages travel in the same sync, survive a crash, and never replace notes an attempt saved', async () => {
    const own = { bodySha256: 'b3', zipped: false };
    const copy = await crashedAfter(3, async (s) => {
      await s.saveNotes(3, own);
      await s.saveNotes(1, { bodySha256: 'b1' }, [
        { number: 2, notes: { bodySha256: 'b2' } },
        { number: 3, notes: { bodySha256: 'other' } },
      ]);
      assert.deepEqual(s.queued().map((m) => m.notes), [{ bodySha256: 'b1' }, { bodySha256: 'b2' }, own]);
    });
    const journal = (await readJournal(join(copy, 'outbox/journal.jsonl'))).records.map((r) => (r.op === 'notes' ? r.n : 'delivered'));
    assert.deepEqual(journal, [3, 2, 1], 'the ahead record before the synced one of the package being sent; none for package 3');
    const s2 = await open(copy);
    assert.deepEqual(s2.queued().map((m) => [m.number, m.notes]), [[1, { bodySha256: 'b1' }], [2, { bodySha256: 'b2' }], [3, own]]);
    await s2.close();
  });

  it('a delivery record lost to a power cut: the package is queued again with its notes (the transport settles it)', async () => {
    const notes = { stage: 'uploaded', temp: 't', final: 'POS1.rep.$1' };
    const copy = await crashedAfter(1, async (s) => {
      await s.saveNotes(1, notes);
      await deliver(s, 1);
    });
    // The delivery record was not synced on its own: a power cut may take it, leaving the synced notes.
    const path = join(copy, 'outbox/journal.jsonl');
    const lines = (await fs.readFile(path, 'utf8')).split('\n').filter(Boolean);
    await fs.writeFile(path, `${lines[0]}\n${lines[1]!.slice(0, 40)}`);

    const s2 = await open(copy);
    assert.deepEqual(s2.queued().map((m) => [m.number, m.notes]), [[1, notes]]);
    assert.ok(!events().includes('store.recover.journal-damaged'), 'a torn last line is an interrupted append, not damage');
    await s2.close();
  });

  it('an unreadable line inside the journal is quarantined and reported; the readable records still count', async () => {
    const copy = await crashedAfter(2, (s) => deliver(s, 1, 2));
    const path = join(copy, 'outbox/journal.jsonl');
    const lines = (await fs.readFile(path, 'utf8')).split('\n').filter(Boolean);
    await fs.writeFile(path, `{"op":"delivered","meta":{"number":"bad"}}\n${lines[1]}\n`);

    const s2 = await open(copy);
    assert.ok(events().includes('store.recover.journal-damaged'));
    assert.ok((await fs.readdir(join(copy, 'quarantine'))).some((n) => n.includes('journal')), 'the journal is kept in quarantine');
    assert.deepEqual(s2.queued().map((m) => m.number), [1], 'package 2 archived from its record; package 1 queued again');
    await s2.close();
  });

  it('status (read-only) sees the journal: a delivered package is not shown as queued', async () => {
    const dir = join(root, 'data');
    const s = await withPackages(dir, 2);
    await deliver(s, 1);
    const ro = await open(dir, true);
    assert.deepEqual(ro.queued().map((m) => m.number), [2]);
    await s.close();
  });

  it('resend of a package delivered in this run finds it in the archive', async () => {
    const dir = join(root, 'data');
    const s = await withPackages(dir, 1);
    await deliver(s, 1);
    const again = await s.requeueArchived(1);
    assert.equal(again.resendOf, 1);
    assert.deepEqual(s.queued().map((m) => m.number), [again.number]);
    await s.close();
  });

  it('an append whose fsync failed is cut before the next one, so no stray bytes sit between records', async () => {
    const path = join(root, 'journal.jsonl');
    const j = new OutboxJournal(path);
    await j.reset();
    setFailpoints('fsync.file:eio');
    await assert.rejects(j.append({ op: 'notes', n: 1, notes: { stage: 'uploaded', final: 'a-long-name-that-is-longer-than-the-next-one' } }), /EIO/);
    setFailpoints(undefined);
    await j.append({ op: 'notes', n: 2, notes: {} });
    await j.close();
    const { records: recs, bad } = await readJournal(path);
    assert.deepEqual(bad, []);
    assert.deepEqual(recs, [{ op: 'notes', n: 2, notes: {} }]);
  });
  it('a checkpoint makes each outbox meta its archive meta: the delivered meta whole, even when shorter than the queued one', async () => {
    const dir = join(root, 'data');
    const s = await withPackages(dir, 2);
    await s.beginAttempt(1);
    // A failed attempt leaves a long lastError in the outbox meta; the delivered meta has none, so it is shorter.
    await s.failAttempt(1, `refused: ${'x'.repeat(400)}`, { outcome: 'failed' });
    const queued = await fs.stat(join(dir, 'outbox/1.json'));
    await deliver(s, 1, 2);
    await s.checkpoint();
    for (const n of [1, 2]) {
      const text = await fs.readFile(join(dir, `archive/${n}.json`), 'utf8');
      const meta = JSON.parse(text);
      assert.equal(text, JSON.stringify(meta, null, 1) + '\n', `archive/${n}.json holds the delivered meta and nothing after it`);
      assert.equal(meta.remoteName, `POS1.rep.$${n}`);
      assert.equal(meta.lastError, undefined);
    }
    assert.ok((await fs.stat(join(dir, 'archive/1.json'))).size < queued.size, 'the delivered meta is shorter than the queued one was');
    assert.deepEqual((await fs.readdir(join(dir, 'outbox'))).filter((n) => n !== 'journal.jsonl' && n !== 'open.rep'), []);
    assert.deepEqual((await fs.readdir(join(dir, 'archive'))).sort(), ['1.json', '1.rep', '2.json', '2.rep'], 'no temporary left');
    await s.close();
  });

  it('a checkpoint syncs the journal\'s delivery records before it moves a file: a failed sync leaves every package where it was', async () => {
    const dir = join(root, 'data');
    const s = await withPackages(dir, 2);
    await deliver(s, 1, 2);
    // The deliveries were appended unsynced: the checkpoint's first fsync is the journal's.
    setFailpoints('fsync.file:eio:1');
    await assert.rejects(s.checkpoint(), /EIO/);
    setFailpoints(undefined);
    assert.deepEqual((await fs.readdir(join(dir, 'archive'))).sort(), [], 'nothing moved before the journal was durable');
    assert.ok((await fs.readdir(join(dir, 'outbox'))).includes('1.json'));
    await s.checkpoint();
    assert.deepEqual((await fs.readdir(join(dir, 'archive'))).sort(), ['1.json', '1.rep', '2.json', '2.rep']);
    await s.close();
  });

  it('a power cut in the middle of a checkpoint\'s moves: the journal\'s replay archives every package whole, none is queued again', async () => {
    const copy = await crashedAfter(3, async (s) => {
      await deliver(s, 1, 2);
      await s.checkpoint();
      await deliver(s, 3);
    });
    // What a cut could leave of the moves of package 3 in the next checkpoint (its delivery record synced first):
    // the outbox meta renamed to an archive temporary, or already to its name with a torn rewrite.
    const variants = [
      async (dir: string) => fs.rename(join(dir, 'outbox/3.json'), tempNameFor(join(dir, 'archive/3.json'))),
      async (dir: string) => {
        const text = await fs.readFile(join(dir, 'outbox/3.json'), 'utf8');
        await fs.rm(join(dir, 'outbox/3.json'));
        await fs.writeFile(join(dir, 'archive/3.json'), text.slice(0, 40));
      },
    ];
    for (const [i, cut] of variants.entries()) {
      const dir = join(root, `cut-${i}`);
      await fs.cp(copy, dir, { recursive: true });
      await fs.rename(join(dir, 'outbox/3.rep'), join(dir, 'archive/3.rep'));
      await cut(dir);
      const s2 = await open(dir);
      assert.deepEqual(s2.queued(), [], `variant ${i}: nothing queued again`);
      assert.deepEqual((await fs.readdir(join(dir, 'archive'))).sort(), ['1.json', '1.rep', '2.json', '2.rep', '3.json', '3.rep'], `variant ${i}: no temporary left`);
      assert.equal(JSON.parse(await fs.readFile(join(dir, 'archive/3.json'), 'utf8')).remoteName, 'POS1.rep.$3', `variant ${i}`);
      await s2.close();
    }
  });
});
