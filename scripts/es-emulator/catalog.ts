/**
 * The emulator's goods catalogue and how 1C writes it: a catalogue is plain
 * JSON (the attributes of each element exactly as 1C names them, so a test or
 * an integrator can also write what 1C should not: a missing UUID, an unknown
 * tax rate), and `packageXml` turns a slice of it into a `PriceListPackage`
 * document in a format version's namespace, as 1C's writer does (version
 * namespace as the default one, xs/xsi declared, children in schema order,
 * empty optional values left out).
 */
import { buildXml, type XmlNode } from '../../src/transports/equipment-service/xml.js';
import { versionNamespace, XS_NS, XSI_NS, type FormatVersion } from '../../src/transports/equipment-service/messages.js';

export type Attrs = Record<string, string | number | boolean>;

export interface CatalogItem {
  /** Attributes as 1C writes them (Code, Name, Price, UUID, ...). */
  attrs: Attrs;
  barcodes?: string[];
  characteristics?: CatalogItem[];
  packs?: CatalogItem[];
}

export interface Catalog {
  groups?: Attrs[];
  units?: Attrs[];
  goods: CatalogItem[];
}

/** One element of a transfer: a group or a good (groups go first, as 1C splits them). */
export type Element = { kind: 'group'; attrs: Attrs } | { kind: 'good'; item: CatalogItem };

export function elementsOf(c: Catalog): Element[] {
  return [...(c.groups ?? []).map((attrs) => ({ kind: 'group' as const, attrs })), ...c.goods.map((item) => ({ kind: 'good' as const, item }))];
}

/** A stable key of an element, for change registrations (1C registers by object; the code stands in here). */
export function elementKey(e: Element): string {
  return e.kind === 'group' ? `group:${String(e.attrs.Code)}` : `good:${String(e.item.attrs.UUID ?? '')}:${String(e.item.attrs.Code ?? e.item.attrs.Name)}`;
}

const XS = XS_NS;
const XSI = XSI_NS;

function clean(a: Attrs): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(a)) {
    // 1C leaves out false flags and empty values.
    if (v === false || v === '' || v === undefined) continue;
    out[k] = String(v);
  }
  return out;
}

function itemNode(name: string, it: CatalogItem): XmlNode {
  const children: XmlNode[] = [];
  if (it.barcodes && it.barcodes.length > 0) children.push({ name: 'Barcodes', children: it.barcodes.map((v) => ({ name: 'Barcode', attrs: { Value: v } })) });
  if (it.characteristics && it.characteristics.length > 0) children.push({ name: 'Characteristics', children: it.characteristics.map((c) => itemNode('Characteristic', c)) });
  if (it.packs && it.packs.length > 0) children.push({ name: 'Packs', children: it.packs.map((p) => itemNode('Pack', p)) });
  return { name, attrs: clean(it.attrs), children };
}

export interface PackageSpec {
  version: FormatVersion;
  number: number;
  total: number;
  fullExport: boolean;
  units: Attrs[];
  elements: Element[];
}

/** The `PriceList` element of `elements` (groups, then units, then goods, as the schema orders them). */
function priceListNode(fullExport: boolean, units: Attrs[], elements: Element[]): XmlNode {
  const groups = elements.filter((e) => e.kind === 'group');
  const goods = elements.filter((e): e is Extract<Element, { kind: 'good' }> => e.kind === 'good');
  const list: XmlNode[] = [];
  if (groups.length > 0) list.push({ name: 'Groups', children: groups.map((g) => ({ name: 'Group', attrs: clean(g.attrs) })) });
  if (units.length > 0) list.push({ name: 'Units', children: units.map((u) => ({ name: 'Unit', attrs: clean(u) })) });
  if (goods.length > 0) list.push({ name: 'Goods', children: goods.map((g) => itemNode('Good', g.item)) });
  return { name: 'PriceList', attrs: fullExport ? { FullExport: 'true' } : {}, children: list };
}

export function packageXml(p: PackageSpec): string {
  return buildXml({
    name: 'PriceListPackage',
    ns: versionNamespace(p.version),
    declare: { xs: XS, xsi: XSI },
    attrs: { PackageNumber: p.number, PackageTotal: p.total },
    children: [{ name: 'IsFormed', text: 'true' }, priceListNode(p.fullExport, p.units, p.elements)],
  });
}

/** A whole `PriceList` document (GetPriceList, GetGood). */
export function priceListXml(version: FormatVersion, fullExport: boolean, units: Attrs[], elements: Element[]): string {
  return buildXml({ ...priceListNode(fullExport, units, elements), ns: versionNamespace(version), declare: { xs: XS, xsi: XSI } });
}

/** The answer for "no package": IsFormed=false with the defaults 1/1 and no PriceList. */
export function unformedXml(version: FormatVersion): string {
  return buildXml({
    name: 'PriceListPackage',
    ns: versionNamespace(version),
    declare: { xs: XS, xsi: XSI },
    attrs: { PackageNumber: 1, PackageTotal: 1 },
    children: [{ name: 'IsFormed', text: 'false' }],
  });
}

export interface SettingsSpec {
  companyName: string;
  storeName: string;
  inn: string;
  allowDiscounts: boolean;
}

export function settingsXml(version: FormatVersion, s: SettingsSpec): string {
  return buildXml({
    name: 'Settings',
    ns: versionNamespace(version),
    declare: { xs: XS, xsi: XSI },
    children: [
      { name: 'CompanyName', text: s.companyName },
      { name: 'StoreName', text: s.storeName },
      { name: 'TaxationSystems', children: [{ name: 'TaxationSystem', text: '3' }] },
      { name: 'INN', text: s.inn },
      { name: 'AllowDiscounts', text: String(s.allowDiscounts) },
      { name: 'AllowPaymentCards', text: 'true' },
      {
        name: 'ElectronicPaymentOptions',
        children: [
          ['1', '0', 'Платежная карта'],
          ['2', '1', 'Банковский кредит'],
          ['3', '2', 'Подарочный сертификат'],
          ['4', '3', 'Бонусы'],
        ].map(([Code, ElectronicPaymentType, Name]) => ({ name: 'ElectronicPaymentOption', attrs: { Code, ElectronicPaymentType, Name } })),
      },
    ],
  });
}

export function postDocsResponseXml(version: FormatVersion, ok: boolean, description?: string): string {
  return buildXml({
    name: 'PostDocsResponse',
    ns: versionNamespace(version),
    declare: { xs: XS, xsi: XSI },
    children: [{ name: 'IsSuccess', text: String(ok) }, ...(description ? [{ name: 'Description', text: description }] : [])],
  });
}
