/**
 * The agent's side of the control channel: a tiny HTTP server on a Unix socket
 * or a Windows named pipe (never on the network). Routes:
 *
 *   GET  /status                        live status of every exchange
 *   POST /exchange-now[?pos=N]          run a full cycle now; answers when done
 *   POST /retry[?pos=N]                 forget the backoff, send everything queued now
 *   POST /resend?package=K[&pos=N]      put archived package K back in the queue under a new number
 *   POST /stop                          stop the agent as SIGTERM does; answers at once with its pid
 */
import * as fs from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { connect } from 'node:net';
import { dirname } from 'node:path';
import { ensureDir } from '../util/fsutil.js';
import type { Logger } from '../util/logger.js';
import { NotFoundError } from '../util/not-found.js';

export interface ControlHandlers {
  status(): Promise<unknown>;
  exchangeNow(pos: number | undefined): Promise<unknown>;
  retry(pos: number | undefined): Promise<unknown>;
  resend(pkg: number, pos: number | undefined): Promise<unknown>;
  /** Starts the agent's stop and says which process stops and within what deadline (it does not wait). */
  stop(): { pid: number; deadlineMs: number } | undefined;
}

/** The control socket could not be made private: a security problem that stops the agent's start. */
export class ControlSocketNotPrivateError extends Error {
  override name = 'ControlSocketNotPrivateError';
}

export class ControlServer {
  private server?: Server;

  constructor(
    private readonly socketPath: string,
    private readonly handlers: ControlHandlers,
    private readonly log: Logger,
  ) {}

  async start(): Promise<void> {
    const server = createServer((req, res) => void this.handle(req, res));
    // The socket lives in the first data folder, which an exchange that could not start has not made
    // yet: make it, so that `status` can still ask the agent why that exchange is not running.
    if (!this.socketPath.startsWith('\\\\')) await ensureDir(dirname(this.socketPath));
    await this.listen(server);
    if (!this.socketPath.startsWith('\\\\')) await this.makePrivate(server);
    this.server = server;
    this.log.info('control.listening', { socket: this.socketPath });
  }

  /**
   * Only the service user (and root) may send commands: the socket is made 0600 and read back, since a
   * filesystem may refuse the mode or ignore it. If it cannot be made private, the agent does not start
   * (anyone on the machine could make it resend packages): the socket is closed and removed, and the
   * error says what failed, where, and what to do.
   */
  private async makePrivate(server: Server): Promise<void> {
    let problem: string | undefined;
    try {
      await fs.chmod(this.socketPath, 0o600);
      const mode = (await fs.stat(this.socketPath)).mode & 0o777;
      if (mode !== 0o600) problem = `chmod 0600 left it at mode 0${mode.toString(8)}`;
    } catch (e) {
      problem = `chmod 0600 failed: ${(e as Error).message}`;
    }
    if (problem === undefined) return;
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await fs.rm(this.socketPath, { force: true });
    throw new ControlSocketNotPrivateError(
      `control socket ${this.socketPath}: could not make it private to the service user (${problem}), so any local user could send the agent commands; ` +
        'the agent does not start. Put the socket on a local filesystem that keeps Unix permissions (control.socket in the config, ' +
        "default the first exchange's dataDir), or turn the control channel off (control.enabled: false).",
    );
  }

  private async listen(server: Server): Promise<void> {
    const attempt = () =>
      new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(this.socketPath, () => {
          server.off('error', reject);
          resolve();
        });
      });
    try {
      await attempt();
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EADDRINUSE' || this.socketPath.startsWith('\\\\')) throw e;
      // A socket file left by a killed agent: remove it if nobody answers on it.
      if (await answers(this.socketPath)) throw new Error(`${this.socketPath}: another agent is listening`);
      await fs.rm(this.socketPath, { force: true });
      await attempt();
    }
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    // close() waits for every connection to end: idle keep-alive ones are ended now (a command in progress finishes).
    server.closeIdleConnections?.();
    await closed;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://agent');
    const pos = url.searchParams.has('pos') ? Number(url.searchParams.get('pos')) : undefined;
    const send = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' });
      res.end(JSON.stringify(body));
    };
    try {
      if (pos !== undefined && !Number.isInteger(pos)) return send(400, { error: 'pos must be a number' });
      const route = `${req.method} ${url.pathname}`;
      this.log.info('control.command', { command: route, ...(pos !== undefined ? { forPos: pos } : {}) });
      switch (route) {
        case 'GET /status':
          return send(200, await this.handlers.status());
        case 'POST /exchange-now':
          return send(200, await this.handlers.exchangeNow(pos));
        case 'POST /retry':
          return send(200, await this.handlers.retry(pos));
        case 'POST /resend': {
          const pkg = Number(url.searchParams.get('package'));
          if (!Number.isInteger(pkg) || pkg < 1) return send(400, { error: 'package must be a package number' });
          return send(200, await this.handlers.resend(pkg, pos));
        }
        case 'POST /stop': {
          const stopping = this.handlers.stop();
          if (!stopping) return send(409, { error: 'this agent was not started as a daemon (run --once): it stops by itself' });
          return send(200, stopping);
        }
        default:
          return send(404, { error: `unknown command ${route}` });
      }
    } catch (e) {
      return send(e instanceof NotFoundError ? 404 : 500, { error: (e as Error).message });
    }
  }
}

function answers(socketPath: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(socketPath);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}
