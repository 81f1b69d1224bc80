/**
 * The progress tracker's arithmetic (rate over a sliding window, time left)
 * with an injected clock, the board's log lines (none for short work, one
 * per interval for long work) and the text `status` and the bar print.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ProgressBoard, ProgressTracker, RATE_WINDOW_MS } from '../../src/exchange/progress.js';
import { describeProgress, formatStatus, type StatusReport } from '../../src/status.js';
import { memoryLogger } from '../../src/util/logger.js';

/** A clock the test moves by hand. */
function manualClock(start = 1_000_000): { now: () => number; advance: (ms: number) => void } {
  let t = start;
  return { now: () => t, advance: (ms) => (t += ms) };
}

describe('ProgressTracker', () => {
  it('has no rate before time passes, then done per second since the start while the window is not full', () => {
    const c = manualClock();
    const tr = new ProgressTracker('reference-download', 'bytes', c.now);
    assert.equal(tr.rate(), undefined);
    assert.equal(tr.etaS(), undefined);
    c.advance(2_000);
    tr.update(1_000, 10_000);
    assert.equal(tr.rate(), 500);
    // 9000 bytes left at 500 B/s.
    assert.equal(tr.etaS(), 18);
  });

  it('measures the rate over the last window only, so a speed-up shows', () => {
    const c = manualClock();
    const tr = new ProgressTracker('reference-download', 'bytes', c.now, 10_000);
    // 10 s at 100 B/s...
    for (let i = 1; i <= 10; i++) {
      c.advance(1_000);
      tr.update(i * 100, 100_000);
    }
    assert.equal(tr.rate(), 100);
    // ...then 10 s at 1000 B/s: the window holds the fast part alone.
    for (let i = 1; i <= 10; i++) {
      c.advance(1_000);
      tr.update(1_000 + i * 1_000, 100_000);
    }
    assert.equal(tr.rate(), 1_000);
    assert.equal(tr.etaS(), (100_000 - 11_000) / 1_000);
    const s = tr.snapshot();
    assert.deepEqual({ done: s.done, total: s.total, rate: s.rate, etaS: s.etaS, unit: s.unit }, { done: 11_000, total: 100_000, rate: 1_000, etaS: 89, unit: 'bytes' });
  });

  it('lets the rate fall during a stall and gives no time left at rate 0', () => {
    const c = manualClock();
    const tr = new ProgressTracker('backlog-drain', 'packages', c.now, RATE_WINDOW_MS);
    c.advance(1_000);
    tr.update(10, 100);
    assert.equal(tr.rate(), 10);
    c.advance(4_000);
    // No progress for 4 s: 10 packages over 5 s.
    assert.equal(tr.rate(), 2);
    assert.equal(tr.etaS(), 45);
    c.advance(RATE_WINDOW_MS);
    assert.equal(tr.rate(), 0);
    assert.equal(tr.etaS(), undefined);
  });

  it('keeps an unknown total unknown (no time left), keeps a known one when an update leaves it out, and says 0 s once done', () => {
    const c = manualClock();
    const tr = new ProgressTracker('reference-download', 'packages', c.now);
    c.advance(1_000);
    tr.update(1);
    assert.equal(tr.total, undefined);
    assert.equal(tr.etaS(), undefined);
    tr.update(1, 4);
    c.advance(1_000);
    tr.update(4);
    assert.equal(tr.total, 4);
    assert.equal(tr.etaS(), 0);
  });

  it('rounds the time left up (0.5 s left is 1 s, not 0)', () => {
    const c = manualClock();
    const tr = new ProgressTracker('reference-download', 'bytes', c.now);
    c.advance(1_000);
    tr.update(1_000, 1_500);
    assert.equal(tr.etaS(), 1);
  });
});

describe('ProgressBoard', () => {
  it('shows an activity from its first report to its end, and tells its listeners every change', () => {
    const c = manualClock();
    const board = new ProgressBoard(memoryLogger(), 60_000, c.now);
    const seen: number[] = [];
    const off = board.subscribe((inFlight) => seen.push(inFlight.length));
    assert.deepEqual(board.snapshot(), []);
    board.report('reference-download', 'bytes', 0, 100);
    c.advance(1_000);
    board.report('reference-download', 'bytes', 50, 100);
    board.report('backlog-drain', 'packages', 0, 3);
    const s = board.snapshot();
    assert.deepEqual(s.map((x) => [x.activity, x.done, x.total]), [['reference-download', 50, 100], ['backlog-drain', 0, 3]]);
    assert.equal(s[0]!.rate, 50);
    assert.equal(s[0]!.etaS, 1);
    board.end('reference-download');
    board.end('backlog-drain');
    off();
    board.report('backlog-drain', 'packages', 1, 3);
    board.end('backlog-drain');
    assert.deepEqual(seen, [1, 1, 2, 1, 0]);
  });

  it('writes a progress line per interval while an activity lasts and none for one shorter than the interval', async (t) => {
    t.mock.timers.enable({ apis: ['setInterval', 'Date'] });
    const log = memoryLogger({ pos: 1, transport: 'ftp' });
    const board = new ProgressBoard(log, 10_000);
    // Short: over before the interval.
    board.report('backlog-drain', 'packages', 0, 2);
    t.mock.timers.tick(9_999);
    board.report('backlog-drain', 'packages', 2, 2);
    board.end('backlog-drain');
    t.mock.timers.tick(20_000);
    assert.equal(log.records.filter((r) => r.event === 'progress').length, 0, 'no line for work shorter than the interval');
    // Long: one line per interval, with what status shows.
    board.report('reference-download', 'bytes', 0, 1_000);
    t.mock.timers.tick(10_000);
    t.mock.timers.tick(5_000);
    board.report('reference-download', 'bytes', 400, 1_000);
    t.mock.timers.tick(5_000);
    board.end('reference-download');
    t.mock.timers.tick(30_000);
    const lines = log.records.filter((r) => r.event === 'progress');
    assert.equal(lines.length, 2);
    assert.deepEqual(
      { pos: lines[1]!.fields.pos, transport: lines[1]!.fields.transport, activity: lines[1]!.fields.activity, done: lines[1]!.fields.done, total: lines[1]!.fields.total, unit: lines[1]!.fields.unit },
      { pos: 1, transport: 'ftp', activity: 'reference-download', done: 400, total: 1_000, unit: 'bytes' },
    );
    // 400 bytes in the 20 s since the start (the window reaches back to it): 20 B/s, 600 bytes left.
    assert.equal(lines[1]!.fields.rate, 20);
    assert.equal(lines[1]!.fields.etaS, 30);
    assert.equal(lines[0]!.fields.done, 0);
  });
});

describe('progress in status text', () => {
  it('names the activity, done of total with a percentage, the rate and the time left', () => {
    assert.equal(
      describeProgress({ activity: 'reference-download', unit: 'bytes', done: 4 * 1024 * 1024, total: 10 * 1024 * 1024, rate: 512 * 1024, etaS: 12, startedAt: '' }),
      'reference download: 4096 KB of 10 MB (40%), 512 KB/s, about 12s left',
    );
    assert.equal(describeProgress({ activity: 'reference-download', unit: 'packages', done: 2, startedAt: '' }), 'reference download: 2 packages (total not known yet)');
    assert.equal(describeProgress({ activity: 'backlog-drain', unit: 'packages', done: 1, total: 40, rate: 2.5, etaS: 16, startedAt: '' }), 'backlog drain: 1 package of 40 packages (2%), 2.5 packages/s, about 16s left');
  });

  it('is a line of `status` while the running agent reports it, and absent otherwise', () => {
    const base: StatusReport = {
      pos: 1, transport: 'ftp', dataDir: '/d', queued: [], open: { transactions: 0, bytes: 0 }, inbox: [], requestsAwaitingAnswer: [], held: [], counters: {}, nextPackage: 1,
    };
    const live = { pos: 1, transport: 'ftp', consecutiveFailures: 0, pullFailing: false, pushFailing: false, attempts: { delivered: 0, failed: 0 }, transactionsSent: 0, bytesSent: 0 };
    const text = formatStatus({ ...base, live: { ...live, inFlight: [{ activity: 'backlog-drain', unit: 'packages', done: 3, total: 9, startedAt: '' }] } });
    assert.match(text, /^in flight: backlog drain: 3 packages of 9 packages \(33%\)$/m);
    assert.doesNotMatch(formatStatus({ ...base, live: { ...live, inFlight: [] } }), /in flight/);
  });
});
