/**
 * The operator at 3 a.m., with the agent as a real process against
 * the KKMTransfer emulator: logs readable with any password (and the password
 * nowhere), one log line per fact, read-only commands without the service's
 * secrets, exit codes for unknown POS and package numbers, and a back office
 * that answers again cutting the push backoff short.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs/promises';
import { describe, it, type TestContext } from 'node:test';
import type { KkmEmulator } from '../../scripts/kkm-emulator/server.js';
import { dropReport, reportFile, runCli, startAgent, type Workspace } from '../helpers/kassir.js';
import { waitFor } from '../helpers/wait.js';
import { emulatorFor } from '../helpers/kkm-emulator.js';
import { kkmWorkspace, logLines, storedPackages, type LogLine } from '../helpers/kkm-agent.js';

const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const EVENT = /^[a-z]+(\.[a-z_-]+)+$/;
/** The keys every line of the agent's log carries, and the ones the exchange adds. */
const LINE_KEYS = ['time', 'level', 'event'];

/** Every string inside a JSON value, with the key it sits under. */
function strings(v: unknown, key = '', out: [string, string][] = []): [string, string][] {
  if (typeof v === 'string') out.push([key, v]);
  else if (Array.isArray(v)) for (const x of v) strings(x, key, out);
  else if (v !== null && typeof v === 'object') for (const [k, x] of Object.entries(v)) strings(x, k, out);
  return out;
}

/** The password never stands anywhere as a value of its own, in a URL or after a credential keyword. */
function assertNoPassword(text: string, values: [string, string][], password: string, where: string): void {
  for (const [k, v] of values) assert.notEqual(v, password, `${where}: the password is the value of "${k}"`);
  assert.ok(!text.includes(`:${password}@`), `${where}: the password in a URL`);
  assert.ok(!new RegExp(`(PASS|password)["']?\\s*[=: ]\\s*["']?${password}\\b`, 'i').test(text), `${where}: the password after a credential keyword`);
  assert.ok(!text.includes(Buffer.from(`kassa:${password}`).toString('base64')), `${where}: the basic-auth header`);
}

function assertReadable(lines: LogLine[], raw: string): void {
  const rawLines = raw.trim().split('\n');
  assert.equal(lines.length, rawLines.length, 'every log line is one JSON object');
  for (const l of lines) {
    for (const k of LINE_KEYS) assert.ok(k in l, `key ${k} in ${JSON.stringify(l)}`);
    assert.match(String(l.time), ISO);
    assert.match(l.event, EVENT);
    for (const k of Object.keys(l)) assert.ok(!k.includes('*'), `a key was masked: ${k}`);
    if ('pos' in l) assert.equal(l.pos, 1);
    if ('transport' in l) assert.equal(l.transport, 'kkmtransfer');
  }
}

async function readLogs(ws: Workspace): Promise<string> {
  const names = (await fs.readdir(ws.logs)).filter((n) => n.endsWith('.log')).sort();
  return (await Promise.all(names.map((n) => fs.readFile(`${ws.logs}/${n}`, 'utf8')))).join('');
}

/** A daemon pulling every second whose push backoff is 2 minutes, with one receipt to send. */
async function slowRetryAgentWithOneReceipt(t: TestContext, emu: KkmEmulator): Promise<Workspace> {
  const ws = await kkmWorkspace(t, emu.url, {
    config: { schedule: { pull: '1s', retry: { initialMs: 120_000, maxMs: 240_000, jitter: 0 } }, batch: { maxTransactions: 10, flushMs: 0 } },
  });
  const agent = await startAgent(ws.configFile);
  t.after(async () => {
    agent.child.kill('SIGTERM');
    await agent.exited;
  });
  await dropReport(ws.till, 'a.rep', reportFile([{ receipt: 1 }], 1).data);
  return ws;
}

describe('the operator at 3 a.m.', () => {
  for (const password of ['1', 'x', 'ftp', 'e']) {
    it(`password "${password}": every log line readable, the password nowhere; one sealed and one delivered line per package`, async (t) => {
      const emu = await emulatorFor(t, { user: 'kassa', password });
      const ws = await kkmWorkspace(t, emu.url, {
        transport: { user: 'kassa', password: '${KKM_PASSWORD}' },
        config: { batch: { maxTransactions: 10, flushMs: 0 } },
      });
      // 25 receipts in one file: full packages sealed by the collector, the rest by the push flow.
      const r = reportFile(Array.from({ length: 25 }, (_, i) => ({ receipt: i + 1 })), 1);
      await dropReport(ws.till, 'a.rep', r.data);
      await dropReport(ws.till, 'empty.rep', '');
      const once = await runCli(['run', '--once', '--config', ws.configFile], { env: { KKM_PASSWORD: password } });
      assert.equal(once.code, 0, once.stdout + once.stderr);
      const stored = await storedPackages(emu);
      assert.ok(stored.length >= 3, `packages on the server: ${stored.length}`);
      assert.deepEqual(stored.flatMap((p) => p.txs), r.txs);

      const raw = await readLogs(ws);
      const lines = await logLines(ws);
      assertReadable(lines, raw);
      assertNoPassword(raw + once.stdout + once.stderr, lines.flatMap((l) => strings(l)), password, 'log');
      const sealed = lines.filter((l) => l.event === 'package.sealed');
      const delivered = lines.filter((l) => l.event === 'push.delivered');
      assert.deepEqual(sealed.map((l) => l.package), stored.map((p) => p.number), 'one package.sealed per package on the server');
      assert.deepEqual(delivered.map((l) => l.package), stored.map((p) => p.number), 'one push.delivered per package on the server');
      assert.ok(sealed.every((l) => typeof l.reason === 'string'), 'every seal says why');
      // Every package but the last was sealed because it was full; the last one by the push flow (batch.flushMs: 0).
      assert.deepEqual(sealed.map((l) => l.reason), [...stored.slice(0, -1).map(() => 'full'), 'flush']);
      assert.equal(lines.filter((l) => l.event === 'till.report.empty' && l.file === 'empty.rep').length, 1, 'the empty report file is logged');

      // status and history from a shell without the service's environment: no secret needed, none printed.
      const env = { KKM_PASSWORD: undefined } as unknown as NodeJS.ProcessEnv;
      for (const args of [['status'], ['status', '--json'], ['status', '--verbose'], ['history'], ['history', '--json']]) {
        const out = await runCli([...args, '--config', ws.configFile], { env });
        assert.equal(out.code, 0, `${args.join(' ')}: ${out.stderr}`);
        const json = !args.includes('--json') ? [] : args[0] === 'status' ? [JSON.parse(out.stdout)] : out.stdout.trim().split('\n').map((l) => JSON.parse(l));
        const values = strings(json);
        assertNoPassword(out.stdout + out.stderr, values, password, args.join(' '));
      }
      const noSecret = await runCli(['check-config', '--config', ws.configFile], { env });
      assert.equal(noSecret.code, 2, 'check-config resolves secrets by default');
      assert.match(noSecret.stderr, /KKM_PASSWORD is not set/);
      const skip = await runCli(['check-config', '--no-secrets', '--config', ws.configFile], { env });
      assert.equal(skip.code, 0, skip.stderr);
    });
  }

  it('exit codes: unknown POS and package numbers are usage errors (2), not failures', async (t) => {
    const emu = await emulatorFor(t);
    const ws = await kkmWorkspace(t, emu.url);
    for (const args of [['exchange-now', '--pos', '7'], ['retry', '--pos', '7'], ['history', '--pos', '7'], ['resend', '99'], ['resend', '1', '--pos', '7']]) {
      const r = await runCli([...args, '--config', ws.configFile]);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stdout}${r.stderr}`);
      assert.match(r.stderr, /pos 7|POS|package 99 is not in the archive/);
    }
    const agent = await startAgent(ws.configFile);
    t.after(async () => {
      agent.child.kill('SIGTERM');
      await agent.exited;
    });
    const live = await runCli(['resend', '99', '--config', ws.configFile]);
    assert.equal(live.code, 2, live.stderr);
    assert.match(live.stderr, /package 99 is not in the archive/);
  });

  it('lastPush records a failure; an error the back office gives on purpose keeps its backoff', async (t) => {
    const emu = await emulatorFor(t, { faults: [{ kind: 'errcode2', message: 'Период закрыт', on: 'send', times: 1 }] });
    const ws = await slowRetryAgentWithOneReceipt(t, emu);
    await waitFor(async () => (await logLines(ws)).some((l) => l.event === 'push.failed'), 'the first push failed');
    const status = JSON.parse((await runCli(['status', '--json', '--config', ws.configFile])).stdout).exchanges[0];
    assert.equal(status.lastPush.ok, false);
    assert.match(status.lastPush.error, /errcode 2/);
    const text = await runCli(['status', '--config', ws.configFile]);
    assert.match(text.stdout, /last attempt failed: .*errcode 2/);
    assert.match(text.stdout, /head package #1: 1 attempt\(s\)/);
    assert.match(text.stdout, /next attempt: .*kassir-agent retry/);
    // Two more successful pulls after the failure: the backoff (2 minutes) stays.
    const failedAt = (await logLines(ws)).findIndex((l) => l.event === 'push.failed');
    await waitFor(async () => (await logLines(ws)).slice(failedAt).filter((l) => l.event === 'pull.nothing').length >= 2, 'two pulls after the failure');
    assert.equal((await storedPackages(emu)).length, 0);
    assert.ok(!(await logLines(ws)).some((l) => l.event === 'push.backoff.cut'));
  });

  it('a back office that answers again cuts a connection backoff short', async (t) => {
    // SendData: the connection is dropped once; ReceiveData (every second) keeps answering.
    const emu = await emulatorFor(t, { faults: [{ kind: 'drop', on: 'send', times: 1 }] });
    const ws = await slowRetryAgentWithOneReceipt(t, emu);
    await waitFor(async () => (await storedPackages(emu)).length === 1, 'delivered long before the 2-minute backoff', 15_000);
    // The agent logs the delivery once the answer is in: the back office may have stored it a moment before.
    await waitFor(async () => (await logLines(ws)).some((l) => l.event === 'push.delivered'), 'push.delivered logged');
    const events = (await logLines(ws)).map((l) => l.event);
    assert.ok(events.indexOf('push.failed') >= 0 && events.indexOf('push.failed') < events.indexOf('push.backoff.cut'), events.join(' '));
    assert.ok(events.indexOf('push.backoff.cut') < events.indexOf('push.delivered'));
  });
});
