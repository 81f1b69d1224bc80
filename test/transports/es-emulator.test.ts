/**
 * The EquipmentService emulator as a real HTTP server, spoken to with the
 * agent's own SOAP client: it must keep 1C's rules (queue, packages, Restart,
 * IsFormed=false, faults, devices, auth, base name) or the transport's tests
 * prove nothing.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { describe, it } from 'node:test';
import { request } from 'undici';
import { SUPPORTED_VERSIONS, readPackage, readPriceList, readSettings, versionNamespace } from '../../src/transports/equipment-service/messages.js';
import { TransportError } from '../../src/transports/errors.js';
import { buildXml, parseXml } from '../../src/transports/equipment-service/xml.js';
import { buildRequest, SOAP11_NS, SOAP12_NS } from '../../src/transports/equipment-service/soap.js';
import { parseTrap } from '../../scripts/es-emulator.js';
import { ES_DEVICE, ES_PASSWORD, ES_USER, CLI_EMULATOR_SKIP, esClient, esEmulatorCli, esEmulatorFor, sampleCatalog } from '../helpers/es-emulator.js';

const dev: [string, string][] = [['DeviceID', ES_DEVICE]];
const signal = () => AbortSignal.timeout(10_000);

describe('EquipmentService emulator', () => {
  for (const soap of ['1.1', '1.2'] as const) {
    it(`SOAP ${soap}: Connect, GetVersion per device, Settings in the device's namespace`, async (t) => {
      const emu = await esEmulatorFor(t, { devices: { [ES_DEVICE]: { version: 3001, perPackage: 0 }, 'KASSA-02': { version: 3003, perPackage: 0 } } });
      const c = esClient(t, emu.url, { soapVersion: soap });
      assert.equal(await c.call('Connect', dev, signal()), 'true');
      assert.equal(await c.call('GetVersion', dev, signal()), '3001');
      assert.equal(await c.call('GetVersion', [['DeviceID', 'KASSA-02']], signal()), '3003');
      assert.equal(await c.call('Connect', [['DeviceID', 'nobody']], signal()), 'false');
      assert.equal(await c.call('GetVersion', [['DeviceID', 'nobody']], signal()), '0');
      const s = readSettings(await c.call('GetSettings', dev, signal()), 3001);
      assert.equal(s.allowDiscounts, true);
      assert.deepEqual(s.electronicPaymentOptions.map((o) => o.code), ['1', '2', '3', '4']);
      assert.throws(() => readSettings('<?xml version="1.0"?><Settings xmlns="' + versionNamespace(3003) + '"/>', 3001), /format 3001/);
      assert.ok(emu.requests.every((r) => r.soap === soap));
    });
  }

  it('formats 3001-3003 over SOAP 1.1 and 1.2: the answer in the envelope and content type of the version asked, the price list in the format\'s namespace', async (t) => {
    const devices = Object.fromEntries(SUPPORTED_VERSIONS.map((v) => [`K-${v}`, { version: v, perPackage: 4 }]));
    const emu = await esEmulatorFor(t, { devices, catalog: sampleCatalog() });
    const auth = `Basic ${Buffer.from(`${ES_USER}:${ES_PASSWORD}`).toString('base64')}`;
    for (const soap of ['1.1', '1.2'] as const) {
      for (const v of SUPPORTED_VERSIONS) {
        const d: [string, string][] = [['DeviceID', `K-${v}`]];
        // Raw over HTTP, so the envelope and the content type themselves are checked, not only what the client makes of them.
        const req = buildRequest(soap, 'GetVersion', d);
        const res = await request(emu.url, { method: 'POST', body: req.body, headers: { ...req.headers, authorization: auth } });
        const body = await res.body.text();
        assert.equal(res.statusCode, 200, body);
        assert.match(String(res.headers['content-type']), soap === '1.1' ? /^text\/xml/ : /^application\/soap\+xml/);
        assert.equal(parseXml(body, 'answer').ns, soap === '1.1' ? SOAP11_NS : SOAP12_NS);
        const c = esClient(t, emu.url, { soapVersion: soap });
        assert.equal(await c.call('GetVersion', d, signal()), String(v));
        assert.equal(readSettings(await c.call('GetSettings', d, signal()), v).allowDiscounts, true);
        const tid = await c.call('PrepareFullPriceList', [...d, ['FullPriceList', true]], signal());
        const text = await c.call('GetPriceListPackage', [...d, ['TransferID', tid], ['Restart', true]], signal());
        assert.equal(parseXml(text, 'p').ns, versionNamespace(v));
        const p = readPackage(text, v, 'p');
        assert.deepEqual([p.isFormed, p.packageNumber, p.packageTotal], [true, 1, 2]);
        assert.equal(readPriceList(p.priceList!, 'p').groups.length, 2);
        const other = SUPPORTED_VERSIONS.find((x) => x !== v)!;
        assert.throws(() => readPackage(text, other, 'p'), /format/);
      }
    }
    assert.deepEqual(new Set(emu.requests.map((r) => r.soap)), new Set(['1.1', '1.2']));
  });

  it('a good changed again after its transfer was prepared stays registered: the change comes in the next transfer', async (t) => {
    const catalog = sampleCatalog();
    const emu = await esEmulatorFor(t, { catalog });
    const c = esClient(t, emu.url);
    const get = async (id: string) => readPackage(await c.call('GetPriceListPackage', [...dev, ['TransferID', id], ['Restart', false]], signal()), 3003, 'p');
    const first = await c.call('PrepareFullPriceList', [...dev, ['FullPriceList', true]], signal());
    catalog.goods[0]!.attrs.Price = '91.00';
    emu.setCatalog(structuredClone(catalog));
    // Package 1 of the transfer prepared before the change leaves now: it holds the old price.
    const p1 = readPriceList((await get(first)).priceList!, 'p1');
    assert.equal(p1.goods.find((g) => g.code === '100231')?.price, 89.9);
    const next = await c.call('PreparePriceList', dev, signal());
    const inc = readPriceList((await get(next)).priceList!, 'inc');
    assert.deepEqual(inc.goods.map((g) => [g.code, g.price]), [['100231', 91]]);
    assert.deepEqual(emu.transfers.map((x) => [x.full, x.packages, x.elements.length]), [[true, 1, 8], [false, 1, 1]]);
  });

  it('a wrong base name (case matters), a wrong password and an unknown device each fail as 1C does', async (t) => {
    const emu = await esEmulatorFor(t);
    await assert.rejects(esClient(t, emu.url.replace('/retail/', '/Retail/')).call('Connect', dev, signal()), (e: TransportError) => e.kind === 'config' && /HTTP 404/.test(e.message) && /case-sensitive/.test(e.message));
    await assert.rejects(esClient(t, emu.url, { password: 'wrong' }).call('Connect', dev, signal()), (e: TransportError) => e.kind === 'auth' && e.message.includes(ES_USER));
    const c = esClient(t, emu.url);
    await assert.rejects(c.connect('nobody', signal()), (e: TransportError) => e.kind === 'config' && /does not know the device "nobody"/.test(e.message));
    await assert.rejects(c.call('GetSettings', [['DeviceID', 'nobody']], signal()), (e: TransportError) => e.details.code === 'soap-fault' && /nobody/.test(e.message));
    emu.setDevice('OLD', { version: 2003, perPackage: 0 });
    await assert.rejects(c.connect('OLD', signal()), (e: TransportError) => e.kind === 'config' && /format version 2003/.test(e.message) && /3001, 3002 and 3003/.test(e.message));
    assert.equal(await c.connect(ES_DEVICE, signal()), 3003);
    // The service name instead of the descriptor alias answers too.
    assert.equal(await esClient(t, emu.url.replace(/\.1cws$/, '')).call('Connect', dev, signal()), 'true');
  });

  it('packages: groups first, N elements each, Units and FullExport repeated, sent on return, Restart serves them again', async (t) => {
    const emu = await esEmulatorFor(t, { devices: { [ES_DEVICE]: { version: 3002, perPackage: 3 } }, catalog: sampleCatalog() });
    const c = esClient(t, emu.url);
    const tid = await c.call('PrepareFullPriceList', [...dev, ['FullPriceList', true]], signal());
    const get = async (restart = false) => readPackage(await c.call('GetPriceListPackage', [...dev, ['TransferID', tid], ['Restart', restart]], signal()), 3002, 'p');
    const p1 = await get();
    assert.deepEqual([p1.isFormed, p1.packageNumber, p1.packageTotal], [true, 1, 3]);
    const pl1 = readPriceList(p1.priceList!, 'p1');
    assert.equal(pl1.fullExport, true);
    assert.deepEqual([pl1.groups.length, pl1.goods.length], [2, 1], 'the two groups come first');
    assert.ok(parseXml(await c.call('GetPriceListPackage', [...dev, ['TransferID', tid], ['Restart', true]], signal()), 'x').children.length > 0);
    // Restart: package 1 again; then 2 and 3, then nothing left.
    const p2 = await get();
    assert.equal(p2.packageNumber, 2);
    assert.equal(readPriceList(p2.priceList!, 'p2').fullExport, true, 'every package repeats FullExport');
    assert.equal((await get()).packageNumber, 3);
    const after = await get();
    assert.deepEqual([after.isFormed, after.packageNumber, after.packageTotal, after.priceList], [false, 1, 1, undefined]);
    // Nothing changed since package 1 left: an incremental transfer is one empty package.
    const inc = await c.call('PreparePriceList', dev, signal());
    assert.notEqual(inc, tid);
    const e = readPackage(await c.call('GetPriceListPackage', [...dev, ['TransferID', inc], ['Restart', false]], signal()), 3002, 'e');
    assert.deepEqual([e.isFormed, e.packageNumber, e.packageTotal, readPriceList(e.priceList!, 'e').goods.length], [true, 1, 1, 0]);
    // The old TransferID is gone from the queue.
    assert.equal(readPackage(await c.call('GetPriceListPackage', [...dev, ['TransferID', tid], ['Restart', true]], signal()), 3002, 'old').isFormed, false);
  });

  it('a pending transfer is returned again, even for a full request; changes go into the next incremental transfer', async (t) => {
    const catalog = sampleCatalog();
    const emu = await esEmulatorFor(t, { devices: { [ES_DEVICE]: { version: 3003, perPackage: 4 } }, catalog });
    const c = esClient(t, emu.url);
    const inc = await c.call('PreparePriceList', dev, signal());
    assert.equal(await c.call('PrepareFullPriceList', [...dev, ['FullPriceList', true]], signal()), inc);
    const get = async (id: string) => readPackage(await c.call('GetPriceListPackage', [...dev, ['TransferID', id], ['Restart', false]], signal()), 3003, 'p');
    for (let n = 1; n <= 2; n++) assert.equal((await get(inc)).packageNumber, n);
    catalog.goods[0]!.attrs.Price = '99.90';
    emu.setCatalog(catalog);
    const next = await c.call('PreparePriceList', dev, signal());
    const p = await get(next);
    const pl = readPriceList(p.priceList!, 'p');
    assert.deepEqual([p.packageTotal, pl.fullExport, pl.goods.map((g) => [g.code, g.price])], [1, false, [['100231', 99.9]]]);
  });

  it('traps: an unformed transfer, a failed preparation, a Fault, a lost answer', async (t) => {
    const emu = await esEmulatorFor(t, { catalog: sampleCatalog(), traps: [{ kind: 'unformed', calls: 2 }] });
    const c = esClient(t, emu.url);
    const tid = await c.call('PrepareFullPriceList', [...dev, ['FullPriceList', true]], signal());
    const get = async (id: string) => readPackage(await c.call('GetPriceListPackage', [...dev, ['TransferID', id], ['Restart', false]], signal()), 3003, 'p');
    assert.equal((await get(tid)).isFormed, false);
    assert.equal((await get(tid)).isFormed, false);
    assert.equal((await get(tid)).isFormed, true);
    emu.addTrap({ kind: 'prepare-error', text: 'Не заполнено обязательное поле "Ставка НДС"' });
    const bad = await c.call('PreparePriceList', dev, signal());
    for (let i = 0; i < 2; i++) await assert.rejects(get(bad), (e: TransportError) => e.details.code === 'soap-fault' && /Ставка НДС/.test(e.message));
    emu.addTrap(parseTrap('fault:GetSettings:Сеанс завершен'));
    await assert.rejects(c.call('GetSettings', dev, signal()), /Сеанс завершен/);
    emu.addTrap(parseTrap('lost-answer:GetPriceListPackage'));
    const again = await c.call('PrepareFullPriceList', [...dev, ['FullPriceList', true]], signal());
    assert.notEqual(again, bad, 'an error record lets the next Prepare start anew');
    await assert.rejects(get(again), (e: TransportError) => e.kind === 'unreachable');
    assert.equal((await get(again)).isFormed, false, 'the lost package was marked sent: nothing is left');
    assert.deepEqual(emu.requests.filter((r) => r.result === 'dropped').map((r) => r.answer), ['1/1']);
  });

  it('GetPriceList gives the changes in one piece and forgets them; GetGood finds goods by any of their barcodes', async (t) => {
    const catalog = sampleCatalog();
    const emu = await esEmulatorFor(t, { catalog });
    const c = esClient(t, emu.url);
    const ns = versionNamespace(3003);
    const goodsOf = (xml: string) => {
      const root = parseXml(xml, 'PriceList');
      assert.deepEqual([root.ns, root.name], [ns, 'PriceList']);
      return root.children.filter((e) => e.name === 'Goods').flatMap((g) => g.children.map((x) => x.attrs.Code));
    };
    assert.equal(goodsOf(await c.call('GetPriceList', dev, signal())).length, catalog.goods.length, 'everything is new at first');
    assert.deepEqual(goodsOf(await c.call('GetPriceList', dev, signal())), [], 'returned once: the registrations are gone');
    assert.deepEqual(goodsOf(await c.call('GetGood', [...dev, ['Barcode', '2000000000022']], signal())), ['100300'], "a pack's barcode finds its good");
    assert.deepEqual(goodsOf(await c.call('GetGood', [...dev, ['Barcode', '0000']], signal())), []);
  });

  it('PostDocs: SaleReports are checked against the device format; another DocType loads nothing and says success', async (t) => {
    const emu = await esEmulatorFor(t);
    const c = esClient(t, emu.url);
    const ns = versionNamespace(3003);
    const doc = (attrs: Record<string, string>) =>
      buildXml({ name: 'SaleReports', ns, children: [{ name: 'SaleReport', attrs, children: [{ name: 'Checks', children: [{ name: 'Check', attrs: { Date: '2026-03-02T09:12:05', Number: '17', TaxationSystem: '3', OperationType: '1' } }] }] }] });
    const post = async (type: string, d: string) => parseXml(await c.call('PostDocs', [...dev, ['DocType', type], ['Document', d]], signal()), 'answer');
    const ok = await post('SaleReports', doc({ ShiftNumber: '128', OpeningDate: '2026-03-02T08:55:10', ShiftState: '1' }));
    assert.equal(ok.children.find((e) => e.name === 'IsSuccess')?.text, 'true');
    const refused = await post('SaleReports', doc({ ShiftNumber: '128', ShiftState: '1' }));
    assert.equal(refused.children.find((e) => e.name === 'IsSuccess')?.text, 'false');
    assert.match(refused.children.find((e) => e.name === 'Description')!.text, /OpeningDate/);
    const ignored = await post('saleReports', 'anything');
    assert.equal(ignored.children.find((e) => e.name === 'IsSuccess')?.text, 'true');
    assert.deepEqual(emu.posted.map((p) => [p.docType, p.ok]), [['SaleReports', true], ['SaleReports', false], ['saleReports', true]]);
    assert.deepEqual([...SUPPORTED_VERSIONS], [3001, 3002, 3003]);
  });

  for (const soap of ['1.1', '1.2'] as const) {
    it(`PostDocs over SOAP ${soap}: the format's rules (attributes, values, order, namespace) refuse with a Description; a re-post with the same UUID replaces; without a UUID it adds`, async (t) => {
      const emu = await esEmulatorFor(t, { devices: { [ES_DEVICE]: { version: 3002, perPackage: 0 } } });
      const c = esClient(t, emu.url, { soapVersion: soap });
      const ns = versionNamespace(3002);
      const good = { Code: '100231', Quantity: '2.000', Price: '89.90', Sum: '179.80', TaxRate: '20', PaymentMethod: '4' };
      const pay = { Cash: '179.80', ElectronicPayment: '0', PrePayment: '0', PostPayment: '0', Barter: '0' };
      const report = (over: { shift?: Record<string, string | undefined>; good?: Record<string, string | undefined>; pay?: Record<string, string | undefined>; swap?: boolean; docNs?: string } = {}) => {
        const check = {
          name: 'Check',
          attrs: { Date: '2026-03-02T09:12:05', Number: '17', TaxationSystem: '3', OperationType: '1', UUID: '0d3b6c52-1f7a-5e08-b4d2-7a9e3c15f680' },
          children: [
            { name: 'Goods', children: [{ name: 'Good', attrs: { ...good, ...over.good } }] },
            { name: 'Payments', children: [{ name: 'Payment', attrs: { ...pay, ...over.pay } }] },
          ],
        };
        if (over.swap) check.children.reverse();
        return buildXml({
          name: 'SaleReports',
          ns: over.docNs ?? ns,
          children: [{ name: 'SaleReport', attrs: { ShiftNumber: '128', OpeningDate: '2026-03-02T08:55:10', UUID: '5f0c2d9e-8a41-5b7e-9c3a-2e61d0b4a7f1', ShiftState: '1', ...over.shift }, children: [{ name: 'Checks', children: [check] }] }],
        });
      };
      const post = async (d: string, type = 'SaleReports') => {
        const a = parseXml(await c.call('PostDocs', [...dev, ['DocType', type], ['Document', d]], signal()), 'answer');
        return { ok: a.children.find((e) => e.name === 'IsSuccess')?.text, text: a.children.find((e) => e.name === 'Description')?.text ?? '' };
      };
      const refusals: [string, RegExp][] = [
        [report({ good: { Sum: '179.805' } }), /Good \(line \d+\): Sum="179.805" is not a valid value/],
        [report({ good: { Quantity: '2.0001' } }), /Quantity="2.0001"/],
        [report({ good: { PaymentMethod: undefined } }), /Good \(line \d+\) has no PaymentMethod/],
        [report({ good: { Colour: 'red' } }), /unknown attribute Colour/],
        [report({ pay: { Barter: undefined } }), /Payment \(line \d+\) has no Barter/],
        [report({ shift: { OpeningDate: '02.03.2026 08:55' } }), /OpeningDate="02.03.2026 08:55"/],
        [report({ shift: { ShiftState: '3' } }), /ShiftState="3"/],
        [report({ swap: true }), /Goods \(line \d+\) is out of the schema's order/],
        [report({ docNs: versionNamespace(3003) }), /expected \{http:\/\/www.1c.ru\/EquipmentService\/3.0.0.2\}SaleReports/],
      ];
      for (const [d, why] of refusals) {
        const r = await post(d);
        assert.equal(r.ok, 'false', String(why));
        assert.match(r.text, /не соответствует формату версии 3002/);
        assert.match(r.text, why);
      }
      assert.equal(emu.shifts.length, 0, 'nothing refused is kept');
      assert.equal((await post(report())).ok, 'true');
      assert.equal((await post(report({ good: { Sum: '170.00' }, pay: { Cash: '170.00' } }))).ok, 'true');
      assert.deepEqual(emu.shifts.map((s) => [s.posts, s.checks[0]!.goods[0]!.Sum]), [[2, '170.00']], 'the same UUID replaced the shift');
      assert.equal((await post(report({ shift: { UUID: undefined } }))).ok, 'true');
      assert.equal(emu.shifts.length, 2, 'without a UUID 1C adds another');
      assert.deepEqual((await post(report(), 'SaleReport')).ok, 'true');
      assert.equal(emu.shifts[0]!.posts, 3, 'SaleReport and SalesReport are read as SaleReports too');
      assert.equal((await post(report(), 'ImportData')).ok, 'true');
      assert.equal(emu.shifts[0]!.posts, 3, 'any other DocType loads nothing');
      assert.ok(emu.requests.every((r) => r.soap === soap));
    });
  }

  it('trap refuse: the next N SaleReports posts answer IsSuccess=false with its text and keep nothing', async (t) => {
    const emu = await esEmulatorFor(t);
    const c = esClient(t, emu.url);
    emu.addTrap(parseTrap('refuse:Не найдена кассовая смена,times=2'));
    const d = buildXml({ name: 'SaleReports', ns: versionNamespace(3003), children: [{ name: 'SaleReport', attrs: { ShiftNumber: '1', OpeningDate: '2026-03-02T08:55:10', ShiftState: '1' } }] });
    const answers: string[] = [];
    for (let i = 0; i < 3; i++) answers.push((await c.call('PostDocs', [...dev, ['DocType', 'SaleReports'], ['Document', d]], signal())).replace(/^[\s\S]*<IsSuccess>(\w+)<\/IsSuccess>(?:<Description>([^<]*)<\/Description>)?[\s\S]*$/, '$1 $2').trim());
    assert.deepEqual(answers, ['false Не найдена кассовая смена', 'false Не найдена кассовая смена', 'true Данные успешно загружены']);
    assert.equal(emu.shifts.length, 1);
    assert.throws(() => parseTrap('refuses:x'), /not understood/);
  });

  it('runs from the command line (npm run es-emulator) and answers SOAP with basic auth', { skip: CLI_EMULATOR_SKIP }, async (t) => {
    const { url, child } = await esEmulatorCli(t, ['--user', ES_USER, '--password', ES_PASSWORD, '--device', 'KASSA-09:3002:10']);
    const c = esClient(t, url);
    assert.equal(await c.connect('KASSA-09', signal()), 3002);
    const res = await request(url, { method: 'POST', body: 'x' });
    assert.equal(res.statusCode, 401);
    await res.body.dump();
    child.kill('SIGTERM');
    const [code] = await once(child, 'exit');
    assert.equal(code, 0);
  });
});
