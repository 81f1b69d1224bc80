/** Loopback ports for test servers: always chosen by the kernel (port 0), never fixed. */
import { createServer, type Server } from 'node:net';

/** Starts `server` listening on 127.0.0.1 at a port the kernel picks; resolves with that port. */
export async function listenOnLoopback(server: Pick<Server, 'listen' | 'address' | 'once'>): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  return (server.address() as { port: number }).port;
}

/** Closes `server`, cutting the connections still open (HTTP keep-alive ones included) so the close does not wait for them. */
export function closeServer(server: Pick<Server, 'close'> & { closeAllConnections?: () => void }): Promise<void> {
  return new Promise<void>((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections?.();
  });
}

/** A loopback port nothing listens on now: bound, then released (for a server started later, or a refused connection). */
export async function freePort(): Promise<number> {
  const server = createServer();
  const port = await listenOnLoopback(server);
  await closeServer(server);
  return port;
}
