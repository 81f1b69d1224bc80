/**
 * A reference part that holds only commands (the protocol's own sample:
 * `##@@&&$$$RPL`, `#`, no goods) and nothing after it, picked up by the agent
 * running as a daemon: it reaches the till on its own, as one file with the
 * command, and the agent goes on (it does not wait for a later part to merge
 * it with). KKMTransfer against a real HTTP server, and the folder exchange.
 * Each wait is keyed to the agent's log.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { makeWorkspace, startAgent, stopDaemon, type Workspace } from '../helpers/kassir.js';
import { kkmWorkspace, logLines, type LogLine } from '../helpers/kkm-agent.js';
import { sendJson, startPlainServer } from '../helpers/kkm-plain-server.js';
import { SEED_NOTHING_RESPONSE, SEED_SAMPLE_CONTENT, SEED_SAMPLE_RESPONSE } from '../helpers/kkm-seed.js';
import { waitFor } from '../helpers/wait.js';

/** One pull at the start only: the delivery must follow from that pull, not from a later one. */
const CONFIG = { log: { level: 'debug', dir: 'log', console: true }, schedule: { pull: '1h', retry: { initialMs: 50, maxMs: 400, jitter: 0.2 } } };

/** What reaches the till: the sample's own encoding (UTF-8 with BOM), the header, the command on its own line. */
const DELIVERED = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('##@@&&\r\n#\r\n$$$RPL\r\n', 'latin1')]);

/** Runs the daemon until the log has a delivery (or a delivery failure) and returns that line. */
async function deliveredByDaemon(t: TestContext, ws: Workspace): Promise<LogLine> {
  const agent = await startAgent(ws.configFile);
  t.after(() => agent.child.kill('SIGKILL'));
  const pick = (lines: LogLine[]) => lines.find((l) => l.event === 'till.reference.delivered' || l.event === 'till.deliver.failed');
  await waitFor(async () => pick(await logLines(ws)) !== undefined, 'the staged part delivered (till.reference.delivered)', 60_000);
  const line = pick(await logLines(ws))!;
  assert.equal(await stopDaemon(agent, ws.configFile), 0, agent.output());
  return line;
}

describe('a reference part with only commands, picked up by the daemon', { timeout: 180_000 }, () => {
  it("KKMTransfer: the protocol's sample as package 1, nothing after it, reaches the till on its own", async (t) => {
    const server = await startPlainServer(t, (req, res) => sendJson(res, req.url.endsWith('/1/1') ? SEED_SAMPLE_RESPONSE : SEED_NOTHING_RESPONSE));
    const ws = await kkmWorkspace(t, `${server.url}/trade/hs/KKMTransfer/`, { config: CONFIG });
    const line = await deliveredByDaemon(t, ws);
    assert.deepEqual({ event: line.event, parts: line.parts, dataLines: line.dataLines }, { event: 'till.reference.delivered', parts: ['package 1'], dataLines: 0 });
    assert.deepEqual(await fs.readFile(join(ws.till, 'POS1.spr')), DELIVERED);
    const lines = await logLines(ws);
    assert.ok(lines.some((l) => l.event === 'pull.staged' && l.package === 1), 'package 1 was staged');
    assert.ok(!lines.some((l) => l.event === 'till.reference.skipped' || l.event === 'quarantine.added'), 'nothing skipped or quarantined');
  });

  it('folder: the same part as POS1.spr.$1 on the share reaches the till on its own', async (t) => {
    const ws = await makeWorkspace(CONFIG);
    t.after(() => ws.cleanup());
    await fs.writeFile(join(ws.share, 'POS1.spr.$1'), SEED_SAMPLE_CONTENT);
    const line = await deliveredByDaemon(t, ws);
    assert.deepEqual({ event: line.event, parts: line.parts, dataLines: line.dataLines }, { event: 'till.reference.delivered', parts: ['POS1.spr.$1'], dataLines: 0 });
    assert.deepEqual(await fs.readFile(join(ws.till, 'POS1.spr')), DELIVERED);
  });
});
