/**
 * FtpRemoteDir passes the RemoteDir contract against a real ProFTPD: plain
 * FTP, explicit FTPS (AUTH TLS) and implicit FTPS, both with a throw-away CA
 * that the client trusts through `tls.caFile` (rejectUnauthorized on).
 * Each test gets its own folder on the server through the `root` option.
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe } from 'node:test';
import { FtpRemoteDir, type FtpOptions } from '../../src/transports/ftp/ftp-remote-dir.js';
import { startProftpd, type ProftpdServer } from '../helpers/proftpd.js';
import { makeServerCert, makeTestCa, type TestCa } from '../helpers/tls-certs.js';
import { remoteDirContract } from './remote-dir.contract.js';
import { makeTempDir, removeDir } from '../helpers/temp-dir.js';
import { ftpOptions } from '../helpers/ftp-config.js';

let certDir: string;
let ca: TestCa;
let serverCert: { certFile: string; keyFile: string };
let counter = 0;

before(async () => {
  certDir = await makeTempDir('kassir-ftp-certs');
  ca = await makeTestCa(certDir);
  serverCert = await makeServerCert(certDir, ca);
});
after(() => removeDir(certDir));

function suite(label: string, secure: FtpOptions['secure']): void {
  describe(`FTP ${label}`, () => {
    let server: ProftpdServer | undefined;
    before(async () => {
      server = await startProftpd(secure === false ? {} : { tls: { ...serverCert, implicit: secure === 'implicit' } });
    });
    after(() => server?.stop());

    remoteDirContract(`ftp (${label})`, async () => {
      if (!server) throw new Error('ProFTPD did not start');
      const sub = `t${++counter}`;
      const localRoot = join(server.root, sub);
      await mkdir(localRoot);
      const dir = new FtpRemoteDir(ftpOptions(server, { secure, tls: { caFile: ca.certFile, rejectUnauthorized: true }, root: sub }));
      return { dir, localRoot, cleanup: () => removeDir(localRoot), refusesEmptyUploads: secure !== false };
    });
  });
}

suite('plain', false);
suite('explicit FTPS', true);
suite('implicit FTPS', 'implicit');
