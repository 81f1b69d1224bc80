/** Fills a Store's outbox with sealed packages, as collecting would, for the drain benchmarks. */
import type { Store } from '../../src/store/store.js';
import { UPCOMING_PACKAGES, type Transport } from '../../src/transports/transport.js';
import { nullLogger } from '../../src/util/logger.js';
import { reportFile } from '../../test/helpers/kassir.js';

/** Receipts per queued package (each receipt: 2 sales, a payment and a close: 4 transactions). */
export const RECEIPTS_PER_PACKAGE = 6;

/** Queues `n` sealed packages through the Store API. Returns the bytes queued. */
export async function queuePackages(store: Store, n: number): Promise<number> {
  let tx = 1;
  let receipt = 1;
  let bytes = 0;
  for (let i = 0; i < n; i++) {
    const r = reportFile(
      Array.from({ length: RECEIPTS_PER_PACKAGE }, () => ({ receipt: receipt++ })),
      tx,
    );
    tx = r.nextTx;
    const chunk = Buffer.from(r.data, 'latin1');
    bytes += chunk.length;
    await store.appendPlanned(() => ({ chunk, edit: (d) => {
      d.open.pkg = { transactions: r.txs.length, bytes: chunk.length };
      d.open.startedAt ??= new Date().toISOString();
    }, result: undefined }));
    await store.seal();
  }
  return bytes;
}

/**
 * The agent's push path (what Exchange.pushOne does) over every queued package, in order,
 * through `transport`, which it opens and closes. Returns the wall time in ms; throws unless
 * all `expected` packages were delivered.
 */
export async function drainQueue(store: Store, transport: Transport, expected: number): Promise<number> {
  const signal = new AbortController().signal;
  const t0 = performance.now();
  await transport.open();
  let done = 0;
  for (const head of store.queued()) {
    const meta = await store.beginAttempt(head.number);
    const started = performance.now();
    const upcoming = store.queuedAfter(meta.number, UPCOMING_PACKAGES).map((m) => store.outgoing(m));
    const r = await transport.push(store.outgoing(meta), {
      notes: structuredClone(meta.notes),
      saveNotes: (notes, ahead) => store.saveNotes(meta.number, notes, ahead),
      log: nullLogger,
      signal,
      upcoming,
    });
    if (r.outcome !== 'delivered') throw new Error(`package ${meta.number}: ${r.outcome}`);
    await store.delivered(meta.number, r, { attempt: meta.attempts, transactions: meta.transactions, bytes: meta.bytes, durationMs: performance.now() - started });
    done++;
  }
  // The exchange ends each push run with a checkpoint (the deliveries go to the archive in one batch): part of the cost.
  await store.checkpoint();
  await transport.close();
  const ms = performance.now() - t0;
  if (done !== expected) throw new Error(`drained ${done} of ${expected}`);
  return ms;
}
