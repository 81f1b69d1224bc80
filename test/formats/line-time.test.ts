import assert from 'node:assert/strict';
import { test } from 'node:test';
import { lineClock } from '../../src/formats/line-time.js';
import { lineTime } from '../../src/shifts/ledger.js';
import { localTime } from '../../src/transports/equipment-service/sale-report.js';

test('a line date and time: two- or four-digit year, seconds optional, blanks around allowed', () => {
  assert.deepEqual(lineClock('05.12.26', '09:07:03'), { year: 2026, month: 12, day: 5, hour: 9, minute: 7, second: 3 });
  assert.deepEqual(lineClock(' 05.12.2026 ', ' 09:07 '), { year: 2026, month: 12, day: 5, hour: 9, minute: 7, second: 0 });
  assert.equal(lineClock('5.12.26', '09:07:03'), undefined);
  assert.equal(lineClock('05.12.26', ''), undefined);
  assert.equal(lineClock(undefined, '09:07'), undefined);
});

test('the ledger and the 1C upload read the same fields the same way', () => {
  // The ledger's ISO instant is the till's local time; the upload writes the same clock without a zone.
  const iso = lineTime(' 05.12.26', '09:07 ');
  assert.ok(iso);
  const at = new Date(iso);
  assert.deepEqual([at.getFullYear(), at.getMonth() + 1, at.getDate(), at.getHours(), at.getMinutes()], [2026, 12, 5, 9, 7]);
  assert.equal(localTime(' 05.12.26', '09:07 '), '2026-12-05T09:07:00');
  assert.equal(localTime('05.12.2026', '23:59:59'), '2026-12-05T23:59:59');
  assert.equal(localTime('xx', '23:59:59'), undefined);
});
