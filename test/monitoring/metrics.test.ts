/**
 * The metrics themselves and the protection of their listener: the text is
 * checked by the real `promtool check metrics`; a non-loopback bind without a
 * web config is refused by check-config; basic auth (bcrypt), TLS and the
 * allow-list are exercised over real sockets; the web config file is the
 * format `promtool check web-config` accepts; the README's metrics table is
 * the one generated from the list in code.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs/promises';
import { request as httpsRequest } from 'node:https';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import bcrypt from 'bcryptjs';
import { stringify } from 'yaml';
import { MetricsServer, type MetricsSource } from '../../src/metrics.js';
import { METRICS, prometheusText, withMetricsDocs } from '../../src/metrics/list.js';
import { loadWebConfig, WebConfigError } from '../../src/metrics/web-config.js';
import type { StatusReport } from '../../src/status.js';
import { statusDocument } from '../../src/status-json.js';
import { nullLogger } from '../../src/util/logger.js';
import { makeServerCert, makeTestCa } from '../helpers/tls-certs.js';
import { makeWorkspace, ROOT, runCli, type Workspace } from '../helpers/kassir.js';
import { makeTempDir, removeDir } from '../helpers/temp-dir.js';

const NOW = Date.parse('2026-11-24T12:00:00Z');

function report(pos: number, over: Partial<StatusReport> = {}): StatusReport {
  return {
    pos,
    transport: 'ftp',
    dataDir: `/data/${pos}`,
    queued: [],
    open: { transactions: 0, bytes: 0 },
    inbox: [],
    requestsAwaitingAnswer: [],
    counters: { transactionsCollected: 10, quarantined: 0, referenceFilesDelivered: 0 },
    nextPackage: 1,
    ...over,
    held: over.held ?? [],
  };
}

const live = (pos: number, over: Partial<NonNullable<StatusReport['live']>> = {}): NonNullable<StatusReport['live']> => ({
  pos,
  transport: 'ftp',
  consecutiveFailures: 0,
  pullFailing: false,
  pushFailing: false,
  attempts: { delivered: 3, failed: 1 },
  transactionsSent: 30,
  bytesSent: 3000,
  ...over,
});

/** Two tills running (one failing to push with an auth error, with held files and reference data), one that failed to start. */
const REPORTS: StatusReport[] = [
  report(1, {
    live: live(1, { pushFailing: true, lastPushError: '530 Login incorrect', lastPushErrorKind: 'auth' }),
    queued: [{ package: 7, transactions: 5, bytes: 500, ageMs: 600_000, attempts: 4 }],
    held: [
      { file: 'b.rep', reason: 'open receipt', since: '2026-11-24T11:50:00Z' },
      { file: 'a.rep', reason: 'open receipt', since: '2026-11-24T11:40:00Z', takeBy: '2026-11-24T11:50:00Z' },
    ],
    counters: { transactionsCollected: 10, quarantined: 2, referenceFilesDelivered: 4 },
    lastReferenceDelivered: '2026-11-24T06:00:00Z',
    lastPushOk: '2026-11-24T11:00:00Z',
  }),
  report(2, { live: live(2) }),
];
const CONFIGURED = [1, 2, 3].map((pos) => ({ pos, transport: 'ftp' }));

function promtool(args: string[], input?: string) {
  const r = spawnSync('promtool', args, { input, encoding: 'utf8', timeout: 30_000 });
  if (r.error) throw r.error;
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
}

describe('metrics', () => {
  const text = prometheusText({ reports: REPORTS, configured: CONFIGURED, version: '9.9.9', node: 'v24.0.0', now: NOW });

  it('are valid Prometheus text, by promtool check metrics', () => {
    const r = promtool(['check', 'metrics'], text);
    assert.equal(r.status, 0, r.output + text);
    assert.equal(r.output.trim(), '', `promtool found lint problems:\n${r.output}`);
  });

  it('say the build, which tills are up (a till that failed to start is 0), held files, error kinds and reference data', () => {
    assert.match(text, /^kassir_agent_build_info\{version="9\.9\.9",node="v24\.0\.0"\} 1$/m);
    assert.match(text, /^kassir_agent_up\{pos="1",transport="ftp"\} 1$/m);
    assert.match(text, /^kassir_agent_up\{pos="3",transport="ftp"\} 0$/m);
    assert.match(text, /^kassir_agent_held_files\{pos="1",transport="ftp"\} 2$/m);
    assert.match(text, /^kassir_agent_oldest_held_file_age_seconds\{pos="1",transport="ftp"\} 1200$/m);
    assert.match(text, /^kassir_agent_held_files\{pos="2",transport="ftp"\} 0$/m);
    assert.match(text, /^kassir_agent_last_error_info\{pos="1",transport="ftp",flow="push",kind="auth"\} 1$/m);
    assert.match(text, /^kassir_agent_last_error_info\{pos="1",transport="ftp",flow="pull",kind="none"\} 1$/m);
    assert.match(text, /^kassir_agent_reference_files_delivered_total\{pos="1",transport="ftp"\} 4$/m);
    assert.match(text, /^kassir_agent_last_reference_delivery_timestamp_seconds\{pos="1",transport="ftp"\} 1795500000$/m);
    assert.doesNotMatch(text, /kassir_agent_last_reference_delivery_timestamp_seconds\{pos="2"/, 'never delivered: no sample');
    assert.match(text, /^kassir_agent_oldest_queued_age_seconds\{pos="1",transport="ftp"\} 600$/m);
    assert.doesNotMatch(text, /kassir_agent_queued_packages\{pos="3"/, 'a till that failed to start has only kassir_agent_up');
  });

  it('status --json has the same row per till as the metrics, with a schema number', async () => {
    const config = { exchanges: CONFIGURED.map((c) => ({ pos: c.pos, transport: { type: 'ftp' } })) } as never;
    const doc = await statusDocument(config, { state: 'running', live: { exchanges: REPORTS, notRunning: { 3: 'boom' } } }, NOW);
    assert.equal(doc.schema, 1);
    assert.equal(doc.agent, 'running');
    assert.equal(doc.agentError, undefined);
    assert.equal(doc.tills['1']!.heldFiles, 2);
    assert.equal(doc.tills['1']!.pushErrorKind, 'auth');
    assert.equal(doc.tills['1']!.lastSuccessfulPushTimestampSeconds, Date.parse('2026-11-24T11:00:00Z') / 1000);
    assert.equal(doc.tills['2']!.lastSuccessfulPushTimestampSeconds, 0, 'never: 0, so a JSONPath always finds a number');
    assert.equal(doc.tills['3']!.up, 0);
  });

  it('are all in the README, generated from the list in code', async () => {
    const readme = await fs.readFile(join(ROOT, 'README.md'), 'utf8');
    assert.equal(readme, withMetricsDocs(readme), 'README metrics table out of date: run npm run schema');
    for (const m of METRICS) assert.match(text, new RegExp(`^# TYPE ${m.name} ${m.type}$`, 'm'));
  });
});

describe('metrics listener protection', () => {
  let dir: string;
  let ws: Workspace | undefined;
  let hash: string;
  before(async () => {
    dir = await makeTempDir('kassir-metrics');
    hash = bcrypt.hashSync('s3cret', 4);
  });
  after(async () => {
    await ws?.cleanup();
    await removeDir(dir);
  });

  const source: MetricsSource = { snapshot: () => REPORTS, failedToStart: () => new Map(), configured: CONFIGURED };

  it('check-config refuses a non-loopback bind without TLS or auth, and accepts it with a web config', async () => {
    ws = await makeWorkspace({ metrics: { enabled: true, host: '0.0.0.0', port: 0 } });
    const refused = await runCli(['check-config', '--config', ws.configFile]);
    assert.equal(refused.code, 2, refused.stdout + refused.stderr);
    assert.match(refused.stderr, /^metrics\.host: 0\.0\.0\.0 is not a loopback address: .*metrics\.webConfigFile/m);
    await fs.writeFile(join(ws.root, 'web.yml'), stringify({ basic_auth_users: { prometheus: hash } }));
    const config = await fs.readFile(ws.configFile, 'utf8');
    await fs.writeFile(ws.configFile, config.replace('host: 0.0.0.0', 'host: 0.0.0.0\n  webConfigFile: web.yml'));
    const ok = await runCli(['check-config', '--config', ws.configFile]);
    assert.equal(ok.code, 0, ok.stdout + ok.stderr);
  });

  it('a web config that protects nothing, a plain password or an unsupported key is refused by name', async () => {
    const bad = async (content: object, expected: RegExp) => {
      const file = join(dir, 'bad-web.yml');
      await fs.writeFile(file, stringify(content));
      assert.throws(() => loadWebConfig(file), (e: unknown) => e instanceof WebConfigError && expected.test(e.message));
    };
    await bad({}, /protects nothing/);
    await bad({ basic_auth_users: { prometheus: 'plain' } }, /basic_auth_users\.prometheus: must be a bcrypt hash/);
    await bad({ http_server_config: { http2: false } }, /http_server_config: not supported by kassir-agent/);
    await bad({ tls_server_config: { cert_file: 'nope.crt', key_file: 'nope.key' } }, /cert_file: cannot read .*nope\.crt: ENOENT/);
  });

  it('with basic auth on a non-loopback bind: no credentials 401, wrong password 401, right password 200', async () => {
    const web = join(dir, 'auth.yml');
    await fs.writeFile(web, stringify({ basic_auth_users: { prometheus: hash } }));
    assert.equal(promtool(['check', 'web-config', web]).status, 0, 'promtool accepts the same web config');
    const server = new MetricsServer({ host: '0.0.0.0', port: 0, maxQueueAgeMs: 60_000, webConfigFile: web }, source, nullLogger);
    const port = await server.start();
    try {
      const url = `http://127.0.0.1:${port}/metrics`;
      const none = await fetch(url);
      assert.equal(none.status, 401);
      assert.match(none.headers.get('www-authenticate') ?? '', /^Basic /);
      const basic = (u: string, p: string) => ({ authorization: `Basic ${Buffer.from(`${u}:${p}`).toString('base64')}` });
      assert.equal((await fetch(url, { headers: basic('prometheus', 'wrong') })).status, 401);
      assert.equal((await fetch(url, { headers: basic('nobody', 's3cret') })).status, 401);
      for (let i = 0; i < 2; i++) {
        // The second time comes from the cache of passed credentials: same answer.
        const ok = await fetch(url, { headers: basic('prometheus', 's3cret') });
        assert.equal(ok.status, 200);
        assert.match(await ok.text(), /^kassir_agent_up\{pos="1",transport="ftp"\} 1$/m);
      }
      assert.equal((await fetch(url, { headers: basic('prometheus', 'wrong') })).status, 401, 'the cache does not let a wrong password in');
    } finally {
      await server.stop();
    }
  });

  it('with TLS: HTTPS only, the certificate from the web config; the allow-list refuses other clients with 403', async () => {
    const ca = await makeTestCa(dir);
    const cert = await makeServerCert(dir, ca);
    const web = join(dir, 'tls.yml');
    await fs.writeFile(web, stringify({ tls_server_config: { cert_file: cert.certFile, key_file: cert.keyFile } }));
    assert.equal(promtool(['check', 'web-config', web]).status, 0, 'promtool accepts the same web config');
    const caPem = await fs.readFile(ca.certFile);
    const get = (port: number) =>
      new Promise<number>((resolve, reject) => {
        const req = httpsRequest({ host: '127.0.0.1', port, path: '/metrics', ca: caPem, timeout: 10_000 }, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        });
        req.on('error', reject);
        req.end();
      });
    for (const [allowFrom, expected] of [[['127.0.0.0/8'], 200], [['10.9.9.9', 'fd00::/8'], 403]] as const) {
      const server = new MetricsServer({ host: '127.0.0.1', port: 0, maxQueueAgeMs: 60_000, webConfigFile: web, allowFrom: [...allowFrom] }, source, nullLogger);
      const port = await server.start();
      try {
        assert.equal(await get(port), expected, `allowFrom ${allowFrom.join(',')}`);
        await assert.rejects(fetch(`http://127.0.0.1:${port}/metrics`), 'plain HTTP gets no answer from a TLS listener');
      } finally {
        await server.stop();
      }
    }
  });
});
