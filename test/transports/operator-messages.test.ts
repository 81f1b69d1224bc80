/**
 * Every error an operator can meet says what happened and what to do, naming
 * the key, user or URL involved and never the secret. Real ProFTPD
 * and real HTTP servers; the vsftpd full-disk answer (`451 Failure writing`)
 * is fed to the mapping directly (installing vsftpd would remove ProFTPD).
 */
import assert from 'node:assert/strict';
import { tmpdir } from 'node:os';
import { after, before, describe, it } from 'node:test';
import { FTPError } from 'basic-ftp';
import { TransportError } from '../../src/transports/errors.js';
import { FtpRemoteDir, type FtpOptions } from '../../src/transports/ftp/ftp-remote-dir.js';
import { toTransportError, type FtpErrorContext } from '../../src/transports/ftp/ftp-errors.js';
import { emulatorFor, kkmTransport } from '../helpers/kkm-emulator.js';
import { sendJson, startPlainServer } from '../helpers/kkm-plain-server.js';
import { startProftpd, type ProftpdServer } from '../helpers/proftpd.js';
import { makeServerCert, makeTestCa, type TestCa } from '../helpers/tls-certs.js';
import { memoryLogger } from '../../src/util/logger.js';
import { makeTempDir, removeDir } from '../helpers/temp-dir.js';
import { ftpOptions } from '../helpers/ftp-config.js';

const ctx: FtpErrorContext = { op: 'upload', path: 'Files/POS1.rep.$1', server: 'ftp.example:21', phase: 'command' };
const reply = (code: number, text: string) => new FTPError({ code, message: `${code} ${text}` });

async function failure(p: Promise<unknown>): Promise<TransportError> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof TransportError, String(e));
    return e;
  }
  assert.fail('expected a failure');
}

describe('FTP messages', () => {
  it('a full disk is `full` whatever the server says it with (451 Failure writing, 452, 552)', () => {
    for (const [code, text] of [
      [451, 'Failure writing to local file.'],
      [452, 'Insufficient storage space'],
      [552, 'Transfer aborted. Disk quota exceeded'],
    ] as const) {
      const e = toTransportError(reply(code, text), ctx);
      assert.equal(e.kind, 'full', `${code}`);
      assert.match(e.message, /no room left: free space or raise the quota/);
    }
    // A 451 that is not about writing stays a server error, as does a 451 outside an upload.
    assert.equal(toTransportError(reply(451, 'Requested action aborted. Local error in processing'), ctx).kind, 'server');
    assert.equal(toTransportError(reply(451, 'Failure writing network stream'), { ...ctx, op: 'list' }).kind, 'server');
  });

  describe('against ProFTPD', () => {
    let certDir: string;
    let ca: TestCa;
    let explicitServer: ProftpdServer;
    let implicitServer: ProftpdServer;
    before(async () => {
      certDir = await makeTempDir('kassir-msg-certs');
      ca = await makeTestCa(certDir);
      const cert = await makeServerCert(certDir, ca);
      explicitServer = await startProftpd({ tls: { ...cert } });
      implicitServer = await startProftpd({ tls: { ...cert, implicit: true } });
    });
    after(async () => {
      await explicitServer?.stop();
      await implicitServer?.stop();
      await removeDir(certDir);
    });

    const connect = async (server: ProftpdServer, over: Partial<FtpOptions>) => {
      const dir = new FtpRemoteDir(ftpOptions(server, { secure: true, tls: { caFile: ca.certFile, rejectUnauthorized: true }, timeoutMs: 1_500, root: '', ...over }));
      try {
        return await failure(dir.list(''));
      } finally {
        await dir.close().catch(() => undefined);
      }
    };

    it('530 names the user and the keys to check, never the password', async () => {
      const e = await connect(explicitServer, { user: explicitServer.user, password: 'wrong-pw' });
      assert.equal(e.kind, 'auth');
      assert.match(e.message, new RegExp(`FTP login as '${explicitServer.user}' on 127\\.0\\.0\\.1:\\d+ refused: 530 .*check transport\\.user and transport\\.password`));
      assert.ok(!e.message.includes('wrong-pw'));
    });

    it('implicit FTPS against an explicit-FTPS port says which setting to change', async () => {
      const e = await connect(explicitServer, { secure: 'implicit' });
      assert.equal(e.kind, 'tls');
      assert.match(e.message, /this port does not do implicit FTPS; set transport\.secure: true/);
      assert.doesNotMatch(e.message, /\n/);
    });

    it('explicit FTPS against an implicit-FTPS port points at transport.secure: implicit', async () => {
      const e = await connect(implicitServer, { secure: true });
      assert.equal(e.kind, 'timeout');
      assert.match(e.message, /if this port does implicit FTPS, usually 990, set transport\.secure: implicit/);
    });
  });
});

describe('KKMTransfer messages', () => {
  it('HTTP 404 points at transport.url', async (t) => {
    const server = await startPlainServer(t, (_req, res) => sendJson(res, '<html>Not Found</html>', 404, 'text/html'));
    const tr = await kkmTransport(t, `${server.url}/trade/hs/KKMTransfr`);
    const e = await failure(tr.pull({ tmpDir: tmpdir(), cursor: {}, stage: async () => {}, quarantine: async () => {}, log: memoryLogger(), signal: new AbortController().signal }));
    assert.equal(e.kind, 'config');
    assert.match(e.message, /HTTP 404 at http:\/\/127\.0\.0\.1:\d+\/trade\/hs\/KKMTransfr\/1\/1 \(no KKMTransfer service there: check transport\.url/);
  });

  it('https:// to a plain-HTTP server says so instead of "wrong version number"', async (t) => {
    const emu = await emulatorFor(t);
    const tr = await kkmTransport(t, emu.url.replace(/^http:/, 'https:'));
    const e = await failure(tr.pull({ tmpDir: tmpdir(), cursor: {}, stage: async () => {}, quarantine: async () => {}, log: memoryLogger(), signal: new AbortController().signal }));
    assert.equal(e.kind, 'tls');
    assert.match(e.message, /https:\/\/127\.0\.0\.1:\d+ does not speak HTTPS \(it answered in plain HTTP\): use http:\/\/ in transport\.url/);
  });

  it('401 names the user, never the password', async (t) => {
    const emu = await emulatorFor(t, { user: 'kassa', password: 'right' });
    const tr = await kkmTransport(t, emu.url, { user: 'kassa', password: 'wrong-pw' });
    const e = await failure(tr.pull({ tmpDir: tmpdir(), cursor: {}, stage: async () => {}, quarantine: async () => {}, log: memoryLogger(), signal: new AbortController().signal }));
    assert.equal(e.kind, 'auth');
    assert.match(e.message, /check transport\.user 'kassa' and transport\.password/);
    assert.ok(!e.message.includes('wrong-pw'));
  });
});
