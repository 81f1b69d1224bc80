/**
 * The retry policy alone, with injected randomness: delays double from
 * `initialMs` up to `maxMs` and stay there, jitter only shortens a delay and
 * never below (1 - jitter) of it, errors that need a person go straight to the
 * cap, a busy back office is polled at the initial pace, connection failures
 * (and only they) reconnect and are cut short by an answer.
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { cutShortByAnswer, exponentialBackoff, retryClassOf, retryDecision } from '../../src/exchange/retry-policy.js';
import { TransportError, type TransportErrorKind } from '../../src/transports/errors.js';

const o = { initialMs: 1_000, maxMs: 60_000, jitter: 0.5 };
const none = () => 0;
const most = () => 0.999999;

it('exponential backoff: doubles per failure from initialMs, capped at maxMs, never given up', () => {
  assert.deepEqual([1, 2, 3, 4, 5, 6, 7, 8].map((n) => exponentialBackoff(n, o, none)), [1_000, 2_000, 4_000, 8_000, 16_000, 32_000, 60_000, 60_000]);
  // Absurd counts stay at the cap (no Infinity, no NaN); 0 and fractions count as the first retry.
  assert.equal(exponentialBackoff(1e9, o, none), 60_000);
  assert.equal(exponentialBackoff(Number.MAX_SAFE_INTEGER, o, none), 60_000);
  assert.equal(exponentialBackoff(0, o, none), 1_000);
  assert.equal(exponentialBackoff(2.7, o, none), 2_000);
});

it('jitter: subtracted from the delay, within [(1 - jitter) * d, d], so the cap is never exceeded', () => {
  for (const n of [1, 3, 10]) {
    const d = exponentialBackoff(n, o, none);
    assert.equal(exponentialBackoff(n, o, () => 0.5), Math.round(d - d * 0.5 * 0.5));
    const low = exponentialBackoff(n, o, most);
    assert.ok(low >= d * 0.5 - 1 && low < d, `attempt ${n}: ${low} in [${d * 0.5}, ${d})`);
  }
  // jitter 0: exact; jitter 1: full jitter, down to 0; jitter outside 0..1 is clamped.
  assert.equal(exponentialBackoff(3, { ...o, jitter: 0 }, most), 4_000);
  assert.equal(exponentialBackoff(3, { ...o, jitter: 1 }, most), 0);
  assert.equal(exponentialBackoff(3, { ...o, jitter: 7 }, () => 0.25), 3_000);
  assert.equal(exponentialBackoff(3, { ...o, jitter: -1 }, most), 4_000);
  // The randomness is asked once per delay, and only from the injected source.
  let calls = 0;
  exponentialBackoff(2, o, () => (calls++, 0));
  assert.equal(calls, 1);
});

it('classes: busy waits, auth/tls/config need a person, everything else (this machine included) is normal', () => {
  const kinds: [TransportErrorKind, string][] = [
    ['busy', 'waiting'],
    ['auth', 'operator'],
    ['tls', 'operator'],
    ['config', 'operator'],
    ['unreachable', 'normal'],
    ['timeout', 'normal'],
    ['protocol', 'normal'],
    ['server', 'normal'],
    ['full', 'normal'],
  ];
  for (const [kind, cls] of kinds) assert.equal(retryClassOf(new TransportError(kind, kind)), cls, kind);
  assert.equal(retryClassOf(new Error('ENOSPC')), 'normal');
  assert.equal(retryClassOf('a string'), 'normal');
});

it('decisions: delay per class, reconnect only after connection failures, outcome waiting only when busy', () => {
  const at = (e: unknown, failures: number) => retryDecision(e, failures, o, none);
  // operator: the cap from the first failure on.
  assert.deepEqual(at(new TransportError('auth', 'HTTP 401'), 1), { kind: 'auth', retryClass: 'operator', delayMs: 60_000, reconnect: false, outcome: 'failed' });
  // waiting: the initial pace whatever the count.
  assert.deepEqual(at(new TransportError('busy', 'not taken'), 9), { kind: 'busy', retryClass: 'waiting', delayMs: 1_000, reconnect: false, outcome: 'waiting' });
  // normal: grows with the count.
  assert.equal(at(new TransportError('server', 'errcode 2'), 3).delayMs, 4_000);
  assert.equal(at(new TransportError('server', 'errcode 2'), 3).reconnect, false);
  for (const kind of ['unreachable', 'timeout'] as const) {
    const d = at(new TransportError(kind, kind), 2);
    assert.deepEqual([d.retryClass, d.delayMs, d.reconnect, d.outcome], ['normal', 2_000, true, 'failed'], kind);
  }
  // A failure on this machine: kind 'local', normal pace, no reconnect (the connection is not to blame).
  assert.deepEqual(at(new Error('EACCES: permission denied'), 2), { kind: 'local', retryClass: 'normal', delayMs: 2_000, reconnect: false, outcome: 'failed' });
  // The jitter comes from the injected source.
  assert.equal(retryDecision(new TransportError('server', 's'), 1, o, () => 0.5).delayMs, 750);
});

it('an answer from the back office cuts short only a connection failure backoff', () => {
  assert.equal(cutShortByAnswer('unreachable'), true);
  assert.equal(cutShortByAnswer('timeout'), true);
  for (const kind of ['auth', 'tls', 'config', 'server', 'protocol', 'full', 'busy', 'local', undefined] as const) assert.equal(cutShortByAnswer(kind), false, String(kind));
});
