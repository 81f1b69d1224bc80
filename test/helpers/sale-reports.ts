/**
 * Helpers for the upload tests: the code map a till would have after 1C's
 * price list gave it the goods the ShiftWriter sells, and the figures of a
 * SaleReport the emulator received, computed from its checks in integer
 * kopecks, in the shape of the shift ledger's record.
 */
import * as fs from 'node:fs/promises';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import type { Catalog } from '../../scripts/es-emulator/catalog.js';
import type { ReceivedShift } from '../../scripts/es-emulator/sale-reports.js';
import type { EsEmulator } from '../../scripts/es-emulator/server.js';
import { ES_DEVICE, ES_USER } from './es-emulator.js';
import { makeWorkspace, type Workspace } from './kassir.js';
import { formatAmount, parseAmount } from '../../src/shifts/money.js';

/** Every goods code the ShiftWriter sells (sales, returns, cancelled, deferred, prepayment). */
export const WRITER_CODES = [
  ...Array.from({ length: 97 }, (_, i) => 1000 + i),
  ...Array.from({ length: 89 }, (_, i) => 2000 + i),
  3000, 3001, 3002, 3003, 4000, 4001, 5000,
];

/** Writes `<esDir>/codes.json`: 1C code `1C-<k>` for Kassir code k (TaxRate 20), as a download would leave it. */
export async function writeCodeMap(esDir: string, codes: number[] = WRITER_CODES): Promise<void> {
  await fs.mkdir(esDir, { recursive: true });
  const goods = Object.fromEntries(codes.map((k) => [`1C-${k}`, k]));
  const rates = Object.fromEntries(codes.map((k) => [`1C-${k}`, k % 2 === 0 ? '20' : '10']));
  await fs.writeFile(join(esDir, 'codes.json'), JSON.stringify({ schema: 1, goods, groups: {}, rates }));
}

/** 1C's price list holding every good the ShiftWriter sells, under the same numeric codes (the first run downloads it). */
export function writerCatalog(): Catalog {
  return {
    goods: WRITER_CODES.map((k) => ({
      attrs: { UUID: `c0000000-0000-4000-8000-${String(k).padStart(12, '0')}`, Code: String(k), Name: `Товар ${k}`, TaxRate: k % 2 === 0 ? '20' : '10', Price: '10', CalculationSubject: 1 },
      barcodes: [`46${String(k).padStart(11, '0')}`],
    })),
  };
}

/** The 1C means of a Payment -> the Kassir payment kind, for `paymentKinds: { '1': 'cash', '2': '1' }`. */
export const KIND_OF = { cash: '1', '1': '2' };

/** A workspace whose transport is the emulator's EquipmentService (password in ES_PASSWORD), packages of 25 transactions. */
export async function uploadWorkspace(t: TestContext, emu: EsEmulator, transport: Record<string, unknown> = {}): Promise<Workspace> {
  const ws = await makeWorkspace(
    { batch: { maxTransactions: 25, flushMs: 0 } },
    {
      type: 'equipment-service', url: emu.url, user: ES_USER, password: '${ES_PASSWORD}', deviceId: ES_DEVICE,
      taxGroups: { '20': 1, '10': 2, '0': 3, none: 4 }, paymentKinds: { '1': 'cash', '2': '1' }, timeoutMs: 5_000, formPollMs: 10, formWaitMs: 3_000, ...transport,
    },
  );
  t.after(() => ws.cleanup());
  return ws;
}

export interface SaleReportFigures {
  number: string;
  receipts: { sales: number; returns: number };
  totals: { sales: string; returns: string; revenue: string };
  /** Net per Kassir payment kind (returns negative), through `kindOf` (1C means -> Kassir kind). */
  payments: Record<string, string>;
  cash: { in: string; out: string };
}

const k = (s: string | undefined) => parseAmount(s ?? '0')!;

/** The figures of a received SaleReport; every check must balance (lines = payments). */
export function figuresOf(shift: ReceivedShift, kindOf: Record<string, string>): SaleReportFigures {
  let sales = 0n;
  let returns = 0n;
  let nSales = 0;
  let nReturns = 0;
  const pay = new Map<string, bigint>();
  for (const c of shift.checks) {
    const sign = c.attrs.OperationType === '2' ? -1n : 1n;
    const total = c.goods.reduce((a, g) => a + k(g.Sum), 0n);
    const paid = c.payments.reduce((a, p) => a + k(p.Cash) + k(p.ElectronicPayment), 0n);
    if (total !== paid) throw new Error(`check ${c.attrs.Number}: lines ${formatAmount(total)} but payments ${formatAmount(paid)}`);
    if (sign < 0n) {
      nReturns++;
      returns += total;
    } else {
      nSales++;
      sales += total;
    }
    for (const p of c.payments) {
      const means = k(p.Cash) !== 0n ? 'cash' : p.ElectronicPaymentOptionCode!;
      const kind = kindOf[means] ?? `?${means}`;
      pay.set(kind, (pay.get(kind) ?? 0n) + sign * (k(p.Cash) + k(p.ElectronicPayment)));
    }
  }
  const cash = (type: string) => formatAmount(shift.cash.filter((m) => m.Type === type).reduce((a, m) => a + k(m.Sum), 0n));
  return {
    number: shift.attrs.ShiftNumber!,
    receipts: { sales: nSales, returns: nReturns },
    totals: { sales: formatAmount(sales), returns: formatAmount(returns), revenue: formatAmount(sales - returns) },
    payments: Object.fromEntries([...pay].map(([kind, v]) => [kind, formatAmount(v)])),
    cash: { in: cash('Income'), out: cash('Outcome') },
  };
}

/** The same figures of a ledger record (or a ShiftWriter expectation), for deepEqual. */
export function ledgerFigures(r: { number: string | null; receipts: { sales: number; returns: number }; totals: SaleReportFigures['totals']; payments: Record<string, string>; cash: SaleReportFigures['cash'] }): SaleReportFigures {
  return { number: r.number ?? '', receipts: { sales: r.receipts.sales, returns: r.receipts.returns }, totals: r.totals, payments: r.payments, cash: r.cash };
}
