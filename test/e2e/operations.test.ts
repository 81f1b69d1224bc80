/**
 * Operator commands against a running agent started by the test: status,
 * exchange-now, retry, history, resend, health and metrics, several tills per
 * agent, and a clean stop on SIGINT as well as SIGTERM.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, it } from 'node:test';
import { stringify } from 'yaml';
import { dropReport, makeWorkspace, reportFile, runCli, sharePackages, startAgent, stopDaemon, transactionNumbers, type Workspace } from '../helpers/kassir.js';
import { waitFor } from '../helpers/wait.js';

let ws: Workspace | undefined;
let stopAgent: (() => Promise<unknown>) | undefined;
afterEach(async () => {
  await stopAgent?.();
  stopAgent = undefined;
  await ws?.cleanup();
  ws = undefined;
});

async function start(configFile: string) {
  const agent = await startAgent(configFile);
  stopAgent = async () => {
    agent.child.kill('SIGTERM');
    await agent.exited;
  };
  return agent;
}

/** A daemon config where nothing happens by itself for a minute: only the commands make things move. */
const quiet = {
  till: { dir: 'till', referenceFile: 'POS1.spr', settleMs: 0, rescanMs: 60_000, openReceiptMs: 0 },
  batch: { maxTransactions: 10, flushMs: 60_000 },
  schedule: { pull: '0 0 * * *', retry: { initialMs: 60_000, maxMs: 120_000, jitter: 0 } },
};

describe('operator commands against a running agent', () => {
  it('exchange-now performs a full exchange and prints its result; without an agent it exits 5', async () => {
    ws = await makeWorkspace(quiet);
    const noAgent = await runCli(['exchange-now', '--config', ws.configFile]);
    assert.equal(noAgent.code, 5);
    assert.match(noAgent.stderr, /no kassir-agent is running/);
    const agentOut = (await start(ws.configFile)).output;
    const r = reportFile([{ receipt: 1 }, { receipt: 2 }], 1);
    await dropReport(ws.till, 'a.rep', r.data);
    await fs.writeFile(join(ws.share, 'POS1.spr.$1'), '##@@&&\r\n#\r\nX;;x;;1;\r\n');
    const now = await runCli(['exchange-now', '--config', ws.configFile]);
    assert.equal(now.code, 0, now.stdout + now.stderr);
    if ((await sharePackages(ws.share)).length === 0) console.log('AGENT OUTPUT\n' + agentOut());
    assert.match(now.stdout, /^POS 1: queued=0 openTransactions=0 inbox=0/m);
    assert.deepEqual((await sharePackages(ws.share)).flatMap((p) => transactionNumbers(p.data)), r.txs);
    assert.match(await fs.readFile(join(ws.till, 'POS1.spr'), 'latin1'), /X;;x/);
  });

  it('status shows live state; retry sends at once what waits in backoff; history lists every attempt', async () => {
    ws = await makeWorkspace(quiet);
    const agent = await start(ws.configFile);
    const offline = `${ws.share}.offline`;
    await fs.rename(ws.share, offline);
    const r = reportFile([{ receipt: 1 }], 1);
    await dropReport(ws.till, 'a.rep', r.data);
    const first = await runCli(['exchange-now', '--config', ws.configFile]);
    assert.equal(first.code, 3, 'the share is away: something is still queued');
    const status = await runCli(['status', '--config', ws.configFile]);
    assert.match(status.stdout, /agent running/);
    assert.match(status.stdout, /queued packages: 1/);
    assert.match(status.stdout, /next attempt: .*kassir-agent retry/);
    await fs.rename(offline, ws.share);
    // The backoff is a minute: without `retry` nothing would move now.
    const retry = await runCli(['retry', '--config', ws.configFile]);
    assert.equal(retry.code, 0, retry.stderr);
    await waitFor(async () => (await sharePackages(ws!.share)).length === 1, 'delivered after retry', 10_000);
    assert.ok(agent.output().includes('control.command'));
    const history = await runCli(['history', '--config', ws.configFile]);
    assert.equal(history.code, 0);
    assert.match(history.stdout, /package=1\s+attempt=1\s+failed.*\[unreachable\]/);
    assert.match(history.stdout, /package=1\s+attempt=2\s+delivered\s+-> POS1\.rep\.\$1/);
    const errors = await runCli(['history', '--config', ws.configFile, '--errors']);
    assert.equal(errors.stdout.trim().split('\n').length, 1);
    const json = await runCli(['history', '--config', ws.configFile, '--package', '1', '--json']);
    assert.deepEqual(
      json.stdout.trim().split('\n').map((l) => JSON.parse(l).outcome),
      ['failed', 'delivered'],
    );
  });

  it('resend puts an archived package back in the queue under a new number (running or not)', async () => {
    ws = await makeWorkspace(quiet);
    const r = reportFile([{ receipt: 1 }], 1);
    await dropReport(ws.till, 'a.rep', r.data);
    assert.equal((await runCli(['run', '--once', '--config', ws.configFile])).code, 0);
    // The back office lost it.
    await fs.rm(join(ws.share, 'POS1.rep.$1'));
    const offlineResend = await runCli(['resend', '1', '--config', ws.configFile]);
    assert.equal(offlineResend.code, 0, offlineResend.stderr);
    assert.match(offlineResend.stdout, /package 1 queued again as package 2/);
    assert.equal((await runCli(['run', '--once', '--config', ws.configFile])).code, 0);
    assert.deepEqual((await sharePackages(ws.share)).map((p) => [p.n, transactionNumbers(p.data)]), [[1, r.txs]]);
    await start(ws.configFile);
    const live = await runCli(['resend', '2', '--config', ws.configFile]);
    assert.equal(live.code, 0, live.stderr);
    assert.match(live.stdout, /package 2 queued again as package 3/);
    await waitFor(async () => (await sharePackages(ws!.share)).length === 2, 'the resent package delivered', 10_000);
    const missing = await runCli(['resend', '99', '--config', ws.configFile]);
    assert.equal(missing.code, 2, 'an unknown package is a usage error');
    assert.match(missing.stderr, /package 99 is not in the archive/);
    const log = await fs.readFile(join(ws.logs, (await fs.readdir(ws.logs)).find((n) => n.endsWith('.log'))!), 'utf8');
    assert.ok(log.split('\n').some((l) => l.includes('"package.resend"')), 'the resend is in the log');
  });

  it('several tills: one exchange failing never stops the other; status and metrics show both', async () => {
    ws = await makeWorkspace();
    await fs.mkdir(join(ws.root, 'till2'));
    const exchange = (pos: number, till: string, share: string) => ({
      pos,
      dataDir: `data${pos}`,
      till: { dir: till, referenceFile: `POS${pos}.spr`, settleMs: 0, rescanMs: 100, openReceiptMs: 0 },
      transport: { type: 'folder', dir: share, referenceName: `POS${pos}.spr`, reportName: `POS${pos}.rep` },
      batch: { maxTransactions: 10, flushMs: 0 },
      schedule: { pull: '* * * * * *', retry: { initialMs: 50, maxMs: 200, jitter: 0 } },
    });
    await fs.writeFile(
      ws.configFile,
      stringify({
        exchanges: [exchange(1, 'till', 'share'), exchange(2, 'till2', 'missing-share')],
        log: { level: 'debug', dir: 'log', console: true },
        metrics: { enabled: true, port: 0, maxQueueAgeMs: 1_000 },
      }),
    );
    const agent = await start(ws.configFile);
    const a = reportFile([{ receipt: 1 }], 1);
    const b = reportFile([{ receipt: 2 }], 100, 2);
    await dropReport(ws.till, 'a.rep', a.data);
    await dropReport(join(ws.root, 'till2'), 'b.rep', b.data);
    await waitFor(async () => (await sharePackages(ws!.share)).length === 1, 'POS 1 delivered while POS 2 cannot reach its share');
    const status = await runCli(['status', '--config', ws.configFile, '--json']);
    const s = JSON.parse(status.stdout) as { running: boolean; exchanges: { pos: number; queued: unknown[] }[] };
    assert.equal(s.running, true);
    assert.deepEqual(s.exchanges.map((x) => [x.pos, x.queued.length]), [
      [1, 0],
      [2, 1],
    ]);
    const url = /metrics\.listening .*url=(http:\S+)/.exec(agent.output())?.[1];
    assert.ok(url, agent.output());
    const metrics = await (await fetch(url!)).text();
    assert.match(metrics, /^kassir_agent_queued_packages\{pos="1",transport="folder"\} 0$/m);
    assert.match(metrics, /^kassir_agent_queued_packages\{pos="2",transport="folder"\} 1$/m);
    assert.match(metrics, /^kassir_agent_push_attempts_total\{pos="1",transport="folder",outcome="delivered"\} 1$/m);
    const healthUrl = url!.replace('/metrics', '/healthz');
    await waitFor(async () => (await fetch(healthUrl)).status === 503, 'healthz red once POS 2 has waited longer than maxQueueAgeMs', 10_000);
    const h = (await (await fetch(healthUrl)).json()) as { ok: boolean; problems: string[] };
    assert.equal(h.ok, false);
    assert.match(h.problems[0]!, /^POS 2: package 1 has waited/);
    await fs.mkdir(join(ws.root, 'missing-share'));
    await waitFor(async () => (await fetch(healthUrl)).status === 200, 'healthz green once POS 2 delivered', 10_000);
  });

  it('stops cleanly on SIGINT (Ctrl+C; Windows: the stop command) and every log file line is one JSON object', async () => {
    ws = await makeWorkspace();
    const agent = await startAgent(ws.configFile);
    await dropReport(ws.till, 'a.rep', reportFile([{ receipt: 1 }], 1).data);
    await waitFor(async () => (await sharePackages(ws!.share)).length === 1, 'delivered');
    // On Windows kill('SIGINT') is TerminateProcess (no Ctrl+C reaches the agent): there the service's stop, the stop command.
    if (process.platform === 'win32') assert.equal(await stopDaemon(agent, ws.configFile), 0);
    else {
      agent.child.kill('SIGINT');
      assert.equal(await agent.exited, 0);
    }
    const files = (await fs.readdir(ws.logs)).filter((n) => !n.startsWith('.'));
    assert.deepEqual(files.map((n) => /^kassir-agent-\d{4}-\d{2}-\d{2}\.log$/.test(n)), [true], 'only dated log files beside the hidden rotation audit');
    const lines = (await fs.readFile(join(ws.logs, files[0]!), 'utf8')).trim().split('\n');
    const parsed = lines.map((l) => JSON.parse(l) as { time: string; level: string; event: string });
    for (const p of parsed) assert.ok(p.time && p.level && p.event, JSON.stringify(p));
    assert.equal(parsed.at(-1)!.event, 'agent.stopped', 'the last line is flushed before exit');
    assert.ok(parsed.some((p) => p.event === 'push.delivered' && (p as unknown as { pos: number }).pos === 1));
  });
});
