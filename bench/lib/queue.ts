/** Fills a Store's outbox with sealed packages, as collecting would, for the drain benchmarks. */
import type { Store } from '../../src/store/store.js';
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
    await store.appendOpen(chunk, (d) => {
      d.open.pkg = { transactions: r.txs.length, bytes: chunk.length };
      d.open.startedAt ??= new Date().toISOString();
    });
    await store.seal();
  }
  return bytes;
}
