/**
 * The Zabbix agent on a till installed by scripts/install-linux.sh, for real:
 * in a private mount namespace (so nothing of this machine changes: /etc and
 * /var are overlays on a temp folder, /opt, /srv and /mnt empty tmpfs), the
 * script installs the service user kassir-agent, the config, the sudoers rule
 * and kassir-agent.conf (a zabbix user exists: the zabbix-agent2 package made
 * it); the agent then runs as kassir-agent with the service's umask, and the
 * real zabbix_agent2 -t runs the installed conf as user zabbix, as on a till.
 * The executable is a stand-in that runs the sources (node + tsx).
 *
 * Checked: through sudo, Zabbix sees the running agent and every JSONPath of
 * the template resolves; without the rule it gets a permission problem, told
 * apart from "not running", and the template's triggers call that a set-up
 * problem, never "agent down"; a stopped agent is "agent down".
 *
 * Needs root (CI runs the suite as root), unshare and overlayfs.
 *
 * Without root: the template's shift triggers, evaluated (zabbix-template.ts)
 * on the `status --json` of a till whose shift ledger holds shifts, polled
 * over time: a shift waiting longer than {$KASSIR.SHIFT.DELIVERY.MAX}, a shift
 * that does not match its Z report.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import * as fs from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { ROOT } from '../helpers/kassir.js';
import { waitFor } from '../helpers/wait.js';
import type { ShiftRecord } from '../../src/shifts/record.js';
import type { StatusReport } from '../../src/status.js';
import { statusDocument } from '../../src/status-json.js';
import { ledgerStatus, openLedgerStore, shiftRecord, type LedgerStore } from '../helpers/shift-records.js';
import { checkTemplate, jsonPath, triggerFires, type Polled, type ZabbixExport } from './zabbix-template.js';
import { makeTempDir, removeDir } from '../helpers/temp-dir.js';

const CONFIG = '/etc/kassir-agent/agent.yaml';
const EXE = '/opt/kassir-agent/kassir-agent';
const TEMPLATE = parse(readFileSync(join(ROOT, 'monitoring/zabbix/kassir-agent-template.yaml'), 'utf8')) as ZabbixExport;

interface Status {
  running: boolean;
  agent: string;
  agentError?: string;
  tills: Record<string, Record<string, unknown>>;
}

/** The regular expression a `find(.../kassir.agent,,"regexp",RE)` or `count(...)` of the trigger named `name` tests. */
function stateTrigger(name: string): RegExp[] {
  const t = TEMPLATE.zabbix_export.templates[0]!.items.flatMap((i) => i.triggers ?? []).find((x) => x.name === name);
  assert.ok(t, `the template has the trigger "${name}"`);
  const res = [...t.expression.matchAll(/\/kassir\.agent,[^,]*,"regexp","([^"]+)"\)/g)].map((m) => new RegExp(m[1]!));
  assert.ok(res.length > 0, t.expression);
  return res;
}
const DOWN = 'kassir-agent is down';
const SETUP = 'kassir-agent: Zabbix may not read its status';
/** What the template's kassir.agent item makes of the status text: the JSONPath, or its custom value on error. */
function agentItem(text: string): string {
  try {
    const v = jsonPath(JSON.parse(text), '$.agent');
    return typeof v === 'string' ? v : 'unreadable';
  } catch {
    return 'unreadable';
  }
}
const fires = (trigger: string, state: string) => stateTrigger(trigger).some((re) => re.test(state));
const SHIFT_WAITS = 'POS {#POS}: a shift closed more than {$KASSIR.SHIFT.DELIVERY.MAX} ago is not delivered';
const SHIFT_MISMATCH = 'POS {#POS}: a shift does not match its Z report';
const NO_SHIFT = { lastClosedNumber: 0, lastClosedTimestampSeconds: 0, lastDeliveredTimestampSeconds: 0, undelivered: 0, oldestUndeliveredClosedTimestampSeconds: 0, mismatches: 0 };

describe('the template\'s shift triggers on status --json of a till with a shift ledger', () => {
  let dir: string;
  let store: LedgerStore;
  const T = Date.parse('2026-11-24T18:04:00.000Z');
  const MIN = 60_000;
  const live: NonNullable<StatusReport['live']> = { pos: 1, transport: 'folder', consecutiveFailures: 0, pullFailing: false, pushFailing: false, attempts: { delivered: 0, failed: 0 }, transactionsSent: 0, bytesSent: 0 };
  /** What the Zabbix agent would get from `status --json` at `now`, the ledger holding `records`. */
  const poll = async (records: ShiftRecord[], now: number): Promise<Polled> => {
    store.records = records;
    const config = { exchanges: [{ pos: 1, transport: { type: 'folder' } }] } as never;
    const doc = await statusDocument(config, { state: 'running', live: { exchanges: [{ ...ledgerStatus(store, 1, 'folder', now), live }], notRunning: {} } }, now);
    return { at: now / 1000, doc: JSON.parse(JSON.stringify(doc)) };
  };

  before(async () => {
    dir = await makeTempDir('kassir-zabbix-shifts');
    store = await openLedgerStore(join(dir, 'data'));
  });
  after(async () => {
    await store.close();
    await removeDir(dir);
  });

  it('a closed shift not delivered: a problem after {$KASSIR.SHIFT.DELIVERY.MAX} (30m), not before, not once delivered', async () => {
    const waits = [shiftRecord({ number: '11', closedAt: '2026-11-23T18:00:00.000Z' }), shiftRecord({ number: '12', closedAt: new Date(T).toISOString(), delivered: false, deliveredAt: null })];
    const delivered = waits.map((s) => ({ ...s, delivered: true, deliveredAt: new Date(T + 20 * MIN).toISOString() }));
    assert.equal(triggerFires(TEMPLATE, SHIFT_WAITS, '1', [await poll([], T + 40 * MIN)]), false, 'no shift at all');
    assert.equal(triggerFires(TEMPLATE, SHIFT_WAITS, '1', [await poll(waits, T + 10 * MIN)]), false, 'waiting 10 minutes');
    const late = await poll(waits, T + 31 * MIN);
    assert.deepEqual(jsonPath(late.doc, "$.tills['1'].shift"), { ...NO_SHIFT, lastClosedNumber: 12, lastClosedTimestampSeconds: T / 1000, undelivered: 1, oldestUndeliveredClosedTimestampSeconds: T / 1000 });
    assert.equal(triggerFires(TEMPLATE, SHIFT_WAITS, '1', [late]), true, 'waiting 31 minutes');
    assert.equal(triggerFires(TEMPLATE, SHIFT_WAITS, '1', [await poll(delivered, T + 31 * MIN)]), false, 'delivered after 20 minutes');
  });

  it('a shift that does not match its Z report: a problem for a day from when it closes; an old one or a partial one is none', async () => {
    const earlier = [shiftRecord({ number: '12', closedAt: new Date(T - 24 * 60 * MIN).toISOString() })];
    const mismatch = [...earlier, shiftRecord({ number: '13', closedAt: new Date(T).toISOString(), matches: false, z: { revenue: '1234.50', cashInDrawer: '0.00' } })];
    const partial = [...earlier, shiftRecord({ number: '13', closedAt: new Date(T).toISOString(), partial: true, matches: null, z: { revenue: '1234.50', cashInDrawer: '0.00' } })];
    // Polled every hour from 2 h before the shift closes: the ledger without it, then with it.
    const polls = async (closed: ShiftRecord[], untilHours: number) => {
      const out: Polled[] = [];
      for (let h = -2; h <= untilHours; h++) out.push(await poll(h < 0 ? earlier : closed, T + h * 60 * MIN));
      return out;
    };
    const series = await polls(mismatch, 25);
    assert.equal(jsonPath(series[2]!.doc, "$.tills['1'].shift.mismatches"), 1);
    assert.equal(triggerFires(TEMPLATE, SHIFT_MISMATCH, '1', series.slice(0, 2)), false, 'before it closes');
    assert.equal(triggerFires(TEMPLATE, SHIFT_MISMATCH, '1', series.slice(0, 3)), true, 'when it closes');
    assert.equal(triggerFires(TEMPLATE, SHIFT_MISMATCH, '1', series.slice(0, 25)), true, '22 hours later');
    assert.equal(triggerFires(TEMPLATE, SHIFT_MISMATCH, '1', series), false, 'a day later');
    assert.equal(triggerFires(TEMPLATE, SHIFT_MISMATCH, '1', (await polls(partial, 3))), false, 'a partial shift is not checked');
    const already: Polled[] = [];
    for (let h = 0; h < 3; h++) already.push(await poll(mismatch, T + (30 + h) * 60 * MIN));
    assert.equal(triggerFires(TEMPLATE, SHIFT_MISMATCH, '1', already), false, 'one that closed before Zabbix began polling');
  });
});

describe('the Zabbix agent on a till installed by install-linux.sh', () => {
  let tmp: string;
  let ns: ChildProcess | undefined;
  let agent: ChildProcess | undefined;
  let agentOut = '';
  let agentExited: Promise<void> = Promise.resolve();

  /** A command inside the till's mount namespace, as `user` (root when absent). */
  const inTill = (cmd: string[], user?: string) => {
    const as = user ? ['setpriv', `--reuid=${user}`, `--regid=${user}`, '--init-groups', '--'] : [];
    const r = spawnSync('nsenter', [`--target=${ns!.pid}`, '--mount', '--', ...as, ...cmd], { encoding: 'utf8', timeout: 60_000 });
    if (r.error) throw r.error;
    return { status: r.status, stdout: r.stdout, output: `${r.stdout}${r.stderr}` };
  };
  const zabbix = (key: string) => {
    const r = inTill(['zabbix_agent2', '-c', join(tmp, 'zabbix_agent2.conf'), '-t', key], 'zabbix');
    assert.equal(r.status, 0, r.output);
    const m = /\[s\|([\s\S]*)\]\s*$/.exec(r.stdout);
    assert.ok(m, `zabbix_agent2 -t ${key} gave no text value:\n${r.output}`);
    return m[1]!;
  };
  const startAgent = async () => {
    agentOut = '';
    // The unit's User=, Group= and UMask=0077.
    agent = spawn('nsenter', [`--target=${ns!.pid}`, '--mount', '--', 'setpriv', '--reuid=kassir-agent', '--regid=kassir-agent', '--init-groups', '--', 'sh', '-c', `umask 077 && exec ${EXE} run --config ${CONFIG}`], { stdio: ['ignore', 'pipe', 'pipe'] });
    agent.stdout!.on('data', (d) => (agentOut += d));
    agent.stderr!.on('data', (d) => (agentOut += d));
    const child = agent;
    agentExited = new Promise((r) => child.once('exit', () => r()));
    await waitFor(() => agentOut.includes('agent.started') || child.exitCode !== null, 'agent.started', 60_000);
    assert.match(agentOut, /agent\.started/, agentOut);
  };
  const stopAgent = async () => {
    if (!agent || agent.exitCode !== null || agent.signalCode !== null) return;
    agent.kill('SIGTERM');
    const t = setTimeout(() => agent?.kill('SIGKILL'), 15_000);
    await agentExited;
    clearTimeout(t);
  };

  before(async () => {
    assert.equal(process.getuid?.(), 0, 'this test installs a till in a mount namespace: run it as root, as CI does');
    tmp = await makeTempDir('kassir-till');
    await fs.chmod(tmp, 0o755);
    for (const d of ['etc.up', 'etc.work', 'var.up', 'var.work', 'src']) await fs.mkdir(join(tmp, d));
    await fs.writeFile(join(tmp, 'node'), '');
    // The sources and Node, reachable for the service user wherever the clone lives.
    const src = join(tmp, 'src');
    const loader = fileURLToPath(import.meta.resolve('tsx')).replace(ROOT.replace(/\/$/, ''), src);
    await fs.writeFile(join(tmp, 'kassir-agent'), `#!/bin/sh\nexec ${join(tmp, 'node')} --import ${loader} ${join(src, 'src/cli.ts')} "$@"\n`, { mode: 0o755 });
    await fs.writeFile(join(tmp, 'zabbix_agent2.conf'), `LogType=console\nServer=127.0.0.1\nHostname=till\nTimeout=30\nInclude=/etc/zabbix/zabbix_agent2.d/kassir-agent.conf\n`);
    const setup = [
      `mount -t overlay overlay -o lowerdir=/etc,upperdir=${tmp}/etc.up,workdir=${tmp}/etc.work /etc`,
      `mount -t overlay overlay -o lowerdir=/var,upperdir=${tmp}/var.up,workdir=${tmp}/var.work /var`,
      `mount --bind ${ROOT} ${src}`,
      `mount --bind ${process.execPath} ${tmp}/node`,
      'for d in /opt /srv /mnt; do mount -t tmpfs -o mode=0755 tmpfs $d; done',
      // No systemd here: the script then enables and restarts nothing.
      'if [ -d /run/systemd/system ]; then mount -t tmpfs tmpfs /run/systemd; fi',
      'mkdir -p /srv/kassir/exchange /mnt/backoffice /etc/zabbix/zabbix_agent2.d',
      'echo ready',
      'exec sleep 3600',
    ].join(' && ');
    ns = spawn('unshare', ['--mount', '--propagation', 'private', '--', 'sh', '-c', setup], { stdio: ['ignore', 'pipe', 'pipe'] });
    let nsOut = '';
    ns.stdout!.on('data', (d) => (nsOut += d));
    ns.stderr!.on('data', (d) => (nsOut += d));
    await waitFor(() => nsOut.includes('ready') || ns!.exitCode !== null, 'the till namespace', 20_000);
    assert.match(nsOut, /ready/, nsOut);

    const install = inTill(['bash', join(src, 'scripts/install-linux.sh'), '--binary', join(tmp, 'kassir-agent'), '--till-dir', '/srv/kassir/exchange', '--share-dir', '/mnt/backoffice']);
    assert.equal(install.status, 0, install.output);
    assert.match(install.output, /Zabbix agent may run 'kassir-agent status' as kassir-agent/);
    // The integrator gives the service user its till folder and share (README, INSTALL.md).
    assert.equal(inTill(['chown', 'kassir-agent:kassir-agent', '/srv/kassir/exchange', '/mnt/backoffice']).status, 0);
    await startAgent();
  });

  after(async () => {
    await stopAgent().catch(() => undefined);
    if (ns && ns.exitCode === null) {
      const exited = new Promise((r) => ns!.once('exit', r));
      ns.kill('SIGKILL');
      await exited;
    }
    if (tmp) await removeDir(tmp);
  });

  it('zabbix_agent2 (as zabbix, through the installed sudo rule) sees the running agent; every JSONPath of the template resolves', () => {
    const discovered = JSON.parse(zabbix(`kassir.discovery[${CONFIG}]`)) as Record<string, string>[];
    assert.deepEqual(discovered, [{ '{#POS}': '1', '{#TRANSPORT}': 'folder' }]);
    const text = zabbix(`kassir.status[${CONFIG}]`);
    const status = JSON.parse(text) as Status;
    assert.equal(status.running, true, text);
    assert.equal(status.agent, 'running');
    assert.equal(fires(DOWN, agentItem(text)), false);
    assert.equal(fires(SETUP, agentItem(text)), false);
    // No shift has closed on this till: the shift object is there, all 0, and no shift trigger is on.
    assert.deepEqual(status.tills['1']!.shift, NO_SHIFT);
    for (const name of [SHIFT_WAITS, SHIFT_MISMATCH]) assert.equal(triggerFires(TEMPLATE, name, '1', [{ at: Date.now() / 1000, doc: status }]), false, name);

    const paths = checkTemplate(TEMPLATE);
    assert.ok(paths.length >= 15, 'the template reads the status through JSONPaths');
    for (const p of paths) {
      for (const macros of p.prototype ? discovered : [{} as Record<string, string>]) {
        const path: string = Object.entries(macros).reduce<string>((s, [k, v]) => s.replaceAll(k, v), p.path);
        const value = jsonPath(status, path);
        assert.notEqual(value, undefined, `${p.key}: ${path} finds nothing in the status`);
        if (p.valueType === 'CHAR' || p.valueType === 'TEXT') assert.equal(typeof value, 'string', `${p.key}: ${path}`);
        else if (p.boolean) assert.equal(typeof value, 'boolean', `${p.key}: ${path}`);
        else assert.equal(typeof value, 'number', `${p.key}: ${path} is ${JSON.stringify(value)}, the item is numeric`);
      }
    }
  });

  it('the sudo rule allows the two status lines only, as kassir-agent only', () => {
    const sudo = (...args: string[]) => inTill(['sudo', '-n', ...args], 'zabbix');
    for (const denied of [
      ['-u', 'kassir-agent', EXE, 'exchange-now', '--config', CONFIG],
      ['-u', 'kassir-agent', EXE, 'status', '--json', '--config', '/tmp/other.yaml'],
      ['-u', 'root', EXE, 'status', '--json', '--config', CONFIG],
      ['-u', 'kassir-agent', '/bin/sh', '-c', 'id'],
    ]) {
      const r = sudo(...denied);
      assert.notEqual(r.status, 0, `sudo ${denied.join(' ')} must be refused`);
      assert.match(r.output, /sudo: a password is required|not allowed/, denied.join(' '));
    }
  });

  it('status --json run by a user who may not ask: permission-denied, told apart from not running; a set-up problem for the template', async () => {
    // As the Zabbix agent would without sudo: the config itself is private.
    const noConfig = inTill([EXE, 'status', '--json', '--config', CONFIG], 'zabbix');
    assert.equal(noConfig.status, 0, noConfig.output);
    const a = JSON.parse(noConfig.stdout) as Status;
    assert.equal(a.agent, 'permission-denied');
    assert.equal(a.running, false);
    assert.match(a.agentError!, /agent\.yaml: cannot read the config: permission denied/);
    // With a readable copy of the config: the control socket (in the 0700 data folder) refuses.
    assert.equal(inTill(['sh', '-c', `cp ${CONFIG} /etc/zabbix/copy.yaml && chmod 0644 /etc/zabbix/copy.yaml`]).status, 0);
    const noSocket = inTill([EXE, 'status', '--json', '--config', '/etc/zabbix/copy.yaml'], 'zabbix');
    assert.equal(noSocket.status, 0, noSocket.output);
    const b = JSON.parse(noSocket.stdout) as Status;
    assert.equal(b.agent, 'permission-denied');
    assert.match(b.agentError!, /control\.sock: permission denied/);
    assert.equal(b.tills['1']!.up, 0, 'a till row is still there, for the JSONPaths');
    for (const text of [noConfig.stdout, noSocket.stdout]) {
      assert.equal(fires(DOWN, agentItem(text)), false, 'not "agent down"');
      assert.equal(fires(SETUP, agentItem(text)), true, 'a set-up problem');
    }
  });

  it('without the sudo rule, zabbix_agent2 gets sudo\'s refusal: the template calls it a set-up problem, not agent down', () => {
    const rule = '/etc/sudoers.d/kassir-agent-zabbix';
    assert.equal(inTill(['mv', rule, '/etc/kassir-agent-zabbix.off']).status, 0);
    try {
      const text = zabbix(`kassir.status[${CONFIG}]`);
      assert.match(text, /sudo/);
      assert.equal(agentItem(text), 'unreadable');
      assert.equal(fires(DOWN, 'unreadable'), false);
      assert.equal(fires(SETUP, 'unreadable'), true);
    } finally {
      assert.equal(inTill(['mv', '/etc/kassir-agent-zabbix.off', rule]).status, 0);
    }
  });

  it('a stopped agent is "not-running" through the same path: agent down', async () => {
    await stopAgent();
    const text = zabbix(`kassir.status[${CONFIG}]`);
    const status = JSON.parse(text) as Status;
    assert.equal(status.running, false);
    assert.equal(status.agent, 'not-running', text);
    assert.equal(fires(DOWN, agentItem(text)), true);
    assert.equal(fires(SETUP, agentItem(text)), false);
  });
});
