/**
 * The shift ledger's rules (src/shifts/ledger.ts) on report lines: what a
 * shift counts, the anomalies it marks, and, as a property, that its totals
 * equal the receipts written whatever the file boundaries and batching.
 * Expected figures come from the test's own writer (test/helpers/shift-writer.ts),
 * which computes them in integer kopecks from the amounts it wrote.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { ShiftLayoutDefaults } from './layout.js';
import { emptyPackage, planBatch, type OpenPackageState } from '../../src/formats/batcher.js';
import { parseReport, type ReportUnit } from '../../src/formats/report.js';
import { applyUnits, closesShift, deliveredPackage, openPackageHoldsClosedShift, pruneShifts, sealedAs, shiftRecord, type ShiftEvent } from '../../src/shifts/ledger.js';
import { emptyShiftLedger, type ShiftLedger } from '../../src/shifts/ledger-state.js';
import { formatAmount, parseAmount } from '../../src/shifts/money.js';
import { ShiftWriter, comparable, zNotLast, type Rand } from '../helpers/shift-writer.js';

const layout = ShiftLayoutDefaults;
const HEADER = '#\r\n1\r\nPOS1\r\n';

function units(text: string): ReportUnit[] {
  return parseReport(Buffer.from(text, 'latin1'), 'test.rep').units;
}

/** Applies report lines (without header) to a ledger. */
function apply(ledger: ShiftLedger, lines: string[]): ShiftEvent[] {
  return applyUnits(ledger, units(HEADER + lines.map((l) => l + '\r\n').join('')), 1, layout);
}

const L = (n: number, type: number, receipt: number | '', f8: string | number = '', f10: string = '', f11: string | number = '', f12: string = '') =>
  `${n};05.12.26;10:${String(n % 60).padStart(2, '0')}:00;${type};1;${receipt};7;${f8};;${f10};${f11};${f12};`;

/** A seeded random source (mulberry32), so a property's failing case can be replayed. */
function seeded(seed: number): Rand {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return (min, max) => min + Math.floor(next() * (max - min));
}

describe('money', () => {
  it('reads amounts exactly and writes two decimals', () => {
    assert.equal(parseAmount('270'), 27000n);
    assert.equal(parseAmount(' -15.5 '), -1550n);
    assert.equal(parseAmount('0.10')! + parseAmount('0.20')!, parseAmount('0.30'));
    assert.equal(parseAmount('10.500'), 1050n);
    assert.deepEqual(['-0.05', '123.45', '9999999999999.99', '0.00'].map(parseAmount), [-5n, 12345n, 999999999999999n, 0n]);
    for (const bad of ['', 'abc', '1,50', '10.505', '1e3', '--1', '1a.00', '-.50', '1.-0']) assert.equal(parseAmount(bad), undefined, bad);
    assert.equal(formatAmount(27000n), '270.00');
    assert.equal(formatAmount(-5n), '-0.05');
    assert.equal(formatAmount(123456789012345678n), '1234567890123456.78');
  });
});

describe('shift ledger rules', () => {
  it('counts sales, returns, cancelled receipts, payments net of change and cash in/out; a Z closes the shift', () => {
    const ledger = emptyShiftLedger();
    apply(ledger, [
      L(1, 11, 1, 100, '100.00', 2, '200.00'),
      L(2, 35, 1, '', '', '20.00', '-20.00'),
      L(3, 40, 1, '', '20.00', 1, '200.00'), // 200 tendered, 20 change: 180 cash
      L(4, 55, 1, '', '', '', '180.00'),
      L(5, 13, 2, 100, '50.00', -1, '-50.00'),
      L(6, 40, 2, '', '0.00', 1, '-50.00'),
      L(7, 55, 2, '', '', '', '-50.00'),
      L(8, 11, 3, 100, '5.00', 1, '5.00'),
      L(9, 56, 3),
      L(10, 50, '', '', '', '', '1000.00'),
      L(11, 51, '', '', '', '', '300.00'),
      L(12, 60, '', 1, '830.00', '', '130.00'), // X report: informative
      L(13, 611, 4, 7, '90.00', 1, '90.00'),
      L(14, 40, 4, '', '0.00', 2, '90.00'),
      L(15, 655, 4, '', '', '', '90.00'),
    ]);
    const events = apply(ledger, [L(16, 61, '', 42, '830.00', '', '220.00')]);
    const [s] = ledger.shifts.map(shiftRecord);
    assert.equal(ledger.shifts.length, 1);
    assert.deepEqual(
      { number: s!.number, state: s!.state, partial: s!.partial, receipts: s!.receipts, totals: s!.totals, payments: s!.payments, cash: s!.cash, z: s!.z, matches: s!.matches, anomalies: s!.anomalies },
      {
        number: '42', state: 'closed', partial: true,
        receipts: { sales: 2, returns: 1, cancelled: 1 },
        totals: { sales: '270.00', returns: '50.00', revenue: '220.00' },
        payments: { '1': '130.00', '2': '90.00' },
        cash: { in: '1000.00', out: '300.00' },
        z: { revenue: '220.00', cashInDrawer: '830.00' },
        matches: null, // partial: the agent did not see the shift's start
        anomalies: [],
      },
    );
    assert.deepEqual(events.map((e) => e.event), ['shift.closed']);
    assert.equal(s!.closedAt, new Date(2026, 11, 5, 10, 16, 0).toISOString());
  });

  it('compares the next, whole shift with its Z and reports a mismatch', () => {
    const ledger = emptyShiftLedger();
    apply(ledger, [L(1, 61, '', 1, '0.00', '', '0.00')]);
    apply(ledger, [L(2, 11, 1, 1, '10.00', 1, '10.00'), L(3, 40, 1, '', '0.00', 1, '10.00'), L(4, 55, 1, '', '', '', '10.00')]);
    const events = apply(ledger, [L(5, 61, '', 2, '10.00', '', '12.00')]);
    const s = shiftRecord(ledger.shifts[1]!);
    assert.equal(s.partial, false);
    assert.equal(s.matches, false);
    assert.deepEqual(events.map((e) => e.event), ['shift.closed', 'shift.mismatch']);
    assert.equal(s.openedAt, new Date(2026, 11, 5, 10, 2, 0).toISOString());
  });

  it('counts a deferred receipt when it is finally closed, in the shift where that happens', () => {
    const ledger = emptyShiftLedger();
    apply(ledger, [L(1, 61, '', 1, '0', '', '0')]);
    apply(ledger, [L(2, 11, 9, 1, '10.00', 1, '10.00'), L(3, 58, 9)]);
    apply(ledger, [L(4, 61, '', 2, '0', '', '0')]);
    apply(ledger, [L(5, 59, 9), L(6, 40, 9, '', '0', 1, '10.00'), L(7, 55, 9, '', '', '', '10.00')]);
    assert.equal(ledger.shifts[1]!.receipts.sales, 0, 'not in the shift it was deferred in');
    assert.deepEqual(ledger.shifts[1]!.anomalies, [], 'a deferred receipt at the Z is no anomaly');
    assert.equal(ledger.shifts[2]!.receipts.sales, 1);
    assert.deepEqual(ledger.shifts[2]!.payments, { '1': '10.00' });
  });

  it('marks a Z without a number, a Z inside an open receipt, two Zs with one number, a number going backwards, amounts that are not numbers', () => {
    const ledger = emptyShiftLedger();
    const anomalies = (i: number) => ledger.shifts[i]!.anomalies.join(' | ');
    apply(ledger, [L(1, 61, '', '', '0', '', '0')]);
    assert.match(anomalies(0), /no shift number in field 8/);
    assert.equal(ledger.shifts[0]!.number, null);
    assert.equal(ledger.shifts[0]!.state, 'closed');

    apply(ledger, [L(2, 11, 5, 1, '10.00', 1, '10.00'), L(3, 61, '', 7, '0', '', '0'), L(4, 40, 5, '', '0', 1, '10.00'), L(5, 55, 5, '', '', '', '10.00')]);
    assert.match(anomalies(1), /receipt\(s\) 1\/5 .*no end line/);
    assert.equal(ledger.shifts[2]!.receipts.sales, 1, 'the receipt counts where it ends');

    apply(ledger, [L(6, 61, '', 7, '0', '', '10.00')]);
    assert.match(anomalies(2), /second Z report with shift number 7/);
    apply(ledger, [L(7, 61, '', 3, '0', '', '0')]);
    assert.match(anomalies(3), /goes backwards: 3 after 7/);

    const events = apply(ledger, [L(8, 11, 6, 1, 'x', 1, 'ten'), L(9, 40, 6, '', '0', 1, '1O.00'), L(10, 55, 6, '', '', '', 'abc'), L(11, 50, '', '', '', '', '?'), L(12, 61, '', 8, 'cash', '', 'lots')]);
    const s = shiftRecord(ledger.shifts[4]!);
    assert.match(s.anomalies.join(' | '), /transaction 9 \(type 40.*amount tendered in field 12 is not an amount: "1O.00"/);
    assert.match(s.anomalies.join(' | '), /transaction 10 .*receipt total in field 12 is not an amount: "abc"/);
    assert.match(s.anomalies.join(' | '), /transaction 11 .*cash amount/);
    assert.match(s.anomalies.join(' | '), /revenue in field 12 is not an amount: "lots"/);
    assert.deepEqual(s.z, { revenue: 'lots', cashInDrawer: 'cash' });
    assert.equal(s.matches, null);
    assert.equal(s.receipts.sales, 0);
    assert.ok(events.filter((e) => e.event === 'shift.anomaly').length >= 5);
  });

  it('counts lines it does not understand as unknown and reads no transaction inside a tag block', () => {
    const ledger = emptyShiftLedger();
    apply(ledger, [L(1, 977, 3, 1, '', '', '5.00'), 'garbage line', L(2, 125, '', '', '', '', ''), '<json_data type="3">', '9;05.12.26;10:00:00;61;1;;7;99;;0;;0;', '</json_data>']);
    assert.equal(ledger.shifts.length, 1);
    assert.equal(ledger.shifts[0]!.unknown, 2);
    assert.equal(ledger.shifts[0]!.state, 'open', 'a Z written inside a tag block is content, not a Z');
  });

  it('follows packages: sealed, delivered, seal-before-next when a shift closed, retention', () => {
    const ledger = emptyShiftLedger();
    apply(ledger, [L(1, 11, 1, 1, '1.00', 1, '1.00'), L(2, 55, 1, '', '', '', '1.00')]);
    assert.equal(openPackageHoldsClosedShift(ledger), false);
    sealedAs(ledger, 1);
    apply(ledger, [L(3, 61, '', 1, '0', '', '1.00')]);
    assert.equal(openPackageHoldsClosedShift(ledger), true);
    assert.deepEqual(deliveredPackage(ledger, 1, '2026-12-05T10:00:00.000Z'), [], 'not delivered while a package of it is still open');
    sealedAs(ledger, 2);
    assert.equal(openPackageHoldsClosedShift(ledger), false);
    const events = deliveredPackage(ledger, 2, '2026-12-05T11:00:00.000Z');
    assert.deepEqual(events.map((e) => e.event), ['shift.delivered']);
    assert.deepEqual(shiftRecord(ledger.shifts[0]!).packages, [1, 2]);
    assert.equal(ledger.shifts[0]!.deliveredAt, '2026-12-05T11:00:00.000Z');
    apply(ledger, [L(4, 61, '', 2, '0', '', '0')]);
    sealedAs(ledger, 3);
    deliveredPackage(ledger, 3, '2026-12-05T12:00:00.000Z');
    assert.equal(pruneShifts(ledger, Date.parse('2099-01-01')), 1, 'old delivered shifts go, the last closed one stays');
    assert.equal(ledger.shifts[0]!.number, '2');
  });

  it('finds the Z report that ends a batch in a unit', () => {
    const u = units(HEADER + [L(1, 11, 1), L(2, 55, 1, '', '', '', '1'), L(3, 61, '', 1), L(4, 60, '', 1)].map((l) => l + '\r\n').join(''));
    assert.deepEqual(u.map((x) => closesShift(x, layout)), [false, true, false]);
  });
});

describe('property: totals equal the receipts whatever the file boundaries and the batching', () => {
  it('holds for generated shifts', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 2 ** 31 - 1 }),
        fc.integer({ min: 1, max: 5 }),
        fc.array(fc.integer({ min: 0, max: 40 }), { minLength: 1, maxLength: 8 }),
        fc.integer({ min: 1, max: 40 }),
        fc.boolean(),
        fc.boolean(),
        (seed, shifts, activity, maxTransactions, sealOnShiftClose, endOpen) => {
          const rand = seeded(seed);
          const w = new ShiftWriter(1, 100, 1, rand);
          for (let s = 0; s < shifts; s++) {
            for (const n of activity) w.activity(n);
            w.z(rand(0, 4) === 0 ? rand(1, 500) : 0);
          }
          if (endOpen) w.activity(activity[0]!);
          const text = w.take();
          // Cut the lines into files anywhere but inside a tag block (the collector holds such a file).
          const body = text.slice(HEADER.length).split('\r\n').slice(0, -1);
          const files: string[][] = [[]];
          let inTag = false;
          for (const line of body) {
            if (!inTag && files.at(-1)!.length > 0 && rand(0, 4) === 0) files.push([]);
            files.at(-1)!.push(line);
            if (line.startsWith('<json_data')) inTag = true;
            if (line.startsWith('</json_data')) inTag = false;
          }
          const ledger = emptyShiftLedger();
          let pkg: OpenPackageState = emptyPackage;
          let openLines: string[] = [];
          let next = 1;
          const packages: string[] = [];
          const seal = () => {
            if (pkg.bytes === 0) return;
            packages.push(openLines.join('\r\n'));
            sealedAs(ledger, next++);
            pkg = emptyPackage;
            openLines = [];
          };
          const endsAfter = sealOnShiftClose ? (u: ReportUnit) => closesShift(u, layout) : undefined;
          for (const file of files) {
            const us = units(HEADER + file.map((l) => l + '\r\n').join(''));
            let i = 0;
            while (i < us.length) {
              if (endsAfter && openPackageHoldsClosedShift(ledger)) seal();
              const plan = planBatch(pkg, us, i, maxTransactions, endsAfter);
              if (!plan) {
                seal();
                continue;
              }
              applyUnits(ledger, us.slice(i, plan.upTo), 1, layout);
              for (const u of us.slice(i, plan.upTo)) openLines.push(...u.lines.map((l) => l.toString('latin1')));
              pkg = plan.state;
              i = plan.upTo;
              if (plan.full) seal();
            }
          }
          seal();
          const got = ledger.shifts.map(shiftRecord);
          assert.deepEqual(got.map(comparable), w.expected({ withOpen: true }));
          assert.ok(got.every((s) => s.packages.length > 0));
          if (sealOnShiftClose) assert.deepEqual(packages.filter((p) => zNotLast(p)), [], 'no package holds transactions of two shifts');
        },
      ),
      { numRuns: 150 },
    );
  });
});
