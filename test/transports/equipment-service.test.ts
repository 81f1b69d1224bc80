/**
 * The equipment-service transport in-process against the emulator (a real
 * HTTP server), for the paths an end-to-end run reaches only with luck: a
 * transfer that vanishes from 1C's queue mid-way, the refusal that stops
 * downloads until a restart, the code map on disk, the conversion's refusals.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { fullExportRequested, requestFullExport } from '../../src/transports/equipment-service/full-export.js';
import { CodeMap, GOODS_MAPPED_FROM, GROUPS_FROM } from '../../src/transports/equipment-service/code-map.js';
import type { EsGood, EsPriceList } from '../../src/transports/equipment-service/messages.js';
import { ConversionRefused, SprBuilder } from '../../src/transports/equipment-service/to-spr.js';
import { EquipmentServiceTransport, type EquipmentServiceOptions } from '../../src/transports/equipment-service/transport.js';
import { TransportError } from '../../src/transports/errors.js';
import { memoryLogger } from '../../src/util/logger.js';
import { ES_DEVICE, ES_PASSWORD, ES_USER, esClient, esEmulatorFor, sampleCatalog } from '../helpers/es-emulator.js';
import { fakePullContext, fakePushContext } from '../helpers/kkm-context.js';
import { tempDirFor } from '../helpers/temp-dir.js';
import { TEST_CERT, TEST_KEY } from '../helpers/kkm-tls.js';

async function esTransport(t: TestContext, url: string, dir: string, over: Partial<EquipmentServiceOptions> = {}) {
  const log = memoryLogger();
  const tr = new EquipmentServiceTransport(
    {
      url,
      user: ES_USER,
      password: ES_PASSWORD,
      deviceId: ES_DEVICE,
      soapVersion: '1.1',
      tls: { rejectUnauthorized: true },
      timeoutMs: 5000,
      maxPackageBytes: 16 * 1024 * 1024,
      taxGroups: { '20': 1, '10': 2, '0': 3, none: 4 },
      nameMaxLength: 255,
      formPollMs: 10,
      formWaitMs: 200,
      dir: join(dir, 'equipment-service'),
      ...over,
    },
    { log },
  );
  await tr.open();
  t.after(() => tr.close());
  return { tr, log };
}

describe('equipment-service transport', () => {
  it('a transfer that vanished from 1C\'s queue after a lost answer: one Restart, then a full export', async (t) => {
    const emu = await esEmulatorFor(t, { devices: { [ES_DEVICE]: { version: 3003, perPackage: 5 } }, catalog: sampleCatalog() });
    const dir = await tempDirFor(t, 'es');
    const { tr, log } = await esTransport(t, emu.url, dir);
    emu.addTrap({ kind: 'lost-answer', op: 'GetPriceListPackage', skip: 1 });
    const ctx = fakePullContext(dir, {}, log);
    await assert.rejects(tr.pull(ctx), (e: TransportError) => e.kind === 'unreachable');
    assert.equal((ctx.cursor.transfer as { stored: number }).stored, 1);
    // All its packages left 1C, so another preparation clears the queue: the agent's TransferID is unknown now.
    const other = await esClient(t, emu.url).call('PrepareFullPriceList', [['DeviceID', ES_DEVICE], ['FullPriceList', true]], AbortSignal.timeout(5000));
    const r = await tr.pull(ctx);
    assert.deepEqual(r.parts, 1);
    assert.deepEqual(
      emu.requests.filter((q) => q.op === 'GetPriceListPackage').map((q) => `${q.params.Restart === 'true' ? 'R ' : ''}${q.answer}${q.result === 'dropped' ? ' (lost)' : ''}`),
      ['1/2', '2/2 (lost)', 'unformed', 'R unformed', '1/2', '2/2'],
    );
    assert.equal(emu.requests.filter((q) => q.op === 'PrepareFullPriceList').at(-1)?.params.FullPriceList, 'true');
    assert.ok(log.records.some((l) => l.event === 'es.transfer.lost'));
    const staged = ctx.calls.at(-1)!;
    assert.match(staged.parts[0]!.data.toString('utf8'), /^\uFEFF##@@&&\r\n#\r\n\$\$\$CLR\r\n/);
    assert.equal(staged.cursor.transfer, undefined);
    assert.equal(staged.cursor.fullDone, true);
    assert.ok(emu.requests.some((q) => q.op === 'GetPriceListPackage' && q.params.TransferID === other));
  });

  it('a full export asked for while an incremental transfer is pending: the incremental one comes, without a clear, and the full one is asked for again', async (t) => {
    const emu = await esEmulatorFor(t, { catalog: sampleCatalog() });
    // Someone (an earlier install of the till) left an incremental transfer pending in 1C's queue.
    await esClient(t, emu.url).call('PreparePriceList', [['DeviceID', ES_DEVICE]], AbortSignal.timeout(5000));
    const dir = await tempDirFor(t, 'es');
    const { tr } = await esTransport(t, emu.url, dir);
    const ctx = fakePullContext(dir);
    assert.equal((await tr.pull(ctx)).parts, 1);
    assert.doesNotMatch(ctx.calls.at(-1)!.parts[0]!.data.toString('utf8'), /\$\$\$CLR/, 'FullExport is read from the packages, not assumed');
    assert.equal(ctx.cursor.fullDone, false);
    emu.setCatalog(sampleCatalog());
    assert.equal((await tr.pull(ctx)).parts, 1);
    assert.match(ctx.calls.at(-1)!.parts[0]!.data.toString('utf8'), /^\uFEFF##@@&&\r\n#\r\n\$\$\$CLR\r\n/);
    assert.deepEqual(emu.requests.filter((q) => q.op.startsWith('Prepare')).map((q) => q.op), ['PreparePriceList', 'PrepareFullPriceList', 'PrepareFullPriceList']);
    assert.equal(ctx.cursor.fullDone, true);
  });

  it('a refused price list stops downloads until a restart: no more calls to 1C, the same message', async (t) => {
    const catalog = sampleCatalog();
    catalog.goods[0]!.attrs.TaxRate = '22';
    const emu = await esEmulatorFor(t, { catalog });
    const dir = await tempDirFor(t, 'es');
    const { tr } = await esTransport(t, emu.url, dir);
    const ctx = fakePullContext(dir);
    let first = '';
    await assert.rejects(tr.pull(ctx), (e: TransportError) => {
      first = e.message;
      return e.kind === 'config' && /tax rate "22"/.test(e.message) && /Молоко/.test(e.message);
    });
    assert.equal(ctx.quarantined.length, 1);
    assert.equal(ctx.cursor.needFull, true);
    assert.equal(ctx.calls.some((c) => c.parts.length > 0), false, 'nothing staged for the till');
    const calls = emu.requests.length;
    await assert.rejects(tr.pull(ctx), (e: TransportError) => e.message === first);
    assert.equal(emu.requests.length, calls);
    await assert.rejects(fs.access(join(dir, 'equipment-service', 'codes.json')), 'codes of a refused transfer are not kept');
    // Fixed in 1C; the operator asks for a full export: downloads resume at once, without a restart.
    catalog.goods[0]!.attrs.TaxRate = '20';
    emu.setCatalog(catalog);
    await requestFullExport(join(dir, 'equipment-service'));
    assert.equal((await tr.pull(ctx)).parts, 1);
    assert.match(ctx.calls.at(-1)!.parts[0]!.data.toString('utf8'), /\$\$\$CLR/);
    assert.equal(await fullExportRequested(join(dir, 'equipment-service')), false);
  });

  it('HTTPS: the back office\'s CA from transport.tls.caFile is trusted; without it the certificate is refused as a TLS error', async (t) => {
    const emu = await esEmulatorFor(t, { tls: { key: TEST_KEY, cert: TEST_CERT } });
    assert.match(emu.url, /^https:/);
    const dir = await tempDirFor(t, 'es');
    const caFile = join(dir, 'ca.pem');
    await fs.writeFile(caFile, TEST_CERT);
    const { tr, log } = await esTransport(t, emu.url, dir, { tls: { caFile, rejectUnauthorized: true } });
    const ctx = fakePullContext(dir, {}, log);
    assert.equal((await tr.pull(ctx)).parts, 0, 'an empty catalogue: connected, and a full export without goods never clears the till');
    assert.ok(log.records.some((l) => l.event === 'es.transfer.empty_full'));
    assert.equal(ctx.cursor.fullDone, true, 'later transfers are incremental');
    const plain = new EquipmentServiceTransport({ ...(tr as unknown as { opts: EquipmentServiceOptions }).opts, tls: { rejectUnauthorized: true } }, { log: memoryLogger() });
    await assert.rejects(plain.open(), (e: TransportError) => e.kind === 'tls' && /check transport\.tls/.test(e.message));
  });

  it('push says plainly that the upload is not built, and nothing is sent', async (t) => {
    const emu = await esEmulatorFor(t);
    const dir = await tempDirFor(t, 'es');
    const { tr } = await esTransport(t, emu.url, dir);
    await assert.rejects(tr.push({ number: 7, path: join(dir, 'x.rep'), bytes: 1, transactions: 1 }, fakePushContext()), (e: TransportError) => e.kind === 'config' && /package 7 waits: uploading sales .* not built/.test(e.message));
    assert.equal(emu.requests.filter((q) => q.op === 'PostDocs').length, 0);
  });
});

describe('equipment-service code map', () => {
  it('numbers pass through, PLUs lose their zeros but keep them for the way back, the rest and the clashes are mapped, groups apart; it survives a reload', async (t) => {
    const file = join(await tempDirFor(t, 'codes'), 'codes.json');
    const m = await CodeMap.load(file);
    assert.equal(m.goodCode('100231'), 100231);
    assert.equal(m.goodCode('00001'), 1);
    assert.equal(m.goodCode('1'), GOODS_MAPPED_FROM, '1 is taken by 00001');
    assert.equal(m.goodCode('АРТ-5'), GOODS_MAPPED_FROM + 1);
    assert.equal(m.goodCode(String(GOODS_MAPPED_FROM + 7)), GOODS_MAPPED_FROM + 2, 'a number inside the mapped range is mapped too');
    assert.equal(m.goodCode('12345678901234'), GOODS_MAPPED_FROM + 3, 'too long for Kassir');
    assert.equal(m.groupCode('100231'), GROUPS_FROM, 'a group never shares a code with a good');
    assert.equal(m.oneCCode(1), '00001');
    await m.save();
    const again = await CodeMap.load(file);
    assert.equal(again.goodCode('00001'), 1);
    assert.equal(again.goodCode('новый'), GOODS_MAPPED_FROM + 4, 'numbering goes on after a reload');
    assert.equal(again.groupCode('Г-9'), GROUPS_FROM + 1);
    await fs.writeFile(file, '{"schema":1,"goods":');
    await assert.rejects(CodeMap.load(file), /code map cannot be read .* restore it from a backup/);
  });
});

describe('equipment-service price list -> SPR', () => {
  const good = (over: Partial<EsGood>): EsGood => ({ uuid: 'u', name: 'Товар', taxRate: '20', isWeight: false, characteristics: [], packs: [], barcodes: [], line: 7, code: '100', price: 10, ...over });
  const list = (goods: EsGood[]): EsPriceList => ({ fullExport: false, groups: [], goods });
  const build = async (t: TestContext, goods: EsGood[], o: { nameMaxLength?: number; allowDiscounts?: boolean } = {}) => {
    const b = new SprBuilder(false, await CodeMap.load(join(await tempDirFor(t, 'spr'), 'codes.json')), { taxGroups: { '20': 1 }, nameMaxLength: o.nameMaxLength ?? 255, ...(o.allowDiscounts !== undefined ? { allowDiscounts: o.allowDiscounts } : {}) });
    b.add(list(goods), 'package 1');
    return b.text().toString('utf8').slice(1).split('\r\n');
  };

  it('cuts long names, flattens line breaks, writes the discount field from Settings', async (t) => {
    const lines = await build(t, [good({ name: 'Очень длинное\r\nназвание; товара' })], { nameMaxLength: 20, allowDiscounts: false });
    assert.deepEqual(lines, ['##@@&&', '#', '$$$RPL', '100;;Очень длинное назван;Очень длинное назван;10.00;;;0;;-1;1;;;;;;1', '']);
    assert.equal((await build(t, [good({})]))[3], '100;;Товар;Товар;10.00;;;0;;;1;;;;;;1', 'no Settings: the field stays empty');
  });

  it('refuses, naming the good and the line: a leaf without a code, a barcode Kassir cannot hold, unmapped rates (all listed)', async (t) => {
    await assert.rejects(build(t, [good({ characteristics: [{ name: 'L', barcodes: [], packs: [], line: 9 }] })]), (e: Error) => e instanceof ConversionRefused && /line 9: "Товар \(L\)" has no code in 1C/.test(e.message));
    await assert.rejects(build(t, [good({ barcodes: ['46;00'] })]), (e: Error) => e instanceof ConversionRefused && /barcode "46;00" of "Товар" does not fit/.test(e.message));
    await assert.rejects(build(t, [good({ taxRate: '22', name: 'А' }), good({ taxRate: '5', name: 'Б' })]), (e: Error) => e instanceof ConversionRefused && /tax rate "22" \(e\.g\. "А" \(package 1, line 7\)\); "5"/.test(e.message));
  });
});
