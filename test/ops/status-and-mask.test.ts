/**
 * The status text is a summary whatever the queue's length, and the log mask
 * keeps lines readable for any password while hiding a password echoed back
 * in text from outside.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { createLogger } from '../../src/log.js';
import { formatStatus, type StatusReport } from '../../src/status.js';
import { maskSecrets } from '../../src/util/secret-mask.js';
import { withTempDir } from '../helpers/temp-dir.js';

const NOW = Date.parse('2026-11-24T03:00:00.000Z');

function report(n: number): StatusReport {
  return {
    pos: 1,
    transport: 'ftp',
    dataDir: '/var/lib/kassir-agent',
    queued: Array.from({ length: n }, (_, i) => ({
      package: 17 + i,
      transactions: 10,
      bytes: 500,
      ageMs: (n - i) * 60_000,
      attempts: i === 0 ? 3 : 0,
      ...(i === 0 ? { lastError: 'connect ECONNREFUSED 10.0.0.5:21' } : {}),
    })),
    open: { transactions: 2, bytes: 80 },
    inbox: [],
    requestsAwaitingAnswer: [],
    counters: { packagesSealed: 67 },
    nextPackage: 17 + n,
    lastPush: { at: '2026-11-24T02:59:00.000Z', ok: false, error: 'connect ECONNREFUSED 10.0.0.5:21' },
    lastPushOk: '2026-11-24T02:00:00.000Z',
    live: {
      pos: 1,
      transport: 'ftp',
      nextAttemptAt: '2026-11-24T03:00:40.000Z',
      consecutiveFailures: 1,
      pullFailing: false,
      pushFailing: true,
      attempts: { delivered: 0, failed: 1 },
      transactionsSent: 0,
      bytesSent: 0,
    },
    held: [{ file: 'a.rep', reason: 'last receipt still open', since: '2026-11-24T02:55:00.000Z', takeBy: '2026-11-24T03:05:00.000Z' }],
  };
}

describe('status text', () => {
  it('51 queued packages: a summary of a few lines; --verbose lists them all', () => {
    const text = formatStatus(report(51), NOW);
    const lines = text.split('\n');
    assert.ok(lines.length < 20, text);
    assert.match(text, /queued packages: 51 \(#17\.\.#67, 510 transactions, 25 KB\); oldest #17, 51m old/);
    assert.match(text, /head package #17: 3 attempt\(s\) · last error: connect ECONNREFUSED/, 'the head package\'s own attempt count');
    assert.match(text, /next attempt: 2026-11-24T03:00:40\.000Z \(in 40s; `kassir-agent retry` sends now\)/);
    assert.match(text, /last attempt failed: connect ECONNREFUSED/);
    assert.match(text, /report files held in the till folder: 1\n {2}a\.rep: last receipt still open/);
    assert.doesNotMatch(text, /#18 /);
    const verbose = formatStatus(report(51), NOW, { verbose: true });
    assert.equal(verbose.split('\n').filter((l) => /^ {2}#\d+ /.test(l)).length, 51);
  });
});

describe('secret mask', () => {
  it('hides a password echoed in outside text, for any length, without touching the rest', () => {
    for (const pw of ['1', 'x', 'ftp', 'e']) {
      const text = `530 Login incorrect: USER kassa PASS ${pw} at 2026-11-24T03:00:01.123Z from 10.0.0.1 (ftp://kassa:${pw}@bo.example/Files)`;
      const masked = maskSecrets(text, [pw]);
      assert.equal(masked, '530 Login incorrect: USER kassa PASS *** at 2026-11-24T03:00:01.123Z from 10.0.0.1 (ftp://kassa:***@bo.example/Files)', pw);
    }
    assert.equal(maskSecrets('answer: token s3cretpw not accepted', ['s3cretpw']), 'answer: token *** not accepted');
    assert.equal(maskSecrets('x', ['x']), '***');
  });

  it('every log line stays JSON with its keys, event and timestamp, the password only masked where it stood', async () => {
    await withTempDir(async (dir) => {
      for (const pw of ['1', 'x', 'ftp', 'e']) {
        const sub = join(dir, `p-${pw}`);
        const log = createLogger({ level: 'debug', dir: sub, console: false, maxFiles: '30d', secrets: [pw], base: { pos: 1, transport: 'ftp' } });
        log.warn('push.failed', { package: 11, attempt: 1, errorKind: 'auth', error: `530 PASS ${pw} refused`, serverAnswer: pw, durationMs: 15 });
        log.warn('exchange.stop.deadline', { deadlineMs: 10_000, message: 'a field called message' });
        await log.close();
        const file = (await fs.readdir(sub)).find((n) => n.endsWith('.log'))!;
        const lines = (await fs.readFile(join(sub, file), 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
        assert.deepEqual(Object.keys(lines[0]!), ['time', 'level', 'event', 'pos', 'transport', 'package', 'attempt', 'errorKind', 'error', 'serverAnswer', 'durationMs']);
        assert.equal(lines[0]!.event, 'push.failed');
        assert.equal(lines[0]!.transport, 'ftp');
        assert.equal(lines[0]!.error, '530 PASS *** refused');
        assert.equal(lines[0]!.serverAnswer, '***');
        assert.ok(!Number.isNaN(Date.parse(String(lines[0]!.time))) && /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/.test(String(lines[0]!.time)), String(lines[0]!.time));
        assert.equal(lines[1]!.event, 'exchange.stop.deadline', 'a field named message never replaces the event');
        assert.equal(lines[1]!.text, 'a field called message');
      }
    }, 'kassir-mask');
  });
});
