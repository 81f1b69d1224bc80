/**
 * Writes report lines of whole shifts the way the till does (sales with
 * discounts, returns, cancelled, deferred and prepayment receipts, cash and
 * card payments with change, cash in/out, X and Z reports, extra data and a
 * line of an unknown type) and keeps, beside them, the figures each shift
 * must show: computed here from the amounts it wrote, in integer kopecks,
 * independently of the agent's ledger. Amounts in the lines are written with
 * two decimals, as Kassir does.
 */

import type { ShiftRecord } from '../../src/shifts/record.js';

/** The figures the test computes itself, in the shape of the ledger's record. */
export type ExpectedShift = Pick<ShiftRecord, 'number' | 'partial' | 'receipts' | 'totals' | 'payments' | 'cash' | 'z' | 'matches' | 'state' | 'unknown'>;

interface Figures {
  number: string | null;
  sales: number;
  returns: number;
  cancelled: number;
  salesK: number;
  returnsK: number;
  payK: Map<string, number>;
  cashInK: number;
  cashOutK: number;
  unknown: number;
  /** Lines were written in it (a shift the ledger has a record of). */
  lines: number;
  z?: { revenueK: number; cashK: number };
}

/** Kopecks as the ledger writes them ("270.00"), computed with integers only. */
export function money(k: number): string {
  const neg = k < 0;
  const a = Math.abs(k);
  return `${neg ? '-' : ''}${Math.floor(a / 100)}.${String(a % 100).padStart(2, '0')}`;
}

export type Rand = (min: number, maxExclusive: number) => number;
const mathRand: Rand = (min, max) => min + Math.floor(Math.random() * (max - min));

export class ShiftWriter {
  /** Lines written since the last `take()`, without EOL. */
  private buffer: string[] = [];
  /** Transaction numbers written (field 1), in order. */
  readonly written: number[] = [];
  /** One entry per shift, the last one open. */
  private readonly shifts: Figures[] = [];
  private tx: number;
  private receipt = 1;
  private seconds = 8 * 3600;
  /** The business day of the shift being written: one a day from today on. */
  private day = new Date();
  /** A deferred receipt waiting to be resumed: its number and what it holds. */
  private deferred?: { receipt: number; itemsK: number[] };
  /** False: `activity` writes no deferred receipts. */
  allowDefer = true;

  constructor(
    readonly pos = 1,
    private nextShift = 1,
    firstTx = 1,
    private readonly rand: Rand = mathRand,
  ) {
    this.tx = firstTx;
    this.shifts.push(this.fresh());
  }

  private fresh(): Figures {
    return { number: null, sales: 0, returns: 0, cancelled: 0, salesK: 0, returnsK: 0, payK: new Map(), cashInK: 0, cashOutK: 0, unknown: 0, lines: 0 };
  }

  private get cur(): Figures {
    return this.shifts[this.shifts.length - 1]!;
  }

  private line(type: number, receipt: number | '', f8: string | number = '', f9: string | number = '', f10: string | number = '', f11: string | number = '', f12: string | number = ''): void {
    const n = this.tx++;
    this.seconds += 7;
    const s = this.seconds % 86400;
    const time = [Math.floor(s / 3600), Math.floor((s % 3600) / 60), s % 60].map((v) => String(v).padStart(2, '0')).join(':');
    const d = this.day;
    const date = `${String(d.getDate()).padStart(2, '0')}.${String(d.getMonth() + 1).padStart(2, '0')}.${String(d.getFullYear() % 100).padStart(2, '0')}`;
    this.written.push(n);
    this.cur.lines++;
    this.buffer.push(`${n};${date};${time};${type};${this.pos};${receipt};7;${f8};${f9};${f10};${f11};${f12};`);
  }

  private pay(receipt: number, totalK: number, opts: { cashShareK?: number; kinds?: string[] } = {}): void {
    // Pays `totalK` (negative: paid back) in cash with change, or cash + card.
    const sign = totalK < 0 ? -1 : 1;
    const abs = Math.abs(totalK);
    const card = opts.kinds?.includes('2') ? this.rand(0, abs + 1) : 0;
    const cash = abs - card;
    if (cash > 0 || card === 0) {
      const change = sign > 0 ? this.rand(0, 3) * 50 : 0;
      this.line(40, receipt, '', '', money(change), 1, money(sign * (cash + change)));
      this.addPay('1', sign * cash);
    }
    if (card > 0) {
      this.line(40, receipt, '', '', money(0), 2, money(sign * card));
      this.addPay('2', sign * card);
    }
  }

  private addPay(kind: string, k: number): void {
    this.cur.payK.set(kind, (this.cur.payK.get(kind) ?? 0) + k);
  }

  /** A sale receipt of 1-4 items, maybe a receipt discount, paid in cash (with change) and/or by card. */
  sale(): void {
    const r = this.receipt++;
    const items = Array.from({ length: this.rand(1, 5) }, () => this.rand(1, 500) * 10 + this.rand(0, 10));
    for (const k of items) this.line(11, r, 1000 + (k % 97), 1, money(k), 1, money(k));
    let total = items.reduce((a, b) => a + b, 0);
    if (this.rand(0, 3) === 0) {
      const d = Math.min(total - 1, this.rand(1, 200));
      if (d > 0) {
        this.line(35, r, '', '', '', money(d), money(-d));
        total -= d;
      }
    }
    this.pay(r, total, { kinds: this.rand(0, 2) === 0 ? ['1', '2'] : ['1'] });
    this.line(55, r, '', '', '', '', money(total));
    this.cur.sales++;
    this.cur.salesK += total;
  }

  /** A return receipt: negative quantities and sums, money paid back in cash. */
  returnReceipt(): void {
    const r = this.receipt++;
    const items = Array.from({ length: this.rand(1, 3) }, () => this.rand(1, 300) * 10);
    for (const k of items) this.line(13, r, 2000 + (k % 89), 1, money(k), -1, money(-k));
    const total = items.reduce((a, b) => a + b, 0);
    this.pay(r, -total);
    this.line(55, r, '', '', '', '', money(-total));
    this.cur.returns++;
    this.cur.returnsK += total;
  }

  /** A receipt cancelled before payment: counted as cancelled, no money. */
  cancelled(): void {
    const r = this.receipt++;
    for (let i = 0, n = this.rand(1, 4); i < n; i++) this.line(11, r, 3000 + i, 1, '5.00', 1, '5.00');
    this.line(56, r, '', '', '', '', '0.00');
    this.cur.cancelled++;
  }

  /** A receipt deferred (58) now and resumed (59) and closed later (`resume`). */
  defer(): void {
    if (this.deferred) return this.resume();
    const r = this.receipt++;
    const itemsK = [this.rand(1, 100) * 100];
    for (const k of itemsK) this.line(11, r, 4000, 1, money(k), 1, money(k));
    this.line(58, r, '', '', '', '', '0.00');
    this.deferred = { receipt: r, itemsK };
  }

  private resume(): void {
    const d = this.deferred!;
    this.deferred = undefined;
    this.line(59, d.receipt);
    const more = this.rand(1, 100) * 10;
    this.line(11, d.receipt, 4001, 1, money(more), 1, money(more));
    const total = d.itemsK.reduce((a, b) => a + b, 0) + more;
    this.pay(d.receipt, total);
    this.line(55, d.receipt, '', '', '', '', money(total));
    this.cur.sales++;
    this.cur.salesK += total;
  }

  /** A prepayment receipt (611 lines with their 125 kind-1 block, closed by 655): a sale. */
  prepayment(): void {
    const r = this.receipt++;
    const k = this.rand(1, 100) * 100;
    this.line(611, r, 5000, 1, money(k), 1, money(k));
    this.line(125, r, '', 1);
    this.buffer.push('<json_data type="1">', `{"prepayment": ${k / 100}, "note": "a;b;c"}`, '</json_data>');
    this.pay(r, k);
    this.line(655, r, '', '', '', '', money(k));
    this.cur.sales++;
    this.cur.salesK += k;
  }

  cashIn(): void {
    const k = this.rand(1, 100) * 1000;
    this.line(50, '', '', '', '', '', money(k));
    this.cur.cashInK += k;
  }

  cashOut(): void {
    const k = this.rand(1, 50) * 1000;
    this.line(51, '', '', '', '', '', money(k));
    this.cur.cashOutK += k;
  }

  /** An X report: informative, changes nothing. */
  xReport(): void {
    this.line(60, '', 1, '', money(this.cur.cashInK), '', money(this.cur.salesK - this.cur.returnsK));
  }

  /** Extra data outside receipts (125 kind 3 with its block) and a line of a type nobody knows. */
  noise(): void {
    this.line(125, '', '', 3);
    this.buffer.push('<json_data type="3">', '{"errors": 0}', '</json_data>');
  }

  /** A line of a type the agent does not know (counted as unknown). */
  unknownLine(): void {
    this.line(977, this.receipt++, 'x', '', '', '', '1.00');
    this.cur.unknown++;
  }

  /** The Z report closing the shift; `offK` makes its revenue differ from the receipts' (a mismatch). */
  z(offK = 0): void {
    const s = this.cur;
    const number = String(this.nextShift++);
    const revenueK = s.salesK - s.returnsK + offK;
    const cashK = s.cashInK - s.cashOutK + (s.payK.get('1') ?? 0);
    this.line(61, '', number, '', money(cashK), '', money(revenueK));
    s.number = number;
    s.z = { revenueK, cashK };
    this.shifts.push(this.fresh());
    this.day = new Date(this.day.getFullYear(), this.day.getMonth(), this.day.getDate() + 1);
    this.seconds = 8 * 3600;
  }

  /** Some random activity: `n` receipts and events of every kind. */
  activity(n: number): void {
    for (let i = 0; i < n; i++) {
      const pick = this.rand(0, 20);
      if (pick < 10) this.sale();
      else if (pick < 12) this.returnReceipt();
      else if (pick < 13) this.cancelled();
      else if (pick < 14) this.allowDefer ? this.defer() : this.sale();
      else if (pick < 15) this.prepayment();
      else if (pick < 16) this.cashIn();
      else if (pick < 17) this.cashOut();
      else if (pick < 18) this.xReport();
      else if (pick < 19) this.noise();
      else this.unknownLine();
    }
  }

  /** The lines written since the last take, as a report file body (a `#` block), CRLF; empty string when none. */
  take(): string {
    if (this.buffer.length === 0) return '';
    const text = '#\r\n1\r\nPOS1\r\n' + this.buffer.map((l) => l + '\r\n').join('');
    this.buffer = [];
    return text;
  }

  /** The figures every shift must show (closed ones; the open one too when `withOpen`), `partialFirst`: the ledger saw the first from its start. */
  expected(opts: { withOpen?: boolean; partialFirst?: boolean } = {}): ExpectedShift[] {
    const list = opts.withOpen && this.cur.lines > 0 ? this.shifts : this.shifts.slice(0, -1);
    return list.map((s, i) => {
      const revenueK = s.salesK - s.returnsK;
      const partial = i === 0 && opts.partialFirst !== false;
      return {
        number: s.number,
        partial,
        state: s.z ? 'closed' : 'open',
        receipts: { sales: s.sales, returns: s.returns, cancelled: s.cancelled },
        totals: { sales: money(s.salesK), returns: money(s.returnsK), revenue: money(revenueK) },
        payments: Object.fromEntries([...s.payK].map(([k, v]) => [k, money(v)])),
        cash: { in: money(s.cashInK), out: money(s.cashOutK) },
        z: s.z ? { revenue: money(s.z.revenueK), cashInDrawer: money(s.z.cashK) } : null,
        matches: s.z && !partial ? s.z.revenueK === revenueK : null,
        unknown: s.unknown,
      };
    });
  }
}

/** The figures of a ledger's record to compare with `ExpectedShift` (what both sides define). */
export function comparable(r: { number: string | null; partial: boolean; state: string; receipts: unknown; totals: unknown; payments: Record<string, string>; cash: unknown; z: unknown; matches: boolean | null; unknown: number }): ExpectedShift {
  return {
    number: r.number,
    partial: r.partial,
    state: r.state as 'open' | 'closed',
    receipts: r.receipts as ExpectedShift['receipts'],
    totals: r.totals as ExpectedShift['totals'],
    payments: r.payments,
    cash: r.cash as ExpectedShift['cash'],
    z: r.z as ExpectedShift['z'],
    matches: r.matches,
    unknown: r.unknown,
  };
}

/** True when a package (report text) holds a Z report anywhere but as its last transaction: it would span two shifts. */
export function zNotLast(pkg: string, zType = 61): boolean {
  const types = pkg.split(/\r?\n/).map((l) => l.split(';')).filter((f) => f.length >= 6 && /^\d+$/.test(f[3]!.trim())).map((f) => Number(f[3]));
  const at = types.indexOf(zType);
  return at !== -1 && at !== types.length - 1;
}
