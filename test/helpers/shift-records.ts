/**
 * Shift records for the monitoring tests, and a real store (in a temp data
 * folder) whose ledger answers them, so a status report with shifts comes out
 * of `statusOf` exactly as the agent makes it.
 */
import type { ExchangeConfig } from '../../src/config/schema.js';
import type { ShiftRecord } from '../../src/shifts/record.js';
import { statusOf, type StatusReport } from '../../src/status.js';
import { Store } from '../../src/store/store.js';
import { nullLogger } from '../../src/util/logger.js';

/** A closed, complete shift that matches its Z report and is delivered, changed by `over`. */
export function shiftRecord(over: Partial<ShiftRecord> & Pick<ShiftRecord, 'number'>): ShiftRecord {
  return {
    pos: 1,
    state: 'closed',
    partial: false,
    openedAt: '2026-11-24T05:00:00.000Z',
    closedAt: '2026-11-24T18:04:00.000Z',
    receipts: { sales: 10, returns: 1, cancelled: 0 },
    totals: { sales: '1300.00', returns: '70.00', revenue: '1230.00' },
    payments: { '1': '1000.00', '2': '230.00' },
    cash: { in: '0.00', out: '0.00' },
    z: { revenue: '1230.00', cashInDrawer: '1000.00' },
    matches: true,
    unknown: 0,
    packages: [3, 4],
    delivered: true,
    deliveredAt: '2026-11-24T18:05:00.000Z',
    anomalies: [],
    ...over,
  };
}

/** A store whose ledger holds `records` (what the real ledger gives `statusOf`): the rest is a real, empty data folder. */
export class LedgerStore extends Store {
  records: ShiftRecord[] = [];
  override shifts(): readonly ShiftRecord[] {
    return this.records;
  }
}

/** Opens a LedgerStore in `dataDir` (created); close it after. */
export async function openLedgerStore(dataDir: string, records: ShiftRecord[] = []): Promise<LedgerStore> {
  const store = new LedgerStore(dataDir, { retentionDays: 30 }, nullLogger);
  await store.open();
  store.records = records;
  return store;
}

/** The status report of POS `pos` over `store`, made by the agent's own `statusOf`. */
export function ledgerStatus(store: Store, pos: number, transport = 'folder', now = Date.now()): StatusReport {
  const ex = { pos, transport: { type: transport }, dataDir: store.dataDir } as unknown as ExchangeConfig;
  return statusOf(ex, store, now);
}
