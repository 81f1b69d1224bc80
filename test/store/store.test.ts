/**
 * Start-up recovery of the data folder: each case leaves the files as a crash
 * or a power cut would, and checks what the store makes of them.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import * as fs from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { DataDirLockedError, ownRecord, processStart } from '../../src/store/lock.js';
import { waitFor } from '../helpers/wait.js';
import { Store } from '../../src/store/store.js';
import { setFailpoints } from '../../src/util/failpoints.js';
import { CLI_NODE_ARGS } from '../helpers/kassir.js';
import { memoryLogger, type LogRecord } from '../../src/util/logger.js';

let dir: string;
let records: LogRecord[];
const open = async () => {
  const log = memoryLogger({}, records);
  const s = new Store(dir, { retentionDays: 30 }, log);
  await s.open();
  return s;
};
const events = () => records.map((r) => r.event);

beforeEach(async () => {
  dir = await fs.mkdtemp(join(tmpdir(), 'kassir-store-'));
  records = [];
});
afterEach(async () => fs.rm(dir, { recursive: true, force: true }));

async function withOpenPackage(s: Store, text: string, tx: number) {
  await s.appendPlanned(() => ({ chunk: Buffer.from(text), edit: (d) => {
    d.open.pkg = { transactions: d.open.pkg.transactions + tx, bytes: d.open.pkg.bytes + text.length };
  }, result: undefined }));
}

describe('store recovery', () => {
  it('cuts an append that was never committed (its source is taken again)', async () => {
    const s = await open();
    await withOpenPackage(s, '#\r\n1\r\n2\r\nA\r\n', 1);
    await s.close();
    await fs.appendFile(join(dir, 'outbox/open.rep'), 'HALF-WRITTEN');
    const s2 = await open();
    assert.equal(await fs.readFile(join(dir, 'outbox/open.rep'), 'utf8'), '#\r\n1\r\n2\r\nA\r\n');
    assert.ok(events().includes('store.recover.truncate-open'));
    await s2.close();
  });

  it('completes a seal interrupted after the rename, without reusing the number', async () => {
    const s = await open();
    await withOpenPackage(s, 'X\r\n', 1);
    await s.close();
    // What seal() does before its state commit: meta, then rename.
    await fs.writeFile(join(dir, 'outbox/1.json'), JSON.stringify({ number: 1, transactions: 1, bytes: 3, sealedAt: new Date().toISOString() }));
    await fs.rename(join(dir, 'outbox/open.rep'), join(dir, 'outbox/1.rep'));
    const s2 = await open();
    assert.equal(s2.state.nextPackage, 2);
    assert.equal(s2.state.open.length, 0);
    assert.deepEqual(s2.queued().map((m) => m.number), [1]);
    assert.ok(events().includes('store.recover.sealed'));
    await s2.close();
  });

  it('falls back to the other state slot when the newest is torn (NUL-filled), quarantining it', async () => {
    const s = await open();
    await withOpenPackage(s, 'A\r\n', 1);
    await s.seal();
    await withOpenPackage(s, 'B\r\n', 1);
    await s.close();
    const slots = await Promise.all(['a', 'b'].map(async (x) => ({ x, env: JSON.parse(await fs.readFile(join(dir, `state.${x}.json`), 'utf8')) })));
    const newest = slots.sort((p, q) => q.env.seq - p.env.seq)[0]!;
    const size = (await fs.stat(join(dir, `state.${newest.x}.json`))).size;
    await fs.writeFile(join(dir, `state.${newest.x}.json`), Buffer.alloc(size));
    const s2 = await open();
    assert.ok(events().includes('store.state.damaged'));
    const q = await fs.readdir(join(dir, 'quarantine'));
    assert.ok(q.some((n) => n.includes(`state.${newest.x}.json`) && !n.endsWith('.why.txt')));
    const why = await fs.readFile(join(dir, 'quarantine', q.find((n) => n.endsWith('.why.txt'))!), 'utf8');
    assert.match(why, /only NUL bytes/);
    // The older slot predates the last append: that append is cut, never sent twice.
    assert.equal(s2.state.nextPackage, 2);
    assert.equal(await fs.readFile(join(dir, 'outbox/open.rep'), 'utf8'), '');
    await s2.close();
  });

  it('with no readable state, rebuilds the package counter from the outbox and archive and says so', async () => {
    const s = await open();
    for (const t of ['A\r\n', 'B\r\n', 'C\r\n']) {
      await withOpenPackage(s, t, 1);
      await s.seal();
    }
    await s.delivered(1, { outcome: 'delivered', remoteName: 'POS1.rep.$1' }, {});
    await s.close();
    await fs.writeFile(join(dir, 'state.a.json'), '{"format":"kassir-agent-state","seq":');
    await fs.writeFile(join(dir, 'state.b.json'), '');
    const s2 = await open();
    assert.ok(events().includes('store.state.lost'));
    assert.equal(s2.state.nextPackage, 4, 'no package number is reused');
    assert.deepEqual(s2.queued().map((m) => m.number), [2, 3], 'queued packages are kept, none resent from the archive');
    await s2.close();
  });

  it('rebuilds a damaged package meta from its bytes and quarantines the damaged one', async () => {
    const s = await open();
    await withOpenPackage(s, 'A\r\n', 1);
    await s.seal();
    await s.close();
    await fs.writeFile(join(dir, 'outbox/1.json'), '\0\0\0\0');
    const s2 = await open();
    assert.deepEqual(s2.queued().map((m) => [m.number, m.bytes]), [[1, 3]]);
    assert.ok(events().includes('store.recover.meta-rebuilt'));
    assert.ok((await fs.readdir(join(dir, 'quarantine'))).some((n) => n.endsWith('1.json')));
    await s2.close();
  });

  it('archives a package that was delivered just before the crash instead of resending it', async () => {
    const s = await open();
    await withOpenPackage(s, 'A\r\n', 1);
    const meta = await s.seal();
    await s.close();
    await fs.writeFile(join(dir, 'outbox/1.json'), JSON.stringify({ ...meta, deliveredAt: new Date().toISOString(), remoteName: 'POS1.rep.$1' }));
    const s2 = await open();
    assert.deepEqual(s2.queued(), []);
    assert.ok((await fs.readdir(join(dir, 'archive'))).includes('1.rep'));
    await s2.close();
  });

  it('a delivery cut between moving the bytes and writing the archive record goes back to the queue', async () => {
    const s = await open();
    await withOpenPackage(s, 'A\r\n', 1);
    await s.seal();
    await s.close();
    await fs.rename(join(dir, 'outbox/1.rep'), join(dir, 'archive/1.rep'));
    const s2 = await open();
    assert.deepEqual(s2.queued().map((m) => m.number), [1], 'checked again with the back office (the transport reconciles)');
    assert.equal(await fs.readFile(join(dir, 'outbox/1.rep'), 'utf8'), 'A\r\n');
    assert.ok(events().includes('store.recover.unarchived'));
    await s2.close();
  });

  it('an outbox meta that reappears after its package was archived as delivered is dropped, not resent', async () => {
    const s = await open();
    await withOpenPackage(s, 'A\r\n', 1);
    const meta = await s.seal();
    await s.delivered(1, { outcome: 'delivered', remoteName: 'POS1.rep.$1' }, {});
    await s.close();
    await fs.writeFile(join(dir, 'outbox/1.json'), JSON.stringify(meta));
    const s2 = await open();
    assert.deepEqual(s2.queued(), []);
    assert.equal(s2.state.counters.packagesDelivered, 1, 'the delivery counter was saved at close');
    await s2.close();
  });

  it('drops staged parts whose staging was never committed (they are fetched again)', async () => {
    const s = await open();
    await s.close();
    await fs.writeFile(join(dir, 'inbox/00000001.spr'), '##@@&&\r\n#\r\n');
    const s2 = await open();
    assert.deepEqual(await fs.readdir(join(dir, 'inbox')), []);
    assert.ok(events().includes('store.recover.unstaged'));
    await s2.close();
  });

  it('a retired part whose file a stop left behind is removed and logged as retired, not as an interrupted staging', async () => {
    const s = await open();
    await fs.writeFile(join(s.tmpDir, 'incoming'), '##@@&&\r\n#\r\nP1;;part;;1;\r\n');
    const [item] = await s.stage([{ localPath: join(s.tmpDir, 'incoming'), remoteName: 'part 1', kind: 'spr' }], {});
    const kept = await fs.readFile(join(dir, 'inbox', item!.file));
    await s.retireParts([item!.id], 'spr');
    await s.close();
    await fs.writeFile(join(dir, 'inbox', item!.file), kept); // the stop came between the commit and the removal
    const s2 = await open();
    assert.deepEqual(await fs.readdir(join(dir, 'inbox')), []);
    assert.ok(events().includes('store.recover.retired'));
    assert.ok(!events().includes('store.recover.unstaged'));
    await s2.close();
  });

  it('a failed state write (disk full) changes nothing in memory', async () => {
    const s = await open();
    await withOpenPackage(s, 'A\r\n', 1);
    const before = structuredClone(s.state);
    setFailpoints('atomic.before-rename:enospc');
    try {
      await assert.rejects(s.recordPushFailure('connection refused'), /ENOSPC/);
    } finally {
      setFailpoints(undefined);
    }
    assert.deepEqual(s.state, before);
    await s.close();
  });
});

/** The lock rule the tests below check is Linux's (boot id, /proc start times); on Windows the lock is the open handle. */
const PID_FILE_RULE = process.platform === 'win32' ? 'the pid-file lock rule is Linux\'s: on Windows the lock is the exclusively open agent.lock' : false;
/** The lock module, as the other process below imports it: the sources through tsx, or the compiled copy (the Windows job). */
const LOCK_MODULE = new URL(`../../src/store/lock.${import.meta.url.endsWith('.js') ? 'js' : 'ts'}`, import.meta.url).href;

describe('data folder lock', () => {
  const host = hostname();
  /** Runs `fn` with the pid of a live process that has nothing to do with the agent (killed afterwards), the data folder made. */
  async function withUnrelated(fn: (pid: number) => Promise<void>): Promise<void> {
    const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)'], { stdio: 'ignore' });
    await new Promise((r) => child.once('spawn', r));
    try {
      await fs.mkdir(dir, { recursive: true });
      await fn(child.pid!);
    } finally {
      child.kill('SIGKILL');
    }
  }

  it('refuses a second agent on the same data folder: a real process holding the lock', async () => {
    await fs.mkdir(dir, { recursive: true });
    const code = `import { lockDataDir } from ${JSON.stringify(LOCK_MODULE)};
      await lockDataDir(${JSON.stringify(dir)}, { warn() {}, info() {} });
      process.stdout.write('locked\\n');
      setTimeout(() => {}, 60000);`;
    const child = spawn(process.execPath, [...CLI_NODE_ARGS, '--input-type=module', '-e', code], { stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      await new Promise<void>((resolve, reject) => {
        child.stdout!.on('data', (d: Buffer) => d.toString().includes('locked') && resolve());
        child.once('exit', (c) => reject(new Error(`lock holder exited with ${c}`)));
      });
      const other = new Store(dir, { retentionDays: 30 }, memoryLogger());
      await assert.rejects(other.open(), (e) => {
        assert.ok(e instanceof DataDirLockedError, String(e));
        assert.ok(e.message.startsWith(`${dir} is in use by another kassir-agent`), e.message);
        if (process.platform === 'win32') {
          // The holder's handle keeps anyone from reading the file: who it is cannot be told, only that it is there.
          assert.equal(e.ownerPid, undefined);
          assert.match(e.message, /its pid is not readable.*stop the other agent/);
        } else {
          assert.equal(e.ownerPid, child.pid);
          assert.match(e.message, /in use by another kassir-agent \(pid \d+\).*stop the other agent/);
        }
        return true;
      });
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('Windows: a lock file naming a live, unrelated process is taken over: no process holds it open', { skip: process.platform !== 'win32' ? 'the exclusive-handle lock is Windows\'s (Linux: the tests above and below)' : false }, () =>
    withUnrelated(async (pid) => {
      // What a killed agent leaves, its pid since given to another process (Windows reuses pids quickly).
      await fs.writeFile(join(dir, 'agent.lock'), JSON.stringify({ ...ownRecord(), pid }));
      const s = await open();
      assert.equal(records.find((r) => r.event === 'store.lock.stale')?.fields.reason, 'no process holds it open');
      // A second store on the same folder while this one runs: refused.
      await assert.rejects(open(), DataDirLockedError);
      await s.close();
      // Released with the handle: the folder can be taken again at once.
      await (await open()).close();
    }));

  it('Windows: agent.lock open in another program for a moment (a virus scanner, a backup) is waited for, not taken as another agent', { skip: process.platform !== 'win32' ? 'the exclusive-handle lock is Windows\'s' : false }, async () => {
    await fs.mkdir(dir, { recursive: true });
    await fs.writeFile(join(dir, 'agent.lock'), '');
    const reader = await fs.open(join(dir, 'agent.lock'), 'r');
    const opening = open();
    try {
      await waitFor(() => records.some((r) => r.event === 'store.lock.busy'), 'the store to find agent.lock busy (store.lock.busy)', 30_000);
    } finally {
      await reader.close();
    }
    const s = await opening;
    await assert.rejects(open(), DataDirLockedError, 'an agent holding it is still refused');
    await s.close();
  });

  it('a lock naming a live, unrelated process, written before the last boot, is taken over (power cut)', { skip: PID_FILE_RULE }, () =>
    withUnrelated(async (pid) => {
      const before = { ...ownRecord(), pid, pidStart: processStart(pid), since: new Date(Date.now() - 3_600_000).toISOString() };
      // Written in the previous boot: another boot id (Linux), or another boot time (no /proc).
      if (before.bootId !== undefined) before.bootId = randomUUID();
      else before.bootTime = new Date(Date.parse(before.bootTime!) - 3_600_000).toISOString();
      await fs.writeFile(join(dir, 'agent.lock'), JSON.stringify(before));
      const s = await open();
      const stale = records.find((r) => r.event === 'store.lock.stale');
      assert.equal(stale?.fields.reason, 'written before the last boot');
      assert.equal(JSON.parse(await fs.readFile(join(dir, 'agent.lock'), 'utf8')).pid, process.pid);
      await s.close();
    }));

  it('in this boot: a pid now used by another process, or an older lock older than its process, is taken over; a live owner is not (Linux)', { skip: PID_FILE_RULE }, () =>
    withUnrelated(async (pid) => {
      const lock = join(dir, 'agent.lock');
      // The pid was the agent's, killed (SIGKILL), and the number went to another process.
      await fs.writeFile(lock, JSON.stringify({ ...ownRecord(), pid, pidStart: '1' }));
      await (await open()).close();
      assert.equal(records.findLast((r) => r.event === 'store.lock.stale')?.fields.reason, 'its process id now belongs to another process');
      // A lock from an older version (pid, host, since) written before the process with that pid started.
      await fs.writeFile(lock, JSON.stringify({ pid, host, since: new Date(Date.now() - 3_600_000).toISOString() }));
      await (await open()).close();
      assert.match(String(records.findLast((r) => r.event === 'store.lock.stale')?.fields.reason), /started after the lock was written/);
      // The same older lock written after the process started: it may be the owner, so it is refused.
      await fs.writeFile(lock, JSON.stringify({ pid, host, since: new Date().toISOString() }));
      await assert.rejects(open(), DataDirLockedError);
      // And a current lock whose owner is alive with the recorded start time: refused.
      await fs.writeFile(lock, JSON.stringify({ ...ownRecord(), pid, pidStart: processStart(pid) }));
      await assert.rejects(open(), DataDirLockedError);
    }));

  it('takes over a lock left by a process that is gone (SIGKILL), and an empty one (torn by a power cut)', { skip: PID_FILE_RULE }, async () => {
    await fs.mkdir(dir, { recursive: true });
    await fs.writeFile(join(dir, 'agent.lock'), JSON.stringify({ ...ownRecord(), pid: 999_999_999 }));
    await (await open()).close();
    assert.equal(records.find((r) => r.event === 'store.lock.stale')?.fields.reason, 'its process is gone');
    await fs.writeFile(join(dir, 'agent.lock'), '');
    await (await open()).close();
    assert.equal(records.filter((r) => r.event === 'store.lock.stale').length, 2);
  });
});

describe('retention', () => {
  it('deletes archived packages and history days older than retentionDays, keeps newer ones', async () => {
    const s = await open();
    for (const t of ['A\r\n', 'B\r\n']) {
      await withOpenPackage(s, t, 1);
      await s.seal();
    }
    await s.delivered(1, { outcome: 'delivered', remoteName: 'x' }, {});
    await s.delivered(2, { outcome: 'delivered', remoteName: 'y' }, {});
    await s.checkpoint();
    const old = JSON.parse(await fs.readFile(join(dir, 'archive/1.json'), 'utf8'));
    await fs.writeFile(join(dir, 'archive/1.json'), JSON.stringify({ ...old, deliveredAt: new Date(Date.now() - 31 * 86_400_000).toISOString() }));
    await fs.writeFile(join(dir, 'history/2020-01-01.jsonl'), '{}\n');
    const r = await s.cleanup();
    assert.deepEqual(r, { packages: 1, historyFiles: 1 });
    assert.deepEqual((await fs.readdir(join(dir, 'archive'))).sort(), ['2.json', '2.rep']);
    await s.close();
  });
});
