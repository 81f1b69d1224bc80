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
import { shiftLayout } from '../../src/config/schema.js';
import type { OutgoingPackage } from '../../src/transports/transport.js';
import { splitShifts } from '../../src/transports/equipment-service/shift-lines.js';
import { nameUuid } from '../../src/transports/equipment-service/uuid.js';
import { ShiftWriter, type Rand } from '../helpers/shift-writer.js';
import { figuresOf, KIND_OF, ledgerFigures, writeCodeMap } from '../helpers/sale-reports.js';
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
      paymentKinds: { '1': 'cash', '2': '1' },
      shiftLayout: shiftLayout.parse({}),
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

});

/** A repeatable pseudo-random source, so a failing run can be replayed. */
function seeded(seed: number): Rand {
  let x = seed;
  return (min, max) => {
    x = (x * 1103515245 + 12345) % 2147483648;
    return min + (x % (max - min));
  };
}

/** The ShiftWriter's lines since the last take as package `n` (a report file in `dir`). */
async function packageOf(w: ShiftWriter, dir: string, n: number): Promise<OutgoingPackage> {
  const path = join(dir, `pkg-${n}.rep`);
  const text = w.take();
  await fs.writeFile(path, text);
  return { number: n, path, bytes: text.length, transactions: text.split('\r\n').length - 4 };
}


/** Report lines (without EOL) as package `n`: one `#` block of a report file in `dir`. */
async function linesPackage(dir: string, n: number, lines: string[]): Promise<OutgoingPackage> {
  const path = join(dir, `lines-${n}.rep`);
  await fs.writeFile(path, '#\r\n1\r\nPOS1\r\n' + lines.map((l) => l + '\r\n').join(''));
  return { number: n, path, bytes: 1, transactions: lines.length };
}

describe('equipment-service upload', () => {
  it('two shifts in three packages: two valid SaleReports whose figures are the shifts\' own; a package without a Z is only staged', async (t) => {
    const emu = await esEmulatorFor(t);
    const dir = await tempDirFor(t, 'es');
    await writeCodeMap(join(dir, 'equipment-service'));
    const { tr, log } = await esTransport(t, emu.url, dir);
    const w = new ShiftWriter(1, 41, 1, seeded(7));
    w.activity(20);
    w.defer(); // deferred in shift 41, resumed and closed in shift 42
    const r1 = await tr.push(await packageOf(w, dir, 1), fakePushContext());
    assert.match(r1.remoteName, /shift being assembled/);
    assert.equal(emu.requests.filter((q) => q.op === 'PostDocs').length, 0, 'nothing reaches 1C before the Z report');
    w.activity(20);
    w.cashIn();
    w.z();
    const r2 = await tr.push(await packageOf(w, dir, 2), fakePushContext());
    assert.match(r2.remoteName, /^SaleReports [0-9a-f-]{36}$/);
    w.sale();
    w.returnReceipt();
    w.defer();
    w.activity(25);
    w.cashOut();
    w.z();
    await tr.push(await packageOf(w, dir, 3), fakePushContext());
    assert.deepEqual(emu.posted.map((p) => p.ok), [true, true]);
    assert.equal(emu.shifts.length, 2);
    const expected = w.expected({ partialFirst: false });
    assert.deepEqual(emu.shifts.map((s) => figuresOf(s, KIND_OF)), expected.map(ledgerFigures));
    const [first] = emu.shifts;
    assert.equal(first!.attrs.ShiftState, '1');
    assert.match(first!.attrs.OpeningDate!, /^\d{4}-\d\d-\d\dT08:00:07$/, "the shift's first line, the till's local time without a zone");
    const goods = first!.checks.flatMap((c) => c.goods);
    assert.ok(goods.every((g) => /^1C-\d+$/.test(g.Code!) && /^\d+\.\d{3}$/.test(g.Quantity!) && (g.PaymentMethod === '4' || g.PaymentMethod === '1')));
    assert.ok(goods.every((g) => g.TaxRate === (Number(g.Code!.slice(3)) % 2 === 0 ? '20' : '10')), 'the rate the price list gave the code');
    assert.ok(first!.checks.some((c) => c.attrs.OperationType === '2') || expected[0]!.receipts.returns === 0);
    assert.equal(log.records.filter((l) => l.event === 'es.shift.posted').length, 2);
    assert.deepEqual(await fs.readdir(join(dir, 'equipment-service', 'shifts')), ['0000000003.json'], 'only the last package\'s staged lines are kept');
  });

  it('receipt discounts are spread over the lines by their sums, the rest on the last line; returns are OperationType 2 with positive figures, referring to their sale', async (t) => {
    const emu = await esEmulatorFor(t, { devices: { [ES_DEVICE]: { version: 3001, perPackage: 0 } } });
    const dir = await tempDirFor(t, 'es');
    await writeCodeMap(join(dir, 'equipment-service'), [100231, 100300, 100301]);
    const { tr } = await esTransport(t, emu.url, dir, { soapVersion: '1.2' });
    const lines = [
      '1;02.03.26;09:00:01;11;1;5;7;100231;1;89.90;2;179.80;',
      '2;02.03.26;09:00:02;11;1;5;7;100300;1;10.00;1;10.00;',
      '3;02.03.26;09:00:03;11;1;5;7;100301;1;0.35;3;1.05;',
      '4;02.03.26;09:00:04;12;1;5;7;100231;1;89.90;-1;-89.90;',
      '5;02.03.26;09:00:05;35;1;5;7;;;;1.00;-1.00;',
      '6;02.03.26;09:00:06;40;1;5;7;;;0.00;2;99.95;',
      '7;02.03.26;09:00:07;55;1;5;7;;;;;99.95;',
      '8;02.03.26;09:10:00;13;1;6;7;100300;1;10.00;-1;-10.00;',
      '8;02.03.26;09:10:00;80;1;6;7;;;;1;5;',
      '9;02.03.26;09:10:01;40;1;6;7;;;0.00;1;-10.00;',
      '10;02.03.26;09:10:02;55;1;6;7;;;;;-10.00;',
      '11;02.03.26;09:20:00;51;1;;7;;;;;500.00;',
      '12;02.03.26;21:00:00;61;1;;7;128;;0.00;;89.95;',
    ];
    await tr.push(await linesPackage(dir, 1, lines), fakePushContext());
    assert.equal(emu.requests.find((q) => q.op === 'PostDocs')?.soap, '1.2');
    const [shift] = emu.shifts;
    assert.deepEqual(shift!.attrs, { ShiftNumber: '128', OpeningDate: '2026-03-02T09:00:01', ClosingDate: '2026-03-02T21:00:00', UUID: shift!.attrs.UUID, ShiftState: '1' });
    const [sale, ret] = shift!.checks;
    // 89.90 (after the storno) + 10.00 + 1.05 = 100.95 less 1.00: 0.89 and 0.09 by share, the rest 0.02 on the last line.
    assert.deepEqual(sale!.goods.map((g) => [g.Code, g.Quantity, g.Price, g.Sum]), [['1C-100231', '1.000', '89.90', '89.01'], ['1C-100300', '1.000', '10.00', '9.91'], ['1C-100301', '3.000', '0.35', '1.03']]);
    assert.deepEqual(sale!.payments, [{ Cash: '0', ElectronicPayment: '99.95', PrePayment: '0', PostPayment: '0', Barter: '0', ElectronicPaymentOptionCode: '1' }]);
    assert.deepEqual([sale!.attrs.OperationType, sale!.attrs.Number, sale!.attrs.Date, sale!.attrs.TaxationSystem], ['1', '5', '2026-03-02T09:00:07', '3']);
    assert.deepEqual([ret!.attrs.OperationType, ret!.goods[0]!.Quantity, ret!.goods[0]!.Sum, ret!.payments[0]!.Cash], ['2', '1.000', '10.00', '10.00']);
    assert.deepEqual([ret!.attrs.RefDocumentUUID, ret!.attrs.RefDocumentType], [sale!.attrs.UUID, 'Check'], 'the return by receipt number refers to the sale of this shift');
    assert.equal(sale!.attrs.RefDocumentUUID, undefined);
    assert.deepEqual(shift!.cash.map((m) => [m.Type, m.Sum, m.Number, m.Date]), [['Outcome', '500.00', '11', '2026-03-02T09:20:00']]);
  });

  it('the goods-line fields are configuration (shifts.*): a till whose lines carry the section before the code is read as its layout says', async (t) => {
    const emu = await esEmulatorFor(t, { devices: { [ES_DEVICE]: { version: 3003, perPackage: 0 } } });
    const dir = await tempDirFor(t, 'es');
    await writeCodeMap(join(dir, 'equipment-service'), [100231]);
    // Field 8 the section, field 9 the goods code: the other way round from the default layout.
    const lines = [
      '1;02.03.26;09:00:01;11;1;5;7;1;100231;89.90;2;179.80;',
      '2;02.03.26;09:00:02;40;1;5;7;;;0.00;1;179.80;',
      '3;02.03.26;09:00:03;55;1;5;7;;;;;179.80;',
      '4;02.03.26;21:00:00;61;1;;7;12;;0.00;;179.80;',
    ];
    const plain = await esTransport(t, emu.url, dir);
    await assert.rejects(plain.tr.push(await linesPackage(dir, 1, lines), fakePushContext()), (e: TransportError) => /goods code 1 has no 1C code/.test(e.message), 'the default layout reads the section as the code');
    assert.equal(emu.shifts.length, 0);
    const { tr } = await esTransport(t, emu.url, dir, { shiftLayout: shiftLayout.parse({ goodsCodeField: 9, goodsSectionField: 8 }) });
    await tr.push(await linesPackage(dir, 1, lines), fakePushContext());
    assert.deepEqual(emu.shifts[0]!.checks[0]!.goods.map((g) => [g.Code, g.Quantity, g.Sum]), [['1C-100231', '2.000', '179.80']]);
  });

  it('a lost PostDocs answer: the retry posts the identical document, 1C holds the shift once', async (t) => {
    const emu = await esEmulatorFor(t);
    const dir = await tempDirFor(t, 'es');
    await writeCodeMap(join(dir, 'equipment-service'));
    const { tr } = await esTransport(t, emu.url, dir);
    const w = new ShiftWriter(1, 7, 1, seeded(3));
    w.activity(15);
    w.z();
    const pkg = await packageOf(w, dir, 1);
    emu.addTrap({ kind: 'lost-answer', op: 'PostDocs' });
    const state = { notes: {} };
    await assert.rejects(tr.push(pkg, fakePushContext(state)), (e: TransportError) => e.kind === 'unreachable' || e.kind === 'timeout');
    assert.equal(emu.shifts.length, 1, '1C imported it although the answer was lost');
    await tr.push(pkg, fakePushContext(state));
    assert.equal(emu.posted.length, 2);
    assert.equal(emu.posted[1]!.document, emu.posted[0]!.document, 'byte for byte the same, UUIDs included');
    assert.deepEqual(emu.shifts.map((s) => s.posts), [2], 'replaced, not duplicated');
    // Pushed again after it succeeded (a crash before the exchange recorded it): nothing is posted again.
    await tr.push(pkg, fakePushContext(state));
    assert.equal(emu.posted.length, 2);
  });

  it('IsSuccess=false keeps the shift queued with 1C\'s Description; the retry after the fix posts it', async (t) => {
    const emu = await esEmulatorFor(t);
    const dir = await tempDirFor(t, 'es');
    await writeCodeMap(join(dir, 'equipment-service'));
    const { tr } = await esTransport(t, emu.url, dir);
    const w = new ShiftWriter(1, 9, 1, seeded(5));
    w.activity(10);
    w.z();
    const pkg = await packageOf(w, dir, 1);
    emu.addTrap({ kind: 'refuse', text: 'Не найден товар с кодом 1C-1001', times: 2 });
    for (let i = 0; i < 2; i++) {
      await assert.rejects(tr.push(pkg, fakePushContext()), (e: TransportError) => e.kind === 'config' && e.needsOperator && /1C refused shift 9 of POS 1 \(IsSuccess=false\): Не найден товар с кодом 1C-1001\. This is a data error/.test(e.message));
    }
    assert.equal(emu.shifts.length, 0);
    await tr.push(pkg, fakePushContext());
    assert.deepEqual(emu.shifts.map((s) => [s.attrs.ShiftNumber, s.posts]), [['9', 1]]);
  });

  it('a receipt the map cannot express holds its shift, naming the receipt, the code and what to do; nothing is posted', async (t) => {
    const emu = await esEmulatorFor(t);
    const dir = await tempDirFor(t, 'es');
    await writeCodeMap(join(dir, 'equipment-service'), [100231]);
    const { tr, log } = await esTransport(t, emu.url, dir);
    const lines = [
      '1;02.03.26;09:00:01;11;1;5;7;100231;1;89.90;1;89.90;',
      '2;02.03.26;09:00:02;40;1;5;7;;;0.00;1;89.90;',
      '3;02.03.26;09:00:03;55;1;5;7;;;;;89.90;',
      '4;02.03.26;09:01:00;11;1;6;7;555;1;10.00;1;10.00;',
      '5;02.03.26;09:01:01;40;1;6;7;;;0.00;9;10.00;',
      '6;02.03.26;09:01:02;55;1;6;7;;;;;10.00;',
      '7;02.03.26;21:00:00;61;1;;7;12;;0.00;;99.90;',
    ];
    const pkg = await linesPackage(dir, 4, lines);
    await assert.rejects(tr.push(pkg, fakePushContext()), (e: TransportError) => {
      assert.equal(e.kind, 'config');
      assert.match(e.message, /package 4: shift 12 of POS 1 is held, not posted to 1C/);
      assert.match(e.message, /receipt 6 \(transaction 6, 02\.03\.26 09:01:02\): goods code 555 has no 1C code .*give the good this code \(555\) in 1C.*full-export/);
      assert.match(e.message, /payment kind "9" is not in transport\.paymentKinds: map it to "cash" or to the code of a 1C electronic payment option \(1C offers "1", "2", "3", "4"\)/);
      return true;
    });
    assert.equal(emu.requests.filter((q) => q.op === 'PostDocs').length, 0);
    assert.ok(log.records.some((l) => l.event === 'es.shift.held' && l.level === 'warn'));
    // The operator maps the kind and adds the good in 1C (a full export puts it in the code map): the shift goes.
    await writeCodeMap(join(dir, 'equipment-service'), [100231, 555]);
    const { tr: fixed } = await esTransport(t, emu.url, dir, { paymentKinds: { '1': 'cash', '9': '2' } });
    await fixed.push(pkg, fakePushContext());
    assert.deepEqual(emu.shifts[0]!.checks.map((c) => c.payments.map((p) => p.ElectronicPaymentOptionCode ?? 'cash')), [['cash'], ['2']]);
  });
});

describe('equipment-service shifts for the upload', () => {
  it('a receipt still open at the Z report is carried into the next shift, apart from its lines; UUIDs are version 5 and stable', () => {
    const layout = shiftLayout.parse({});
    const a = [
      '1;02.03.26;09:00:01;11;1;5;7;100;1;1.00;1;1.00;',
      '2;02.03.26;09:00:02;58;1;5;7;;;;;0.00;', // deferred
      '3;02.03.26;09:00:03;11;1;6;7;100;1;1.00;1;1.00;',
      '4;02.03.26;09:00:04;40;1;6;7;;;0.00;1;1.00;',
      '5;02.03.26;09:00:05;55;1;6;7;;;;;1.00;',
    ];
    const z = '6;02.03.26;21:00:00;61;1;;7;3;;0.00;;1.00;';
    const next = '7;03.03.26;08:00:00;59;1;5;7;;;;;;';
    const first = splitShifts({}, a, layout);
    assert.deepEqual(first.closed, []);
    const second = splitShifts(first.open, [z, next], layout);
    assert.deepEqual(second.closed, [{ pos: '1', carried: [], lines: [...a, z] }]);
    assert.deepEqual(second.open, { '1': { carried: [a[0], a[1]], lines: [next] } }, 'receipt 5 goes on; receipt 6 ended in shift 3');
    assert.match(nameUuid('shift|KASSA-01|1|3|2026-03-02T09:00:01'), /^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    assert.equal(nameUuid('x'), nameUuid('x'));
    assert.notEqual(nameUuid('x'), nameUuid('y'));
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
