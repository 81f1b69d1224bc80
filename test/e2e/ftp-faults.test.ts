/**
 * The agent (a child process) against a real ProFTPD under faults: a TCP proxy
 * that the test controls sits on the control connection (see tcp-proxy.ts),
 * and the server is restarted with other settings "for a while" (renames
 * refused, uploads over a size limit answered 552).
 *
 * After every fault, the server's folder must hold every transaction exactly
 * once, in order, in packages `$1..$n` without gaps, each a complete package
 * (no temporary file ever renamed to a final name), and no temporary file of
 * the agent left behind; the failure is in the log with its kind.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, it } from 'node:test';
import { BLOCK_HEADER, dropReport, makeWorkspace, reportFile, runCli, sharePackages, startAgent, transactionNumbers, type ReceiptSpec, type Workspace } from '../helpers/kassir.js';
import { waitFor } from '../helpers/wait.js';
import { startProftpd, type ProftpdOptions, type ProftpdServer } from '../helpers/proftpd.js';
import { startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy.js';
import { ftpTransportConfig } from '../helpers/ftp-config.js';

/** Short, so a lost reply costs one second; the machine is shared, so not shorter. */
const TIMEOUT_MS = 1_000;
const FINAL = /^POS1\.rep\.\$\d+$/;

interface Rig {
  server: ProftpdServer;
  proxy: TcpProxy;
  ws: Workspace;
  files: string;
  /** Every transaction Kassir wrote so far, in order. */
  all: number[];
  /** Kassir writes a report file with these receipts. */
  sell(specs: ReceiptSpec[]): Promise<void>;
}

let rig: Rig | undefined;
let agent: Awaited<ReturnType<typeof startAgent>> | undefined;

afterEach(async () => {
  if (agent) {
    agent.child.kill('SIGTERM');
    await agent.exited;
  }
  agent = undefined;
  await rig?.proxy.stop();
  await rig?.server.stop();
  await rig?.ws.cleanup();
  rig = undefined;
});

async function setup(serverOpts: ProftpdOptions = {}, overrides: Record<string, unknown> = {}): Promise<Rig> {
  const server = await startProftpd(serverOpts);
  const files = join(server.root, 'Files');
  await fs.mkdir(files);
  const proxy = await startTcpProxy({ targetHost: server.host, targetPort: server.port });
  const ws = await makeWorkspace(
    // Pull rarely: the daemon's first cycle pulls; later the session stays idle unless the test pushes.
    { schedule: { pull: '0 0 1 1 *', retry: { initialMs: 50, maxMs: 400, jitter: 0.2 } }, ...overrides },
    ftpTransportConfig({ ...server, host: '127.0.0.1', port: proxy.port }, { timeoutMs: TIMEOUT_MS }),
  );
  let tx = 1;
  let file = 0;
  let receipt = 0;
  const all: number[] = [];
  rig = {
    server,
    proxy,
    ws,
    files,
    all,
    async sell(specs) {
      const r = reportFile(
        specs.map((s) => ({ ...s, receipt: ++receipt })),
        tx,
      );
      tx = r.nextTx;
      all.push(...r.txs);
      await dropReport(ws.till, `R${String(++file).padStart(3, '0')}.rep`, r.data);
    },
  };
  return rig;
}

const sent = async (files: string) => (await sharePackages(files)).flatMap((p) => transactionNumbers(p.data));

/** The invariants every fault must keep. */
async function assertExactlyOnce(r: Rig): Promise<void> {
  const pkgs = await sharePackages(r.files);
  assert.ok(pkgs.length > 0);
  assert.deepEqual(pkgs.map((p) => p.n), pkgs.map((_, i) => i + 1), 'package numbers $1..$n without gaps or reuse');
  for (const p of pkgs) {
    assert.ok(p.data.startsWith(BLOCK_HEADER) && p.data.endsWith('\r\n'), `${p.name} holds a complete package (never a temporary file cut short)`);
  }
  const txs = pkgs.flatMap((p) => transactionNumbers(p.data));
  assert.equal(txs.length - new Set(txs).size, 0, 'no transaction twice');
  assert.deepEqual(txs, r.all, 'every transaction exactly once, in order');
  const left = (await fs.readdir(r.files)).filter((n) => !FINAL.test(n));
  assert.deepEqual(left, [], 'no temporary file (*.kassir-agent-*.tmp) left behind');
}

const once = (ws: Workspace) => runCli(['run', '--once', '--config', ws.configFile]);

describe('FTP faults through the agent (ProFTPD behind a TCP proxy)', { timeout: 120_000 }, () => {
  it('connection cut at STOR and mid-upload (after the 150 reply): retried, nothing lost or duplicated', async () => {
    // Large receipts (about 1 MB per package), so a cut after 150 lands while the data is flowing.
    const r = await setup({}, { batch: { maxTransactions: 30_000, flushMs: 0 } });
    // Two cuts per attempt: FtpRemoteDir retries an upload once by itself, so the second cut fails the push.
    const atStor = [r.proxy.onClientCommand(/^STOR /, 'reset'), r.proxy.onClientCommand(/^STOR /, 'reset')];
    const midUpload = [r.proxy.onClientCommand(/^STOR /, 'reset-after-reply'), r.proxy.onClientCommand(/^STOR /, 'reset-after-reply')];
    await r.sell([{ receipt: 0, lines: 20_000 }]);
    await r.sell([{ receipt: 0, lines: 20_000 }]);
    await r.sell([{ receipt: 0, lines: 3 }]);
    agent = await startAgent(r.ws.configFile);
    await Promise.all([...atStor, ...midUpload]);
    await waitFor(async () => (await sent(r.files)).length === r.all.length, 'everything delivered after the cuts', 60_000);
    await assertExactlyOnce(r);
    const out = agent.output();
    assert.match(out, /ftp\.retry .*op=upload/, 'the transparent retry is logged');
    assert.match(out, /push\.failed .*errorKind=unreachable/, 'the failed attempt is logged with its kind');
    assert.match(out, /push\.recovered/);
  });

  it('RNTO reply lost (the rename happened) and RNTO cut (it did not): reconciled by looking, each package once', async () => {
    const r = await setup();
    const lost = r.proxy.onClientCommand(/^RNTO /, 'drop-replies');
    await r.sell([{ receipt: 0 }, { receipt: 0 }]);
    agent = await startAgent(r.ws.configFile);
    await lost;
    // The server renamed at once: wait for the agent to find out, not for the file.
    await waitFor(() => /push\.delivered .*package=1 /.test(agent!.output()), 'the first package reconciled');
    assert.match(agent.output(), /push\.failed .*errorKind=timeout/, 'the lost reply is a timeout');
    assert.match(agent.output(), /push\.reconciled .*remoteName=Files\/POS1\.rep\.\$1/, 'found renamed, not uploaded again');

    const cut = r.proxy.onClientCommand(/^RNTO /, 'reset');
    await r.sell([{ receipt: 0, lines: 4 }]);
    await cut;
    await waitFor(() => /push\.delivered .*package=2 /.test(agent!.output()), 'the second package');
    assert.match(agent.output(), /push\.failed .*package=2 .*errorKind=unreachable/);
    await assertExactlyOnce(r);
    assert.equal((await sharePackages(r.files)).length, 2);
  });

  it('421 on idle: the server drops the idle session; the next package goes out on a new one, transparently', async () => {
    const r = await setup({ timeoutIdleSec: 1 });
    await r.sell([{ receipt: 0 }]);
    agent = await startAgent(r.ws.configFile);
    await waitFor(async () => (await sent(r.files)).length === r.all.length, 'the first package');
    await waitFor(() => r.proxy.active === 0, 'ProFTPD to drop the idle session (TimeoutIdle 1)');
    const accepted = r.proxy.accepted;
    await r.sell([{ receipt: 0, lines: 5 }]);
    await waitFor(async () => (await sent(r.files)).length === r.all.length, 'the second package');
    await assertExactlyOnce(r);
    assert.ok(r.proxy.accepted > accepted, 'a new session');
    const out = agent.output();
    assert.match(out, /ftp\.session\.lost .*errorKind=unreachable/, 'the dropped session is logged with its kind');
    assert.doesNotMatch(out, /push\.failed/, 'no attempt failed: the reconnect is transparent');
  });

  it('the server refuses renames for a while (<Limit RNTO> DenyAll): the package waits under its temporary name, then goes out once', async () => {
    const denyRename = ['<Limit RNTO>', '  DenyAll', '</Limit>'];
    const r = await setup({ extraConfig: denyRename });
    await r.sell([{ receipt: 0 }, { receipt: 0 }]);
    for (let i = 0; i < 2; i++) {
      const refused = await once(r.ws);
      assert.equal(refused.code, 3, refused.stdout + refused.stderr);
      assert.match(refused.stdout, /push\.failed .*errorKind=server/);
      assert.match(refused.stdout, /550/, 'the server answer is logged');
      assert.deepEqual(await fs.readdir(r.files), ['POS1.rep.kassir-agent-1.tmp'], 'only the temporary file, never a final name');
    }
    await r.sell([{ receipt: 0, lines: 9 }]);
    await r.server.restart({});
    const ok = await once(r.ws);
    assert.equal(ok.code, 0, ok.stdout + ok.stderr);
    await assertExactlyOnce(r);
    assert.equal((await sharePackages(r.files)).length, 2);
  });

  it('disk full for a while (552 over MaxStoreFileSize): nothing under a final name, no partial file kept; then delivered once', async () => {
    const r = await setup({ maxStoreFileSize: '1 Kb' }, { batch: { maxTransactions: 200, flushMs: 0 } });
    await r.sell([{ receipt: 0, lines: 40 }]); // about 2.5 KB
    const full = await once(r.ws);
    assert.equal(full.code, 3, full.stdout + full.stderr);
    assert.match(full.stdout, /push\.failed .*errorKind=full/);
    assert.deepEqual(await fs.readdir(r.files), [], 'the aborted upload was removed, nothing renamed');
    await r.sell([{ receipt: 0 }]);
    await r.server.restart({});
    const ok = await once(r.ws);
    assert.equal(ok.code, 0, ok.stdout + ok.stderr);
    await assertExactlyOnce(r);
  });
});
