/**
 * The agent's supervision in process (src/agent.ts): a till whose exchange
 * fails to start is reported and tried again while the others run; when every
 * till's data folder is taken, start fails; stop is one promise for all its
 * callers, ends the retries, and each of its steps is isolated. The failure is
 * a real one: another holder of the data-folder lock.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import * as fs from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, it } from 'node:test';
import { Agent } from '../../src/agent.js';
import { parseConfigText } from '../../src/config/load.js';
import type { ClosableLogger } from '../../src/log.js';
import { DataDirLockedError, lockDataDir, ownRecord, processStart } from '../../src/store/lock.js';
import { memoryLogger, type LogRecord } from '../../src/util/logger.js';
import { makeTempDir, removeDir } from '../helpers/temp-dir.js';
import { waitFor } from '../helpers/wait.js';

const RESTART_MS = 100;
let dir: string;
/** Another live process: the owner named in the lock files the tests write. */
let other: ChildProcess;
const locks: { release(): Promise<void> }[] = [];
beforeEach(async () => {
  other = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 600000)'], { stdio: 'ignore' });
  await once(other, 'spawn');
  dir = await makeTempDir('kassir-agent-sup');
  for (const pos of [1, 2]) {
    await fs.mkdir(join(dir, `till${pos}`));
    await fs.mkdir(join(dir, `share${pos}`));
    await fs.mkdir(join(dir, `data${pos}`));
  }
});
afterEach(async () => {
  for (const l of locks.splice(0)) await l.release();
  other.kill();
  await removeDir(dir);
});

function exchangeYaml(pos: number): string {
  return (
    `  - pos: ${pos}\n    dataDir: data${pos}\n    till: { dir: till${pos}, referenceFile: POS${pos}.spr, rescanMs: 60000 }\n` +
    `    transport: { type: folder, dir: share${pos}, referenceName: POS${pos}.spr, reportName: POS${pos}.rep }\n    schedule: { pull: "1h" }\n`
  );
}

/** The control channel: a socket in the temp folder, or on Windows a named pipe of its own. */
const controlSocket = () => (process.platform === 'win32' ? `'\\\\.\\pipe\\${dir.split(/[\\/]/).pop()}'` : join(dir, 'control.sock'));

/** An agent for tills `poses` (folder transports), with the control channel and the metrics endpoint on. */
function agentFor(poses: number[], records: LogRecord[]): Agent {
  const yaml = `exchanges:\n${poses.map(exchangeYaml).join('')}control: { enabled: true, socket: ${controlSocket()} }\nmetrics: { enabled: true, port: 0 }\n`;
  const loaded = parseConfigText(yaml, join(dir, 'agent.yaml'));
  const log: ClosableLogger = Object.assign(memoryLogger({}, records), { close: async () => {} });
  return new Agent(loaded, log, RESTART_MS);
}

/**
 * Another agent holds till `pos`'s data folder: on Windows a real lock (the exclusive handle, which holds
 * against this process too); elsewhere a lock file naming a live process of this machine (a lock naming
 * this process would be taken over as left by an earlier life of its pid).
 */
async function holdLock(pos: number): Promise<{ release(): Promise<void> }> {
  if (process.platform === 'win32') {
    const held = await lockDataDir(join(dir, `data${pos}`), memoryLogger());
    let released: Promise<void> | undefined;
    const lock = { release: () => (released ??= held.release()) }; // released by the test, then again after it
    locks.push(lock);
    return lock;
  }
  const file = join(dir, `data${pos}`, 'agent.lock');
  const record = { ...ownRecord(), pid: other.pid, pidStart: processStart(other.pid!) };
  await fs.writeFile(file, JSON.stringify(record), { flag: 'wx' });
  const lock = { release: () => fs.rm(file, { force: true }) };
  locks.push(lock);
  return lock;
}

const events = (records: LogRecord[], event: string) => records.filter((r) => r.event === event).map((r) => r.fields);

it('a till whose data folder is taken is reported and retried while the other runs; it starts once the folder is free', async () => {
  const records: LogRecord[] = [];
  const lock = await holdLock(2);
  const agent = agentFor([1, 2], records);
  try {
    await agent.start();
    assert.deepEqual(agent.snapshot().map((r) => r.pos), [1], 'till 1 runs');
    const failed = agent.failedToStart();
    assert.deepEqual([...failed.keys()], [2]);
    assert.match(failed.get(2)!, /in use by another kassir-agent/);
    // At least one: on a loaded machine the start itself can outlast RESTART_MS, and the first retry with it.
    const first = events(records, 'exchange.start.failed');
    assert.ok(first.length >= 1);
    assert.ok(first.every((f) => f.pos === 2), 'only till 2 fails');
    assert.equal(first[0]!.retryInMs, RESTART_MS);
    await waitFor(() => events(records, 'exchange.start.failed').length >= 2, 'a second try of till 2');

    await lock.release();
    await waitFor(() => agent.failedToStart().size === 0, 'till 2 to start after its folder was freed');
    assert.deepEqual(agent.snapshot().map((r) => r.pos).sort(), [1, 2]);
    const started = events(records, 'exchange.started');
    assert.equal(started.length, 1);
    assert.equal(started[0]!.pos, 2);
    assert.match(String(started[0]!.after), /in use by another kassir-agent/);
  } finally {
    await agent.stop(5_000);
  }
});

it('when every till’s data folder is taken, start fails with the lock error instead of waiting', async () => {
  await holdLock(1);
  const agent = agentFor([1], []);
  try {
    await assert.rejects(agent.start(), DataDirLockedError);
  } finally {
    await agent.stop(5_000);
  }
});

it('stop is one promise for all its callers and ends the retries: a till freed afterwards is not started', async () => {
  const records: LogRecord[] = [];
  const lock = await holdLock(2);
  const agent = agentFor([1, 2], records);
  await agent.start();
  const a = agent.stop(5_000);
  const b = agent.stop(5_000);
  assert.equal(a, b, 'the same promise');
  await a;
  const tries = events(records, 'exchange.start.failed').length;
  await lock.release();
  // The lock of till 1 was released by its stop, and nothing takes till 2's: another holder gets both.
  await holdLock(1);
  await holdLock(2);
  // Long enough for several retries, had one been left armed; what is checked is that none ran.
  await new Promise((r) => setTimeout(r, RESTART_MS * 4));
  assert.equal(events(records, 'exchange.start.failed').length, tries, 'no try after the stop');
  assert.equal(events(records, 'exchange.started').length, 0);
});

it('each stop step is isolated: a control channel that fails to stop is logged, and the metrics endpoint and the exchanges still stop', async () => {
  const records: LogRecord[] = [];
  const agent = agentFor([1, 2], records);
  await agent.start();
  const port = agent.metricsPort!;
  const inner = agent as unknown as { control: { stop(): Promise<void> } };
  const real = inner.control;
  inner.control = { stop: () => real.stop().then(() => Promise.reject(new Error('control close failed'))) };
  await agent.stop(5_000);
  const failed = events(records, 'stop.step.failed');
  assert.deepEqual(failed.map((f) => [f.step, f.error]), [['control channel', 'control close failed']]);
  await assert.rejects(fetch(`http://127.0.0.1:${port}/metrics`), 'the metrics endpoint is closed');
  // Both exchanges stopped: their data-folder locks are free again.
  await holdLock(1);
  await holdLock(2);
});
