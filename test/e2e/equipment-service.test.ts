/**
 * End to end: the agent as a child process (`run --once`, `check-config
 * --online`) with `transport.type: equipment-service` against the 1C
 * EquipmentService emulator on 127.0.0.1, as a shop runs it against a stock
 * 1C:Retail / УТ 11 publication: the price list reaches Kassir's reference
 * file, the download traps are recovered, bad input is refused whole.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { makeWorkspace, ROOT, runCli, type Workspace } from '../helpers/kassir.js';
import { makeTempDir, removeDir } from '../helpers/temp-dir.js';
import { logLines } from '../helpers/kkm-agent.js';
import { CLI_EMULATOR_SKIP, ES_DEVICE, ES_PASSWORD, ES_USER, esEmulatorCli, esEmulatorFor, LONG_NAME, sampleCatalog } from '../helpers/es-emulator.js';
import type { EsEmulator } from '../../scripts/es-emulator/server.js';

const TAX_GROUPS = { '20': 1, '10': 2, '0': 3, none: 4 };
const env = { ES_PASSWORD };

async function esWorkspace(t: TestContext, url: string, transport: Record<string, unknown> = {}): Promise<Workspace> {
  const ws = await makeWorkspace(
    {},
    { type: 'equipment-service', url, user: ES_USER, password: '${ES_PASSWORD}', deviceId: ES_DEVICE, taxGroups: TAX_GROUPS, timeoutMs: 5_000, formPollMs: 10, formWaitMs: 3_000, ...transport },
  );
  t.after(() => ws.cleanup());
  return ws;
}

const once = (ws: Workspace, extraEnv: NodeJS.ProcessEnv = {}) => runCli(['run', '--once', '--config', ws.configFile], { env: { ...env, ...extraEnv } });

async function referenceFile(ws: Workspace): Promise<string> {
  const b = await fs.readFile(join(ws.till, 'POS1.spr'));
  assert.deepEqual([...b.subarray(0, 3)], [0xef, 0xbb, 0xbf], 'UTF-8 with BOM');
  return b.subarray(3).toString('utf8');
}

/** Kassir loads the file: line 2 becomes `@`. */
async function kassirLoads(ws: Workspace): Promise<void> {
  const text = await fs.readFile(join(ws.till, 'POS1.spr'), 'utf8');
  await fs.writeFile(join(ws.till, 'POS1.spr'), text.replace('\r\n#\r\n', '\r\n@\r\n'));
}

function dataLines(spr: string): string[] {
  return spr.split('\r\n').slice(2).filter((l) => l !== '' && !l.startsWith('$$$'));
}

function packageCalls(emu: EsEmulator): string[] {
  return emu.requests.filter((r) => r.op === 'GetPriceListPackage').map((r) => `${r.params.Restart === 'true' ? 'R ' : ''}${r.answer ?? r.result}${r.result === 'dropped' ? ' (lost)' : ''}`);
}

const FULL_LINES = [
  '900000000;;Продукты;Продукты;;;;;;;;;;;;;0',
  '900000001;;Молочные, сыры;Молочные, сыры;;;;;;;;;;;;900000000;0',
  '100231;4600000000011;Молоко 3,2%, 1 л #цельное;Молоко 3,2%, 1 л #цельное;89.90;12.000;;0;;99;1;MLK-1;;;;900000001;1',
  '#100231;4600000000028;Молоко 3,2%, 1 л #цельное;Молоко 3,2%, 1 л #цельное;89.90;;;;;1',
  '#100231;4600000000035;Молоко 3,2%, 1 л #цельное;Молоко 3,2%, 1 л #цельное;89.90;;;;;1',
  '1;;Сыр Российский весовой;Сыр Российский весовой;899.50;;;1;;99;2;;;;;900000001;1',
  '100301;2000000000015;Футболка (L);Футболка (L);500.00;;;0;;99;1;;;;;;1',
  '100303;2000000000022;Футболка (XL) (уп 3 шт);Футболка (XL) (уп 3 шт);1500.00;;;0;;99;1;;;;;;1',
  '100401;4600000000042;Вода (бут);Вода (бут);40.00;;;0;;99;3;;;;;;1',
  '100402;4600000000059;Вода (упаковка 6 бут);Вода (упаковка 6 бут);220.00;;;0;;99;3;;;;;;1',
  `100500;4600000000066;${LONG_NAME};${LONG_NAME};350.00;;;0;;99;1;;;;;900000000;1`,
  '800000000;;Доставка;Доставка;300.00;;;0;;99;4;;;;;;1',
];

/**
 * The run was killed at its fail point (src/util/failpoints.ts kills its own process): SIGKILL on Linux; on
 * Windows, where a kill is TerminateProcess and no signal is reported, the fail point's own line says so.
 */
function killedAtFailpoint(r: { signal: NodeJS.Signals | null; stderr: string }): boolean {
  return r.signal === 'SIGKILL' || (process.platform === 'win32' && /^failpoint \S+: SIGKILL$/m.test(r.stderr));
}

describe('equipment-service transport, end to end', () => {
  it('a full price list in several packages reaches Kassir as one reference file; an incremental update follows', async (t) => {
    const catalog = sampleCatalog();
    const emu = await esEmulatorFor(t, { devices: { [ES_DEVICE]: { version: 3003, perPackage: 3 } }, catalog });
    const ws = await esWorkspace(t, emu.url, { soapVersion: '1.2' });
    const r = await once(ws);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const spr = await referenceFile(ws);
    assert.deepEqual(spr.split('\r\n').slice(0, 4), ['##@@&&', '#', '$$$CLR', '$$$RPL'], 'a full export clears the goods first');
    assert.deepEqual(dataLines(spr), FULL_LINES);
    assert.equal(LONG_NAME.length, 160);
    assert.deepEqual(packageCalls(emu), ['1/3', '2/3', '3/3']);
    assert.deepEqual(emu.requests.map((q) => q.op).slice(0, 4), ['Connect', 'GetVersion', 'GetSettings', 'PrepareFullPriceList']);
    assert.ok(emu.requests.every((q) => q.soap === '1.2'));
    const staged = (await logLines(ws)).find((l) => l.event === 'es.transfer.staged');
    assert.deepEqual([staged?.full, staged?.packages, staged?.goods, staged?.groups, staged?.barcodes], [true, 3, 8, 2, 8]);
    // The code map keeps the 1C strings for the way back: the PLU's zeros, the letters.
    const codes = JSON.parse(await fs.readFile(join(ws.data, 'equipment-service', 'codes.json'), 'utf8')) as { goods: Record<string, number>; groups: Record<string, number> };
    assert.equal(codes.goods['00001'], 1);
    assert.equal(codes.goods['УСЛ-7'], 800000000);
    assert.deepEqual(codes.groups, { 'Г-01': 900000000, 'Г-02': 900000001 });

    // Kassir loads it; 1C changes a price and adds a good: the next run delivers those only, without a clear.
    await kassirLoads(ws);
    catalog.goods[0]!.attrs.Price = '94.90';
    catalog.goods.push({ attrs: { UUID: 'b0000000-0000-0000-0000-000000000009', Code: 'КЕФ-1', Name: 'Кефир', TaxRate: '10', Price: '75', GroupCode: 'Г-02', CalculationSubject: 1 }, barcodes: ['4600000000073'] });
    emu.setCatalog(catalog);
    const r2 = await once(ws);
    assert.equal(r2.code, 0, r2.stdout + r2.stderr);
    const inc = await referenceFile(ws);
    assert.deepEqual(inc.split('\r\n').slice(0, 3), ['##@@&&', '#', '$$$RPL']);
    assert.deepEqual(dataLines(inc), [
      '100231;4600000000011;Молоко 3,2%, 1 л #цельное;Молоко 3,2%, 1 л #цельное;94.90;12.000;;0;;99;1;MLK-1;;;;900000001;1',
      '#100231;4600000000028;Молоко 3,2%, 1 л #цельное;Молоко 3,2%, 1 л #цельное;94.90;;;;;1',
      '#100231;4600000000035;Молоко 3,2%, 1 л #цельное;Молоко 3,2%, 1 л #цельное;94.90;;;;;1',
      '800000001;4600000000073;Кефир;Кефир;75.00;;;0;;99;2;;;;;900000001;1',
    ]);
    assert.equal(emu.requests.filter((q) => q.op === 'PreparePriceList').length, 1, 'the second transfer is incremental');
    // Nothing changed: an empty incremental transfer delivers nothing.
    await kassirLoads(ws);
    const before = await fs.readFile(join(ws.till, 'POS1.spr'));
    assert.equal((await once(ws)).code, 0);
    assert.deepEqual(await fs.readFile(join(ws.till, 'POS1.spr')), before);

    // The operator asks for a full export (a good withdrawn in 1C leaves the till only so).
    catalog.goods.splice(5, 1);
    emu.setCatalog(catalog);
    const asked = await runCli(['full-export', '--config', ws.configFile]);
    assert.equal(asked.code, 0, asked.stderr);
    assert.match(asked.stdout, /POS 1: a full export of the price list is asked for/);
    assert.equal((await once(ws)).code, 0);
    const full = await referenceFile(ws);
    assert.deepEqual(full.split('\r\n').slice(0, 4), ['##@@&&', '#', '$$$CLR', '$$$RPL']);
    assert.equal(dataLines(full).some((l) => l.includes('Доставка')), false);
    assert.equal(dataLines(full).filter((l) => l.startsWith('800000001;')).length, 1, 'the good added later keeps its code');
    assert.equal(emu.requests.filter((q) => q.op === 'PrepareFullPriceList').length, 2);
    await assert.rejects(fs.access(join(ws.data, 'equipment-service', 'full-export.requested')), 'the request is taken once');
  });

  for (const [lost, calls] of [
    [1, ['1/3 (lost)', 'R 1/3', '2/3', '3/3']],
    [2, ['1/3', '2/3 (lost)', '3/3', 'R 1/3', '2/3', '3/3']],
  ] as const) {
    it(`a lost answer for package ${lost} is recovered with Restart: every good reaches Kassir once`, async (t) => {
      const emu = await esEmulatorFor(t, { devices: { [ES_DEVICE]: { version: 3001, perPackage: 3 } }, catalog: sampleCatalog() });
      emu.addTrap({ kind: 'lost-answer', op: 'GetPriceListPackage', skip: lost - 1 });
      const ws = await esWorkspace(t, emu.url);
      // The answer is lost on the way: this run cannot finish the transfer.
      const r1 = await once(ws);
      assert.notEqual(r1.code, 0);
      await assert.rejects(fs.access(join(ws.till, 'POS1.spr')));
      const r2 = await once(ws);
      assert.equal(r2.code, 0, r2.stdout + r2.stderr);
      assert.deepEqual(packageCalls(emu), calls);
      assert.deepEqual(dataLines(await referenceFile(ws)), FULL_LINES);
      // Package 3 instead of 2: the gap is seen and the transfer asked for again.
      if (lost === 2) assert.ok((await logLines(ws)).some((l) => l.event === 'es.package.gap' && l.expected === 2 && l.package === 3));
    });
  }

  it('an unformed transfer is polled until 1C has formed it', async (t) => {
    const emu = await esEmulatorFor(t, { devices: { [ES_DEVICE]: { version: 3002, perPackage: 0 } }, catalog: sampleCatalog(), traps: [{ kind: 'unformed', calls: 3 }] });
    const ws = await esWorkspace(t, emu.url);
    const r = await once(ws);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.deepEqual(packageCalls(emu), ['unformed', 'unformed', 'unformed', '1/1']);
    assert.deepEqual(dataLines(await referenceFile(ws)), FULL_LINES);
  });

  it('killed after two of four packages, the next run resumes the transfer where it stopped', async (t) => {
    const emu = await esEmulatorFor(t, { devices: { [ES_DEVICE]: { version: 3003, perPackage: 2 } }, catalog: sampleCatalog() });
    const ws = await esWorkspace(t, emu.url);
    // pull.after-stage: 1 = the TransferID kept, 2 and 3 = packages 1 and 2 kept.
    const r1 = await once(ws, { KASSIR_FAILPOINTS: 'pull.after-stage:3' });
    assert.ok(killedAtFailpoint(r1), r1.stderr);
    const r2 = await once(ws);
    assert.equal(r2.code, 0, r2.stdout + r2.stderr);
    assert.deepEqual(packageCalls(emu), ['1/4', '2/4', '3/4', '4/4'], 'no package asked for twice, no Restart');
    assert.equal(emu.requests.filter((q) => q.op.startsWith('Prepare')).length, 1);
    assert.deepEqual(dataLines(await referenceFile(ws)), FULL_LINES);
  });

  it('killed after every step of a download in turn: each package asked for once, the reference file delivered once, whole', async (t) => {
    const emu = await esEmulatorFor(t, { devices: { [ES_DEVICE]: { version: 3003, perPackage: 4 } }, catalog: sampleCatalog() });
    const ws = await esWorkspace(t, emu.url);
    // Each run is killed at its first durable step: the TransferID, package 1, package 2, the staged reference file.
    const kills: boolean[] = [];
    for (let i = 0; i < 4; i++) kills.push(killedAtFailpoint(await once(ws, { KASSIR_FAILPOINTS: 'pull.after-stage:1' })));
    assert.deepEqual(kills, Array(4).fill(true));
    await assert.rejects(fs.access(join(ws.till, 'POS1.spr')), 'the last kill came right after the file was staged, before delivery');
    const r = await once(ws);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    // Resumed with no package kept, the transfer is asked for from package 1 (it may have left 1C before the kill);
    // the clean run delivers the staged file and then finds nothing new (an empty incremental transfer, 1/1).
    assert.deepEqual(packageCalls(emu), ['R 1/2', '2/2', '1/1']);
    assert.deepEqual(emu.requests.filter((q) => q.op.startsWith('Prepare')).map((q) => q.op), ['PrepareFullPriceList', 'PreparePriceList']);
    assert.deepEqual(dataLines(await referenceFile(ws)), FULL_LINES);
    assert.equal((await logLines(ws)).filter((l) => l.event === 'till.reference.delivered').length, 1);
    // The next runs deliver nothing again (an empty incremental transfer).
    await kassirLoads(ws);
    assert.equal((await once(ws)).code, 0);
    assert.equal((await logLines(ws)).filter((l) => l.event === 'till.reference.delivered').length, 1);
  });

  it('killed at random moments during a download: the price list reaches Kassir whole and once', async (t) => {
    const emu = await esEmulatorFor(t, { devices: { [ES_DEVICE]: { version: 3003, perPackage: 2 } }, catalog: sampleCatalog() });
    const ws = await esWorkspace(t, emu.url);
    const seen: string[] = [];
    /** Kassir loads a waiting file: note it, mark it loaded. */
    const kassir = async () => {
      const text = await fs.readFile(join(ws.till, 'POS1.spr'), 'utf8').catch(() => undefined);
      if (text === undefined || !text.startsWith('\uFEFF##@@&&\r\n#\r\n')) return;
      seen.push(text.slice(1));
      await kassirLoads(ws);
    };
    let kills = 0;
    for (let round = 0; round < 12; round++) {
      const r = await once(ws, { KASSIR_FAILPOINTS: '*:random:0.08' });
      if (killedAtFailpoint(r)) kills++;
      await kassir();
    }
    let code: number | null = null;
    for (let i = 0; i < 5 && code !== 0; i++) {
      code = (await once(ws)).code;
      await kassir();
    }
    assert.equal(code, 0);
    assert.ok(kills > 0, 'the agent was killed at least once');
    assert.equal(seen.length, 1, `one reference file reached Kassir (${kills} kills)`);
    assert.deepEqual(dataLines(seen[0]!), FULL_LINES);
    const tids = new Set(emu.requests.filter((q) => q.op === 'GetPriceListPackage' && q.answer !== 'unformed' && q.answer !== '1/1').map((q) => q.params.TransferID));
    assert.equal(tids.size, 1, 'one full transfer, resumed or restarted, never a second one');
  });

  it('a failed preparation in 1C surfaces its text; the next run prepares anew', async (t) => {
    const emu = await esEmulatorFor(t, { catalog: sampleCatalog(), traps: [{ kind: 'prepare-error', text: 'Не заполнено обязательное поле "Штрихкод"' }] });
    const ws = await esWorkspace(t, emu.url);
    const r1 = await once(ws);
    assert.notEqual(r1.code, 0);
    assert.match(r1.stdout + r1.stderr, /pull\.failed .*1C could not prepare the price list for device \\?"KASSA-01\\?": Не заполнено обязательное поле \\?"Штрихкод/);
    await assert.rejects(fs.access(join(ws.till, 'POS1.spr')));
    assert.equal((await once(ws)).code, 0);
    assert.deepEqual(dataLines(await referenceFile(ws)), FULL_LINES);
  });

  it('bad input: an unknown tax rate (22%) or an invalid price list is refused whole, kept in quarantine, nothing delivered', async (t) => {
    const catalog = sampleCatalog();
    catalog.goods[4]!.attrs.TaxRate = '22';
    const emu = await esEmulatorFor(t, { devices: { [ES_DEVICE]: { version: 3003, perPackage: 3 } }, catalog });
    const ws = await esWorkspace(t, emu.url);
    const r1 = await once(ws);
    assert.notEqual(r1.code, 0);
    await assert.rejects(fs.access(join(ws.till, 'POS1.spr')), 'nothing half-delivered');
    const refused = (await logLines(ws)).find((l) => l.event === 'es.transfer.refused');
    assert.match(String(refused?.reason), /tax rate "22" \(e\.g\. "Шоколад.*line \d+\)\) is not in transport\.taxGroups/);
    const q = await fs.readdir(join(ws.data, 'quarantine'));
    assert.equal(q.filter((n) => n.endsWith('.why.txt')).length, 3, 'the three packages are kept');
    // The operator maps 22% and restarts: the next download is a full export and delivers everything.
    const ws2Config = (await fs.readFile(ws.configFile, 'utf8')).replace(/none: 4/, 'none: 4\n    "22": 5');
    await fs.writeFile(ws.configFile, ws2Config);
    const r2 = await once(ws);
    assert.equal(r2.code, 0, r2.stdout + r2.stderr);
    const lines = dataLines(await referenceFile(ws));
    assert.ok(lines.includes(`100500;4600000000066;${LONG_NAME};${LONG_NAME};350.00;;;0;;99;5;;;;;900000000;1`));
    assert.equal(emu.requests.filter((q) => q.op === 'PrepareFullPriceList').length, 2);

    // A good without its mandatory UUID: the price list does not validate.
    const bad = sampleCatalog();
    delete bad.goods[2]!.attrs.UUID;
    const emu2 = await esEmulatorFor(t, { catalog: bad });
    const ws2 = await esWorkspace(t, emu2.url);
    assert.notEqual((await once(ws2)).code, 0);
    await assert.rejects(fs.access(join(ws2.till, 'POS1.spr')));
    const why = (await logLines(ws2)).find((l) => l.event === 'es.transfer.refused');
    assert.match(String(why?.reason), /line \d+: Good "Футболка" has no UUID \(mandatory in the format\)/);
  });

  it('bad input: a barcode that does not fit Kassir in the last package refuses the whole price list; a code too long for Kassir is mapped', async (t) => {
    const catalog = sampleCatalog();
    // A 1C code longer than Kassir's codes: mapped, not refused. A barcode with ";" cannot be an SPR field: refused.
    catalog.goods.push({ attrs: { UUID: 'b0000000-0000-0000-0000-000000000010', Code: '12345678901234', Name: 'Сок', TaxRate: '10', Price: '120', CalculationSubject: 1 }, barcodes: ['4600000000080'] });
    catalog.goods.push({ attrs: { UUID: 'b0000000-0000-0000-0000-000000000011', Code: '100600', Name: 'Чай', TaxRate: '10', Price: '99', CalculationSubject: 1 }, barcodes: ['4600000000097', '46000;00103'] });
    const emu = await esEmulatorFor(t, { devices: { [ES_DEVICE]: { version: 3003, perPackage: 3 } }, catalog });
    const ws = await esWorkspace(t, emu.url);
    const r1 = await once(ws);
    assert.notEqual(r1.code, 0);
    assert.deepEqual(packageCalls(emu), ['1/4', '2/4', '3/4', '4/4'], 'the bad barcode is in the last package');
    await assert.rejects(fs.access(join(ws.till, 'POS1.spr')), 'nothing half-delivered');
    const refused = (await logLines(ws)).find((l) => l.event === 'es.transfer.refused');
    assert.match(String(refused?.reason), /package 4\/4, line \d+: the barcode "46000;00103" of "Чай" does not fit a Kassir barcode field .*fix it in 1C, then run kassir-agent full-export/);
    assert.equal((await fs.readdir(join(ws.data, 'quarantine'))).filter((n) => n.endsWith('.why.txt')).length, 4, 'the four packages are kept');
    assert.deepEqual(await fs.readdir(join(ws.data, 'equipment-service', 'transfer')).catch(() => []), [], 'no package left half-way');
    // The operator fixes the barcode in 1C and asks for a full export.
    catalog.goods.at(-1)!.barcodes = ['4600000000097', '4600000000103'];
    emu.setCatalog(catalog);
    assert.equal((await runCli(['full-export', '--config', ws.configFile])).code, 0);
    const r2 = await once(ws);
    assert.equal(r2.code, 0, r2.stdout + r2.stderr);
    const lines = dataLines(await referenceFile(ws));
    assert.deepEqual(lines.slice(0, FULL_LINES.length), FULL_LINES);
    assert.deepEqual(lines.slice(FULL_LINES.length), [
      '800000001;4600000000080;Сок;Сок;120.00;;;0;;99;2;;;;;;1',
      '100600;4600000000097;Чай;Чай;99.00;;;0;;99;2;;;;;;1',
      '#100600;4600000000103;Чай;Чай;99.00;;;;;1',
    ]);
    const codes = JSON.parse(await fs.readFile(join(ws.data, 'equipment-service', 'codes.json'), 'utf8')) as { goods: Record<string, number> };
    assert.equal(codes.goods['12345678901234'], 800000001);
  });

  it("the example (examples/equipment-service.yaml) against the emulator run from the command line with the example catalogue", { skip: CLI_EMULATOR_SKIP }, async (t) => {
    const root = await makeTempDir('es-example');
    t.after(() => removeDir(root));
    await fs.mkdir(join(root, 'till'));
    const { url } = await esEmulatorCli(t, ['--catalog', 'examples/es-catalog.json', '--user', 'Кассир', '--password', 'secret']);
    const example = await fs.readFile(join(ROOT, 'examples', 'equipment-service.yaml'), 'utf8');
    const config = join(root, 'agent.yaml');
    await fs.writeFile(config, example.replace('http://127.0.0.1:8081/retail/ws/EquipmentService.1cws', url).replaceAll('../var/', './'));
    const r = await runCli(['run', '--once', '--config', config], { env: { ES_PASSWORD: 'secret' } });
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const spr = await fs.readFile(join(root, 'till', 'POS1.spr'), 'utf8');
    assert.deepEqual(dataLines(spr.slice(1)), FULL_LINES);
  });

  it('check-config --online: unknown device, unsupported format, wrong password, wrong base name each get one message under their key', async (t) => {
    const emu = await esEmulatorFor(t, { devices: { [ES_DEVICE]: { version: 3003, perPackage: 0 }, OLD: { version: 2003, perPackage: 0 } } });
    const cases: [Record<string, unknown>, NodeJS.ProcessEnv, RegExp][] = [
      [{}, env, /^$/],
      [{ deviceId: 'KASSA-99' }, env, /^transport\.deviceId: Connect: 1C does not know the device "KASSA-99"/m],
      [{ deviceId: 'OLD' }, env, /^transport\.deviceId: GetVersion: 1C answered format version 2003 .*3001, 3002 and 3003/m],
      [{}, { ES_PASSWORD: 'wrong' }, /^transport\.password: Connect: HTTP 401 \(check transport\.user 'Кассир' and transport\.password\)/m],
      [{ url: emu.url.replace('/retail/', '/Retail/') }, env, /^transport\.url: Connect: HTTP 404 at .*\/Retail\/.*case-sensitive/m],
    ];
    for (const [over, e, expected] of cases) {
      const ws = await esWorkspace(t, emu.url, over);
      const r = await runCli(['check-config', '--online', '--config', ws.configFile], { env: e });
      if (expected.source === '^$') {
        assert.equal(r.code, 0, r.stderr);
        assert.match(r.stdout, /1C answers at .* and knows device "KASSA-01"/);
      } else {
        assert.equal(r.code, 2, r.stdout + r.stderr);
        assert.match(r.stderr, expected);
        assert.doesNotMatch(r.stderr + r.stdout, /wrong|пароль-1/, 'never a password');
      }
    }
  });
});
