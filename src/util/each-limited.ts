/**
 * Runs `fn` over `items` with at most `limit` calls in flight, in start order.
 * Rejects with the first error, after the calls already started have settled
 * (none is left running behind the caller's back).
 *
 * Why: a batch of small file operations (a checkpoint moving a thousand
 * packages to the archive) is bound by round trips to the file system; fsyncs
 * in flight together are committed together by the file system's journal.
 */
export async function eachLimited<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  let failed: { error: unknown } | undefined;
  const worker = async () => {
    while (failed === undefined && next < items.length) {
      const item = items[next++]!;
      try {
        await fn(item);
      } catch (error) {
        failed ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  if (failed) throw failed.error;
}

/** Items handled per slice by `inSlices`. */
const SLICE = 64;

/**
 * Runs a synchronous `fn` over `items`, yielding to the event loop after every
 * slice, so a long batch of quick synchronous calls never holds up timers and
 * sockets for more than a moment.
 */
export async function inSlices<T>(items: readonly T[], fn: (item: T) => void): Promise<void> {
  for (let i = 0; i < items.length; i++) {
    fn(items[i]!);
    if ((i + 1) % SLICE === 0) await new Promise((resolve) => setImmediate(resolve));
  }
}
