/**
 * What operators and the fleet see of the shift ledger, from shift records:
 * the summary (last closed shift, closed but not delivered, mismatches), the
 * `status` line, the metrics (checked by the real `promtool check metrics`)
 * and the `shift` object of `status --json`. The records reach the status
 * report through the agent's own `statusOf` over a real data folder.
 */
process.env.TZ = 'Europe/Moscow'; // the shop's time zone: "closed 21:04" is 18:04 UTC

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { prometheusText } from '../../src/metrics/list.js';
import { summarizeShifts } from '../../src/shifts/summary.js';
import { formatStatus, type StatusReport } from '../../src/status.js';
import { statusDocument } from '../../src/status-json.js';
import { ledgerStatus, openLedgerStore, shiftRecord, type LedgerStore } from '../helpers/shift-records.js';
import { makeTempDir, removeDir } from '../helpers/temp-dir.js';

const NOW = Date.parse('2026-11-24T19:00:00.000Z'); // 22:00 in Moscow
const t = (iso: string) => Date.parse(iso) / 1000;

/** Shift 10 partial (its Z differs, but the agent did not see the beginning), 11 does not match, 12 waits, 13 open. */
const LEDGER = [
  shiftRecord({ number: '10', partial: true, matches: null, z: { revenue: '5.00', cashInDrawer: '0.00' }, closedAt: '2026-11-21T18:00:00.000Z', deliveredAt: '2026-11-21T18:01:00.000Z' }),
  shiftRecord({ number: '11', matches: false, z: { revenue: '1234.50', cashInDrawer: '1000.00' }, closedAt: '2026-11-22T18:00:00.000Z', deliveredAt: '2026-11-22T18:02:00.000Z' }),
  shiftRecord({ number: '12', delivered: false, deliveredAt: null, packages: [7] }),
  shiftRecord({ number: null, state: 'open', closedAt: null, z: null, matches: null, delivered: false, deliveredAt: null, packages: [] }),
];

describe('shift summary', () => {
  it('no shifts: nothing closed, nothing waiting, no mismatch', () => {
    assert.deepEqual(summarizeShifts([]), { undelivered: 0, mismatches: 0 });
  });

  it('the last closed shift, the closed shifts not delivered (oldest first), the complete shifts that do not match', () => {
    assert.deepEqual(summarizeShifts(LEDGER), {
      lastClosed: { number: '12', closedAt: '2026-11-24T18:04:00.000Z', partial: false, matches: true, revenue: '1230.00', zRevenue: '1230.00', delivered: false },
      undelivered: 1,
      oldestUndeliveredClosedAt: '2026-11-24T18:04:00.000Z',
      mismatches: 1,
    });
    const twoWaiting = summarizeShifts([shiftRecord({ number: '11', delivered: false, closedAt: '2026-11-23T18:00:00.000Z' }), shiftRecord({ number: '12', delivered: false })]);
    assert.equal(twoWaiting.undelivered, 2);
    assert.equal(twoWaiting.oldestUndeliveredClosedAt, '2026-11-23T18:00:00.000Z');
    assert.equal(summarizeShifts([shiftRecord({ number: '9', partial: true, matches: false })]).mismatches, 0, 'a partial shift is never a mismatch');
  });
});

describe('status line of the last closed shift', () => {
  const line = (records: Parameters<typeof summarizeShifts>[0]) => formatStatus({ ...baseReport(), shift: summarizeShifts(records) }, NOW).split('\n').find((l) => l.startsWith('last shift'));

  it('delivered and matching; waiting since when; not matching with both figures; partial; another day', () => {
    assert.equal(line([shiftRecord({ number: '12' })]), 'last shift 12 closed 21:04, delivered 21:05, matches Z');
    assert.equal(line([shiftRecord({ number: '12', delivered: false, deliveredAt: null })]), 'last shift 12 closed 21:04, waiting since 21:04 (56m), matches Z');
    assert.equal(line([shiftRecord({ number: '12', matches: false, z: { revenue: '1234.50', cashInDrawer: '0.00' } })]), 'last shift 12 closed 21:04, delivered 21:05, DOES NOT MATCH Z: 1234.50 (Z) vs 1230.00 (receipts)');
    assert.equal(line([shiftRecord({ number: '1', partial: true, matches: null })]), 'last shift 1 closed 21:04, delivered 21:05, not checked against Z (the agent did not see its beginning)');
    assert.equal(line([shiftRecord({ number: '11', closedAt: '2026-11-23T18:04:00.000Z', deliveredAt: '2026-11-23T18:05:00.000Z' })]), 'last shift 11 closed 2026-11-23 21:04, delivered 2026-11-23 21:05, matches Z');
    assert.equal(line(LEDGER), 'last shift 12 closed 21:04, waiting since 21:04 (56m), matches Z; 1 earlier shift(s) do not match Z (`kassir-agent shifts`)');
    assert.equal(line([shiftRecord({ number: '11', delivered: false, closedAt: '2026-11-24T08:00:00.000Z' }), shiftRecord({ number: '12' })]), 'last shift 12 closed 21:04, delivered 21:05, matches Z; 1 earlier shift(s) not delivered, the oldest closed 11:00');
  });

  it('none closed yet: says so; a report without a ledger: no line', () => {
    assert.match(formatStatus({ ...baseReport(), shift: summarizeShifts([]) }, NOW), /^last shift: none closed yet$/m);
    assert.doesNotMatch(formatStatus(baseReport(), NOW), /last shift/);
  });
});

describe('shift metrics and status --json, from the ledger through statusOf', () => {
  let dir: string;
  let store: LedgerStore;
  let empty: LedgerStore;
  let reports: StatusReport[];
  const live = (pos: number): NonNullable<StatusReport['live']> => ({ pos, transport: 'folder', consecutiveFailures: 0, pullFailing: false, pushFailing: false, attempts: { delivered: 0, failed: 0 }, transactionsSent: 0, bytesSent: 0 });
  const configured = [1, 2, 3].map((pos) => ({ pos, transport: 'folder' }));

  before(async () => {
    dir = await makeTempDir('kassir-shift-summary');
    store = await openLedgerStore(join(dir, 'pos1'), LEDGER);
    empty = await openLedgerStore(join(dir, 'pos2'));
    // POS 1 keeps a ledger with shifts, POS 2 one with none; POS 3 failed to start.
    reports = [{ ...ledgerStatus(store, 1, 'folder', NOW), live: live(1) }, { ...ledgerStatus(empty, 2, 'folder', NOW), live: live(2) }];
  });
  after(async () => {
    await store.close();
    await empty.close();
    await removeDir(dir);
  });

  it('statusOf carries the ledger\'s summary, and status prints its line', () => {
    assert.deepEqual(reports[0]!.shift, summarizeShifts(LEDGER));
    assert.match(formatStatus(reports[0]!, NOW), /^last shift 12 closed 21:04, waiting since 21:04/m);
  });

  it('the metrics: the last closed shift, the shifts not delivered and the mismatches; valid by promtool', () => {
    const text = prometheusText({ reports, configured, version: '9.9.9', node: 'v24.0.0', now: NOW });
    const r = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8', timeout: 30_000 });
    assert.equal(r.status, 0, `${r.stdout}${r.stderr}${text}`);
    assert.equal(`${r.stdout}${r.stderr}`.trim(), '', 'no lint problems');
    const sample = (name: string, pos: number) => new RegExp(`^${name}\\{pos="${pos}",transport="folder"\\} (\\S+)$`, 'm').exec(text)?.[1];
    assert.equal(sample('kassir_agent_shift_last_closed_number', 1), '12');
    assert.equal(sample('kassir_agent_shift_last_closed_timestamp_seconds', 1), String(t('2026-11-24T18:04:00Z')));
    assert.equal(sample('kassir_agent_shift_last_delivered_timestamp_seconds', 1), undefined, 'the last closed shift waits: no delivery time');
    assert.equal(sample('kassir_agent_shifts_undelivered', 1), '1');
    assert.equal(sample('kassir_agent_shift_oldest_undelivered_closed_timestamp_seconds', 1), String(t('2026-11-24T18:04:00Z')));
    assert.equal(sample('kassir_agent_shift_mismatches', 1), '1');
    // A ledger without a closed shift: counts of 0, no times; a till that failed to start: nothing.
    assert.equal(sample('kassir_agent_shifts_undelivered', 2), '0');
    assert.equal(sample('kassir_agent_shift_mismatches', 2), '0');
    for (const name of ['kassir_agent_shift_last_closed_number', 'kassir_agent_shift_last_closed_timestamp_seconds', 'kassir_agent_shift_oldest_undelivered_closed_timestamp_seconds']) assert.equal(sample(name, 2), undefined, name);
    assert.doesNotMatch(text, /kassir_agent_shift\w*\{pos="3"/);
    // Once delivered, the delivery time of the last closed shift appears and nothing waits.
    store.records = LEDGER.map((s) => (s.number === '12' ? { ...s, delivered: true, deliveredAt: '2026-11-24T18:06:30.000Z' } : s));
    const delivered = prometheusText({ reports: [{ ...ledgerStatus(store, 1, 'folder', NOW), live: live(1) }], configured, version: '9.9.9', node: 'v24.0.0', now: NOW });
    assert.match(delivered, new RegExp(`^kassir_agent_shift_last_delivered_timestamp_seconds\\{pos="1",transport="folder"\\} ${t('2026-11-24T18:06:30Z')}$`, 'm'));
    assert.match(delivered, /^kassir_agent_shifts_undelivered\{pos="1",transport="folder"\} 0$/m);
    assert.doesNotMatch(delivered, /kassir_agent_shift_oldest_undelivered_closed_timestamp_seconds\{pos="1"/);
    store.records = LEDGER;
  });

  it('status --json: a shift object per till, every field a number (0: none), the rest of schema 1 unchanged', async () => {
    const config = { exchanges: configured.map((c) => ({ pos: c.pos, transport: { type: c.transport } })) } as never;
    const doc = await statusDocument(config, { state: 'running', live: { exchanges: reports, notRunning: { 3: 'boom' } } }, NOW);
    assert.equal(doc.schema, 1);
    assert.deepEqual(doc.tills['1']!.shift, {
      lastClosedNumber: 12,
      lastClosedTimestampSeconds: t('2026-11-24T18:04:00Z'),
      lastDeliveredTimestampSeconds: 0,
      undelivered: 1,
      oldestUndeliveredClosedTimestampSeconds: t('2026-11-24T18:04:00Z'),
      mismatches: 1,
    });
    const none = { lastClosedNumber: 0, lastClosedTimestampSeconds: 0, lastDeliveredTimestampSeconds: 0, undelivered: 0, oldestUndeliveredClosedTimestampSeconds: 0, mismatches: 0 };
    assert.deepEqual(doc.tills['2']!.shift, none);
    assert.deepEqual(doc.tills['3']!.shift, none, 'a till that failed to start still has the object, for the JSONPaths');
    assert.equal(doc.tills['1']!.queuedPackages, 0, 'the other fields stay where schema 1 readers find them');
    assert.deepEqual(doc.exchanges[0]!.shift, summarizeShifts(LEDGER), 'the full status carries the summary');
  });
});

function baseReport(): StatusReport {
  return { pos: 1, transport: 'folder', dataDir: '/data', queued: [], open: { transactions: 0, bytes: 0 }, inbox: [], requestsAwaitingAnswer: [], held: [], counters: {}, nextPackage: 1 };
}
