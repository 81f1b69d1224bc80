/**
 * End to end over HTTP: the agent runs as a child process (`run --once` or the
 * daemon) with `transport.type: kkmtransfer` against the back-office emulator
 * on 127.0.0.1, exactly as a shop runs it against the 1C publication.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import iconv from 'iconv-lite';
import { dropReport, dropReportFiles, reportFile, runCli, startAgent, stopDaemon, type Workspace } from '../helpers/kassir.js';
import { waitFor } from '../helpers/wait.js';
import { emulatorFor } from '../helpers/kkm-emulator.js';
import { kkmWorkspace, logLines, oneToN, sendRequests, storedPackages } from '../helpers/kkm-agent.js';
import { sendJson, startPlainServer } from '../helpers/kkm-plain-server.js';
import { SEED_NOTHING_RESPONSE, SEED_SAMPLE_CONTENT, SEED_SAMPLE_ENTRY, SEED_SAMPLE_RESPONSE } from '../helpers/kkm-seed.js';
import { encodeBase64 } from '../../src/formats/base64.js';
import { makeZip } from '../../src/formats/zip.js';
import type { KkmEmulator } from '../../scripts/kkm-emulator/server.js';

const once = (ws: Workspace) => runCli(['run', '--once', '--config', ws.configFile]);

/** An flr request with `uid` that Kassir has taken: one run writes it into the till folder, then Kassir removes it. */
async function flrTaken(t: TestContext, uid: string): Promise<{ emu: KkmEmulator; ws: Workspace }> {
  const emu = await emulatorFor(t);
  await emu.publish('request.flr', 'REQ\r\n', { uid });
  const ws = await kkmWorkspace(t, emu.url);
  assert.equal((await once(ws)).code, 0);
  await fs.rm(join(ws.till, 'POS1.flr'));
  return { emu, ws };
}

/** Every SendData of one number carried the same body: a number is never reused for other bytes. */
function assertNoReuse(emu: KkmEmulator): void {
  const bodies = new Map<string, Set<string>>();
  for (const r of sendRequests(emu)) {
    const key = r.path.split('/').slice(-2).join('/');
    bodies.set(key, (bodies.get(key) ?? new Set()).add(r.bodySha256!));
  }
  for (const [key, set] of bodies) assert.equal(set.size, 1, `SendData ${key} was sent with ${set.size} different bodies`);
}

describe('kkmtransfer transport, end to end', () => {
  it('several spr packages are merged in package order into the till reference file', async (t) => {
    const emu = await emulatorFor(t);
    // Published in name order: 1..3 (the emulator numbers new outbox files by name).
    for (const [name, line] of [
      ['01-groups.spr', '10;;Группа;;0;'],
      ['02-goods.spr', '11;;Хлеб;;1;'],
      ['03-goods.spr', '12;;Молоко;;1;'],
    ] as const) {
      await emu.publish(name, iconv.encode(`##@@&&\r\n#\r\n${line}\r\n`, 'cp1251'));
    }
    const ws = await kkmWorkspace(t, emu.url);
    const r = await once(ws);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const spr = iconv.decode(await fs.readFile(join(ws.till, 'POS1.spr')), 'cp1251');
    assert.equal(spr, '##@@&&\r\n#\r\n10;;Группа;;0;\r\n11;;Хлеб;;1;\r\n12;;Молоко;;1;\r\n');
    assert.deepEqual(
      emu.requests.map((q) => `${q.method} ${q.path}`),
      [1, 2, 3, 4].map((n) => `GET /hs/KKMTransfer/1/${n}`),
      'packages 1..3 fetched once each, then 4 answered "nothing to send"',
    );
    // The counter is persisted: the next run asks for package 4 only, and a new package arrives after Kassir took the file.
    await fs.writeFile(join(ws.till, 'POS1.spr'), spr.replace('\r\n#\r\n', '\r\n@\r\n'));
    await emu.publish('04-prices.spr', '##@@&&\r\n#\r\n13;;x;;1;\r\n');
    assert.equal((await once(ws)).code, 0);
    assert.equal(await fs.readFile(join(ws.till, 'POS1.spr'), 'latin1'), '##@@&&\r\n#\r\n13;;x;;1;\r\n');
    assert.deepEqual(emu.requests.slice(4).map((q) => q.path), ['/hs/KKMTransfer/1/4', '/hs/KKMTransfer/1/5']);
  });

  it("the protocol's own sample answer (the wiki's) is read; a package shaped like it reaches the till as UTF-8 with BOM and $$$RPL", async (t) => {
    // The wiki's sample holds only `##@@&&$$$RPL` / `#`: it is delivered (a command is never assumed to do
    // nothing), merged with the next package, which has exactly the sample's shape (JSON with string errcode,
    // base64 wrapped with \r\n, a ZIP with v8_9969_15.txt in UTF-8 with BOM) plus one goods line.
    const withLine = Buffer.concat([SEED_SAMPLE_CONTENT, Buffer.from('1;;Товар;;1;\r\n', 'utf8')]);
    const zip = await makeZip([{ name: SEED_SAMPLE_ENTRY, data: withLine }]);
    const wrapped = encodeBase64(zip).replace(/(.{64})/g, '$1\r\n');
    const shaped = JSON.stringify({ data: wrapped, errcode: '0', errmessage: '', packagetype: 'spr' });
    const server = await startPlainServer(t, (req, res) =>
      sendJson(res, req.url.endsWith('/1/1') ? SEED_SAMPLE_RESPONSE : req.url.endsWith('/1/2') ? shaped : SEED_NOTHING_RESPONSE),
    );
    const ws = await kkmWorkspace(t, `${server.url}/trade/hs/KKMTransfer`);
    const r = await once(ws);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const lines = await logLines(ws);
    const staged = lines.filter((l) => l.event === 'pull.staged' && l.package !== undefined).map((l) => [l.package, l.bytes]);
    assert.deepEqual(staged, [
      [1, SEED_SAMPLE_CONTENT.length],
      [2, withLine.length],
    ]);
    const delivered = lines.filter((l) => l.event === 'till.reference.delivered');
    assert.deepEqual(delivered.map((l) => l.parts), [['package 1', 'package 2']], 'the sample reached the till, merged with the next package');
    assert.ok(!lines.some((l) => l.event === 'quarantine.added'), 'nothing quarantined');
    const got = await fs.readFile(join(ws.till, 'POS1.spr'));
    assert.deepEqual([...got.subarray(0, 3)], [0xef, 0xbb, 0xbf]);
    // The merge writes line-1 commands as a `$$$` command line (both forms are valid, docs/FORMATS.md "Merging parts").
    assert.equal(got.subarray(3).toString('utf8'), '##@@&&\r\n#\r\n$$$RPL\r\n1;;Товар;;1;\r\n');
  });

  it('an flr request reaches the till; the report Kassir writes after taking it goes with the UID, the next one without', async (t) => {
    const emu = await emulatorFor(t);
    const uid = '6f1c2a4e-0b7d-4d57-9e0e-2f4a8c1d9b33';
    await emu.publish('request.flr', '01.02.2026;02.02.2026\r\n', { uid });
    const ws = await kkmWorkspace(t, emu.url);
    const agent = await startAgent(ws.configFile);
    t.after(() => agent.child.kill('SIGKILL'));
    const request = join(ws.till, 'POS1.flr');
    await waitFor(async () => (await fs.readFile(request, 'utf8').catch(() => '')) === '01.02.2026;02.02.2026\r\n', 'the request file in the till folder');

    // Kassir takes the request and, once the agent has seen that, writes its answer (see the todo test below for the race).
    await fs.rm(request);
    await waitFor(() => agent.output().includes('till.request.taken'), 'the agent noticed the request was taken');
    const answer = reportFile([{ receipt: 1 }, { receipt: 2, lines: 1 }], 1);
    await dropReport(ws.till, 'answer.rep', answer.data, { mtime: 'now' });
    await waitFor(async () => (await storedPackages(emu)).length === 1, 'the answer stored by the back office');
    const ordinary = reportFile([{ receipt: 3 }], answer.nextTx);
    await dropReport(ws.till, 'later.rep', ordinary.data, { mtime: 'now' });
    await waitFor(async () => (await storedPackages(emu)).length === 2, 'the ordinary report stored');

    const stored = await storedPackages(emu);
    assert.deepEqual(stored.map((p) => [p.number, p.uid, p.txs]), [
      [1, uid, answer.txs],
      [2, undefined, ordinary.txs],
    ]);
    assert.deepEqual(sendRequests(emu).map((r) => r.path), [`/hs/KKMTransfer/SendData/1/1/${uid}`, '/hs/KKMTransfer/SendData/1/2']);
    assert.equal(await stopDaemon(agent, ws.configFile), 0);
  });

  it(
    'an flr answer written right after the request is taken (before the agent looked) still carries the UID',
    async (t) => {
      const { emu, ws } = await flrTaken(t, 'U-1');
      const a = reportFile([{ receipt: 1 }], 1);
      await dropReport(ws.till, 'a.rep', a.data, { mtime: 'now' });
      assert.equal((await once(ws)).code, 0);
      const b = reportFile([{ receipt: 2 }], a.nextTx);
      await dropReport(ws.till, 'b.rep', b.data, { mtime: 'now' });
      assert.equal((await once(ws)).code, 0);
      assert.deepEqual((await storedPackages(emu)).map((p) => [p.number, p.uid, p.txs]), [
        [1, 'U-1', a.txs],
        [2, undefined, b.txs],
      ]);
    },
  );

  it('a report written before the request arrived is not its answer, even when it is taken afterwards', async (t) => {
    const { emu, ws } = await flrTaken(t, 'U-2');
    const before = reportFile([{ receipt: 1 }], 1);
    await dropReport(ws.till, 'before.rep', before.data); // mtime a minute ago: written before the request
    const answer = reportFile([{ receipt: 2 }], before.nextTx);
    await dropReport(ws.till, 'answer.rep', answer.data, { mtime: 'now' });
    assert.equal((await once(ws)).code, 0);
    assert.deepEqual((await storedPackages(emu)).map((p) => [p.number, p.uid, p.txs]), [
      [1, undefined, before.txs],
      [2, 'U-2', answer.txs],
    ]);
  });

  it('an unreadable package is quarantined with its reason, the counter moves past it and the next package is delivered', async (t) => {
    const good = encodeBase64(Buffer.from('##@@&&\r\n#\r\n2;;после;;1;\r\n', 'utf8'));
    const server = await startPlainServer(t, (req, res) =>
      sendJson(
        res,
        req.url.endsWith('/1/1')
          ? { data: 'UEsD*broken*', errcode: '0', packagetype: 'spr' }
          : req.url.endsWith('/1/2')
            ? { data: good, errcode: '0', packagetype: 'spr' }
            : SEED_NOTHING_RESPONSE,
      ),
    );
    const ws = await kkmWorkspace(t, server.url);
    const r = await once(ws);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.equal(await fs.readFile(join(ws.till, 'POS1.spr'), 'utf8'), '##@@&&\r\n#\r\n2;;после;;1;\r\n');
    const quarantine = join(ws.data, 'quarantine');
    const names = (await fs.readdir(quarantine)).sort();
    assert.equal(names.length, 2, names.join(', '));
    const kept = names.find((n) => !n.endsWith('.why.txt'))!;
    assert.match(kept, /package 1\.base64$/);
    assert.equal(await fs.readFile(join(quarantine, kept), 'utf8'), 'UEsD*broken*');
    assert.match(await fs.readFile(join(quarantine, `${kept}.why.txt`), 'utf8'), /ReceiveData 1\/1: package 1 line 1: '\*' \(U\+002A\) is not a base64 character/);
    const logged = (await logLines(ws)).find((l) => l.event === 'pull.quarantined');
    assert.equal(logged?.level, 'error');
    // The counter was persisted past both: the next run asks for package 3 only.
    const asked = server.requests.length;
    assert.equal((await once(ws)).code, 0);
    assert.deepEqual(server.requests.slice(asked).map((q) => q.url), ['/1/3']);
  });

  it('errcode 3 (nothing to send) with nothing else pending: run --once exits 0 after one request', async (t) => {
    const emu = await emulatorFor(t);
    const ws = await kkmWorkspace(t, emu.url);
    const r = await once(ws);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.deepEqual(emu.requests.map((q) => [q.method, q.path, q.result]), [['GET', '/hs/KKMTransfer/1/1', 200]]);
    assert.deepEqual((await fs.readdir(ws.till)).filter((n) => !n.startsWith('.')), [], 'nothing delivered to the till');
    assert.deepEqual((await logLines(ws)).filter((l) => l.level === 'error' || l.level === 'warn'), []);
  });

  it('an HTML error page (HTTP 500): run --once exits 3 naming the status and the page; nothing is lost once it is cleared', async (t) => {
    const emu = await emulatorFor(t);
    await emu.publish('goods.spr', '##@@&&\r\n#\r\n1;;a;;1;\r\n');
    const ws = await kkmWorkspace(t, emu.url);
    const rep = reportFile([{ receipt: 1 }, { receipt: 2 }], 1);
    await dropReport(ws.till, 'a.rep', rep.data);
    emu.setFault({ kind: 'http500' });
    const failed = await once(ws);
    assert.equal(failed.code, 3, failed.stdout + failed.stderr);
    const lines = await logLines(ws);
    const push = lines.find((l) => l.event === 'push.failed');
    assert.ok(push, 'push.failed logged');
    assert.equal(push.errorKind, 'server');
    assert.match(String(push.error), /^SendData 1\/1: HTTP 500: IIS 10\.0 Detailed Error - 500\.0 - Internal Server Error/);
    assert.match(String(lines.find((l) => l.event === 'pull.failed')?.error), /^ReceiveData 1\/1: HTTP 500: IIS 10\.0 Detailed Error/);
    assert.equal((await storedPackages(emu)).length, 0);
    await assert.rejects(fs.stat(join(ws.till, 'POS1.spr')), 'nothing delivered while failing');

    emu.clearFaults();
    const ok = await once(ws);
    assert.equal(ok.code, 0, ok.stdout + ok.stderr);
    const stored = await storedPackages(emu);
    assert.deepEqual(stored.map((p) => p.number), [1]);
    assert.deepEqual(stored[0]!.txs, rep.txs);
    assert.equal(await fs.readFile(join(ws.till, 'POS1.spr'), 'latin1'), '##@@&&\r\n#\r\n1;;a;;1;\r\n');
    assertNoReuse(emu);
  });

  it('wrong credentials (401): a clear auth error, and the daemon retries at the cap, not in a storm', async (t) => {
    const password = 'секрет-Pa55';
    const emu = await emulatorFor(t, { user: 'kassa', password });
    const ws = await kkmWorkspace(t, emu.url, {
      transport: { user: 'kassa', password: 'wrong-one' },
      // Pull once at start only; retries: 20 ms first, 1.5 s cap, no jitter. A storm would be 20, 40, 80... ms apart.
      config: { schedule: { pull: '0 0 1 1 *', retry: { initialMs: 20, maxMs: 1_500, jitter: 0 } } },
    });
    await dropReport(ws.till, 'a.rep', reportFile([{ receipt: 1 }], 1).data);
    const r = await once(ws);
    assert.equal(r.code, 3);
    const auth = (await logLines(ws)).find((l) => l.event === 'push.failed');
    assert.equal(auth?.level, 'error');
    assert.equal(auth?.errorKind, 'auth');
    assert.match(String(auth?.error), /^SendData 1\/1: HTTP 401 \(check transport\.user 'kassa' and transport\.password\)/);
    assert.match(String(auth?.note), /needs a person/);

    const before = emu.requests.length;
    const agent = await startAgent(ws.configFile);
    t.after(() => agent.child.kill('SIGKILL'));
    await waitFor(() => sendRequests(emu).length > 1, 'the daemon tried to send');
    const first = emu.requests.length;
    // Measuring a rate needs a window of real time: ~3 s.
    await new Promise((res) => setTimeout(res, 3_000));
    const inWindow = emu.requests.slice(first);
    assert.equal(await stopDaemon(agent, ws.configFile), 0);
    // SendData at the 1.5 s cap: at most 3 in 3 s (a storm from 20 ms would be about 8); plus at most the start-up ReceiveData.
    const sends = inWindow.filter((q) => q.kind === 'send').length;
    assert.ok(sends <= 3, `at most 3 SendData in 3 s with a 1.5 s cap, got ${sends}: ${inWindow.map((q) => q.path).join(', ')}`);
    assert.ok(inWindow.length - sends <= 1, `no ReceiveData beyond the start-up one: ${inWindow.map((q) => q.path).join(', ')}`);
    assert.ok(emu.requests.slice(before).every((q) => q.result === 401));
    assert.equal((await storedPackages(emu)).length, 0);
    const everything = (await fs.readFile(join(ws.logs, (await fs.readdir(ws.logs)).find((n) => n.endsWith('.log'))!), 'utf8')) + agent.output();
    assert.ok(!everything.includes('wrong-one'), 'the password never reaches the log');
  });

  it('the lost reply: processed but unanswered, the resend carries identical bytes, errcode 1 moves on; reports closed meanwhile go next', async (t) => {
    const emu = await emulatorFor(t);
    const ws = await kkmWorkspace(t, emu.url);
    // The first SendData is processed and its reply lost; the resends then fail (500) until Kassir's next
    // receipts are collected, so those are collected while package 1 is in doubt.
    emu.setFault({ kind: 'lost-reply', on: 'send', times: 1 });
    emu.setFault({ kind: 'http500', on: 'send' });
    const agent = await startAgent(ws.configFile);
    t.after(() => agent.child.kill('SIGKILL'));
    const a = reportFile([{ receipt: 1 }, { receipt: 2 }], 1);
    await dropReport(ws.till, 'a.rep', a.data);
    await waitFor(() => sendRequests(emu).some((q) => q.fault === 'lost-reply'), 'package 1 processed, its reply lost');
    const b = reportFile([{ receipt: 3 }, { receipt: 4, lines: 1 }], a.nextTx);
    await dropReport(ws.till, 'b.rep', b.data);
    await waitFor(() => /till\.report\.collected.*b\.rep/.test(agent.output()), 'b.rep collected');
    emu.clearFaults();
    await waitFor(async () => (await storedPackages(emu)).length === 2, 'both packages stored');
    assert.equal(await stopDaemon(agent, ws.configFile), 0);

    const stored = await storedPackages(emu);
    assert.deepEqual(stored.map((p) => p.number), oneToN(stored), 'numbers 1..n');
    assert.deepEqual(stored.map((p) => p.txs), [a.txs, b.txs], 'package 1 as first sent, the later receipts in package 2');
    const one = sendRequests(emu).filter((q) => q.path === '/hs/KKMTransfer/SendData/1/1');
    assert.equal(one[0]!.fault, 'lost-reply');
    assert.equal(one[0]!.errcode, 0, 'the first attempt was processed');
    assert.equal(one.at(-1)!.errcode, 1, 'the resend was answered "already processed"');
    assert.ok(one.length >= 2);
    assertNoReuse(emu);
    assert.deepEqual(await emu.storedFiles(1), ['1.rep', '2.rep'], 'nothing stored twice');
    assert.match(agent.output(), /push\.delivered.*"?outcome"?[=:]"?duplicate/);
  });

  it('many reports: packages 1..n without gaps or reuse, at most maxTransactions, no receipt split, every transaction once in order', async (t) => {
    const emu = await emulatorFor(t);
    const ws = await kkmWorkspace(t, emu.url);
    const all = await dropReportFiles(ws.till, 4, 6);
    emu.setFault({ kind: 'drop', on: 'send', times: 2 });
    let r = await once(ws);
    for (let i = 0; r.code === 3 && i < 5; i++) r = await once(ws); // the dropped connections are retried by the next run
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const stored = await storedPackages(emu);
    assert.ok(stored.length >= 8, `expected many packages, got ${stored.length}`);
    assert.deepEqual(stored.map((p) => p.number), oneToN(stored));
    assert.deepEqual(stored.flatMap((p) => p.txs), all);
    const owner = new Map<string, number>();
    for (const p of stored) {
      assert.ok(p.txs.length <= 10, `package ${p.number} holds ${p.txs.length} transactions`);
      assert.ok(p.text.startsWith('#\r\n'), `package ${p.number} starts with a block header`);
      for (const rc of p.receipts) {
        assert.ok(!owner.has(rc), `receipt ${rc} in packages ${owner.get(rc)} and ${p.number}`);
        owner.set(rc, p.number);
      }
    }
    assert.deepEqual((await emu.received(1)).map((p) => p.entries), stored.map((p) => [`POS1_${p.number}.rep`]), 'zipped with one entry each');
    assertNoReuse(emu);
  });
});
