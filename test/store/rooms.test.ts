/**
 * The store's rooms on their own: the data folder's names (layout.ts), reading
 * a package folder without writing (packages.ts), the history writer and the
 * `history` reader sharing one layout, and a damaged package's quarantine.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import type { ExchangeConfig } from '../../src/config/schema.js';
import { readHistory } from '../../src/history.js';
import { HistoryWriter } from '../../src/store/history-writer.js';
import { historyDay, inboxFileName, isAtomicTemp, metaNumber, packageNumber, tempNameFor } from '../../src/store/layout.js';
import { scanPackages } from '../../src/store/packages.js';
import { Store } from '../../src/store/store.js';
import { memoryLogger, type LogRecord } from '../../src/util/logger.js';

let dir: string;
beforeEach(async () => {
  dir = await fs.mkdtemp(join(tmpdir(), 'kassir-rooms-'));
});
afterEach(async () => fs.rm(dir, { recursive: true, force: true }));

/** Every file below `root` with its content. */
async function snapshot(root: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const name of (await fs.readdir(root)).sort()) out[name] = await fs.readFile(join(root, name), 'latin1');
  return out;
}

describe('layout', () => {
  it('temporary names are unique and recognised as temporaries; package, meta and history names parse only as themselves', () => {
    const a = tempNameFor('/d/state.a.json');
    const b = tempNameFor('/d/state.a.json');
    assert.notEqual(a, b);
    assert.ok(isAtomicTemp(basename(a)) && isAtomicTemp(basename(b)), a);
    assert.ok(!isAtomicTemp('state.a.json') && !isAtomicTemp('1.rep'));
    assert.equal(packageNumber('12.rep'), 12);
    assert.equal(packageNumber('12.json'), undefined);
    assert.equal(metaNumber('12.json'), 12);
    assert.equal(metaNumber('journal.jsonl'), undefined);
    assert.equal(historyDay('2026-01-31.jsonl'), '2026-01-31');
    assert.equal(historyDay('2026-01-31.jsonl.tmp'), undefined);
    const names = [10, 9, 100].map((id) => inboxFileName(id, 'spr'));
    assert.deepEqual([...names].sort(), [9, 10, 100].map((id) => inboxFileName(id, 'spr')), 'inbox names sort in id order');
  });
});

describe('reading a package folder', () => {
  it('reports an unreadable meta, bytes without a meta and a meta without bytes, and writes nothing', async () => {
    const meta = (n: number, extra = {}) => JSON.stringify({ number: n, transactions: 1, bytes: 3, sealedAt: '2026-01-01T00:00:00.000Z', ...extra });
    await fs.writeFile(join(dir, '1.rep'), 'one');
    await fs.writeFile(join(dir, '1.json'), meta(1));
    await fs.writeFile(join(dir, '2.rep'), 'two');
    await fs.writeFile(join(dir, '2.json'), '{torn');
    await fs.writeFile(join(dir, '3.rep'), 'three');
    await fs.writeFile(join(dir, '4.json'), meta(4));
    await fs.writeFile(join(dir, '5.json'), meta(5, { deliveredAt: '2026-01-02T00:00:00.000Z' }));
    await fs.writeFile(join(dir, '6.json'), meta(7));
    const before = await snapshot(dir);
    const scan = await scanPackages(dir);
    assert.deepEqual([...scan.metas.keys()].sort(), [1, 5], 'readable with bytes, or delivered');
    assert.deepEqual(scan.unreadable.map((u) => u.n).sort(), [2, 6]);
    assert.match(scan.unreadable.find((u) => u.n === 6)!.error, /names package 7/);
    assert.deepEqual(scan.withoutMeta, ['3.rep']);
    assert.deepEqual(await snapshot(dir), before, 'reading changed nothing');
  });
});

describe('history', () => {
  it('what the writer appends the history command reads back; retention removes whole old days only', async () => {
    const history = join(dir, 'history');
    await fs.mkdir(history);
    const w = new HistoryWriter(history);
    await w.append({ at: '2026-01-01T10:00:00.000Z', op: 'push', package: 1, outcome: 'failed', error: 'refused' });
    await w.append({ at: '2026-01-03T10:00:00.000Z', op: 'push', package: 1, outcome: 'delivered' }, { sync: false });
    await w.close();
    const ex = { pos: 7, dataDir: dir } as ExchangeConfig;
    const all = await readHistory([ex], {});
    assert.deepEqual(
      all.rows.map((r) => [r.pos, r.package, r.outcome]),
      [
        [7, 1, 'failed'],
        [7, 1, 'delivered'],
      ],
    );
    assert.equal(await w.removeOlderThan(Date.parse('2026-01-03T00:00:00.000Z')), 1);
    assert.deepEqual(await fs.readdir(history), ['2026-01-03.jsonl']);
  });
});

describe('a damaged package', () => {
  it('an intact package passes; one whose bytes no longer match its seal is quarantined with its meta, counted, and leaves the queue', async () => {
    const records: LogRecord[] = [];
    const s = new Store(join(dir, 'data'), { retentionDays: 30 }, memoryLogger({}, records));
    await s.open();
    for (const text of ['first package', 'second package']) {
      await s.appendPlanned(() => ({ chunk: Buffer.from(text), edit: (d) => void (d.open.pkg = { transactions: 1, bytes: text.length }), result: undefined }));
      await s.seal();
    }
    assert.equal(await s.verifyOrQuarantine(1), true);
    await fs.writeFile(s.packagePath(2), 'second packagE');
    assert.equal(await s.verifyOrQuarantine(2), false);
    assert.deepEqual(s.queued().map((m) => m.number), [1]);
    assert.equal(s.state.counters.quarantined, 1);
    assert.ok(records.some((r) => r.event === 'package.damaged'));
    const q = await fs.readdir(s.quarantineDir);
    assert.ok(q.some((n) => n.endsWith('package-2.rep')) && q.some((n) => n.endsWith('2.json')), q.join(', '));
    await assert.rejects(fs.stat(s.packagePath(2)));
    await s.close();
  });
});
