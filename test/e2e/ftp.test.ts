/**
 * End to end over FTP: the agent runs as a child process (`run --once`, as a
 * shop's scheduled task would) against a real ProFTPD on a loopback port.
 * The server's home folder is a local folder, so the test plays the back
 * office by reading and writing files there directly.
 *
 * After every test: the FTP password appears nowhere in the agent's output
 * or its log folder.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs/promises';
import { join } from 'node:path';
import { after, afterEach, before, describe, it } from 'node:test';
import iconv from 'iconv-lite';
import { parse, stringify } from 'yaml';
import { dropReport, makeWorkspace, reportFile, runCli, sharePackages, transactionNumbers, type RunResult, type Workspace } from '../helpers/kassir.js';
import { startProftpd, type ProftpdServer } from '../helpers/proftpd.js';
import { makeServerCert, makeTestCa, type TestCa } from '../helpers/tls-certs.js';
import { makeTempDir, removeDir } from '../helpers/temp-dir.js';
import { ftpTransportConfig } from '../helpers/ftp-config.js';

/** Everything the agent wrote: the outputs of its runs and every file in its log folder. */
async function agentText(ws: Workspace, runs: RunResult[]): Promise<string> {
  const logs = await fs.readdir(ws.logs).catch(() => [] as string[]);
  const files = await Promise.all(logs.map((n) => fs.readFile(join(ws.logs, n), 'utf8')));
  return [...runs.flatMap((r) => [r.stdout, r.stderr]), ...files].join('\n');
}

/** Rewrites the workspace's config file through `edit` (e.g. to fix a CA path, as an operator would). */
async function editConfig(ws: Workspace, edit: (c: Record<string, any>) => void): Promise<void> {
  const c = parse(await fs.readFile(ws.configFile, 'utf8')) as Record<string, any>;
  edit(c);
  await fs.writeFile(ws.configFile, stringify(c));
}

const once = (ws: Workspace) => runCli(['run', '--once', '--config', ws.configFile]);

describe('FTP transport, end to end against ProFTPD', { timeout: 180_000 }, () => {
  let server: ProftpdServer;
  let files: string;
  let ws: Workspace | undefined;
  let runs: RunResult[] = [];
  const run = async (w: Workspace) => {
    const r = await once(w);
    runs.push(r);
    return r;
  };

  before(async () => {
    server = await startProftpd();
  });
  after(() => server?.stop());
  afterEach(async () => {
    if (ws) {
      const text = await agentText(ws, runs);
      assert.ok(text.length > 0);
      assert.ok(!text.includes(server.password), 'the FTP password never appears in the output or the log folder');
      await ws.cleanup();
    }
    ws = undefined;
    runs = [];
    await removeDir(files);
  });

  /** A fresh `Files` folder on the server and a workspace pointing at it. */
  async function setup(over: Record<string, unknown> = {}): Promise<Workspace> {
    files = join(server.root, 'Files');
    await removeDir(files);
    await fs.mkdir(files);
    ws = await makeWorkspace({}, ftpTransportConfig(server, over));
    return ws;
  }

  it('merges parts $1..$12 in numeric order into the till reference file and deletes them on the server', async () => {
    const w = await setup();
    for (let n = 1; n <= 12; n++) {
      await fs.writeFile(join(files, `POS1.spr.$${n}`), iconv.encode(`##@@&&\r\n#\r\n${n};;Товар ${n};;1;\r\n`, 'cp1251'));
    }
    const r = await run(w);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const lines = iconv.decode(await fs.readFile(join(w.till, 'POS1.spr')), 'cp1251').split('\r\n');
    assert.deepEqual(lines.slice(0, 2), ['##@@&&', '#']);
    assert.deepEqual(
      lines.slice(2).filter((l) => l !== '').map((l) => Number(l.split(';')[0])),
      [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12],
      '$10..$12 after $9',
    );
    assert.equal(lines[2], '1;;Товар 1;;1;', 'bytes kept (cp1251)');
    assert.deepEqual(await fs.readdir(files), [], 'the parts are deleted once staged');
  });

  it('uploads to the first free number above every existing one: $4 after $1..$3, $3 when only $2 is there', async () => {
    const w = await setup();
    for (let n = 1; n <= 3; n++) await fs.writeFile(join(files, `POS1.rep.$${n}`), `foreign ${n}\r\n`);
    const a = reportFile([{ receipt: 1 }, { receipt: 2 }], 1);
    await dropReport(w.till, 'a.rep', a.data);
    assert.equal((await run(w)).code, 0);
    const first = await sharePackages(files);
    assert.deepEqual(first.map((p) => p.n), [1, 2, 3, 4]);
    assert.deepEqual(transactionNumbers(first[3]!.data), a.txs);
    for (let n = 1; n <= 3; n++) assert.equal(first[n - 1]!.data, `foreign ${n}\r\n`, `$${n} untouched`);

    // The back office took $1, $3 and $4 but not $2 (yet).
    for (const n of [1, 3, 4]) await fs.rm(join(files, `POS1.rep.$${n}`));
    const b = reportFile([{ receipt: 3 }], a.nextTx);
    await dropReport(w.till, 'b.rep', b.data);
    assert.equal((await run(w)).code, 0);
    const second = await sharePackages(files);
    assert.deepEqual(second.map((p) => p.n), [2, 3], 'above $2, never into the free $1');
    assert.deepEqual(transactionNumbers(second[1]!.data), b.txs);
    assert.deepEqual((await fs.readdir(files)).filter((n) => n.endsWith('.tmp')), [], 'no temporary file left');
  });

  it('sequenced: false takes Files/POS1.spr and writes Files/POS1.rep only when the back office has taken the previous one', async () => {
    const w = await setup({ sequenced: false });
    await fs.writeFile(join(files, 'POS1.spr'), '##@@&&\r\n#\r\nONE;;single;;1;\r\n');
    await fs.writeFile(join(files, 'POS1.spr.$1'), '##@@&&\r\n#\r\nNOT;;a part in this mode;;1;\r\n');
    const a = reportFile([{ receipt: 1 }], 1);
    await dropReport(w.till, 'a.rep', a.data);
    assert.equal((await run(w)).code, 0);
    assert.equal(await fs.readFile(join(w.till, 'POS1.spr'), 'latin1'), '##@@&&\r\n#\r\nONE;;single;;1;\r\n');
    assert.deepEqual((await fs.readdir(files)).sort(), ['POS1.rep', 'POS1.spr.$1'], 'POS1.spr taken, the suffixed name ignored');
    assert.deepEqual(transactionNumbers(await fs.readFile(join(files, 'POS1.rep'), 'latin1')), a.txs);

    const b = reportFile([{ receipt: 2 }], a.nextTx);
    await dropReport(w.till, 'b.rep', b.data);
    const waiting = await run(w);
    assert.equal(waiting.code, 3, 'still queued while the back office has not taken POS1.rep');
    assert.deepEqual(transactionNumbers(await fs.readFile(join(files, 'POS1.rep'), 'latin1')), a.txs, 'not overwritten');
    const status = await runCli(['status', '--config', w.configFile]);
    runs.push(status);
    assert.match(status.stdout, /queued packages: 1/);
    assert.match(status.stdout, /not been taken by the back office/);

    await fs.rm(join(files, 'POS1.rep')); // the back office takes it
    assert.equal((await run(w)).code, 0);
    assert.deepEqual(transactionNumbers(await fs.readFile(join(files, 'POS1.rep'), 'latin1')), b.txs);
    assert.deepEqual((await fs.readdir(files)).sort(), ['POS1.rep', 'POS1.spr.$1']);
  });
});

describe('FTP with Cyrillic names in cp1251 (ProFTPD UseEncoding UTF-8 CP1251)', { timeout: 120_000 }, () => {
  let server: ProftpdServer;
  let ws: Workspace | undefined;
  before(async () => {
    server = await startProftpd({ encoding: 'cp1251' });
  });
  after(async () => {
    await ws?.cleanup();
    await server?.stop();
  });

  it('pulls Обмен/Касса1.spr.$n and pushes Обмен/Касса1.rep.$n; the server stores the names it converted from cp1251', async () => {
    // The server converts the client's cp1251 names to UTF-8 on its disk: a
    // client sending UTF-8 names would not find these files nor write these names.
    const folder = join(server.root, 'Обмен');
    await fs.mkdir(folder);
    await fs.writeFile(join(folder, 'Касса1.spr.$2'), iconv.encode('##@@&&\r\n#\r\n2;;Хлеб;;1;\r\n', 'cp1251'));
    await fs.writeFile(join(folder, 'Касса1.spr.$1'), iconv.encode('##@@&&\r\n#\r\n1;;Молоко;;1;\r\n', 'cp1251'));
    await fs.writeFile(join(folder, 'Касса1.rep.$1'), 'foreign\r\n');
    ws = await makeWorkspace({}, ftpTransportConfig(server, { referenceName: 'Обмен/Касса1.spr', reportName: 'Обмен/Касса1.rep', encoding: 'cp1251' }));
    const a = reportFile([{ receipt: 1 }, { receipt: 2 }], 1);
    await dropReport(ws.till, 'a.rep', a.data);
    const r = await once(ws);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.equal(iconv.decode(await fs.readFile(join(ws.till, 'POS1.spr')), 'cp1251'), '##@@&&\r\n#\r\n1;;Молоко;;1;\r\n2;;Хлеб;;1;\r\n');
    assert.deepEqual((await fs.readdir(folder)).sort(), ['Касса1.rep.$1', 'Касса1.rep.$2']);
    assert.deepEqual(transactionNumbers(await fs.readFile(join(folder, 'Касса1.rep.$2'), 'latin1')), a.txs);
    assert.match(r.stdout, /Обмен\/Касса1\.rep\.\$2/, 'the log names the remote file readably');
  });
});

describe('FTPS (explicit, AUTH TLS) with a self-signed CA', { timeout: 120_000 }, () => {
  let scratch: string;
  let ca: TestCa;
  let otherCa: TestCa;
  let server: ProftpdServer;
  let ws: Workspace | undefined;
  before(async () => {
    scratch = await makeTempDir('kassir-e2e-ftps');
    ca = await makeTestCa(scratch, 'ca');
    otherCa = await makeTestCa(scratch, 'other-ca');
    server = await startProftpd({ tls: await makeServerCert(scratch, ca) });
    await fs.mkdir(join(server.root, 'Files'));
  });
  after(async () => {
    await ws?.cleanup();
    await server?.stop();
    await removeDir(scratch);
  });

  it('the wrong CA: run --once exits 3 with a tls error and keeps the package; with tls.caFile set to the right CA it goes out exactly once', async () => {
    const files = join(server.root, 'Files');
    await fs.writeFile(join(files, 'POS1.spr.$1'), '##@@&&\r\n#\r\nTLS;;over tls;;1;\r\n');
    ws = await makeWorkspace({}, ftpTransportConfig(server, { secure: true, tls: { caFile: otherCa.certFile } }));
    const a = reportFile([{ receipt: 1 }, { receipt: 2 }], 1);
    await dropReport(ws.till, 'a.rep', a.data);
    const runs: RunResult[] = [];

    const refused = await once(ws);
    runs.push(refused);
    assert.equal(refused.code, 3, refused.stdout + refused.stderr);
    assert.match(refused.stdout, /push\.failed.*errorKind=tls/);
    assert.match(refused.stdout, /pull\.failed.*errorKind=tls/);
    assert.deepEqual((await fs.readdir(files)).sort(), ['POS1.spr.$1'], 'nothing reached the server, nothing was taken from it');
    const status = await runCli(['status', '--config', ws.configFile]);
    runs.push(status);
    assert.match(status.stdout, /queued packages: 1/, 'the package is kept');

    await editConfig(ws, (c) => {
      c.transport.tls.caFile = ca.certFile;
    });
    const ok = await once(ws);
    runs.push(ok);
    assert.equal(ok.code, 0, ok.stdout + ok.stderr);
    const pkgs = await sharePackages(files);
    assert.deepEqual(pkgs.map((p) => p.n), [1]);
    assert.deepEqual(transactionNumbers(pkgs[0]!.data), a.txs);
    assert.match(await fs.readFile(join(ws.till, 'POS1.spr'), 'latin1'), /over tls/);
    assert.deepEqual((await fs.readdir(files)).sort(), ['POS1.rep.$1']);

    const text = await agentText(ws, runs);
    assert.ok(!text.includes(server.password), 'the FTP password never appears in the output or the log folder');
  });
});
