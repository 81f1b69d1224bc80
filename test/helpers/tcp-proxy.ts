/**
 * A TCP proxy on 127.0.0.1 under test control, for injecting network faults
 * between the agent and a real server.
 *
 * For FTP it carries the control connection only: basic-ftp connects data
 * connections to the control host (127.0.0.1) at the port from the EPSV/PASV
 * answer, i.e. straight to the server. That is enough for the faults we care
 * about (they all hit the control connection: resets, black holes, lost
 * replies, idle drops) and keeps the proxy protocol-agnostic. Command matching
 * (`onClientCommand`) needs a plain-text control connection.
 *
 * Modes (apply to new and existing connections):
 * - `pass`: forward both ways.
 * - `reset`: send RST on every connection and on every new one.
 * - `blackhole`: accept, never forward, never answer (existing ones go silent).
 * - `slow`: forward each chunk after `delayMs`, keeping order.
 */
import net from 'node:net';

export type ProxyMode = 'pass' | 'reset' | 'blackhole' | 'slow';

/**
 * `reset`: RST the connection instead of forwarding the command.
 * `reset-after-reply`: forward the command and the server's first reply to it,
 * then RST (for STOR: the server has answered 150 and the data is flowing, so
 * the control connection dies mid-upload).
 * `drop-replies`: forward it, then discard all the server sends on that connection.
 */
export type CommandFault = 'reset' | 'reset-after-reply' | 'drop-replies';

export interface TcpProxy {
  port: number;
  setMode(mode: ProxyMode, opts?: { delayMs?: number }): void;
  /** One-shot fault on the next client line matching `pattern`; resolves when it fired. */
  onClientCommand(pattern: RegExp, fault: CommandFault): Promise<void>;
  /** Connections accepted so far. */
  readonly accepted: number;
  /** Connections currently open on the client side. */
  readonly active: number;
  stop(): Promise<void>;
}

interface Pair {
  client: net.Socket;
  upstream: net.Socket | undefined;
  dropReplies: boolean;
  /** Set by `reset-after-reply`: the next chunk from the server is forwarded, then the connection is reset. */
  resetAfterReply: boolean;
  lineBuf: string;
  /** Per-direction chains so `slow` keeps byte order. */
  c2s: Promise<void>;
  s2c: Promise<void>;
}

interface Trigger {
  pattern: RegExp;
  fault: CommandFault;
  fired: () => void;
}

export async function startTcpProxy(target: { targetHost: string; targetPort: number }): Promise<TcpProxy> {
  let mode: ProxyMode = 'pass';
  let delayMs = 50;
  let accepted = 0;
  const pairs = new Set<Pair>();
  const triggers: Trigger[] = [];

  /** Every socket of the proxy, both sides: stop() destroys what is still open, whatever its pair's state. */
  const sockets = new Set<net.Socket>();
  const track = (s: net.Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  };
  /**
   * RST a socket, unless its orderly shutdown has begun (our end(), or Node's own end() on the peer's FIN):
   * libuv refuses a reset while a shutdown is in flight (uv_tcp_close_reset: EINVAL) and the handle would be
   * left unclosed behind a destroyed socket, for the process to trip over at exit. Such a socket is destroyed.
   */
  const reset = (s: net.Socket | undefined) => {
    if (!s || s.destroyed) return;
    if (s.writableEnded || s.connecting) s.destroy();
    else s.resetAndDestroy();
  };
  const kill = (p: Pair) => {
    pairs.delete(p);
    reset(p.client);
    reset(p.upstream);
  };

  const send = (p: Pair, dir: 'c2s' | 's2c', chunk: Buffer) => {
    const to = dir === 'c2s' ? p.upstream : p.client;
    const write = () => {
      if (mode === 'blackhole' || (dir === 's2c' && p.dropReplies)) return;
      if (to && !to.destroyed) to.write(chunk);
    };
    if (mode !== 'slow') {
      // Keep order behind chunks still delayed from an earlier slow phase.
      p[dir] = p[dir].then(write);
      return;
    }
    p[dir] = p[dir].then(() => new Promise<void>((r) => setTimeout(r, delayMs)).then(write));
  };

  const fromClient = (p: Pair, chunk: Buffer) => {
    if (mode === 'blackhole') return;
    p.lineBuf += chunk.toString('latin1');
    const lines = p.lineBuf.split('\r\n');
    p.lineBuf = lines.pop() ?? '';
    for (const line of lines) {
      const i = triggers.findIndex((t) => t.pattern.test(line));
      if (i < 0) continue;
      const [t] = triggers.splice(i, 1);
      if (t!.fault === 'reset') {
        kill(p);
        t!.fired();
        return;
      }
      send(p, 'c2s', chunk);
      if (t!.fault === 'drop-replies') p.dropReplies = true;
      else p.resetAfterReply = true;
      t!.fired();
      return;
    }
    send(p, 'c2s', chunk);
  };

  const server = net.createServer((client) => {
    accepted++;
    track(client);
    client.on('error', () => {});
    if (mode === 'reset') {
      reset(client);
      return;
    }
    const p: Pair = { client, upstream: undefined, dropReplies: false, resetAfterReply: false, lineBuf: '', c2s: Promise.resolve(), s2c: Promise.resolve() };
    pairs.add(p);
    client.on('close', () => {
      pairs.delete(p);
      p.upstream?.destroy();
    });
    client.on('data', (chunk: Buffer) => fromClient(p, chunk));
    if (mode === 'blackhole') return; // never reaches the server, never answers
    const upstream = net.connect(target.targetPort, target.targetHost);
    track(upstream);
    p.upstream = upstream;
    upstream.on('error', () => {});
    upstream.on('data', (chunk: Buffer) => {
      if (mode === 'blackhole') return;
      send(p, 's2c', chunk);
      if (p.resetAfterReply) {
        p.resetAfterReply = false;
        // After the reply was handed to the client socket (queued behind any delayed chunks).
        p.s2c = p.s2c.then(() => new Promise<void>((r) => (client.writableLength === 0 ? r() : client.once('drain', () => r())))).then(() => kill(p));
      }
    });
    // The server closed: pass the close on (after pending delayed chunks).
    upstream.on('close', () => {
      p.s2c = p.s2c.then(() => {
        pairs.delete(p);
        client.end();
      });
    });
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as net.AddressInfo).port;

  return {
    port,
    setMode(m, opts) {
      mode = m;
      if (opts?.delayMs !== undefined) delayMs = opts.delayMs;
      if (m === 'reset') for (const p of [...pairs]) kill(p);
    },
    onClientCommand(pattern, fault) {
      return new Promise<void>((fired) => triggers.push({ pattern, fault, fired }));
    },
    get accepted() {
      return accepted;
    },
    get active() {
      return pairs.size;
    },
    async stop() {
      for (const p of [...pairs]) kill(p);
      // Pairs already closing (the server's FIN passed on with end()) are no longer in `pairs`.
      for (const s of [...sockets]) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
