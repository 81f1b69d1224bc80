/**
 * The log lines of the shift ledger: one per event, with the figures a person
 * compares with the Z report printout. The logger already carries POS and
 * transport.
 */
import type { Logger } from '../util/logger.js';
import type { ShiftEvent } from './ledger.js';

export function logShiftEvents(log: Logger, events: readonly ShiftEvent[]): void {
  for (const e of events) {
    const s = e.shift;
    const shift = s.number ?? '(no number)';
    switch (e.event) {
      case 'shift.closed':
        log.info('shift.closed', {
          shift, partial: s.partial, openedAt: s.openedAt, closedAt: s.closedAt,
          sales: s.receipts.sales, returns: s.receipts.returns, cancelled: s.receipts.cancelled,
          salesTotal: s.totals.sales, returnsTotal: s.totals.returns, revenue: s.totals.revenue,
          payments: s.payments, cashIn: s.cash.in, cashOut: s.cash.out,
          zRevenue: s.z?.revenue, zCashInDrawer: s.z?.cashInDrawer, matches: s.matches, unknown: s.unknown, anomalies: s.anomalies.length,
        });
        break;
      case 'shift.mismatch':
        log.warn('shift.mismatch', { shift, closedAt: s.closedAt, revenue: s.totals.revenue, zRevenue: s.z?.revenue, note: 'the Z report revenue differs from the receipts the agent passed on' });
        break;
      case 'shift.delivered':
        log.info('shift.delivered', { shift, closedAt: s.closedAt, deliveredAt: s.deliveredAt, packages: s.packages });
        break;
      case 'shift.anomaly':
        log.warn('shift.anomaly', { shift, reason: e.reason, note: 'the transactions travel unchanged; the shift is marked' });
        break;
    }
  }
}
