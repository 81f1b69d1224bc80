/**
 * Stopping and starting the agent as a real process: SIGTERM, and the `stop`
 * command (what the Windows service runs), while the back office accepts
 * connections and never answers (the process exits within `stop.deadlineMs`,
 * in order, with no "write after end"); one agent per data folder (a real
 * second agent exits 4; a lock naming a live unrelated process does not keep
 * the agent from starting).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import * as fs from 'node:fs/promises';
import net from 'node:net';
import { join } from 'node:path';
import { afterEach, describe, it } from 'node:test';
import { ownRecord, processStart } from '../../src/store/lock.js';
import { dropReport, makeWorkspace, reportFile, runCli, startAgent, type Workspace } from '../helpers/kassir.js';
import { waitFor } from '../helpers/wait.js';

const workspaces: Workspace[] = [];
const cleanups: (() => Promise<unknown> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
  for (const ws of workspaces.splice(0)) await ws.cleanup();
});

/** A server that accepts every connection and never sends a byte. */
async function silentServer(): Promise<{ port: number; accepted: () => number }> {
  const sockets = new Set<net.Socket>();
  let accepted = 0;
  const server = net.createServer((s) => {
    accepted++;
    sockets.add(s);
    s.on('error', () => {});
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  cleanups.push(async () => {
    for (const s of sockets) s.destroy();
    await new Promise((r) => server.close(r));
  });
  return { port: (server.address() as net.AddressInfo).port, accepted: () => accepted };
}

const DEADLINE_MS = 3_000;

/** On Windows `kill('SIGTERM')` is TerminateProcess: nothing to handle. The service's stop there is the `stop` command. */
const SIGTERM_STOPS = process.platform === 'win32' ? "kill('SIGTERM') on Windows is TerminateProcess, not a signal the agent can handle (the Windows stop is the stop command)" : false;

const transports = {
  ftp: (port: number) => ({ type: 'ftp', host: '127.0.0.1', port, user: 'kassir', password: 'silent-server-password', referenceName: 'POS1.spr', reportName: 'POS1.rep', secure: false }),
  kkmtransfer: (port: number) => ({ type: 'kkmtransfer', url: `http://127.0.0.1:${port}/base/hs/KKMTransfer` }),
};

/**
 * Starts the agent against a silent back office, waits until it is waiting on it, stops it with `stop`
 * and checks the stop was clean: exit 0 within the deadline, the work aborted, `agent.stopped` last in
 * the console and in the file log, the data folder's lock released, no "write after end".
 */
async function stopsCleanly(transport: (port: number) => Record<string, unknown>, stop: (agent: Awaited<ReturnType<typeof startAgent>>, ws: Workspace) => Promise<number>): Promise<void> {
  const server = await silentServer();
  // Transport timeouts far beyond the deadline: only the stop can end the waits.
  const ws = await makeWorkspace({ stop: { deadlineMs: DEADLINE_MS }, log: { level: 'info', dir: 'log', console: true } }, { ...transport(server.port), timeoutMs: 120_000 });
  workspaces.push(ws);
  await dropReport(ws.till, 'a.rep', reportFile([{ receipt: 1 }], 1).data);
  const agent = await startAgent(ws.configFile);
  cleanups.push(() => void agent.child.kill('SIGKILL'));
  let stderr = '';
  agent.child.stderr!.on('data', (d: Buffer) => (stderr += d));
  // The agent is waiting on the silent server (keyed to its connection, not to a clock).
  await waitFor(() => server.accepted() > 0, 'the agent to connect to the silent server');
  const exitedAt = agent.exited.then(() => Date.now());
  // When the agent was told (stop resolves with it, once the stop is done).
  const signalled = await stop(agent, ws);
  const code = await agent.exited;
  const elapsed = (await exitedAt) - signalled;
  const out = agent.output();
  assert.equal(code, 0, `${out}\n--- stderr:\n${stderr}`);
  assert.ok(!/write after end/.test(out + stderr), `no "write after end": ${stderr}`);
  assert.match(out, /exchange\.stop\.deadline/, 'the work in progress was aborted at the deadline');
  const stopped = /agent\.stopped .*stopMs=(\d+)/.exec(out);
  assert.ok(stopped, `agent.stopped is logged: ${out.slice(-2000)}`);
  assert.ok(Number(stopped[1]) <= DEADLINE_MS, `the agent finished its stop within the deadline (${stopped[1]} ms)`);
  // Signal delivery and process teardown on a loaded machine: a margin, not a second deadline.
  assert.ok(elapsed < DEADLINE_MS + 1_500, `the process exited ${elapsed} ms after the stop (deadline ${DEADLINE_MS} ms)`);
  const lastLine = out.trim().split(/\r?\n/).filter((l) => / (debug|info|warn|error) /.test(l)).at(-1);
  assert.match(lastLine ?? '', /agent\.stopped/, 'agent.stopped is the last line');
  await assert.rejects(fs.stat(join(ws.data, 'agent.lock')), 'the store was closed and the lock released');
  const fileLog = (await fs.readdir(ws.logs)).filter((n) => n.endsWith('.log'));
  const lines = (await fs.readFile(join(ws.logs, fileLog[0]!), 'utf8')).trim().split('\n');
  assert.equal((JSON.parse(lines.at(-1)!) as { event: string }).event, 'agent.stopped', 'the file log is flushed up to its last line');
}

describe('SIGTERM with a back office that accepts and never answers', () => {
  for (const [name, transport] of Object.entries(transports)) {
    it(`${name}: the process exits within stop.deadlineMs, logs agent.stopped last, releases the data folder, no "write after end"`, { skip: SIGTERM_STOPS }, () =>
      stopsCleanly(transport, async (agent) => {
        const signalled = Date.now();
        agent.child.kill('SIGTERM');
        return signalled;
      }));
  }
});

describe('kassir-agent stop (the Windows service stop) with a back office that accepts and never answers', () => {
  for (const [name, transport] of Object.entries(transports)) {
    it(`${name}: the stop command's agent exits 0 within stop.deadlineMs, agent.stopped last, the data folder released`, () =>
      stopsCleanly(transport, async (agent, ws) => {
        const command = runCli(['stop', '--config', ws.configFile]);
        // The clock starts when the agent has the command (starting the stop process itself is not the agent's time).
        await waitFor(() => agent.output().includes('agent.stopping'), 'the agent to take the stop command', 60_000);
        const told = Date.now();
        const r = await command;
        assert.equal(r.code, 0, r.stdout + r.stderr);
        assert.match(r.stdout, new RegExp(`kassir-agent \\(pid ${agent.child.pid}\\) stopped`));
        assert.match(agent.output(), /agent\.stopping .*signal="?stop command/);
        return told;
      }));
  }

  it('with no agent running: exit 5, saying so', async () => {
    const ws = await makeWorkspace();
    workspaces.push(ws);
    const r = await runCli(['stop', '--config', ws.configFile]);
    assert.equal(r.code, 5, r.stdout + r.stderr);
    assert.match(r.stderr, /no kassir-agent is running for .*agent\.yaml/);
  });
});

describe('one agent per data folder', () => {
  const quiet = { till: { dir: 'till', referenceFile: 'POS1.spr', settleMs: 0, rescanMs: 60_000, openReceiptMs: 0 }, schedule: { pull: '0 0 * * *' } };

  it('a real second agent on the same data folder exits 4 naming the folder and the running agent', async () => {
    const ws = await makeWorkspace(quiet);
    workspaces.push(ws);
    const first = await startAgent(ws.configFile);
    cleanups.push(async () => {
      first.child.kill('SIGTERM');
      await first.exited;
    });
    const second = await runCli(['run', '--once', '--config', ws.configFile]);
    assert.equal(second.code, 4, second.stdout + second.stderr);
    // On Windows the running agent's open handle keeps its pid from being read.
    const owner = process.platform === 'win32' ? 'its pid is not readable' : `pid ${first.child.pid}`;
    assert.match(second.stderr, new RegExp(`data is in use by another kassir-agent \\(${owner}\\).*stop the other agent`));
  });

  it('an agent.lock naming a live, unrelated process (on Linux: written before the last boot) does not keep the agent from starting', async () => {
    const ws = await makeWorkspace(quiet);
    workspaces.push(ws);
    const unrelated = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)'], { stdio: 'ignore' });
    cleanups.push(() => void unrelated.kill('SIGKILL'));
    await new Promise((r) => unrelated.once('spawn', r));
    await fs.mkdir(ws.data, { recursive: true });
    const record = { ...ownRecord(), pid: unrelated.pid, pidStart: processStart(unrelated.pid!), since: new Date(Date.now() - 86_400_000).toISOString() };
    // Windows: what a killed agent leaves once Windows gave its pid to another process, in this boot.
    // Linux: such a lock with the process's own start time is held, unless it was written before the last boot.
    if (process.platform !== 'win32' && record.bootId !== undefined) record.bootId = randomUUID();
    else if (process.platform !== 'win32') record.bootTime = new Date(Date.parse(record.bootTime!) - 86_400_000).toISOString();
    await fs.writeFile(join(ws.data, 'agent.lock'), JSON.stringify(record));
    const r = await runCli(['run', '--once', '--config', ws.configFile]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, process.platform === 'win32' ? /store\.lock\.stale .*no process holds it open/ : /store\.lock\.stale .*written before the last boot/);
  });
});
