/**
 * The payload documents of formats 3001-3003 that the download side reads:
 * `Settings` and `PriceListPackage` (with its `PriceList`). Each is a whole XML
 * document in the version's namespace (`http://www.1c.ru/EquipmentService/3.0.0.N`);
 * a document in another namespace is refused, never guessed at. Mandatory
 * attributes missing or values that are not numbers make the document invalid
 * (PriceListInvalid names the element, its line and the attribute): the
 * transfer is refused whole, nothing of it reaches the till.
 */
import { buildXml, child, childrenNamed, parseXml, qname, XmlSyntaxError, type XmlElement, type XmlNode } from './xml.js';

export const SUPPORTED_VERSIONS = [3001, 3002, 3003] as const;
export type FormatVersion = (typeof SUPPORTED_VERSIONS)[number];

export function versionNamespace(v: FormatVersion): string {
  return `http://www.1c.ru/EquipmentService/3.0.0.${v - 3000}`;
}

/** A payload that does not follow the format: names the document, the element's line and what is wrong. */
export class PayloadInvalid extends Error {
  override readonly name = 'PayloadInvalid';
}

function rootOf(text: string, what: string, v: FormatVersion, rootName: string): XmlElement {
  let root: XmlElement;
  try {
    root = parseXml(text, what);
  } catch (e) {
    if (e instanceof XmlSyntaxError) throw new PayloadInvalid(e.message);
    throw e;
  }
  const ns = versionNamespace(v);
  if (root.ns !== ns || root.name !== rootName) {
    throw new PayloadInvalid(`${what}: expected the root {${ns}}${rootName} (format ${v}), got ${qname(root)}`);
  }
  return root;
}

/** What the agent keeps of `Settings` (in the transport cursor); the upload side needs the payment options. */
export interface EsSettings {
  companyName?: string;
  storeName?: string;
  inn?: string;
  taxationSystems: number[];
  allowDiscounts?: boolean;
  allowPaymentCards?: boolean;
  electronicPaymentOptions: { code: string; type: number; name: string; uuid?: string }[];
}

export function readSettings(text: string, v: FormatVersion): EsSettings {
  const what = 'GetSettings answer';
  const root = rootOf(text, what, v, 'Settings');
  const ns = root.ns;
  const str = (name: string) => child(root, ns, name)?.text.trim() || undefined;
  const bool = (name: string) => {
    const s = str(name);
    return s === undefined ? undefined : s === 'true' || s === '1';
  };
  const ts = child(root, ns, 'TaxationSystems');
  const opts = child(root, ns, 'ElectronicPaymentOptions');
  return {
    companyName: str('CompanyName'),
    storeName: str('StoreName'),
    inn: str('INN'),
    taxationSystems: ts ? childrenNamed(ts, ns, 'TaxationSystem').map((e) => Number(e.text.trim())).filter(Number.isFinite) : [],
    allowDiscounts: bool('AllowDiscounts'),
    allowPaymentCards: bool('AllowPaymentCards'),
    electronicPaymentOptions: opts
      ? childrenNamed(opts, ns, 'ElectronicPaymentOption').map((e) => ({
          code: need(e, 'Code', what),
          type: Number(need(e, 'ElectronicPaymentType', what)),
          name: need(e, 'Name', what),
          ...(e.attrs.UUID ? { uuid: e.attrs.UUID } : {}),
        }))
      : [],
  };
}

/** The head of a `PriceListPackage`; `priceList` is undefined when unformed (or nil). */
export interface PackageHead {
  isFormed: boolean;
  packageNumber: number;
  packageTotal: number;
  priceList?: XmlElement;
}

export function readPackage(text: string, v: FormatVersion, what: string): PackageHead {
  const root = rootOf(text, what, v, 'PriceListPackage');
  const formed = child(root, root.ns, 'IsFormed');
  if (!formed) throw new PayloadInvalid(`${what}: PriceListPackage has no IsFormed element`);
  const pl = child(root, root.ns, 'PriceList');
  const nil = pl && Object.entries(pl.attrs).some(([k, val]) => k === 'nil' && val === 'true');
  return {
    isFormed: formed.text.trim() === 'true' || formed.text.trim() === '1',
    packageNumber: wholeNumber(root, 'PackageNumber', what, 1),
    packageTotal: wholeNumber(root, 'PackageTotal', what, 1),
    ...(pl && !nil ? { priceList: pl } : {}),
  };
}

function wholeNumber(el: XmlElement, attr: string, what: string, dflt: number): number {
  const raw = el.attrs[attr];
  if (raw === undefined) return dflt;
  const n = Number(raw.trim());
  if (!Number.isSafeInteger(n) || n < 1) throw new PayloadInvalid(`${what}: ${el.name}/@${attr} "${raw}" is not a whole number >= 1`);
  return n;
}

// ---- the price list ------------------------------------------------------------------

export interface EsGroup {
  code: string;
  name: string;
  parentCode?: string;
}

/** A pack, a characteristic or a good: what a sellable leaf is made of. */
export interface EsItem {
  code?: string;
  name?: string;
  price?: number;
  balance?: number;
  barcodes: string[];
  line: number;
}

export interface EsPack extends EsItem {
  unitsPerPack?: number;
}

export interface EsCharacteristic extends EsItem {
  packs: EsPack[];
}

export interface EsGood extends EsItem {
  uuid: string;
  name: string;
  taxRate: string;
  groupCode?: string;
  article?: string;
  isWeight: boolean;
  department?: number;
  characteristics: EsCharacteristic[];
  packs: EsPack[];
}

export interface EsPriceList {
  fullExport: boolean;
  groups: EsGroup[];
  goods: EsGood[];
}

/** Reads and checks one package's `PriceList`. */
export function readPriceList(pl: XmlElement, what: string): EsPriceList {
  const ns = pl.ns;
  const listOf = (parent: XmlElement | undefined, holder: string, item: string) => {
    const h = parent ? child(parent, ns, holder) : undefined;
    return h ? childrenNamed(h, ns, item) : [];
  };
  const groups = listOf(pl, 'Groups', 'Group').map((g) => ({
    code: need(g, 'Code', what).trim(),
    name: need(g, 'Name', what),
    ...(optional(g, 'ParentGroupCode') !== undefined ? { parentCode: optional(g, 'ParentGroupCode')! } : {}),
  }));
  for (const g of listOf(pl, 'Groups', 'Group')) need(g, 'UUID', what);
  const barcodes = (el: XmlElement) => listOf(el, 'Barcodes', 'Barcode').map((b) => need(b, 'Value', what).trim());
  const item = (el: XmlElement): EsItem => ({
    ...(optional(el, 'Code') !== undefined ? { code: optional(el, 'Code')! } : {}),
    ...(optional(el, 'Name') !== undefined ? { name: el.attrs.Name! } : {}),
    ...(money(el, 'Price', what) !== undefined ? { price: money(el, 'Price', what)! } : {}),
    ...(money(el, 'Balance', what) !== undefined ? { balance: money(el, 'Balance', what)! } : {}),
    barcodes: barcodes(el),
    line: el.line,
  });
  const pack = (el: XmlElement): EsPack => {
    need(el, 'Code', what);
    const upp = money(el, 'UnitsPerPack', what);
    return { ...item(el), ...(upp !== undefined ? { unitsPerPack: upp } : {}) };
  };
  const goods = listOf(pl, 'Goods', 'Good').map((g): EsGood => {
    const dept = money(g, 'Department', what);
    return {
      ...item(g),
      uuid: need(g, 'UUID', what),
      name: need(g, 'Name', what),
      taxRate: need(g, 'TaxRate', what).trim(),
      ...(optional(g, 'GroupCode') !== undefined ? { groupCode: optional(g, 'GroupCode')! } : {}),
      ...(optional(g, 'Article') !== undefined ? { article: optional(g, 'Article')! } : {}),
      isWeight: flag(g, 'IsWeight'),
      ...(dept !== undefined ? { department: dept } : {}),
      characteristics: listOf(g, 'Characteristics', 'Characteristic').map((c) => {
        need(c, 'Name', what);
        return { ...item(c), packs: listOf(c, 'Packs', 'Pack').map(pack) };
      }),
      packs: listOf(g, 'Packs', 'Pack').map(pack),
    };
  });
  return { fullExport: flag(pl, 'FullExport'), groups, goods };
}

function need(el: XmlElement, attr: string, what: string): string {
  const v = el.attrs[attr];
  if (v === undefined || v.trim() === '') {
    const name = el.attrs.Name ?? el.attrs.Code;
    throw new PayloadInvalid(`${what}, line ${el.line}: ${el.name}${name ? ` "${name}"` : ''} has no ${attr} (mandatory in the format): fill it in 1C, then run kassir-agent full-export`);
  }
  return v;
}

function optional(el: XmlElement, attr: string): string | undefined {
  const v = el.attrs[attr]?.trim();
  return v === undefined || v === '' ? undefined : v;
}

const DECIMAL = /^-?\d+(\.\d+)?$/;

function money(el: XmlElement, attr: string, what: string): number | undefined {
  const v = optional(el, attr);
  if (v === undefined) return undefined;
  if (!DECIMAL.test(v)) throw new PayloadInvalid(`${what}, line ${el.line}: ${el.name}/@${attr} "${v}" is not a decimal number`);
  return Number(v);
}

function flag(el: XmlElement, attr: string): boolean {
  const v = optional(el, attr);
  return v === 'true' || v === '1';
}

// ---- the upload side --------------------------------------------------------------------

/** The namespaces 1C's writer declares on every payload root. */
export const XS_NS = 'http://www.w3.org/2001/XMLSchema';
export const XSI_NS = 'http://www.w3.org/2001/XMLSchema-instance';

/** A `SaleReports` document holding `reports` (SaleReport nodes), in the version's namespace. */
export function saleReportsXml(v: FormatVersion, reports: XmlNode[]): string {
  return buildXml({ name: 'SaleReports', ns: versionNamespace(v), declare: { xs: XS_NS, xsi: XSI_NS }, children: reports });
}

/** 1C's answer to PostDocs: the `PostDocsResponse` document of the version (not the SOAP element of the same name). */
export function readPostDocsResponse(text: string, v: FormatVersion): { isSuccess: boolean; description: string } {
  const what = 'PostDocs answer';
  const root = rootOf(text, what, v, 'PostDocsResponse');
  const ok = child(root, root.ns, 'IsSuccess');
  if (!ok) throw new PayloadInvalid(`${what}: PostDocsResponse has no IsSuccess element`);
  const s = ok.text.trim();
  return { isSuccess: s === 'true' || s === '1', description: child(root, root.ns, 'Description')?.text.trim() ?? '' };
}
