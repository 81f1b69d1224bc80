/**
 * The monitoring files against the real engines from Debian (installed by
 * .ci/install-test-deps.sh), each started here on a free loopback port in a
 * temp folder and killed in `after`:
 * - promtool: the shipped rules check and pass their unit tests;
 * - prometheus scraping two running agents (POS 1 and 2) and the metrics
 *   listener of a third till (POS 3) whose shift ledger holds a shift that
 *   waits (its status report made by the agent's own statusOf over a real data
 *   folder): kassir_agent_up and kassir_agent_build_info answer; every query of
 *   the Grafana dashboard is valid PromQL; the shift series are there; with a
 *   test copy of the rules (1 s interval, no waiting, thresholds of 1 s, shop
 *   always open) POS 2's "packages waiting" alert fires once its share
 *   disappears, and POS 1's does not; POS 3's shift alerts fire (a shift
 *   waits; a shift that does not match closes), and no other till's;
 * - prometheus-node-exporter serving the agent's textfile export.
 * The Zabbix agent runs the shipped conf on an installed till: zabbix-till.test.ts.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parse, stringify } from 'yaml';
import { MetricsServer } from '../../src/metrics.js';
import type { StatusReport } from '../../src/status.js';
import { nullLogger } from '../../src/util/logger.js';
import { version } from '../../src/version.js';
import { freePort } from '../helpers/ports.js';
import { dropReport, makeWorkspace, reportFile, ROOT, sharePackages, startAgent, type Workspace } from '../helpers/kassir.js';
import { ledgerStatus, openLedgerStore, shiftRecord, type LedgerStore } from '../helpers/shift-records.js';
import { waitFor } from '../helpers/wait.js';
import { makeTempDir, removeDir } from '../helpers/temp-dir.js';

const MON = join(ROOT, 'monitoring');
const RULES = join(MON, 'prometheus/kassir-agent.rules.yml');

function run(cmd: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 60_000, ...opts });
  if (r.error) throw r.error;
  return { status: r.status, output: `${r.stdout}${r.stderr}`, stdout: r.stdout };
}

/** A daemon started here; killed (SIGKILL after 5 s) by `stop`. */
function daemon(cmd: string, args: string[]): { child: ChildProcess; output: () => string; stop: () => Promise<void> } {
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  return {
    child,
    output: () => out,
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(t);
    },
  };
}

async function getJson(url: string): Promise<{ status: string; data: unknown; error?: string }> {
  return (await (await fetch(url)).json()) as { status: string; data: unknown; error?: string };
}

describe('promtool on the shipped rules', () => {
  it('check rules passes', () => {
    const r = run('promtool', ['check', 'rules', RULES]);
    assert.equal(r.status, 0, r.output);
    assert.match(r.output, /SUCCESS: \d+ rules found/);
  });
  it('every alert passes its unit tests (test rules)', () => {
    const r = run('promtool', ['test', 'rules', 'kassir-agent.rules.test.yml'], { cwd: join(MON, 'prometheus') });
    assert.equal(r.status, 0, r.output);
    const rules = parse(readText(RULES)) as { groups: { rules: { alert?: string }[] }[] };
    const tests = readText(join(MON, 'prometheus/kassir-agent.rules.test.yml'));
    for (const alert of rules.groups.flatMap((g) => g.rules.flatMap((x) => (x.alert ? [x.alert] : [])))) {
      assert.match(tests, new RegExp(`alertname: ${alert}\\n`), `${alert} has a unit test`);
    }
  });
});

function readText(file: string): string {
  return spawnSync('cat', [file], { encoding: 'utf8' }).stdout;
}

describe('two agents, Prometheus and node_exporter', () => {
  const procs: { stop: () => Promise<void> }[] = [];
  const workspaces: Workspace[] = [];
  let tmp: string;
  let ws1: Workspace;
  let ws2: Workspace;
  let ledger: LedgerStore;
  let prom: string;

  before(async () => {
    tmp = await makeTempDir('kassir-mon');
    // POS 1 also writes the textfile export; POS 2 has its own agent, till and share.
    const common = { schedule: { pull: '1s', retry: { initialMs: 50, maxMs: 400, jitter: 0 } }, log: { level: 'info', console: true } };
    ws1 = await makeWorkspace({ ...common, metrics: { enabled: true, port: 0, textfile: { dir: 'textfile', intervalMs: 1000 } } });
    await fs.mkdir(join(ws1.root, 'textfile'));
    ws2 = await makeWorkspace(
      { ...common, pos: 2, till: { dir: 'till', referenceFile: 'POS2.spr', settleMs: 0, rescanMs: 100, openReceiptMs: 0 }, metrics: { enabled: true, port: 0 } },
      { type: 'folder', dir: 'share', referenceName: 'POS2.spr', reportName: 'POS2.rep' },
    );
    workspaces.push(ws1, ws2);
    const urls: string[] = [];
    for (const ws of [ws1, ws2]) {
      const agent = await startAgent(ws.configFile);
      procs.push({
        stop: async () => {
          agent.child.kill('SIGTERM');
          const t = setTimeout(() => agent.child.kill('SIGKILL'), 10_000);
          await agent.exited;
          clearTimeout(t);
        },
      });
      await waitFor(() => /metrics\.listening .*url=http:\S+/.test(agent.output()), 'metrics.listening', 10_000);
      urls.push(/metrics\.listening .*url=http:\/\/(\S+)\/metrics/.exec(agent.output())![1]!);
    }
    // POS 3: the metrics listener over a ledger with a shift delivered 2 h ago and one closed 10 min ago that waits.
    const at = (minutesAgo: number) => new Date(Date.now() - minutesAgo * 60_000).toISOString();
    ledger = await openLedgerStore(join(tmp, 'pos3'), [
      shiftRecord({ pos: 3, number: '11', closedAt: at(130), deliveredAt: at(125) }),
      shiftRecord({ pos: 3, number: '12', closedAt: at(10), delivered: false, deliveredAt: null }),
    ]);
    procs.push({ stop: () => ledger.close() });
    // Its last push and pull, so that every column of the tills table has a value for it too.
    // Through the store's own operations: a pull, and one package appended, sealed and delivered.
    await ledger.recordPull();
    await ledger.appendPlanned(() => ({ chunk: Buffer.from('X\r\n'), edit: (d) => void (d.open.pkg = { transactions: 1, bytes: 3 }), result: undefined }));
    const sealed = await ledger.seal();
    await ledger.delivered(sealed!.number, { outcome: 'delivered', remoteName: 'POS3.rep' }, {});
    const live3: NonNullable<StatusReport['live']> = { pos: 3, transport: 'folder', consecutiveFailures: 0, pullFailing: false, pushFailing: false, attempts: { delivered: 0, failed: 0 }, transactionsSent: 0, bytesSent: 0 };
    const pos3 = new MetricsServer({ host: '127.0.0.1', port: 0, maxQueueAgeMs: 60_000 }, { snapshot: () => [{ ...ledgerStatus(ledger, 3), live: live3 }], failedToStart: () => new Map(), configured: [{ pos: 3, transport: 'folder' }] }, nullLogger);
    urls.push(`127.0.0.1:${await pos3.start()}`);
    procs.push({ stop: () => pos3.stop() });
    // One package delivered by each, so every column of the tills table has a value.
    await dropReport(ws1.till, 'first.rep', reportFile([{ receipt: 1 }], 1, 1).data);
    await dropReport(ws2.till, 'first.rep', reportFile([{ receipt: 1 }], 1, 2).data);
    await waitFor(async () => (await sharePackages(ws1.share)).length === 1 && (await sharePackages(ws2.share, 'POS2.rep')).length === 1, 'a first package from each till', 20_000);
    // A test copy of the shipped rules: evaluated every second, nothing waits, thresholds of 1 s, shop always open.
    const rules = parse(readText(RULES)) as { groups: { interval?: string; rules: { record?: string; alert?: string; expr: string; for?: string }[] }[] };
    let shortened = 0;
    for (const g of rules.groups) {
      g.interval = '1s';
      for (const r of g.rules) {
        if (r.for) r.for = '0s';
        if (r.record === 'kassir:shop_open') r.expr = 'vector(1)';
        if (r.alert) r.expr = r.expr.replace(/\b\d+ \* 60( \* 60)?\b/g, () => (shortened++, '1'));
      }
    }
    assert.ok(shortened >= 3, 'the thresholds of the shipped rules were found and shortened');
    await fs.writeFile(join(tmp, 'rules.yml'), stringify(rules));
    const port = await freePort();
    await fs.writeFile(
      join(tmp, 'prometheus.yml'),
      stringify({
        global: { scrape_interval: '1s', evaluation_interval: '1s' },
        rule_files: [join(tmp, 'rules.yml')],
        scrape_configs: [{ job_name: 'kassir-agent', static_configs: [{ targets: urls }] }],
      }),
    );
    const p = daemon('prometheus', [`--config.file=${join(tmp, 'prometheus.yml')}`, `--storage.tsdb.path=${join(tmp, 'tsdb')}`, `--web.listen-address=127.0.0.1:${port}`]);
    procs.push(p);
    prom = `http://127.0.0.1:${port}`;
    await waitFor(async () => (await fetch(`${prom}/-/ready`).catch(() => undefined))?.status === 200, `prometheus ready\n${p.output()}`, 30_000, 200);
  });

  after(async () => {
    for (const p of procs.reverse()) await p.stop().catch(() => undefined);
    for (const ws of workspaces) await ws.cleanup();
    await removeDir(tmp);
  });

  const query = async (q: string) => {
    const r = await getJson(`${prom}/api/v1/query?query=${encodeURIComponent(q)}`);
    assert.equal(r.status, 'success', `${q}: ${r.error}`);
    return (r.data as { result: { metric: Record<string, string>; value: [number, string] }[] }).result;
  };

  it('prometheus scrapes both agents and POS 3: kassir_agent_up and kassir_agent_build_info answer', async () => {
    await waitFor(async () => (await query('kassir_agent_up')).length === 3, 'every till scraped', 30_000, 250);
    const up = await query('kassir_agent_up');
    assert.deepEqual(up.map((s) => [s.metric.pos, s.value[1]]).sort(), [['1', '1'], ['2', '1'], ['3', '1']]);
    const info = await query('kassir_agent_build_info');
    assert.equal(info.length, 3);
    for (const s of info) {
      assert.equal(s.metric.version, version());
      assert.equal(s.metric.node, process.version);
    }
  });

  it('every query of the Grafana dashboard is valid PromQL (and the tills table finds every till)', async () => {
    const dash = JSON.parse(readText(join(MON, 'grafana/kassir-agent.json'))) as { panels: { title: string; targets: { expr: string; refId: string }[] }[]; templating: { list: { name: string; query?: unknown; definition?: string }[] } };
    const exprs = dash.panels.flatMap((p) => p.targets.map((t) => ({ panel: p.title, expr: t.expr.replaceAll('$pos', '.*').replaceAll('$__rate_interval', '1m') })));
    assert.ok(exprs.length >= 10);
    for (const { panel, expr } of exprs) await query(expr).then(undefined, (e: Error) => assert.fail(`${panel}: ${expr}: ${e.message}`));
    const table = dash.panels.find((p) => p.title.startsWith('Tills ('))!;
    for (const t of table.targets) {
      const result = await query(t.expr.replaceAll('$pos', '.*'));
      assert.deepEqual(result.map((s) => s.metric.pos).sort(), ['1', '2', '3'], `table column ${t.refId}: ${t.expr}`);
    }
    const variable = dash.templating.list.find((v) => v.name === 'pos')!;
    const values = await getJson(`${prom}/api/v1/label/pos/values?match[]=kassir_agent_up`);
    assert.match(variable.definition!, /^label_values\(kassir_agent_up, pos\)$/);
    assert.deepEqual(values.data, ['1', '2', '3']);
  });

  const firing = async (alertname: string) => {
    const r = await getJson(`${prom}/api/v1/alerts`);
    return (r.data as { alerts: { labels: Record<string, string>; state: string }[] }).alerts.filter((a) => a.state === 'firing' && a.labels.alertname === alertname);
  };
  const byPos = (result: { metric: Record<string, string>; value: [number, string] }[]) => Object.fromEntries(result.map((s) => [s.metric.pos!, s.value[1]]));

  it('the shift series: the agents have closed no shift yet (counts of 0, no times); POS 3 has shift 12 waiting', async () => {
    await waitFor(async () => (await query('kassir_agent_shifts_undelivered')).length === 3, 'the shift series of every till', 30_000, 250);
    assert.deepEqual(byPos(await query('kassir_agent_shifts_undelivered')), { 1: '0', 2: '0', 3: '1' });
    assert.deepEqual(byPos(await query('kassir_agent_shift_mismatches')), { 1: '0', 2: '0', 3: '0' });
    assert.deepEqual(byPos(await query('kassir_agent_shift_last_closed_number')), { 3: '12' });
    const closed = Date.parse(ledger.records[1]!.closedAt!) / 1000;
    assert.deepEqual(byPos(await query('kassir_agent_shift_last_closed_timestamp_seconds')), { 3: String(closed) });
    assert.deepEqual(byPos(await query('kassir_agent_shift_oldest_undelivered_closed_timestamp_seconds')), { 3: String(closed) });
    assert.deepEqual(byPos(await query('kassir_agent_shift_last_delivered_timestamp_seconds')), {}, 'the last closed shift waits');
  });

  it('the shift alerts fire for POS 3 only: its shift waits; then a shift that does not match closes', async () => {
    await waitFor(async () => (await firing('KassirAgentShiftNotDelivered')).length > 0, 'KassirAgentShiftNotDelivered firing', 30_000, 250);
    assert.deepEqual((await firing('KassirAgentShiftNotDelivered')).map((a) => a.labels.pos), ['3']);
    assert.deepEqual(await firing('KassirAgentShiftMismatch'), [], 'no shift does not match yet');
    const column = (JSON.parse(readText(join(MON, 'grafana/kassir-agent.json'))) as { panels: { title: string; targets: { expr: string; refId: string }[] }[] }).panels.find((p) => p.title.startsWith('Tills ('))!.targets.find((t) => t.refId === 'H')!.expr.replaceAll('$pos', '.*');
    assert.deepEqual(byPos(await query(column)), { 1: '0', 2: '0', 3: '1' }, 'the Shifts column: POS 3 waiting');
    ledger.records = [...ledger.records, shiftRecord({ pos: 3, number: '13', closedAt: new Date().toISOString(), matches: false, z: { revenue: '1234.50', cashInDrawer: '0.00' } })];
    await waitFor(async () => (await firing('KassirAgentShiftMismatch')).length > 0, 'KassirAgentShiftMismatch firing', 30_000, 250);
    assert.deepEqual((await firing('KassirAgentShiftMismatch')).map((a) => a.labels.pos), ['3']);
    assert.deepEqual(byPos(await query('kassir_agent_shift_last_closed_number')), { 3: '13' });
    assert.deepEqual(byPos(await query(column)), { 1: '0', 2: '0', 3: '3' }, 'the Shifts column: POS 3 waiting and not matching');
  });

  it("an alert fires for POS 2 when its share disappears, and not for POS 1", async () => {
    await fs.rename(ws2.share, `${ws2.share}.gone`);
    await dropReport(ws2.till, 'a.rep', reportFile([{ receipt: 2 }], 2, 2).data);
    const firing = async () => {
      const r = await getJson(`${prom}/api/v1/alerts`);
      return (r.data as { alerts: { labels: Record<string, string>; state: string }[] }).alerts.filter((a) => a.state === 'firing');
    };
    await waitFor(async () => (await firing()).some((a) => a.labels.alertname === 'KassirAgentPackagesWaiting'), 'KassirAgentPackagesWaiting firing', 30_000, 250);
    const alerts = (await firing()).filter((a) => a.labels.alertname === 'KassirAgentPackagesWaiting');
    assert.deepEqual(alerts.map((a) => a.labels.pos), ['2']);
    const kinds = await query('kassir_agent_last_error_info{flow="push",pos="2"}');
    assert.equal(kinds[0]?.metric.kind, 'unreachable');
  });

  it('node_exporter serves the textfile export', async () => {
    const port = await freePort();
    const dir = join(ws1.root, 'textfile');
    const ne = daemon('prometheus-node-exporter', ['--collector.disable-defaults', '--collector.textfile', `--collector.textfile.directory=${dir}`, `--web.listen-address=127.0.0.1:${port}`]);
    procs.push(ne);
    let text = '';
    await waitFor(
      async () => {
        text = await (await fetch(`http://127.0.0.1:${port}/metrics`).catch(() => undefined))?.text().catch(() => '') ?? '';
        return /^kassir_agent_up\{pos="1",transport="folder"\} 1$/m.test(text);
      },
      `node_exporter serving kassir_agent_up\n${ne.output()}`,
      20_000,
      200,
    );
    assert.match(text, /^kassir_agent_build_info\{node="v[\d.]+",version="[^"]+"\} 1$/m);
    assert.match(text, /^node_textfile_scrape_error 0$/m, 'the collector read the file without error');
    assert.deepEqual((await fs.readdir(dir)).filter((n) => !n.endsWith('.prom')), [], 'no temporary file left behind');
  });
});
