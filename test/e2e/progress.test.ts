/**
 * Progress of a slow reference download, end to end: the agent runs as a
 * daemon (a child process) and the test reads `status --json` from it while
 * the download is held part way (folder: a hold point between two parts;
 * KKMTransfer: a real HTTP server that has sent part of its answer;
 * EquipmentService: its emulator behind a front that holds the answers of
 * package 2 and later). Each look is keyed to what happened (a hold file the
 * agent wrote, bytes the server sent, a request it holds), never to the clock.
 * The FTP case is test/e2e/ftp-progress.test.ts (ProFTPD), the terminal bar
 * test/e2e/progress-tty.test.ts.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs/promises';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import iconv from 'iconv-lite';
import { request } from 'undici';
import { makeWorkspace, runCli, startAgent, stopDaemon } from '../helpers/kassir.js';
import { ES_DEVICE, ES_PASSWORD, ES_USER, esEmulatorFor, sampleCatalog } from '../helpers/es-emulator.js';
import { kkmWorkspace, logLines } from '../helpers/kkm-agent.js';
import { sendJson, startPlainServer } from '../helpers/kkm-plain-server.js';
import { SEED_NOTHING_RESPONSE, SEED_SAMPLE_RESPONSE } from '../helpers/kkm-seed.js';
import { closeServer, listenOnLoopback } from '../helpers/ports.js';
import { downloadShown, holdBetweenParts, inFlight, progressLogged } from '../helpers/progress.js';
import { waitFor } from '../helpers/wait.js';

/**
 * What every case uses: a progress line every 100 ms while a download lasts (the default is 10 s), and
 * one pull at the start only (a pull every second would put another short download in flight, e.g.
 * KKMTransfer's "nothing new" answer, while the test looks for nothing in flight after the slow one).
 */
const LOG = { log: { level: 'debug', dir: 'log', console: true, progressIntervalMs: 100 }, schedule: { pull: '1h', retry: { initialMs: 50, maxMs: 400, jitter: 0.2 } } };

/** A reference part of `goods` lines (cp1251, as the back office writes it). */
function sprPart(n: number, goods: number): Buffer {
  const lines = Array.from({ length: goods }, (_, i) => `${n * 1000 + i};;Товар ${n}-${i};;1;`);
  return iconv.encode(`##@@&&\r\n#\r\n${lines.join('\r\n')}\r\n`, 'cp1251');
}

const tillHasReference = (till: string) => waitFor(() => fs.access(join(till, 'POS1.spr')).then(() => true, () => false), 'POS1.spr delivered to the till', 60_000);

describe('progress of a slow reference download, read from the running agent', { timeout: 300_000 }, () => {
  it('folder: done of total in bytes rises part by part in status --json and status; the log has a progress line', async (t) => {
    const ws = await makeWorkspace(LOG);
    t.after(() => ws.cleanup());
    const parts = [sprPart(1, 300), sprPart(2, 200), sprPart(3, 100)];
    for (const [i, p] of parts.entries()) await fs.writeFile(join(ws.share, `POS1.spr.$${i + 1}`), p);
    const total = parts.reduce((s, p) => s + p.length, 0);
    const hold = await holdBetweenParts(ws);
    const agent = await startAgent(ws.configFile, hold.env);

    await hold.held(1);
    const first = await downloadShown(ws, (p) => p.done === parts[0]!.length, `part 1's ${parts[0]!.length} bytes`);
    assert.deepEqual({ unit: first.unit, done: first.done, total: first.total }, { unit: 'bytes', done: parts[0]!.length, total });
    const line = await progressLogged(ws, parts[0]!.length);
    assert.deepEqual({ pos: line.pos, transport: line.transport, total: line.total, unit: line.unit }, { pos: 1, transport: 'folder', total, unit: 'bytes' });
    const text = await runCli(['status', '--config', ws.configFile]);
    assert.match(text.stdout, new RegExp(`^in flight: reference download: ${parts[0]!.length} B of \\d+ KB \\(\\d+%\\)`, 'm'), text.stdout);

    await hold.go(1);
    await hold.held(2);
    const second = await downloadShown(ws, (p) => p.done === parts[0]!.length + parts[1]!.length, 'parts 1 and 2');
    assert.ok(second.done > first.done && second.done < total && second.total === total, JSON.stringify(second));
    await hold.go(2);
    await tillHasReference(ws.till);
    assert.deepEqual((await inFlight(ws)).filter((p) => p.activity === 'reference-download'), [], 'nothing in flight once the download is over');
    assert.equal(await stopDaemon(agent, ws.configFile), 0);
  });

  it('KKMTransfer: the bytes of a package that trickles in rise toward its length in status --json; the log has a progress line', async (t) => {
    const body = Buffer.from(SEED_SAMPLE_RESPONSE, 'utf8');
    const firstBytes = 100;
    let release!: () => void;
    const released = new Promise<void>((r) => (release = r));
    let sent = false;
    const server = await startPlainServer(t, (req, res) => {
      if (!req.url.endsWith('/1/1')) return sendJson(res, SEED_NOTHING_RESPONSE);
      res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'content-length': body.length });
      res.write(body.subarray(0, firstBytes), () => (sent = true));
      void released.then(() => res.end(body.subarray(firstBytes)));
    });
    t.after(() => release());
    // The answer's body stays idle while the test looks: longer than that without a byte would be the agent's timeout.
    const ws = await kkmWorkspace(t, `${server.url}/trade/hs/KKMTransfer/`, { config: LOG, transport: { timeoutMs: 300_000 } });
    const agent = await startAgent(ws.configFile);

    await waitFor(() => sent, 'the server sent the first bytes of package 1');
    const partWay = await downloadShown(ws, (p) => p.done === firstBytes, `the first ${firstBytes} bytes`);
    assert.deepEqual({ unit: partWay.unit, total: partWay.total }, { unit: 'bytes', total: body.length });
    const line = await progressLogged(ws, firstBytes);
    assert.deepEqual({ transport: line.transport, total: line.total }, { transport: 'kkmtransfer', total: body.length });

    release();
    await waitFor(async () => (await logLines(ws)).some((l) => l.event === 'pull.staged' && l.package === 1), 'package 1 staged', 60_000);
    assert.deepEqual((await inFlight(ws)).filter((p) => p.activity === 'reference-download'), []);
    assert.equal(await stopDaemon(agent, ws.configFile), 0);
  });

  it('EquipmentService: packages of a price-list transfer rise toward PackageTotal in status --json; the log has a progress line', async (t) => {
    const emu = await esEmulatorFor(t, { devices: { [ES_DEVICE]: { version: 3003, perPackage: 2 } }, catalog: sampleCatalog() });
    const front = await holdingFront(t, emu.url);
    // A held answer must not run into the agent's call timeout while the test looks (timeoutMs below).
    const env = { ES_PASSWORD };
    const ws = await makeWorkspace(LOG, {
      type: 'equipment-service', url: front.url, user: ES_USER, password: '${ES_PASSWORD}', deviceId: ES_DEVICE,
      taxGroups: { '20': 1, '10': 2, '0': 3, none: 4 }, timeoutMs: 300_000, formPollMs: 10, formWaitMs: 3_000,
    });
    t.after(() => ws.cleanup());
    const agent = await startAgent(ws.configFile, env);

    // Package 2's answer is held: package 1 is stored.
    await front.holding(2);
    const one = await downloadShown(ws, (p) => p.done === 1, 'package 1', env);
    assert.equal(one.unit, 'packages');
    assert.ok(one.total !== undefined && one.total >= 3, `a transfer of several packages: ${JSON.stringify(one)}`);
    const line = await progressLogged(ws, 1);
    assert.deepEqual({ transport: line.transport, unit: line.unit, total: line.total }, { transport: 'equipment-service', unit: 'packages', total: one.total });

    front.release(2);
    await front.holding(3);
    const two = await downloadShown(ws, (p) => p.done === 2, 'package 2', env);
    assert.equal(two.total, one.total);
    front.releaseAll();
    await tillHasReference(ws.till);
    const answers = emu.requests.filter((r) => r.op === 'GetPriceListPackage').map((r) => r.answer);
    assert.ok(answers.includes(`${one.total}/${one.total}`), `every package was fetched: ${answers.join(', ')}`);
    assert.deepEqual((await inFlight(ws, env)).filter((p) => p.activity === 'reference-download'), []);
    assert.equal(await stopDaemon(agent, ws.configFile), 0);
  });
});

/**
 * A front on 127.0.0.1 for the EquipmentService emulator: it passes every call
 * on and holds the answer of the n-th GetPriceListPackage call (n >= 2) until
 * the test releases it.
 */
async function holdingFront(t: TestContext, target: string): Promise<{ url: string; holding: (n: number) => Promise<void>; release: (n: number) => void; releaseAll: () => void }> {
  const origin = new URL(target).origin;
  const gates = new Map<number, () => void>();
  let calls = 0;
  let all = false;
  const server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = Buffer.concat(chunks);
    const headers = Object.fromEntries(Object.entries(req.headers).filter(([k]) => !['host', 'connection', 'content-length', 'transfer-encoding'].includes(k))) as Record<string, string>;
    const answer = await request(`${origin}${req.url}`, { method: req.method as 'POST', headers, body });
    const text = Buffer.from(await answer.body.arrayBuffer());
    if (body.includes('GetPriceListPackage')) {
      const n = ++calls;
      if (n >= 2 && !all) await new Promise<void>((r) => gates.set(n, r));
    }
    res.writeHead(answer.statusCode, { 'content-type': String(answer.headers['content-type'] ?? 'text/xml'), 'content-length': text.length });
    res.end(text);
  });
  const port = await listenOnLoopback(server);
  const releaseAll = () => {
    all = true;
    for (const r of gates.values()) r();
  };
  t.after(async () => {
    releaseAll();
    await closeServer(server);
  });
  return {
    url: `http://127.0.0.1:${port}${new URL(target).pathname}`,
    holding: (n) => waitFor(() => gates.has(n), `the front holding GetPriceListPackage call ${n}`, 60_000),
    release: (n) => gates.get(n)?.(),
    releaseAll,
  };
}
