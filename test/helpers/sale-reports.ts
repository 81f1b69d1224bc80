/**
 * Helpers for the upload tests: the code map a till would have after 1C's
 * price list gave it the goods the ShiftWriter sells, and the figures of a
 * SaleReport the emulator received, computed from its checks in integer
 * kopecks, in the shape of the shift ledger's record.
 */
import * as fs from 'node:fs/promises';
import { join } from 'node:path';
import type { ReceivedShift } from '../../scripts/es-emulator/sale-reports.js';
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
