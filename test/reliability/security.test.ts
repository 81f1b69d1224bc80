/**
 * Security checks on the running agent: the data folder and its files are
 * private to the service user; a config file everyone can read that holds a
 * password draws a warning; HTTPS with a certificate from a CA the agent does
 * not trust is a `tls` error and nothing is sent (and with `tls.caFile` it
 * goes out); no password in any log or output of these runs. (The harness
 * runs grep every run's output and logs for the FTP and HTTP passwords too.)
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs/promises';
import net from 'node:net';
import tls from 'node:tls';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { makeWorkspace, transactionNumbers, type Workspace } from '../helpers/kassir.js';
import { makeServerCert, makeTestCa } from '../helpers/tls-certs.js';
import { startKkmEmulator, type KkmEmulator } from '../../scripts/kkm-emulator/server.js';
import { agentCli } from './agent-build.js';
import { cleanupsAfterAll } from '../helpers/cleanups.js';
import { runAgent } from './agent-run.js';
import { countSecrets } from './harness.js';
import { KassirSim } from '../helpers/kassir-sim.js';
import { makeTempDir, removeDir } from '../helpers/temp-dir.js';

let cli: string;
const cleanups = cleanupsAfterAll();
before(async () => {
  cli = await agentCli();
});

async function walk(dir: string): Promise<{ path: string; dir: boolean; mode: number }[]> {
  const out: { path: string; dir: boolean; mode: number }[] = [];
  for (const ent of await fs.readdir(dir, { withFileTypes: true })) {
    const p = join(dir, ent.name);
    const st = await fs.stat(p);
    out.push({ path: p, dir: ent.isDirectory(), mode: st.mode & 0o777 });
    if (ent.isDirectory()) out.push(...(await walk(p)));
  }
  return out;
}

/** A TLS front (certificate `cert`) for a plain TCP server on `port`. */
async function tlsFront(port: number, cert: { certFile: string; keyFile: string }): Promise<number> {
  const server = tls.createServer({ cert: await fs.readFile(cert.certFile), key: await fs.readFile(cert.keyFile) }, (socket) => {
    const up = net.connect(port, '127.0.0.1');
    socket.pipe(up).pipe(socket);
    socket.on('error', () => up.destroy());
    up.on('error', () => socket.destroy());
  });
  server.on('tlsClientError', () => {});
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  cleanups.push(() => new Promise((r) => server.close(r)));
  return (server.address() as net.AddressInfo).port;
}

describe('security', () => {
  it('the data folder is 0700 and every file and folder in it private to the service user (0600/0700)', async () => {
    const ws = await makeWorkspace({ batch: { maxTransactions: 7, flushMs: 0 } });
    cleanups.push(() => ws.cleanup());
    const kassir = new KassirSim(ws.till);
    await kassir.sell();
    await fs.writeFile(join(ws.share, 'POS1.spr.$1'), '##@@&&\r\n#\r\nP1;;part;;1;\r\n');
    await fs.writeFile(join(ws.till, 'BAD.rep'), '#\r\n1\r\nPOS1\r\nnot;a;report\r\n\0\0\0');
    const r = await runAgent({ cli, configFile: ws.configFile, mode: 'once' });
    assert.ok(r.code === 0 || r.code === 3, r.stderr);
    assert.equal((await fs.stat(ws.data)).mode & 0o777, 0o700, 'data folder');
    const entries = await walk(ws.data);
    assert.ok(entries.some((e) => !e.dir), 'files were created');
    const open = entries.filter((e) => (e.mode & 0o077) !== 0);
    assert.deepEqual(open.map((e) => `${e.path} ${e.mode.toString(8)}`), [], 'readable by group or others');
    const logDir = await walk(ws.logs);
    assert.deepEqual(logDir.filter((e) => (e.mode & 0o077) !== 0).map((e) => `${e.path} ${e.mode.toString(8)}`), [], 'log files private too');
  });

  it('a config file readable by everyone that holds a password draws a warning; chmod 600 silences it', async () => {
    const ws = await makeWorkspace({}, { type: 'ftp', host: '127.0.0.1', user: 'pos1', password: 'S3cret-in-yaml', referenceName: 'Files/POS1.spr', reportName: 'Files/POS1.rep' });
    cleanups.push(() => ws.cleanup());
    await fs.chmod(ws.configFile, 0o644);
    const open = await runAgent({ cli, configFile: ws.configFile, mode: 'once', args: ['check-config', '--config', ws.configFile] });
    assert.equal(open.code, 0, open.stderr);
    assert.match(open.stderr, /every user of this machine can read it/);
    assert.ok(!(open.stdout + open.stderr).includes('S3cret-in-yaml'), 'the warning does not quote the password');
    await fs.chmod(ws.configFile, 0o600);
    const closed = await runAgent({ cli, configFile: ws.configFile, mode: 'once', args: ['check-config', '--config', ws.configFile] });
    assert.doesNotMatch(closed.stderr, /every user of this machine can read it/);
  });

  it('HTTPS with a certificate from an untrusted CA: a tls error, nothing sent, no password in the logs; with tls.caFile it goes out once', async () => {
    const dir = await makeTempDir('kassir-sec');
    cleanups.push(() => removeDir(dir));
    const ca = await makeTestCa(dir, 'ca');
    const cert = await makeServerCert(dir, ca);
    const password = `pw-${Math.random().toString(36).slice(2)}`;
    const emu: KkmEmulator = await startKkmEmulator({ dir: join(dir, 'emu'), user: 'bo', password });
    cleanups.push(() => emu.stop());
    const port = await tlsFront(emu.port, cert);
    const transport = { type: 'kkmtransfer', url: `https://127.0.0.1:${port}/hs/KKMTransfer`, user: 'bo', password, timeoutMs: 3_000 };
    const ws: Workspace = await makeWorkspace({ batch: { maxTransactions: 7, flushMs: 0 } }, transport);
    cleanups.push(() => ws.cleanup());
    const kassir = new KassirSim(ws.till);
    await kassir.sell();
    const wrong = await runAgent({ cli, configFile: ws.configFile, mode: 'once' });
    assert.equal(wrong.code, 3, wrong.stderr);
    assert.match(wrong.stdout, /tls/i, 'the failure is a tls error');
    assert.equal((await emu.received(1)).length, 0, 'nothing sent');
    assert.equal(emu.requests.length, 0, 'not one request got through');

    const text = await fs.readFile(ws.configFile, 'utf8');
    await fs.writeFile(ws.configFile, text.replace(/transport:\n/, `transport:\n  tls:\n    caFile: ${JSON.stringify(ca.certFile)}\n`));
    const right = await runAgent({ cli, configFile: ws.configFile, mode: 'once' });
    assert.equal(right.code, 0, right.stdout + right.stderr);
    const got = (await emu.received(1)).flatMap((p) => transactionNumbers(p.data.toString('latin1')));
    assert.deepEqual(got, kassir.written);
    assert.equal(await countSecrets([password], [wrong.stdout, wrong.stderr, right.stdout, right.stderr], ws.logs), 0, 'no password in any output or log');
  });
});
