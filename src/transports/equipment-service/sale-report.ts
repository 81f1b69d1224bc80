/**
 * One closed shift of the till as a 1C `SaleReport` (formats 3001-3003): the
 * mapping of Kassir's report lines onto the document 1C imports. Every type
 * and field it reads comes from `shifts.*` (ShiftLayout, docs/SHIFTS.md:
 * third-party practice, not an official table); the numbers below are the
 * defaults:
 * - each receipt closed in the shift (55, 655) is a `Check`: `OperationType`
 *   1 for a sale, 2 for a return (a negative total, as the shift ledger counts
 *   it), quantities and sums always positive (1C applies the sign itself);
 * - its goods lines (11, 13, 14; 611 prepayment positions) become `Good`s: the
 *   1C code from the code map's way back, quantity, price, the sum after the
 *   storno (12) and the position (15-18) and receipt (35-38) discounts and
 *   markups, a receipt amount spread over the lines by their sums with the
 *   rounding rest on the last line, the TaxRate the price list gave the code,
 *   `PaymentMethod` 4 (full payment; 1 for a prepayment position);
 * - its payments (40, tendered minus change per Kassir payment kind) become
 *   one `Payment` per means: cash, or electronic with the 1C payment option
 *   code `transport.paymentKinds` maps the kind to;
 * - a return by receipt number (80) of a check of the same shift refers to
 *   it (`RefDocumentUUID`; 1C nets it into the shift's sales); a return of an
 *   earlier shift's check stands alone (1C books it as a returns document);
 * - cash in / out (50 / 51) become `IncomeOutcomeChecks`;
 * - the Z report gives `ShiftNumber` and `ClosingDate`, the shift's first line
 *   `OpeningDate`; the shift, its checks and cash movements get name-based
 *   UUIDs, so a re-post replaces in 1C instead of duplicating.
 * What the map cannot express (a free-price line without a goods code, a code
 * that did not come from 1C, a payment kind not mapped, a receipt whose lines
 * or payments do not add up to its total) is never posted wrong: ShiftHeld
 * names each receipt, the code and what to do. Money is whole kopecks
 * (BigInt, src/shifts/money.ts), never floating point.
 */
import type { ShiftLayout } from '../../config/schema.js';
import { EXTRA_DATA, typeClass } from '../../formats/transaction-types.js';
import { lineClock } from '../../formats/line-time.js';
import { formatAmount, parseAmount } from '../../shifts/money.js';
import { field, typeOf, type ShiftLines } from './shift-lines.js';
import { nameUuid } from './uuid.js';
import type { XmlNode } from './xml.js';

/** At most this many problems are named in one message (the rest are counted). */
const SHOWN_PROBLEMS = 5;

export interface SaleReportContext {
  deviceId: string;
  layout: ShiftLayout;
  /** Kassir payment kind -> "cash" or a 1C electronic payment option code (transport.paymentKinds). */
  paymentKinds: Readonly<Record<string, string>>;
  taxationSystem: number;
  /** The 1C code and TaxRate of a Kassir goods code (the code map's way back). */
  goods(kassirCode: number): { code: string; taxRate?: string } | undefined;
  /** 1C's electronic payment option codes from its Settings (empty: not checked). */
  paymentOptions: ReadonlySet<string>;
}

/** The shift cannot be posted as it is: `problems` say which receipt, which code, and what to do. */
export class ShiftHeld extends Error {
  override readonly name = 'ShiftHeld';
  constructor(
    readonly shiftNumber: string,
    readonly pos: string,
    readonly problems: string[],
  ) {
    const shown = problems.slice(0, SHOWN_PROBLEMS).join('; ') + (problems.length > SHOWN_PROBLEMS ? `; and ${problems.length - SHOWN_PROBLEMS} more` : '');
    super(`shift ${shiftNumber || '(no number)'} of POS ${pos} is held, not posted to 1C (nothing of it was sent): ${shown}`);
  }
}

export interface BuiltShift {
  node: XmlNode;
  uuid: string;
  pos: string;
  number: string;
  checks: number;
  returns: number;
  /** Sales minus returns, in kopecks (what the shift ledger calls revenue). */
  revenue: bigint;
}

interface Item {
  kassir: number;
  section: string;
  price: bigint;
  /** Thousandths, positive. */
  qty: bigint;
  /** Kopecks, positive. */
  sum: bigint;
  method: number;
  tx: string;
}

interface Receipt {
  items: Item[];
  /** Receipt-level markups minus discounts, in kopecks. */
  adjust: bigint;
  /** Net per Kassir payment kind (negative in a return receipt). */
  pays: Map<string, bigint>;
  /** The number of the receipt this one returns (a `80` line). */
  returns?: string;
}

/** Builds the SaleReport of a closed shift; throws ShiftHeld when a receipt cannot be expressed. */
export function buildSaleReport(shift: ShiftLines, c: SaleReportContext): BuiltShift {
  const L = c.layout;
  const problems: string[] = [];
  const receipts = new Map<string, Receipt>();
  const checks: XmlNode[] = [];
  const cash: { date: string; number: string; type: 'Income' | 'Outcome'; sum: bigint; tx: string }[] = [];
  const z = shift.lines[shift.lines.length - 1] ?? '';
  const number = field(z, c.layout.zNumberField);
  if (!/^\d+$/.test(number)) problems.push(`the Z report (transaction ${field(z, 1)}) has no shift number in field ${c.layout.zNumberField} ("${number}"), and 1C finds the cash shift by it: see the shift's anomalies in kassir-agent shifts`);
  const closing = localTime(field(z, 2), field(z, 3));
  const first = shift.lines.find((l) => (typeClass(typeOf(l)) & EXTRA_DATA) === 0);
  const opening = (first && localTime(field(first, 2), field(first, 3))) ?? closing;
  if (!closing || !opening) problems.push(`the Z report (transaction ${field(z, 1)}) or the shift's first line has no readable date and time`);
  const uuid = nameUuid(`shift|${c.deviceId}|${shift.pos}|${number}|${opening ?? ''}`);
  let returns = 0;
  let revenue = 0n;
  /** Receipt number -> UUID of its sale check in this shift, for a return's RefDocumentUUID. */
  const sold = new Map<string, string>();

  for (const l of [...shift.carried, ...shift.lines]) {
    const t = typeOf(l);
    const f = (n: number) => field(l, n);
    const key = f(6);
    const where = `receipt ${key} (transaction ${f(1)}, ${f(2)} ${f(3)})`;
    const receipt = () => {
      let r = receipts.get(key);
      if (!r) receipts.set(key, (r = { items: [], adjust: 0n, pays: new Map() }));
      return r;
    };
    const amount = (n: number, what: string): bigint | undefined => {
      const v = parseAmount(f(n));
      if (v === undefined) problems.push(`${where}: ${what} in field ${n} is not an amount: "${f(n)}"`);
      return v;
    };
    if (L.goodsTypes.includes(t)) {
      const codeText = f(L.goodsCodeField);
      const price = amount(L.goodsPriceField, 'the price');
      const qty = parseQuantity(f(L.goodsQuantityField));
      const sum = amount(L.goodsSumField, 'the sum');
      if (!/^\d+$/.test(codeText)) problems.push(`${where}: the goods code "${codeText}" (field ${L.goodsCodeField}) is not a number`);
      if (qty === undefined) problems.push(`${where}: the quantity "${f(L.goodsQuantityField)}" (field ${L.goodsQuantityField}) is not a number with at most 3 decimals`);
      if (price === undefined || sum === undefined || qty === undefined || !/^\d+$/.test(codeText)) continue;
      receipt().items.push({ kassir: Number(codeText), section: f(L.goodsSectionField), price: abs(price), qty: abs(qty), sum: abs(sum), method: L.prepaymentTypes.includes(t) ? 1 : 4, tx: f(1) });
    } else if (L.freePriceTypes.includes(t)) {
      problems.push(`${where}: a free-price line (type ${t}) has no goods code, so 1C cannot tell what was sold: sell goods from 1C's price list by code on this till (or give the item a code in 1C and run kassir-agent full-export), then post this shift by hand in 1C`);
    } else if (t === L.stornoType) {
      const qty = parseQuantity(f(L.goodsQuantityField));
      const sum = amount(L.goodsSumField, 'the storno sum');
      const price = amount(L.goodsPriceField, 'the storno price');
      const item = receipt().items.findLast((i) => String(i.kassir) === f(L.goodsCodeField) && i.section === f(L.goodsSectionField) && i.price === abs(price ?? -1n) && qty !== undefined && i.qty >= abs(qty));
      if (!item || qty === undefined || sum === undefined) {
        problems.push(`${where}: the storno of goods code ${f(L.goodsCodeField)} matches no line of the receipt (same code, section and price)`);
        continue;
      }
      item.qty -= abs(qty);
      item.sum -= abs(sum);
    } else if (L.positionDiscountTypes.includes(t) || L.positionMarkupTypes.includes(t)) {
      const v = amount(L.adjustmentSumField, 'the discount or markup sum');
      const item = receipt().items.findLast((i) => String(i.kassir) === f(L.goodsCodeField));
      if (v === undefined) continue;
      if (!item) {
        problems.push(`${where}: the discount or markup (type ${t}) on goods code ${f(L.goodsCodeField)} matches no line of the receipt`);
        continue;
      }
      item.sum += L.positionMarkupTypes.includes(t) ? abs(v) : -abs(v);
    } else if (L.receiptDiscountTypes.includes(t) || L.receiptMarkupTypes.includes(t)) {
      const v = amount(L.adjustmentSumField, 'the discount or markup sum');
      if (v !== undefined) receipt().adjust += L.receiptMarkupTypes.includes(t) ? abs(v) : -abs(v);
    } else if (t === L.returnByReceiptType) {
      if (f(L.returnedReceiptField) !== '') receipt().returns = f(L.returnedReceiptField);
    } else if (t === c.layout.paymentType) {
      const tendered = amount(c.layout.paymentTenderedField, 'the amount tendered');
      const change = f(c.layout.paymentChangeField) === '' ? 0n : amount(c.layout.paymentChangeField, 'the change');
      if (tendered === undefined || change === undefined) continue;
      // As the shift ledger counts it: tendered - change; in a return receipt |tendered| - change, paid back.
      const net = tendered < 0n ? tendered + change : tendered - change;
      const kind = f(c.layout.paymentKindField) || '?';
      const r = receipt();
      r.pays.set(kind, (r.pays.get(kind) ?? 0n) + net);
    } else if (c.layout.receiptCancelledTypes.includes(t)) {
      receipts.delete(key);
    } else if (c.layout.receiptClosedTypes.includes(t)) {
      const r = receipts.get(key) ?? { items: [], adjust: 0n, pays: new Map<string, bigint>() };
      receipts.delete(key);
      const total = amount(c.layout.receiptTotalField, 'the receipt total');
      const date = localTime(f(2), f(3));
      if (total === undefined || !date) continue;
      const op = total < 0n ? 2 : 1;
      if (op === 2) returns++;
      revenue += total;
      const check = receiptCheck(r, abs(total), op, where, c, problems);
      const checkUuid = nameUuid(`check|${uuid}|${key}|${f(1)}`);
      if (op === 1) sold.set(key, checkUuid);
      // A return of a check of this shift refers to it (1C nets it into the shift's sales); any other stands alone.
      const ref = op === 2 && r.returns !== undefined ? sold.get(r.returns) : undefined;
      checks.push({
        name: 'Check',
        attrs: { Date: date, Number: key, TaxationSystem: c.taxationSystem, OperationType: op, UUID: checkUuid, RefDocumentUUID: ref, RefDocumentType: ref ? 'Check' : undefined },
        children: check,
      });
    } else if (t === c.layout.cashInType || t === c.layout.cashOutType) {
      const v = amount(c.layout.cashAmountField, 'the cash amount');
      const date = localTime(f(2), f(3));
      if (v === undefined || !date) continue;
      cash.push({ date, number: f(6) || f(1), type: t === c.layout.cashInType ? 'Income' : 'Outcome', sum: abs(v), tx: f(1) });
    }
  }
  if (problems.length > 0) throw new ShiftHeld(number, shift.pos, problems);
  const children: XmlNode[] = [{ name: 'Checks', children: checks }];
  if (cash.length > 0) {
    children.push({
      name: 'IncomeOutcomeChecks',
      children: cash.map((m) => ({ name: 'IncomeOutcomeCheck', attrs: { Date: m.date, Number: m.number, Type: m.type, Sum: formatAmount(m.sum), UUID: nameUuid(`cash|${uuid}|${m.tx}`) } })),
    });
  }
  return {
    node: { name: 'SaleReport', attrs: { ShiftNumber: number, OpeningDate: opening, ClosingDate: closing, UUID: uuid, ShiftState: 1 }, children },
    uuid,
    pos: shift.pos,
    number,
    checks: checks.length,
    returns,
    revenue,
  };
}

/** The `Goods` and `Payments` of one receipt; adds to `problems` what cannot be expressed. */
function receiptCheck(r: Receipt, total: bigint, op: number, where: string, c: SaleReportContext, problems: string[]): XmlNode[] {
  const items = r.items.filter((i) => i.qty > 0n);
  spread(items, r.adjust);
  const lineSum = items.reduce((a, i) => a + i.sum, 0n);
  if (lineSum !== total || items.some((i) => i.sum < 0n)) {
    problems.push(`${where}: its lines come to ${formatAmount(lineSum)} after discounts, its total is ${formatAmount(total)}: check the receipt in Kassir; it is not corrected by guess`);
  }
  const goods: XmlNode[] = [];
  for (const i of items) {
    const g = c.goods(i.kassir);
    if (!g) {
      problems.push(`${where}: goods code ${i.kassir} has no 1C code (it did not come from 1C's price list): give the good this code (${i.kassir}) in 1C's offline-equipment goods codes and run kassir-agent full-export; the shift is posted on the next try`);
      continue;
    }
    if (g.taxRate === undefined) {
      problems.push(`${where}: the tax rate of 1C code ${g.code} (Kassir code ${i.kassir}) is not known yet: run kassir-agent full-export so that the price list gives it; the shift is posted on the next try`);
      continue;
    }
    goods.push({
      name: 'Good',
      attrs: { Code: g.code, Quantity: formatQuantity(i.qty), Price: formatAmount(i.price), Sum: formatAmount(i.sum), TaxRate: g.taxRate, PaymentMethod: i.method },
    });
  }
  // One Payment per means: 1C counts a Payment with cash as cash and ignores its electronic part.
  const means = new Map<string, bigint>();
  let paid = 0n;
  for (const [kind, net] of r.pays) {
    const amount = op === 2 ? -net : net;
    paid += amount;
    const to = c.paymentKinds[kind];
    if (to === undefined) {
      problems.push(`${where}: payment kind "${kind}" is not in transport.paymentKinds: map it to "cash" or to the code of a 1C electronic payment option${optionList(c)}, then restart the agent`);
      continue;
    }
    if (to !== 'cash' && c.paymentOptions.size > 0 && !c.paymentOptions.has(to)) {
      problems.push(`${where}: payment kind "${kind}" maps to the 1C electronic payment option "${to}", which 1C does not offer this device${optionList(c)}: fix transport.paymentKinds, then restart the agent`);
      continue;
    }
    means.set(to, (means.get(to) ?? 0n) + amount);
  }
  if (paid !== total) problems.push(`${where}: its payments come to ${formatAmount(paid)}, its total is ${formatAmount(total)}: check the receipt in Kassir`);
  const payments: XmlNode[] = [];
  for (const [to, amount] of means) {
    if (amount === 0n) continue;
    const isCash = to === 'cash';
    payments.push({
      name: 'Payment',
      attrs: {
        Cash: isCash ? formatAmount(amount) : '0',
        ElectronicPayment: isCash ? '0' : formatAmount(amount),
        PrePayment: '0',
        PostPayment: '0',
        Barter: '0',
        ElectronicPaymentOptionCode: isCash ? undefined : to,
      },
    });
  }
  const out: XmlNode[] = [{ name: 'Goods', children: goods }];
  if (payments.length > 0) out.push({ name: 'Payments', children: payments });
  return out;
}

function optionList(c: SaleReportContext): string {
  return c.paymentOptions.size > 0 ? ` (1C offers ${[...c.paymentOptions].map((o) => `"${o}"`).join(', ')})` : '';
}

/** Spreads a receipt-level amount over the lines by their sums; the rounding rest goes on the last line. */
export function spread(items: { sum: bigint }[], amount: bigint): void {
  if (amount === 0n || items.length === 0) return;
  const base = items.reduce((a, i) => a + i.sum, 0n);
  let given = 0n;
  items.forEach((i, n) => {
    const share = n === items.length - 1 ? amount - given : base === 0n ? 0n : (amount * i.sum) / base;
    given += share;
    i.sum += share;
  });
}

const abs = (v: bigint) => (v < 0n ? -v : v);

/** A quantity in thousandths (QuantityType has 3 decimals), or undefined. */
export function parseQuantity(text: string): bigint | undefined {
  const m = /^([+-]?)(\d+)(?:\.(\d*))?$/.exec(text.trim());
  if (!m || /[1-9]/.test((m[3] ?? '').slice(3))) return undefined;
  const v = BigInt(m[2]!) * 1000n + BigInt(((m[3] ?? '') + '000').slice(0, 3));
  return m[1] === '-' ? -v : v;
}

export function formatQuantity(thousandths: bigint): string {
  return `${thousandths / 1000n}.${String(thousandths % 1000n).padStart(3, '0')}`;
}

/** The till's local date and time as 1C writes a dateTime (no time zone): `DD.MM.YY` + `HH:MM:SS` -> `YYYY-MM-DDTHH:MM:SS`. */
export function localTime(date: string, time: string): string | undefined {
  const c = lineClock(date, time);
  if (!c) return undefined;
  const two = (n: number) => String(n).padStart(2, '0');
  return `${String(c.year).padStart(4, '0')}-${two(c.month)}-${two(c.day)}T${two(c.hour)}:${two(c.minute)}:${two(c.second)}`;
}
