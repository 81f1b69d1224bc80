/**
 * A till folder that does not exist: check-config names it, and the
 * running agent neither creates it nor pretends all is well. It used to create
 * the folder and watch it forever, reporting ok, while Kassir wrote elsewhere.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs/promises';
import { describe, it } from 'node:test';
import { makeWorkspace, runCli, startAgent } from '../helpers/kassir.js';
import { waitFor } from '../helpers/wait.js';

const MISSING = /till\.dir: .*till does not exist \(Kassir's exchange folder: create it, or fix the path/;

describe('a missing till folder', () => {
  it('check-config and run --once name it; the agent never creates it', async (t) => {
    const ws = await makeWorkspace();
    t.after(ws.cleanup);
    await fs.rm(ws.till, { recursive: true });
    const check = await runCli(['check-config', '--config', ws.configFile]);
    assert.equal(check.code, 2, check.stderr);
    assert.match(check.stderr, MISSING);
    const once = await runCli(['run', '--once', '--config', ws.configFile]);
    assert.equal(once.code, 3, `${once.stdout}${once.stderr}`);
    assert.match(once.stdout + once.stderr, /agent\.once\.failed/);
    assert.match(once.stdout + once.stderr, MISSING);
    await assert.rejects(fs.stat(ws.till), { code: 'ENOENT' }, 'run --once did not create the till folder');
  });

  it('the daemon reports the exchange as not running, with the reason, in status', async (t) => {
    const ws = await makeWorkspace();
    t.after(ws.cleanup);
    await fs.rm(ws.till, { recursive: true });
    const agent = await startAgent(ws.configFile);
    t.after(async () => {
      agent.child.kill('SIGTERM');
      await agent.exited;
    });
    await waitFor(async () => agent.output().includes('exchange.start.failed'), 'the exchange refused to start');
    assert.match(agent.output(), MISSING);
    const status = await runCli(['status', '--config', ws.configFile]);
    assert.equal(status.code, 0, status.stderr);
    assert.match(status.stdout, /POS 1: not running: till\.dir: .*does not exist/);
    await assert.rejects(fs.stat(ws.till), { code: 'ENOENT' }, 'the daemon did not create the till folder');
  });
});
