/**
 * FtpRemoteDir under network and server faults, against a real ProFTPD with a
 * fault-injecting TCP proxy on the control connection (see tcp-proxy.ts).
 * One server for the file: FTPS offered but not required, a 2 s idle timeout
 * (the server drops idle sessions with 421) and a 64 KB upload limit.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { TransportError } from '../../src/transports/errors.js';
import { FtpRemoteDir, type FtpOptions } from '../../src/transports/ftp/ftp-remote-dir.js';
import { memoryLogger, type LogRecord } from '../../src/util/logger.js';
import { startProftpd, type ProftpdServer } from '../helpers/proftpd.js';
import { startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy.js';
import { waitFor } from '../helpers/wait.js';
import { makeServerCert, makeTestCa, type TestCa } from '../helpers/tls-certs.js';
import { makeTempDir, removeDir } from '../helpers/temp-dir.js';
import { ftpOptions } from '../helpers/ftp-config.js';

const TIMEOUT_MS = 1000;

describe('FtpRemoteDir faults', { timeout: 120_000 }, () => {
  let scratch: string;
  let ca: TestCa;
  let otherCa: TestCa;
  let server: ProftpdServer;
  const proxies: TcpProxy[] = [];
  const dirs: FtpRemoteDir[] = [];
  let n = 0;

  before(async () => {
    scratch = await makeTempDir('kassir-ftp-faults');
    ca = await makeTestCa(scratch, 'ca');
    otherCa = await makeTestCa(scratch, 'other-ca');
    const cert = await makeServerCert(scratch, ca);
    server = await startProftpd({ tls: { ...cert, required: false }, timeoutIdleSec: 2, maxStoreFileSize: '64 Kb' });
  });
  after(async () => {
    for (const d of dirs) await d.close();
    for (const p of proxies) await p.stop();
    await server?.stop();
    await removeDir(scratch);
  });

  /** A fresh folder on the server, a proxy in front of the server, and a client through it. */
  async function setup(over: Partial<FtpOptions> = {}): Promise<{ dir: FtpRemoteDir; proxy: TcpProxy; local: string; records: LogRecord[] }> {
    const sub = `f${++n}`;
    const local = join(server.root, sub);
    await mkdir(local);
    const proxy = await startTcpProxy({ targetHost: server.host, targetPort: server.port });
    proxies.push(proxy);
    const log = memoryLogger();
    const dir = new FtpRemoteDir(ftpOptions({ ...server, host: '127.0.0.1', port: proxy.port }, { timeoutMs: TIMEOUT_MS, root: sub, ...over }), { log });
    dirs.push(dir);
    return { dir, proxy, local, records: log.records };
  }

  function isKind(kind: TransportError['kind']) {
    return (e: unknown) => {
      assert.ok(e instanceof TransportError, `expected TransportError, got ${String(e)}`);
      assert.equal(e.kind, kind, e.message);
      assert.ok(!e.message.includes(server.password), 'the password never appears in a message');
      return true;
    };
  }

  it('a connection reset in the middle of a download: reconnects once and the download completes', async () => {
    const { dir, proxy, local, records } = await setup();
    const data = randomBytes(1024 * 1024);
    await writeFile(join(local, 'POS1.spr.$1'), data);
    await dir.open();
    const fired = proxy.onClientCommand(/^RETR /, 'reset');
    const dst = join(scratch, 'reset-download');
    assert.equal(await dir.download('POS1.spr.$1', dst), data.length);
    await fired;
    assert.ok((await readFile(dst)).equals(data));
    assert.equal(proxy.accepted, 2, 'one reconnect');
    assert.ok(records.some((r) => r.event === 'ftp.retry' && r.fields.op === 'download'));
  });

  it('while the server refuses connections (RST): unreachable; once it is back the next operation reconnects', async () => {
    const { dir, proxy, local } = await setup();
    await writeFile(join(local, 'a'), 'abc');
    assert.equal(await dir.size('a'), 3);
    proxy.setMode('reset');
    await assert.rejects(dir.list(''), isKind('unreachable'));
    proxy.setMode('pass');
    assert.deepEqual(
      (await dir.list('')).map((e) => e.name),
      ['a'],
    );
  });

  it('a black hole is reported as timeout (timeoutMs), not a hang', async () => {
    const { dir, proxy } = await setup();
    await dir.open();
    proxy.setMode('blackhole');
    // One timed-out command, one timed-out reconnect, then the error (a hang would trip the test timeout).
    await assert.rejects(dir.list(''), isKind('timeout'));
    // A black hole from the first byte: the greeting never comes.
    const fresh = await setup();
    fresh.proxy.setMode('blackhole');
    await assert.rejects(fresh.dir.open(), isKind('timeout'));
  });

  it('a slow server that keeps talking is not a timeout', async () => {
    const { dir, proxy, local } = await setup();
    await writeFile(join(local, 'slow.rep'), 'x'.repeat(100));
    proxy.setMode('slow', { delayMs: Math.round(TIMEOUT_MS / 5) });
    assert.deepEqual(
      (await dir.list('')).map((e) => [e.name, e.size]),
      [['slow.rep', 100]],
    );
    assert.equal(proxy.accepted, 1);
  });

  it('the server drops an idle session (421 after TimeoutIdle): the next operation reconnects transparently', async () => {
    const { dir, proxy, local } = await setup();
    await writeFile(join(local, 'x.spr'), 'data');
    assert.equal(await dir.size('x.spr'), 4);
    await waitFor(() => proxy.active === 0, 'ProFTPD to drop the idle session');
    assert.equal(await dir.size('x.spr'), 4);
    assert.equal(proxy.accepted, 2);
  });

  it('RNTO done but its reply lost: renameNoReplace rejects, and the target shows the file (the caller reconciles)', async () => {
    const { dir, proxy, local } = await setup();
    await writeFile(join(local, 'POS1.rep.tmp'), 'sealed');
    await dir.open();
    const fired = proxy.onClientCommand(/^RNTO /, 'drop-replies');
    await assert.rejects(dir.renameNoReplace('POS1.rep.tmp', 'POS1.rep.$1'), (e) => {
      assert.ok(e instanceof TransportError, String(e));
      // No reply: timeout; or the server's idle drop arrives first: unreachable. Never a success.
      assert.ok(e.kind === 'timeout' || e.kind === 'unreachable', e.message);
      return true;
    });
    await fired;
    assert.equal(await dir.size('POS1.rep.$1'), 6);
    assert.equal(await dir.size('POS1.rep.tmp'), undefined);
    assert.deepEqual(await readdir(local), ['POS1.rep.$1']);
    // Repeating the rename now is safe: the target is taken, nothing is replaced.
    await writeFile(join(local, 'POS1.rep.tmp'), 'another');
    assert.equal(await dir.renameNoReplace('POS1.rep.tmp', 'POS1.rep.$1'), 'exists');
    assert.equal(await readFile(join(local, 'POS1.rep.$1'), 'utf8'), 'sealed');
  });

  it('a wrong password is auth, and the message does not contain it', async () => {
    const { dir } = await setup({ password: 'wrong-password-123' });
    await assert.rejects(dir.open(), (e) => {
      isKind('auth')(e);
      assert.ok(!(e as Error).message.includes('wrong-password-123'));
      assert.equal((e as TransportError).details.code, 530);
      return true;
    });
  });

  it('explicit FTPS: the wrong CA is tls; the right CA connects; rejectUnauthorized false accepts any', async () => {
    const wrong = await setup({ secure: true, tls: { caFile: otherCa.certFile, rejectUnauthorized: true } });
    await assert.rejects(wrong.dir.open(), isKind('tls'));
    const right = await setup({ secure: true, tls: { caFile: ca.certFile, rejectUnauthorized: true } });
    await right.dir.open();
    assert.deepEqual(await right.dir.list(''), []);
    // rejectUnauthorized: false is the operator's explicit choice to accept any certificate.
    const lax = await setup({ secure: true, tls: { caFile: otherCa.certFile, rejectUnauthorized: false } });
    assert.deepEqual(await lax.dir.list(''), []);
    const unreadable = await setup({ secure: true, tls: { caFile: join(scratch, 'no-such-ca.pem'), rejectUnauthorized: true } });
    await assert.rejects(unreadable.dir.open(), (e) => isKind('config')(e) && (e as Error).message.includes('no-such-ca.pem'));
  });

  it('an upload over the server quota (MaxStoreFileSize, 552) is full, even when the reply comes after the data connection closed', async () => {
    const { dir, local } = await setup();
    const src = join(scratch, 'too-big');
    await writeFile(src, randomBytes(256 * 1024));
    await assert.rejects(dir.upload(src, 'big.tmp'), (e) => {
      assert.ok(e instanceof TransportError, String(e));
      // ProFTPD answers `552 Transfer aborted. File too large`, often after it already closed the data connection.
      assert.equal(e.kind, 'full', e.message);
      assert.equal(e.details.code, 552);
      assert.match(e.details.serverAnswer ?? '', /^552 /);
      return true;
    });
    assert.deepEqual(await readdir(local), [], 'DeleteAbortedStores removed the partial file');
  });
});
