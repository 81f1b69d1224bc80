/**
 * basic-ftp closes the whole session when the data connection fails. When a
 * server aborts an upload (quota or disk full: `552`/`452`), it closes the data
 * connection and then sends its final reply; whether our next write hits EPIPE
 * before that reply arrives is a race, and if it does, the reply that tells the
 * real cause is destroyed with the control connection. So a socket error of the
 * data connection closes only the data connection: the transfer waits for the
 * server's final reply, which decides the error (or, if none comes, the control
 * connection's timeout, re-armed here, ends the wait as `timeout`).
 * Timeouts of the data connection still close everything at once (a black hole).
 *
 * This reaches into basic-ftp's FTPContext (closeWithError, socket, dataSocket)
 * and its error text, so package.json pins basic-ftp exactly; on an upgrade,
 * test/transports/ftp-data-socket-patch.test.ts says whether it still holds.
 */
import type { Client } from 'basic-ftp';
import type { Socket } from 'node:net';

/** The message basic-ftp gives a data connection torn by the peer (its `_setupDefaultErrorHandlers` appends the suffix); test/transports/ftp-data-socket-patch.test.ts checks the pinned version still does. */
export const DATA_SOCKET_ERROR = /\b(EPIPE|ECONNRESET)\b.*\(data socket\)$/;

/**
 * A data connection torn by the peer. By its code as well as its text: a write after the
 * peer's FIN fails with "This socket has been ended by the other party", code EPIPE, whose
 * text names no code (found in CI: that race closed the whole session and lost the `552`).
 */
export function isDataSocketTear(err: Error): boolean {
  if (DATA_SOCKET_ERROR.test(err.message)) return true;
  const code = (err as NodeJS.ErrnoException).code;
  return (code === 'EPIPE' || code === 'ECONNRESET') && /\(data socket\)$/.test(err.message);
}

interface ContextInternals {
  closeWithError(err: Error): void;
  socket: Socket;
  dataSocket: Socket | undefined;
}

const patched = new WeakSet<object>();

export function keepControlOnDataSocketError(client: Client, controlTimeoutMs: number): void {
  const ctx = client.ftp as unknown as ContextInternals;
  if (patched.has(ctx)) return;
  patched.add(ctx);
  const close = ctx.closeWithError.bind(ctx);
  ctx.closeWithError = (err: Error) => {
    if (isDataSocketTear(err) && !ctx.socket.destroyed) {
      ctx.dataSocket = undefined; // closes the data connection only
      ctx.socket.setTimeout(controlTimeoutMs);
      return;
    }
    close(err);
  };
}
