/**
 * A real ProFTPD for tests: one server per test file, on a free loopback port,
 * with everything (config, user file, pid, scoreboard, logs, the user's home)
 * in a fresh temp folder. Debian packages: proftpd-core (mod_lang is built
 * in), proftpd-mod-crypto (mod_tls); `.ci/install-test-deps.sh` installs them.
 *
 * The FTP user maps to the uid/gid running the tests, so files the test puts
 * into `root` are the server's files and vice versa (as root, `RootLogin on`).
 * Passive data ports are left to the kernel (no PassivePorts range): parallel
 * test files then never fight over a range.
 */
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import net from 'node:net';
import tls from 'node:tls';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { makeTempDir, removeDir } from './temp-dir.js';
import { freePort } from './ports.js';

export interface ProftpdOptions {
  /**
   * File names on the wire. `cp1251` = `UseEncoding UTF-8 CP1251`: the server
   * converts names from the client's cp1251 to UTF-8 on its disk.
   * `cp1251-raw` = `UseEncoding off`: no conversion, the disk holds the bytes
   * the client sent (cp1251). Default `utf8`.
   */
  encoding?: 'utf8' | 'cp1251' | 'cp1251-raw';
  /** FTPS with this certificate. `implicit`: TLS from the first byte. `required`: refuse plain sessions (default true). */
  tls?: { certFile: string; keyFile: string; implicit?: boolean; required?: boolean };
  /** `TimeoutIdle`: seconds before the server drops an idle session with 421. */
  timeoutIdleSec?: number;
  /** `MaxStoreFileSize`, e.g. `'64 Kb'`: uploads beyond it are aborted by the server. */
  maxStoreFileSize?: string;
  /** More config lines, appended verbatim. */
  extraConfig?: string[];
}

export interface ProftpdServer {
  host: '127.0.0.1';
  port: number;
  user: string;
  password: string;
  /** The local folder that is the FTP user's home (and chroot). */
  root: string;
  /** The server's system log so far, for failure messages. */
  readLog(): Promise<string>;
  /**
   * Stop the server and start it again with `opts` on the same port and home
   * folder (files stay), e.g. to refuse renames or limit uploads "for a
   * while". Open sessions are cut, as when a real server is reconfigured.
   */
  restart(opts: ProftpdOptions): Promise<void>;
  stop(): Promise<void>;
}

const PROFTPD_CANDIDATES = ['/usr/sbin/proftpd', '/usr/local/sbin/proftpd'];
const MODULE_DIR = '/usr/lib/proftpd';
const running = new Set<ChildProcess>();

// A test process that ends any way but SIGKILL must not leave a server behind
// (the servers run in their own process groups, so nobody else would stop them).
const killAll = () => {
  for (const child of running) killGroup(child, 'SIGKILL');
};
process.once('exit', killAll);
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    killAll();
    process.kill(process.pid, signal); // our listener is gone now: the default action ends the process
  });
}

export function proftpdBinary(): string {
  const found = PROFTPD_CANDIDATES.find((p) => existsSync(p));
  if (!found) throw new Error(`ProFTPD not found (looked at ${PROFTPD_CANDIDATES.join(', ')}); run .ci/install-test-deps.sh`);
  return found;
}

export async function startProftpd(opts: ProftpdOptions = {}): Promise<ProftpdServer> {
  const bin = proftpdBinary();
  if (opts.tls && !existsSync(join(MODULE_DIR, 'mod_tls.so'))) {
    throw new Error(`ProFTPD mod_tls not found in ${MODULE_DIR}; install proftpd-mod-crypto (.ci/install-test-deps.sh)`);
  }
  const dir = await makeTempDir('kassir-proftpd');
  const root = join(dir, 'home');
  await mkdir(root);
  await chmod(dir, 0o755);
  const user = 'kassir';
  const password = `pw-${Math.random().toString(36).slice(2, 10)}`;
  const hash = (await promisify(execFile)('openssl', ['passwd', '-5', password])).stdout.trim();
  const uid = process.getuid?.() ?? 0;
  const gid = process.getgid?.() ?? 0;
  const passwdFile = join(dir, 'ftpd.passwd');
  await writeFile(passwdFile, `${user}:${hash}:${uid}:${gid}::${root}:/bin/false\n`, { mode: 0o600 });
  await writeFile(join(dir, 'ftpd.group'), `kassir::${gid}:${user}\n`, { mode: 0o600 });

  let lastError: unknown;
  // A free port may be taken between our probe and ProFTPD's bind: try a few.
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    await writeFile(join(dir, 'proftpd.conf'), configText(dir, root, port, uid, opts));
    try {
      let child = await launch(bin, dir, port, opts);
      return {
        host: '127.0.0.1',
        port,
        user,
        password,
        root,
        readLog: () => readLogs(dir),
        restart: async (next) => {
          await stopChild(child);
          await writeFile(join(dir, 'proftpd.conf'), configText(dir, root, port, uid, next));
          // The port was ours a moment ago; ProFTPD binds with SO_REUSEADDR, so TIME_WAIT does not block it.
          child = await launch(bin, dir, port, next);
        },
        stop: async () => {
          await stopChild(child);
          await removeDir(dir);
        },
      };
    } catch (e) {
      lastError = e;
    }
  }
  await removeDir(dir);
  throw lastError;
}

function configText(dir: string, root: string, port: number, uid: number, o: ProftpdOptions): string {
  const lines = [
    'ServerType standalone',
    'ServerName "kassir-agent test"',
    `Port ${port}`,
    'UseIPv6 off',
    'DefaultAddress 127.0.0.1',
    'SocketBindTight on',
    `PidFile ${dir}/proftpd.pid`,
    `ScoreboardFile ${dir}/proftpd.scoreboard`,
    `SystemLog ${dir}/system.log`,
    `TransferLog ${dir}/xfer.log`,
    'WtmpLog off',
    'UseReverseDNS off',
    'UseFtpUsers off',
    'RequireValidShell off',
    uid === 0 ? 'RootLogin on' : '',
    'AuthOrder mod_auth_file.c',
    `AuthUserFile ${dir}/ftpd.passwd`,
    `AuthGroupFile ${dir}/ftpd.group`,
    'DefaultRoot ~',
    'AllowOverwrite on',
    'DeleteAbortedStores on',
    'Umask 022',
    'MaxInstances 50',
    '<IfModule mod_delay.c>',
    '  DelayEngine off',
    '</IfModule>',
    '<IfModule mod_ctrls.c>',
    '  ControlsEngine off',
    '</IfModule>',
    'LangEngine on',
  ];
  const enc = o.encoding ?? 'utf8';
  if (enc === 'cp1251') lines.push('UseEncoding UTF-8 CP1251');
  if (enc === 'cp1251-raw') lines.push('UseEncoding off');
  if (o.timeoutIdleSec !== undefined) lines.push(`TimeoutIdle ${o.timeoutIdleSec}`);
  if (o.maxStoreFileSize !== undefined) lines.push(`MaxStoreFileSize ${o.maxStoreFileSize}`);
  if (o.tls) {
    lines.push(
      `ModulePath ${MODULE_DIR}`,
      'LoadModule mod_tls.c',
      '<IfModule mod_tls.c>',
      '  TLSEngine on',
      `  TLSLog ${dir}/tls.log`,
      '  TLSProtocol TLSv1.2 TLSv1.3',
      `  TLSECCertificateFile ${o.tls.certFile}`,
      `  TLSECCertificateKeyFile ${o.tls.keyFile}`,
      '  TLSVerifyClient off',
      `  TLSRequired ${o.tls.required === false ? 'off' : 'on'}`,
      o.tls.implicit ? '  TLSOptions UseImplicitSSL' : '',
      '</IfModule>',
    );
  }
  lines.push(...(o.extraConfig ?? []));
  return lines.filter((l) => l !== '').join('\n') + '\n';
}

async function launch(bin: string, dir: string, port: number, opts: ProftpdOptions): Promise<ChildProcess> {
  // Own process group, so stop() also reaches the per-session children ProFTPD forks.
  const child = spawn(bin, ['-n', '-q', '-c', join(dir, 'proftpd.conf')], { detached: true, stdio: ['ignore', 'ignore', 'pipe'] });
  running.add(child);
  let stderr = '';
  child.stderr?.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  let exited = false;
  child.once('exit', () => {
    exited = true;
    running.delete(child);
  });
  const deadline = Date.now() + 15_000;
  for (;;) {
    if (exited) throw new Error(`ProFTPD exited during start-up (port ${port}): ${stderr.trim()}\n${await readLogs(dir)}`);
    if (await greets(port, opts.tls?.implicit === true)) return child;
    if (Date.now() > deadline) {
      await stopChild(child);
      throw new Error(`ProFTPD did not greet on 127.0.0.1:${port} within 15 s: ${stderr.trim()}\n${await readLogs(dir)}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** True once the server accepts a connection and sends its 220 greeting. */
function greets(port: number, implicitTls: boolean): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = implicitTls ? tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false }) : net.connect(port, '127.0.0.1');
    let buf = '';
    const done = (ok: boolean) => {
      sock.destroy();
      resolve(ok);
    };
    sock.setTimeout(2000, () => done(false));
    sock.on('error', () => done(false));
    sock.on('data', (d: Buffer) => {
      buf += d.toString('latin1');
      if (/^220[ -]/m.test(buf)) done(true);
    });
    sock.on('close', () => done(false));
  });
}

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    // Already gone.
  }
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) {
    killGroup(child, 'SIGKILL'); // the master is gone; its session children may not be
    return;
  }
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  killGroup(child, 'SIGTERM');
  const timer = setTimeout(() => killGroup(child, 'SIGKILL'), 3000);
  await exited;
  clearTimeout(timer);
  killGroup(child, 'SIGKILL');
  running.delete(child);
}

async function readLogs(dir: string): Promise<string> {
  const parts: string[] = [];
  for (const name of ['system.log', 'tls.log']) {
    const text = await readFile(join(dir, name), 'utf8').catch(() => '');
    if (text) parts.push(`--- ${name}\n${text.trim()}`);
  }
  return parts.join('\n');
}
