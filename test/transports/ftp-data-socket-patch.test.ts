/**
 * data-socket-errors.ts patches basic-ftp's internals: it replaces
 * `FTPContext.closeWithError` on the instance, reads `socket` and sets
 * `dataSocket`, and recognises a torn data connection by the message basic-ftp
 * builds (`read ECONNRESET (data socket)`: the socket's message and a suffix). package.json pins basic-ftp to the
 * version this was written for; this test exercises the real library against a
 * real TCP peer that resets the data connection, so an upgrade that renames the
 * method or changes the message fails here instead of silently in the field.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { once } from 'node:events';
import { join } from 'node:path';
import { createServer, connect, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { Client, FTPContext } from 'basic-ftp';
import { DATA_SOCKET_ERROR, isDataSocketTear, keepControlOnDataSocketError } from '../../src/transports/ftp/data-socket-errors.js';
import { ROOT } from '../helpers/kassir.js';
import { closeServer, listenOnLoopback } from '../helpers/ports.js';

const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
const installed = JSON.parse(readFileSync(join(ROOT, 'node_modules/basic-ftp/package.json'), 'utf8')) as { version: string };

/**
 * A loopback peer that resets a connection with a TCP RST as soon as the client sends a byte (a
 * server aborting an upload), and otherwise stays silent (a control connection waiting for a reply).
 */
const peer = createServer((s) => s.once('data', () => s.resetAndDestroy()));
let port: number;
before(async () => {
  port = await listenOnLoopback(peer);
});
after(() => closeServer(peer));

async function connected(): Promise<Socket> {
  const socket = connect(port, '127.0.0.1');
  await once(socket, 'connect');
  return socket;
}

/** A client whose control connection is open (to the silent peer), as during a transfer. */
async function clientWithControl(): Promise<Client> {
  const client = new Client();
  client.ftp.socket = await connected();
  assert.equal(client.closed, false);
  return client;
}

/**
 * Gives `client` a data connection, has the peer reset it, and resolves with the error basic-ftp
 * passed to closeWithError and the socket error's own message before basic-ftp added to it.
 */
async function tearDataConnection(client: Client): Promise<{ err: Error; raw: string }> {
  const ctx = client.ftp as unknown as { closeWithError(err: Error): void; dataSocket: Socket | undefined };
  let raw = '';
  const seen = new Promise<Error>((resolve) => {
    const next = ctx.closeWithError.bind(ctx);
    ctx.closeWithError = (err: Error) => {
      resolve(err);
      next(err);
    };
  });
  const socket = await connected();
  socket.once('error', (e: Error) => (raw = e.message)); // runs before basic-ftp's handler, which is added next
  ctx.dataSocket = socket; // basic-ftp installs its error handlers here
  socket.write('x');
  return { err: await seen, raw };
}

describe('the basic-ftp internals data-socket-errors.ts relies on', () => {
  it('basic-ftp is pinned to an exact version, the one installed', () => {
    assert.match(pkg.dependencies['basic-ftp']!, /^\d+\.\d+\.\d+$/, 'package.json must pin basic-ftp exactly (the patch uses its internals)');
    assert.equal(installed.version, pkg.dependencies['basic-ftp']);
  });

  it('FTPContext has closeWithError, and a socket getter and a dataSocket setter on its prototype', () => {
    assert.equal(typeof FTPContext.prototype.closeWithError, 'function');
    assert.equal(typeof Object.getOwnPropertyDescriptor(FTPContext.prototype, 'socket')?.get, 'function');
    assert.equal(typeof Object.getOwnPropertyDescriptor(FTPContext.prototype, 'dataSocket')?.set, 'function');
  });

  it("a data connection reset by the peer reaches closeWithError as '<socket error> (data socket)', which the patch matches", async () => {
    const client = await clientWithControl();
    try {
      const { err, raw } = await tearDataConnection(client);
      assert.match(raw, /^(read|write) (ECONNRESET|EPIPE)$/);
      assert.equal(err.message, `${raw} (data socket)`);
      assert.match(err.message, DATA_SOCKET_ERROR);
      // Unpatched, basic-ftp closes the whole session on it.
      assert.equal(client.closed, true);
    } finally {
      client.close();
    }
  });

  it('a write after the peer ended the data connection (EPIPE by code, no code in its text) is a tear too; a control error is not', () => {
    const ended = Object.assign(new Error('This socket has been ended by the other party (data socket)'), { code: 'EPIPE' });
    assert.equal(isDataSocketTear(ended), true);
    assert.equal(isDataSocketTear(Object.assign(new Error('This socket has been ended by the other party (control socket)'), { code: 'EPIPE' })), false);
    assert.equal(isDataSocketTear(new Error('write EPIPE (data socket)')), true);
    assert.equal(isDataSocketTear(new Error('Timeout (data socket)')), false);
  });

  it('patched, the same reset drops only the data connection and keeps the control connection', async () => {
    const client = await clientWithControl();
    try {
      keepControlOnDataSocketError(client, 1_000);
      await tearDataConnection(client);
      assert.equal(client.closed, false, 'the session stays open for the server final reply');
      assert.equal(client.ftp.dataSocket, undefined);
      assert.equal(client.ftp.socket.destroyed, false);
    } finally {
      client.close();
    }
  });
});
