/** The EquipmentService emulator for tests: started on a free port, stopped after the test; a catalogue with every shape the conversion handles. */
import type { TestContext } from 'node:test';
import { Agent } from 'undici';
import { startEsEmulator, type EsEmulator, type EsEmulatorOptions } from '../../scripts/es-emulator/server.js';
import type { Catalog, CatalogItem } from '../../scripts/es-emulator/catalog.js';
import { EsClient } from '../../src/transports/equipment-service/client.js';
import { parseServiceRoot } from '../../src/transports/kkmtransfer/urls.js';
import type { SoapVersion } from '../../src/transports/equipment-service/soap.js';

export const ES_USER = 'Кассир';
export const ES_PASSWORD = 'пароль-1';
export const ES_DEVICE = 'KASSA-01';

export async function esEmulatorFor(t: TestContext, opts: EsEmulatorOptions = {}): Promise<EsEmulator> {
  const emu = await startEsEmulator({ user: ES_USER, password: ES_PASSWORD, ...opts });
  t.after(() => emu.stop());
  return emu;
}

/** A SOAP client of the agent's own, pointed at `url`. */
export function esClient(t: TestContext, url: string, over: { user?: string; password?: string; soapVersion?: SoapVersion } = {}): EsClient {
  const dispatcher = new Agent();
  t.after(() => dispatcher.close());
  return new EsClient({
    root: parseServiceRoot(url),
    user: over.user ?? ES_USER,
    password: over.password ?? ES_PASSWORD,
    soapVersion: over.soapVersion ?? '1.1',
    timeoutMs: 5000,
    maxAnswerBytes: 16 * 1024 * 1024,
    dispatcher,
  });
}

export const LONG_NAME = 'Шоколад молочный с цельным фундуком и изюмом, плитка в подарочной упаковке, производство фабрики «Красный Октябрь», Москва, вес нетто 200 г, артикул 2024-123456';

/**
 * Groups (one nested), a plain good with three barcodes and a name with `;`
 * and `#`, a weighed good with a PLU code, a good with two characteristics
 * (one with a pack), a good with packs, a 160-character name.
 */
export function sampleCatalog(): Catalog {
  const good = (attrs: CatalogItem['attrs'], more: Partial<CatalogItem> = {}): CatalogItem => ({ attrs: { CalculationSubject: 1, TaxRate: '20', UnitCode: '796', ...attrs }, ...more });
  return {
    groups: [
      { Code: 'Г-01', Name: 'Продукты', UUID: 'a0000000-0000-0000-0000-000000000001' },
      { Code: 'Г-02', Name: 'Молочные; сыры', UUID: 'a0000000-0000-0000-0000-000000000002', ParentGroupCode: 'Г-01' },
    ],
    goods: [
      good({ UUID: 'b0000000-0000-0000-0000-000000000001', Code: '100231', Name: 'Молоко 3,2%; 1 л #цельное', Price: '89.90', GroupCode: 'Г-02', Article: 'MLK-1', Balance: '12' }, { barcodes: ['4600000000011', '4600000000028', '4600000000035'] }),
      good({ UUID: 'b0000000-0000-0000-0000-000000000002', Code: '00001', Name: 'Сыр Российский весовой', Price: '899.50', TaxRate: '10', IsWeight: true, UnitCode: '166', GroupCode: 'Г-02' }),
      good(
        { UUID: 'b0000000-0000-0000-0000-000000000003', Code: '100300', Name: 'Футболка', HasCharacteristics: true },
        {
          characteristics: [
            { attrs: { Code: '100301', Name: 'L', Price: '500', UUID: 'c0000000-0000-0000-0000-000000000001' }, barcodes: ['2000000000015'] },
            { attrs: { Code: '100302', Name: 'XL', Price: '550', UUID: 'c0000000-0000-0000-0000-000000000002', HasPacks: true }, packs: [{ attrs: { Code: '100303', Name: 'уп 3 шт', UnitsPerPack: '3', Price: '1500' }, barcodes: ['2000000000022'] }] },
          ],
        },
      ),
      good({ UUID: 'b0000000-0000-0000-0000-000000000004', Code: '100400', Name: 'Вода', HasPacks: true, TaxRate: '0' }, { packs: [{ attrs: { Code: '100401', Name: 'бут', UnitsPerPack: '1', Price: '40' }, barcodes: ['4600000000042'] }, { attrs: { Code: '100402', Name: 'упаковка 6 бут', UnitsPerPack: '6', Price: '220' }, barcodes: ['4600000000059'] }] }),
      good({ UUID: 'b0000000-0000-0000-0000-000000000005', Code: '100500', Name: LONG_NAME, Price: '350', GroupCode: 'Г-01' }, { barcodes: ['4600000000066'] }),
      good({ UUID: 'b0000000-0000-0000-0000-000000000006', Code: 'УСЛ-7', Name: 'Доставка', Price: '300', TaxRate: 'none', CalculationSubject: 4 }),
    ],
  };
}
