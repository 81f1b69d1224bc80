/**
 * RemoteDir over FTP/FTPS with basic-ftp.
 *
 * basic-ftp closes its client on any timeout or socket error and never
 * reconnects; an idle server may drop the session with 421. So every
 * operation here makes sure it is connected first, and on a connection-level
 * failure reconnects once and repeats the operation if repeating is harmless
 * (list, size, download, upload to our own temp name, remove). A rename is
 * never repeated blindly: the RNTO may have been done with its reply lost, so
 * the error goes to the caller, which reconciles by looking at the target.
 */
import { keepControlOnDataSocketError } from './data-socket-errors.js';
import { localDestination, localSource, released } from './local-streams.js';
import { readFile, open as openFile, stat } from 'node:fs/promises';
import type { ConnectionOptions } from 'node:tls';
import { Client, FTPError, FileType, type FileInfo } from 'basic-ftp';
import { TransportError } from '../errors.js';
import type { RemoteDir, RemoteEntry } from '../remote-dir.js';
import { nullLogger, type Logger } from '../../util/logger.js';
import type { FtpOptions } from './ftp-options.js';
import { isConnectionLevel, toTransportError, type FtpErrorContext } from './ftp-errors.js';
import { nameCodec, type NameCodec } from './name-encoding.js';

export type { FtpOptions } from './ftp-options.js';

type Phase = NonNullable<FtpErrorContext['phase']>;

export class FtpRemoteDir implements RemoteDir {
  private client: Client | undefined;
  private connecting: Promise<Client> | undefined;
  /** Set when this code closed the session itself; a session found closed otherwise was dropped by the server or the network. */
  private closedByUs = false;
  /** close() was called: no reconnecting until open(). */
  private shut = false;
  /** The login folder as PWD reported it (wire form), to return to after probing a folder with CWD. */
  private home = '/';
  private readonly codec: NameCodec;
  private readonly log: Logger;
  private readonly baseLog: Logger;
  private readonly server: string;
  private readonly root: string;

  constructor(
    private readonly opts: FtpOptions,
    deps: { log?: Logger } = {},
  ) {
    this.codec = nameCodec(opts.encoding);
    this.server = `${opts.host}:${opts.port}`;
    this.root = (opts.root ?? '').replace(/\/+$/, '');
    this.baseLog = deps.log ?? nullLogger;
    this.log = this.baseLog.child({ remote: 'ftp', server: this.server });
  }

  async open(): Promise<void> {
    this.shut = false;
    await this.connected();
  }

  /** Another session with the same options and logger (its own control connection). */
  fork(): FtpRemoteDir {
    return new FtpRemoteDir(this.opts, { log: this.baseLog });
  }

  async close(): Promise<void> {
    // An operation still running (an upload ahead) fails now instead of reconnecting behind our back.
    this.shut = true;
    const c = this.client;
    this.client = undefined;
    c?.close();
  }

  /** Close a session whose replies can no longer be trusted; the next operation reconnects. */
  private drop(c: Client): void {
    this.closedByUs = true;
    c.close();
  }

  async list(dir: string): Promise<RemoteEntry[]> {
    return this.run('list', dir, true, { folder: true }, async (c) => {
      const infos = await this.checkingFolder(c, dir, true, () => c.list(this.wire(dir)));
      return infos.filter(isPlainFile).map((f) => toEntry(f, this.codec));
    });
  }

  async download(path: string, localPath: string, onProgress?: (bytes: number) => void): Promise<number> {
    return this.run('download', path, true, {}, async (c) => {
      const w = this.wire(path);
      const expected = await this.checkingFolder(c, path, false, () => c.size(w));
      // basic-ftp counts socket bytes (TLS included); never report more than the file has.
      c.trackProgress((info) => onProgress?.(Math.min(info.bytes, expected)));
      try {
        const destination = await localDestination(localPath);
        try {
          await c.downloadTo(destination, w);
        } finally {
          await released(destination);
        }
      } finally {
        c.trackProgress();
      }
      const got = await syncLocal(localPath);
      if (got !== expected) {
        throw new TransportError('protocol', `FTP download '${path}' from ${this.server}: received ${got} bytes but SIZE announced ${expected}`);
      }
      onProgress?.(got);
      return got;
    });
  }

  async upload(localPath: string, path: string): Promise<void> {
    let bytes: number;
    try {
      bytes = (await stat(localPath)).size;
    } catch (e) {
      throw new TransportError('server', `FTP upload '${path}': cannot read local file '${localPath}': ${(e as Error).message}`, { cause: e });
    }
    if (bytes === 0 && this.opts.secure !== false) {
      // A TLS data connection that closes before any data is refused by servers with a TLS alert
      // (basic-ftp, lftp and others alike); said plainly here rather than as an alert. The agent
      // never uploads an empty file: a package always holds its block header.
      throw new TransportError('protocol', `FTP upload '${path}': an empty file cannot be stored over an FTPS data connection`);
    }
    try {
      await this.run('upload', path, true, {}, async (c) => {
        const w = this.wire(path);
        const source = await localSource(localPath);
        try {
          await this.checkingFolder(c, path, false, () => c.uploadFrom(source, w));
        } finally {
          await released(source);
        }
        const remote = await c.size(w);
        if (remote !== bytes) {
          throw new TransportError('protocol', `FTP upload '${path}' to ${this.server}: the server holds ${remote} bytes after the upload, the local file has ${bytes}`);
        }
      });
    } catch (e) {
      throw e instanceof TransportError ? await this.orMissingFolder(e, path) : e;
    }
  }

  async size(path: string): Promise<number | undefined> {
    return this.run('size', path, true, {}, (c) => this.sizeOrUndefined(c, path));
  }

  async renameNoReplace(from: string, to: string, before?: () => Promise<void>): Promise<'renamed' | 'exists'> {
    // RNTO replaces an existing file on many servers: look first (while `before` runs).
    const looking = this.size(to);
    try {
      await before?.();
    } catch (e) {
      await looking.catch(() => undefined); // one command at a time on the session: let the look end first
      throw e;
    }
    if ((await looking) !== undefined) return 'exists';
    await this.run(`rename to '${to}':`, from, false, {}, (c) =>
      this.checkingFolder(c, from, false, () =>
        this.checkingFolder(c, to, false, () => c.rename(this.wire(from), this.wire(to))),
      ),
    );
    return 'renamed';
  }

  async remove(path: string): Promise<void> {
    await this.run('remove', path, true, {}, async (c) => {
      const w = this.wire(path);
      try {
        await c.remove(w);
      } catch (e) {
        // Already gone (maybe by our own DELE whose reply was lost): that is what we wanted.
        if (e instanceof FTPError && e.code === 550 && (await this.sizeOrUndefined(c, path)) === undefined) return;
        throw e;
      }
    });
  }

  /** Run `fn` connected; reconnect once and repeat it if the connection failed and `retrySafe`. */
  private async run<T>(op: string, path: string, retrySafe: boolean, extra: Partial<FtpErrorContext>, fn: (c: Client) => Promise<T>): Promise<T> {
    const ctx: FtpErrorContext = { op, path, server: this.server, phase: 'command', decode: this.codec.fromWire, ...extra };
    for (let attempt = 1; ; attempt++) {
      const c = await this.connected();
      try {
        return await fn(c);
      } catch (caught) {
        // Settled on every attempt: a repeated upload over quota fails like the first, and its late
        // `552` left on the session would otherwise answer the next command (found in CI: the folder
        // check after a repeated upload read it and called the folder missing).
        const e = await this.settleSession(c, caught);
        if (!isConnectionLevel(e, c.closed)) throw toTransportError(e, ctx);
        this.drop(c); // whatever happens next, the next call starts on a fresh session
        if (!retrySafe || attempt === 2) throw toTransportError(e, ctx);
        this.log.warn('ftp.retry', { op, path, reason: e instanceof Error ? e.message : String(e) });
      }
    }
  }

  /**
   * basic-ftp rejects a transfer as soon as its data stream fails (the server
   * closed the data connection: quota, disk full, abort) while the server's
   * final reply (e.g. `552`) is still on its way; that late reply would be
   * taken as the answer to our next command. So after such a failure: ask
   * NOOP, which collects the late reply if there is one (and tells the real
   * cause), then drop the session, whose replies can no longer be trusted to
   * match our commands. Returns the error to report.
   */
  private async settleSession(c: Client, e: unknown): Promise<unknown> {
    if (e instanceof FTPError || e instanceof TransportError || c.closed) return e;
    let late: FTPError | undefined;
    try {
      const r = await c.sendIgnoringError('NOOP');
      if (r.code >= 400) late = new FTPError(r);
    } catch {
      // The session is broken anyway.
    }
    this.drop(c);
    if (late) this.log.debug('ftp.late-reply', { code: late.code, after: e instanceof Error ? e.message : String(e) });
    return late ?? e;
  }

  private async connected(): Promise<Client> {
    if (this.shut) throw new TransportError('unreachable', `FTP session to ${this.server} was closed by the agent`);
    if (this.client && !this.client.closed) return this.client;
    if (this.client && !this.closedByUs && !this.connecting) {
      // basic-ftp drops an unsolicited reply (ProFTPD's `421 Idle timeout`) and marks the client closed on the FIN
      // that follows; the reconnect below is transparent, but an operator chasing a flaky link wants to see it.
      this.log.debug('ftp.session.lost', { errorKind: 'unreachable', note: 'the server or the network closed the idle session (e.g. 421 idle timeout); reconnecting' });
    }
    this.connecting ??= this.connect().finally(() => {
      this.connecting = undefined;
    });
    return this.connecting;
  }

  /**
   * basic-ftp's `access()` in explicit steps, so a failure names its phase
   * (a refused AUTH TLS is `tls`, a refused USER/PASS is `auth`) and cp1251
   * mode can skip `OPTS UTF8 ON`.
   */
  private async connect(): Promise<Client> {
    const { host, port, secure } = this.opts;
    // One Client for the whole life: it remembers the working passive mode across reconnects.
    const client = this.client ?? new Client(this.opts.timeoutMs);
    this.client = client;
    this.closedByUs = false;
    this.codec.attach(client);
    keepControlOnDataSocketError(client, this.opts.timeoutMs);
    const tls = await this.tlsOptions();
    let phase: Phase = 'connect';
    try {
      if (secure === 'implicit') {
        await client.connectImplicitTLS(host, port, { ...tls });
      } else {
        await client.connect(host, port);
      }
      if (secure === true) {
        phase = 'tls';
        // `host` makes data connections resume the control connection's TLS session (basic-ftp issue #166).
        await client.useTLS({ ...tls, host });
      }
      phase = 'login';
      if (this.codec.encoding === 'utf8') await client.sendIgnoringError('OPTS UTF8 ON');
      await client.login(this.codec.toWire(this.opts.user), this.codec.toWire(this.opts.password));
      phase = 'command';
      await client.useDefaultSettings();
      await this.codec.afterLogin(client);
      this.home = await client.pwd();
    } catch (e) {
      this.drop(client);
      throw toTransportError(e, { op: 'connect', path: '', server: this.server, phase, decode: this.codec.fromWire, user: this.opts.user, secure });
    }
    this.log.info('ftp.connected', { secure: String(secure), encoding: this.codec.encoding });
    return client;
  }

  private async tlsOptions(): Promise<ConnectionOptions> {
    const t = this.opts.tls;
    const o: ConnectionOptions = { rejectUnauthorized: t.rejectUnauthorized };
    if (t.servername) o.servername = t.servername;
    if (t.caFile) {
      try {
        o.ca = await readFile(t.caFile);
      } catch (e) {
        throw new TransportError('config', `FTP tls.caFile '${t.caFile}' cannot be read: ${(e as Error).message}`, { cause: e });
      }
    }
    return o;
  }

  /** Size, or undefined when the server says there is no such file. */
  private async sizeOrUndefined(c: Client, path: string): Promise<number | undefined> {
    try {
      return await c.size(this.wire(path));
    } catch (e) {
      if (!(e instanceof FTPError)) throw e;
      if (e.code === 550) return undefined;
      // No SIZE command (500/502): find the file in its folder's listing instead.
      if (e.code === 500 || e.code === 502) {
        const slash = path.lastIndexOf('/');
        const name = path.slice(slash + 1);
        const entries = await c.list(this.wire(slash < 0 ? '' : path.slice(0, slash)));
        return entries.find((f) => this.codec.fromWire(f.name) === name)?.size;
      }
      throw e;
    }
  }

  /**
   * Run `fn`; if the server refuses it, check whether the folder involved
   * exists at all, so a wrong configured folder is reported as `config`
   * naming the folder rather than as a passing server error.
   */
  private async checkingFolder<T>(c: Client, path: string, isFolder: boolean, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (e) {
      if (!(e instanceof FTPError) || e.code === 421 || c.closed) throw e;
      const folder = isFolder ? path : path.slice(0, Math.max(0, path.lastIndexOf('/')));
      if (await this.folderExists(c, folder)) throw e;
      throw new TransportError('config', `FTP folder '${this.shownFolder(folder)}' does not exist on ${this.server} (${isFolder ? 'list' : `'${path}'`}): ${this.codec.fromWire(e.message).trim()}`, {
        code: e.code,
        serverAnswer: this.codec.fromWire(e.message).trim(),
        cause: e,
      });
    }
  }

  /**
   * A STOR into a missing folder often fails on the data connection (the
   * server resets it) before the 553 arrives, so the reply code cannot be
   * relied on: after a failed upload, look whether the folder is there.
   */
  private async orMissingFolder(e: TransportError, path: string): Promise<TransportError> {
    // Only for failures a missing folder could explain (not a full disk, a timeout, a wrong password).
    if (e.kind !== 'server' && e.kind !== 'unreachable') return e;
    const folder = path.slice(0, Math.max(0, path.lastIndexOf('/')));
    let exists = true;
    try {
      exists = await this.run('check folder', folder, true, {}, (c) => this.folderExists(c, folder));
    } catch {
      return e; // cannot tell: report the original failure
    }
    if (exists) return e;
    return new TransportError('config', `FTP folder '${this.shownFolder(folder)}' does not exist on ${this.server} (upload '${path}'): ${e.message}`, {
      code: e.details.code,
      serverAnswer: e.details.serverAnswer,
      cause: e,
    });
  }

  private shownFolder(folder: string): string {
    return this.root === '' ? folder || '(login folder)' : `${this.root}/${folder}`.replace(/\/$/, '');
  }

  private async folderExists(c: Client, folder: string): Promise<boolean> {
    const w = this.wire(folder);
    if (w === '') return true;
    try {
      await c.cd(w);
    } catch (e) {
      if (e instanceof FTPError && e.code !== 421) return false;
      throw e;
    }
    await c.cd(this.home);
    return true;
  }

  /** Root-relative `/` path to the string basic-ftp puts into the command. */
  private wire(rel: string): string {
    const clean = rel.replace(/^\/+|\/+$/g, '');
    const full = this.root === '' ? clean : clean === '' ? this.root : `${this.root}/${clean}`;
    return this.codec.toWire(full);
  }
}

function isPlainFile(f: FileInfo): boolean {
  return f.type === FileType.File;
}

function toEntry(f: FileInfo, codec: NameCodec): RemoteEntry {
  const entry: RemoteEntry = { name: codec.fromWire(f.name), size: f.size };
  // MLSD gives a parsed UTC time; a LIST line's "Nov 24 03:19" has no year or zone, so it is left out.
  const t = f.modifiedAt?.getTime();
  if (t !== undefined && Number.isFinite(t)) entry.mtimeMs = t;
  return entry;
}

/** fsync the downloaded file (the store renames it next) and return its size. */
async function syncLocal(localPath: string): Promise<number> {
  const h = await openFile(localPath, 'r+');
  try {
    await h.sync();
    return (await h.stat()).size;
  } finally {
    await h.close();
  }
}
