/**
 * What the emulator does with a posted `SaleReports` document, as 1C:УТ 11
 * does: reads it against the format's rules (XDTO refuses an unknown or
 * missing attribute, a bad value, an element out of place or in another
 * namespace), and keeps the shifts it received, a re-post with the same
 * `SaleReport/@UUID` replacing the earlier one, a report without a UUID
 * always added (1C duplicates then).
 */
import { childrenNamed, parseXml, qname, type XmlElement } from '../../src/transports/equipment-service/xml.js';

type ValueRule = RegExp;
const STRING_ID = /^[\s\S]{1,36}$/;
const INT = /^-?\d+$/;
const DATE_TIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d$/;
const MONEY = /^-?\d{1,13}(\.\d{1,2})?$/;
const QUANTITY = /^-?\d{1,12}(\.\d{1,3})?$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

interface ElementRule {
  need?: Record<string, ValueRule>;
  may?: Record<string, ValueRule>;
  /** Child elements allowed, in schema order. */
  children?: string[];
  /** At least one child (the schema's lower bound 1 of a repeated element). */
  nonEmpty?: boolean;
}

/** The SaleReports schema of formats 3001-3003 (they differ only in the namespace). */
const RULES: Record<string, ElementRule> = {
  SaleReports: { children: ['SaleReport'], nonEmpty: true },
  SaleReport: { need: { ShiftNumber: STRING_ID, OpeningDate: DATE_TIME, ShiftState: /^[12]$/ }, may: { ClosingDate: DATE_TIME, UUID }, children: ['Checks', 'IncomeOutcomeChecks'] },
  Checks: { children: ['Check'] },
  Check: {
    need: { Date: DATE_TIME, Number: STRING_ID, TaxationSystem: INT, OperationType: /^[1-4]$/ },
    may: { UUID, RefDocumentUUID: UUID, RefDocumentType: /^(Check|Order)$/ },
    children: ['Goods', 'Payments'],
  },
  Goods: { children: ['Good'] },
  Good: {
    need: { Code: STRING_ID, Quantity: QUANTITY, Price: MONEY, Sum: MONEY, TaxRate: STRING_ID, PaymentMethod: /^[1-7]$/ },
    may: { GoodUUID: UUID, CharacteristicUUID: UUID, PackingUUID: UUID },
    children: ['ExciseStamps'],
  },
  ExciseStamps: { children: ['ExciseStamp'], nonEmpty: true },
  ExciseStamp: {},
  Payments: { children: ['Payment'], nonEmpty: true },
  Payment: {
    need: { Cash: MONEY, ElectronicPayment: MONEY, PrePayment: MONEY, PostPayment: MONEY, Barter: MONEY },
    may: { ElectronicPaymentOptionCode: STRING_ID, ElectronicPaymentOptionUUID: UUID },
  },
  IncomeOutcomeChecks: { children: ['IncomeOutcomeCheck'], nonEmpty: true },
  IncomeOutcomeCheck: { need: { Date: DATE_TIME, Number: STRING_ID, Type: /^(Income|Outcome)$/, Sum: MONEY }, may: { UUID } },
};

/** The first thing 1C's reader would refuse in a posted SaleReports; undefined when it reads. */
export function saleReportsProblem(document: string, ns: string): string | undefined {
  let root: XmlElement;
  try {
    root = parseXml(document, 'Document');
  } catch (e) {
    return (e as Error).message;
  }
  if (root.ns !== ns || root.name !== 'SaleReports') return `root ${qname(root)}, expected {${ns}}SaleReports`;
  return elementProblem(root, ns);
}

function elementProblem(el: XmlElement, ns: string): string | undefined {
  const rule = RULES[el.name]!;
  const at = `${el.name} (line ${el.line})`;
  for (const [name, re] of Object.entries(rule.need ?? {})) {
    const v = el.attrs[name];
    if (v === undefined || v === '') return `${at} has no ${name}`;
    if (!re.test(v)) return `${at}: ${name}="${v}" is not a valid value`;
  }
  for (const [name, v] of Object.entries(el.attrs)) {
    if (rule.need?.[name]) continue;
    const re = rule.may?.[name];
    if (!re) return `${at}: unknown attribute ${name}`;
    if (!re.test(v)) return `${at}: ${name}="${v}" is not a valid value`;
  }
  const order = rule.children ?? [];
  let last = -1;
  for (const c of el.children) {
    const i = order.indexOf(c.name);
    if (c.ns !== ns || i === -1) return `${at}: unexpected element ${qname(c)}`;
    if (i < last) return `${at}: ${c.name} (line ${c.line}) is out of the schema's order`;
    last = i;
    const p = elementProblem(c, ns);
    if (p) return p;
  }
  if (rule.nonEmpty && el.children.length === 0) return `${at} is empty (it needs at least one ${order[0]})`;
  if (el.name !== 'ExciseStamp' && el.text.trim() !== '') return `${at} holds text`;
  return undefined;
}

/** A shift as the emulator keeps it: the SaleReport's attributes and its checks and cash movements, values as posted. */
export interface ReceivedShift {
  device: string;
  /** How many times it was posted (a re-post with the same UUID replaces it and adds one). */
  posts: number;
  attrs: Record<string, string>;
  checks: { attrs: Record<string, string>; goods: Record<string, string>[]; payments: Record<string, string>[] }[];
  cash: Record<string, string>[];
}

/** Adds the SaleReports of a valid document to `shifts` (keyed by device and UUID; a report without a UUID always adds). */
export function receiveShifts(shifts: ReceivedShift[], device: string, document: string, ns: string): void {
  const root = parseXml(document, 'Document');
  for (const r of childrenNamed(root, ns, 'SaleReport')) {
    const list = (parent: XmlElement, holder: string, item: string) => childrenNamed(parent, ns, holder).flatMap((h) => childrenNamed(h, ns, item));
    const shift: ReceivedShift = {
      device,
      posts: 1,
      attrs: { ...r.attrs },
      checks: list(r, 'Checks', 'Check').map((c) => ({
        attrs: { ...c.attrs },
        goods: list(c, 'Goods', 'Good').map((g) => ({ ...g.attrs })),
        payments: list(c, 'Payments', 'Payment').map((p) => ({ ...p.attrs })),
      })),
      cash: list(r, 'IncomeOutcomeChecks', 'IncomeOutcomeCheck').map((m) => ({ ...m.attrs })),
    };
    const i = r.attrs.UUID === undefined ? -1 : shifts.findIndex((s) => s.device === device && s.attrs.UUID === r.attrs.UUID);
    if (i === -1) shifts.push(shift);
    else shifts[i] = { ...shift, posts: shifts[i]!.posts + 1 };
  }
}
