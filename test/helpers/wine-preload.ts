/**
 * Test-only preload of the Windows job (scripts/run-tests.mjs loads it into every Windows Node
 * process it starts, through NODE_OPTIONS: the test runner, the test files and the agents they
 * start). Wine 8 fails a TCP connect when keep-alive was set on the socket before it connected
 * (Windows itself does not), and undici sets it then: here keep-alive is set once the socket has
 * connected. Works around Wine, not the agent: the product never loads it.
 */
import { Socket } from 'node:net';

const setKeepAlive = Socket.prototype.setKeepAlive;
Socket.prototype.setKeepAlive = function (this: Socket, ...args: Parameters<Socket['setKeepAlive']>) {
  if (this.connecting) {
    this.once('connect', () => setKeepAlive.apply(this, args));
    return this;
  }
  return setKeepAlive.apply(this, args);
};
