/**
 * The deliverer with a real store and till folder in a temp folder: reference
 * parts merged into one file only once Kassir has taken the previous one (gone
 * or line 2 `@`), requests one at a time and marked taken when their file is
 * gone, and a delivery interrupted by a crash finished exactly once.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs/promises';
import { join } from 'node:path';
import { it, type TestContext } from 'node:test';
import { TillDeliverer } from '../../src/till/deliver.js';
import type { IncomingPart } from '../../src/transports/transport.js';
import { openTempStore } from '../helpers/temp-store.js';
import { setFailpoints } from '../../src/util/failpoints.js';

let seq = 0;

async function setup(t: TestContext) {
  const { till, store, log } = await openTempStore(t, 'deliver');
  const deliverer = new TillDeliverer({ tillDir: till, referenceFile: 'POS1.spr', requestFile: 'POS1.flr', encoding: 'auto' }, store, log);
  /** Stages parts as a pull would. */
  const stage = async (...parts: { kind: 'spr' | 'flr'; text: string; uid?: string }[]) => {
    const incoming: IncomingPart[] = [];
    for (const p of parts) {
      const localPath = join(store.tmpDir, `part-${++seq}`);
      await fs.writeFile(localPath, p.text, 'latin1');
      incoming.push({ localPath, remoteName: `part ${seq}`, kind: p.kind, ...(p.uid ? { uid: p.uid } : {}) });
    }
    return store.stage(incoming, {});
  };
  const tillFile = (name: string) => fs.readFile(join(till, name), 'latin1');
  return { store, deliverer, stage, till, tillFile, log };
}

it('reference parts: merged into one file; newer parts wait until Kassir has taken it (line 2 @), then go in one delivery', async (t) => {
  const { store, deliverer, stage, till, tillFile, log } = await setup(t);
  await stage({ kind: 'spr', text: '##@@&&\r\n#\r\n1;a\r\n' }, { kind: 'spr', text: '##@@&&\r\n#\r\n2;b\r\n' });
  assert.deepEqual(await deliverer.deliver(), { delivered: 1, waiting: false });
  assert.equal(await tillFile('POS1.spr'), '##@@&&\r\n#\r\n1;a\r\n2;b\r\n');
  assert.deepEqual(store.state.inbox, []);
  assert.deepEqual(await fs.readdir(store.inboxDir), [], 'retired parts are removed');
  assert.equal(store.state.counters.referenceFilesDelivered, 1);
  assert.ok(store.state.lastReferenceDelivered);
  assert.equal(store.state.delivering, undefined);

  await stage({ kind: 'spr', text: '##@@&&\r\n#\r\n3;c\r\n' }, { kind: 'spr', text: '##@@&&\r\n#\r\n4;d\r\n' });
  assert.deepEqual(await deliverer.deliver(), { delivered: 0, waiting: true }, 'line 2 is still #: Kassir has not loaded it');
  assert.equal(await tillFile('POS1.spr'), '##@@&&\r\n#\r\n1;a\r\n2;b\r\n');
  // Kassir loads the file and marks it so.
  await fs.writeFile(join(till, 'POS1.spr'), '##@@&&\r\n@\r\n1;a\r\n2;b\r\n', 'latin1');
  assert.deepEqual(await deliverer.deliver(), { delivered: 1, waiting: false });
  assert.equal(await tillFile('POS1.spr'), '##@@&&\r\n#\r\n3;c\r\n4;d\r\n');
  assert.equal(store.state.counters.referenceFilesDelivered, 2);
  assert.equal(log.records.filter((r) => r.event === 'till.reference.delivered').length, 2);
  assert.deepEqual((await fs.readdir(till)).sort(), ['POS1.spr'], 'no temporary file left');
});

it('requests: one request file at a time, recorded when delivered, marked taken when Kassir removes it', async (t) => {
  const { store, deliverer, stage, till, tillFile, log } = await setup(t);
  await stage({ kind: 'flr', text: 'A\r\n', uid: 'U-A' }, { kind: 'flr', text: 'B\r\n', uid: 'U-B' });
  assert.deepEqual(await deliverer.deliver(), { delivered: 1, waiting: true });
  assert.equal(await tillFile('POS1.flr'), 'A\r\n');
  assert.deepEqual(store.state.requests.map((r) => [r.uid, r.takenAt]), [['U-A', undefined]]);
  assert.deepEqual(await deliverer.deliver(), { delivered: 0, waiting: true }, 'the previous request is still there');
  await deliverer.noticeTakenRequests();
  assert.equal(store.state.requests[0]!.takenAt, undefined);

  await fs.rm(join(till, 'POS1.flr'));
  await deliverer.noticeTakenRequests();
  assert.ok(store.state.requests[0]!.takenAt, 'taken once its file is gone');
  assert.deepEqual(log.records.filter((r) => r.event === 'till.request.taken').map((r) => r.fields.uid), ['U-A']);
  assert.deepEqual(await deliverer.deliver(), { delivered: 1, waiting: false });
  assert.equal(await tillFile('POS1.flr'), 'B\r\n');
  assert.deepEqual(store.state.requests.map((r) => r.uid), ['U-A', 'U-B']);
});

it('a delivery cut by a crash: before the rename it is made again, after it the parts are retired; never twice', async (t) => {
  const { store, deliverer, stage, till, tillFile, log } = await setup(t);
  const [a] = await stage({ kind: 'spr', text: '##@@&&\r\n#\r\n$$$ADD\r\n1;a\r\n' });
  const target = join(till, 'POS1.spr');
  const tmp = join(till, '.POS1.spr.kassir-agent.tmp');
  // Crash before the rename: the temporary file is still there.
  await fs.writeFile(tmp, 'half');
  await store.startDelivery({ tmp, target, inboxIds: [a!.id], kind: 'spr' });
  await deliverer.recover();
  assert.equal(store.state.delivering, undefined);
  assert.equal(store.state.inbox.length, 1, 'the part is still to deliver');
  assert.deepEqual(await fs.readdir(till), [], 'the temporary file is gone');
  assert.deepEqual(log.records.filter((r) => r.event.startsWith('till.recover.')).map((r) => r.event), ['till.recover.redeliver']);
  assert.deepEqual(await deliverer.deliver(), { delivered: 1, waiting: false });
  assert.match(await tillFile('POS1.spr'), /\$\$\$ADD\r\n1;a\r\n$/);

  // Crash after the rename: the temporary file is gone, the file is in place; the part must not be delivered again.
  await fs.writeFile(target, '##@@&&\r\n@\r\n', 'latin1');
  const [b] = await stage({ kind: 'spr', text: '##@@&&\r\n#\r\n$$$ADD\r\n2;b\r\n' });
  await fs.writeFile(target, '##@@&&\r\n#\r\n$$$ADD\r\n2;b\r\n', 'latin1');
  await store.startDelivery({ tmp, target, inboxIds: [b!.id], kind: 'spr' });
  await deliverer.recover();
  assert.deepEqual(store.state.inbox, []);
  assert.equal(store.state.counters.referenceFilesDelivered, 2);
  assert.deepEqual(await deliverer.deliver(), { delivered: 0, waiting: false });
  assert.equal(await tillFile('POS1.spr'), '##@@&&\r\n#\r\n$$$ADD\r\n2;b\r\n');
});

it('a crash while an interrupted delivery is undone: the part is still delivered, once', async (t) => {
  const { store, stage, till, tillFile, log } = await setup(t);
  const [a] = await stage({ kind: 'spr', text: '##@@&&\r\n#\r\n$$$ADD\r\n1;a\r\n' });
  const tmp = join(till, '.POS1.spr.kassir-agent.tmp');
  // Cut before the rename: the intent is recorded, the temporary file is there.
  await fs.writeFile(tmp, '##@@&&\r\n#\r\n$$$ADD\r\n1;a\r\n', 'latin1');
  await store.startDelivery({ tmp, target: join(till, 'POS1.spr'), inboxIds: [a!.id], kind: 'spr' });
  // The next start is cut in turn, half-way through undoing it.
  setFailpoints('till.recover.after-undo:eio');
  t.after(() => setFailpoints(undefined));
  const first = new TillDeliverer({ tillDir: till, referenceFile: 'POS1.spr', requestFile: 'POS1.flr', encoding: 'auto' }, store, log);
  await assert.rejects(first.recover(), /injected at failpoint till.recover.after-undo/);
  setFailpoints(undefined);
  // The start after that must not read what is left as "renamed": the part was never in the till folder.
  const second = new TillDeliverer({ tillDir: till, referenceFile: 'POS1.spr', requestFile: 'POS1.flr', encoding: 'auto' }, store, log);
  assert.deepEqual(await second.deliver(), { delivered: 1, waiting: false });
  assert.match(await tillFile('POS1.spr'), /\$\$\$ADD\r\n1;a\r\n$/, 'the part reached the till');
  assert.deepEqual(store.state.inbox, []);
  assert.equal(store.state.counters.referenceFilesDelivered, 1, 'delivered once');
  assert.deepEqual(await fs.readdir(till), ['POS1.spr'], 'no temporary file left');
});

// The merged file is renamed into the till folder; across volumes a rename fails (EXDEV) and it is copied instead.
const shm = '/dev/shm';
const otherVolume = process.platform !== 'linux' ? 'needs /dev/shm, a tmpfs on another volume than the temp folder (Linux)' : false;
it('reference parts: delivered into a till folder on another volume than the store (the merged file is copied, not renamed)', { skip: otherVolume }, async (t) => {
  const { store, stage, log } = await setup(t);
  if ((await fs.stat(shm)).dev === (await fs.stat(store.tmpDir)).dev) return t.skip('/dev/shm is on the same volume as the temp folder here');
  const till = await fs.mkdtemp(join(shm, 'kassir-deliver-'));
  t.after(() => fs.rm(till, { recursive: true, force: true }));
  const deliverer = new TillDeliverer({ tillDir: till, referenceFile: 'POS1.spr', requestFile: 'POS1.flr', encoding: 'auto' }, store, log);
  await stage({ kind: 'spr', text: '##@@&&\r\n#\r\n1;a\r\n' }, { kind: 'spr', text: '##@@&&\r\n#\r\n2;b\r\n' });
  assert.deepEqual(await deliverer.deliver(), { delivered: 1, waiting: false });
  assert.equal(await fs.readFile(join(till, 'POS1.spr'), 'latin1'), '##@@&&\r\n#\r\n1;a\r\n2;b\r\n');
  assert.deepEqual(await fs.readdir(till), ['POS1.spr'], 'no temporary file left');
  assert.deepEqual(store.state.inbox, []);
  assert.deepEqual((await fs.readdir(store.tmpDir)).filter((n) => n.startsWith('merge-')), [], 'the merge folder is removed');
});
