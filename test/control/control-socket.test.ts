/**
 * The control socket is private to the service user, or the agent does not
 * start: a real socket on the real filesystem, with the filesystem's answer to
 * `chmod` replaced in process for this one path (a filesystem that refuses the
 * mode, or one that accepts it and keeps another), since a root test process
 * can chmod anything on a local disk.
 */
import assert from 'node:assert/strict';
import fsPromises from 'node:fs/promises';
import { syncBuiltinESMExports } from 'node:module';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { Agent } from '../../src/agent.js';
import { parseConfigText } from '../../src/config/load.js';
import { controlRequest } from '../../src/control/client.js';
import { ControlServer, ControlSocketNotPrivateError, type ControlHandlers } from '../../src/control/server.js';
import type { ClosableLogger } from '../../src/log.js';
import { memoryLogger, type LogRecord } from '../../src/util/logger.js';
import { makeTempDir, removeDir } from '../helpers/temp-dir.js';

const skip = process.platform === 'win32' ? 'the control channel is a named pipe on Windows: no file mode to set' : false;

const handlers: ControlHandlers = {
  status: async () => ({ ok: true }),
  exchangeNow: async () => ({}),
  retry: async () => ({}),
  resend: async () => ({}),
  stop: () => undefined,
};

/** `chmod` of `path` answers with `answer` (the real chmod is used for every other path); returns the undo. */
function chmodOf(path: string, answer: () => Promise<void>): () => void {
  const real = fsPromises.chmod;
  fsPromises.chmod = (async (p: Parameters<typeof real>[0], mode: Parameters<typeof real>[1]) => (String(p) === path ? answer() : real(p, mode))) as typeof real;
  // server.ts imports the module's named export: make it see the replacement.
  syncBuiltinESMExports();
  return () => {
    fsPromises.chmod = real;
    syncBuiltinESMExports();
  };
}

const refused = () => Promise.reject(Object.assign(new Error('EPERM: operation not permitted, chmod'), { code: 'EPERM' }));
const ignored = () => Promise.resolve();

/** Whether the agent answers on the socket, asked as the command line asks it. */
const answers = async (socket: string) => (await controlRequest(socket, 'GET', '/status', 10_000)) !== undefined;

const exists = (p: string) => fsPromises.stat(p).then(() => true, () => false);

describe('control socket permissions', { skip }, () => {
  let dir: string;
  let socket: string;
  beforeEach(async () => {
    dir = await makeTempDir('kassir-control');
    socket = join(dir, 'control.sock');
  });
  afterEach(() => removeDir(dir));

  it('is made 0600 on start, even with a lax umask', async () => {
    const umask = process.umask(0);
    const server = new ControlServer(socket, handlers, memoryLogger());
    try {
      await server.start();
    } finally {
      process.umask(umask);
    }
    try {
      assert.equal((await fsPromises.stat(socket)).mode & 0o777, 0o600);
      assert.equal(await answers(socket), true);
    } finally {
      await server.stop();
    }
  });

  for (const [how, answer, detail] of [
    ['refuses the chmod', refused, /chmod 0600 failed: EPERM/],
    ['accepts the chmod and keeps another mode', ignored, /chmod 0600 left it at mode 0\d{3}/],
  ] as const) {
    it(`a filesystem that ${how}: start fails naming the socket, what failed and what to do; nothing is left listening`, async (t) => {
      const umask = process.umask(0o022);
      t.after(chmodOf(socket, answer));
      const server = new ControlServer(socket, handlers, memoryLogger());
      try {
        const err = await server.start().then(
          () => assert.fail('start resolved with a socket that is not private'),
          (e: unknown) => e,
        );
        assert.ok(err instanceof ControlSocketNotPrivateError, String(err));
        assert.ok(err.message.includes(socket), err.message);
        assert.match(err.message, detail);
        assert.match(err.message, /control\.socket/);
        assert.match(err.message, /control\.enabled: false/);
      } finally {
        process.umask(umask);
        await server.stop();
      }
      assert.equal(await exists(socket), false, 'the socket file is removed');
      assert.equal(await answers(socket), false, 'nobody listens');
    });
  }

  it('the agent does not start when its control socket cannot be made private, and says why in its log', async (t) => {
    for (const sub of ['till', 'share', 'data']) await fsPromises.mkdir(join(dir, sub));
    const yaml =
      `exchanges:\n  - pos: 1\n    dataDir: data\n    till: { dir: till, referenceFile: POS1.spr, rescanMs: 60000 }\n` +
      `    transport: { type: folder, dir: share, referenceName: POS1.spr, reportName: POS1.rep }\n    schedule: { pull: "1h" }\n` +
      `control: { enabled: true, socket: ${socket} }\n`;
    const records: LogRecord[] = [];
    const log: ClosableLogger = Object.assign(memoryLogger({}, records), { close: async () => {} });
    const agent = new Agent(parseConfigText(yaml, join(dir, 'agent.yaml')), log);
    t.after(chmodOf(socket, refused));
    try {
      await assert.rejects(agent.start(), (e: unknown) => e instanceof ControlSocketNotPrivateError && e.message.includes(socket));
    } finally {
      await agent.stop(5_000);
    }
    const failed = records.filter((r) => r.event === 'control.failed');
    assert.equal(failed.length, 1);
    assert.equal(failed[0]!.level, 'error');
    assert.equal(failed[0]!.fields.note, 'the agent does not start');
    assert.equal(await exists(socket), false);
  });
});
