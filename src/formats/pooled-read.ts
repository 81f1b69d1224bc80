/**
 * Reads a whole file into a buffer lent from a small pool, for report files
 * that are parsed (units are byte ranges of the buffer, see report.ts) and
 * dropped once ingested.
 *
 * Why not fs.readFile: it allocates a fresh buffer of the whole file each
 * time. The kernel then faults in every page of it on first write (8,200
 * faults for a 32 MB report, most of the read's time on this VM), and a
 * large fresh buffer is external memory that makes V8 run a full collection
 * of everything else alive (a till's backlog of parsed units): on a 32 MB
 * report with another file's units alive, 150 ms for readFile against 3 ms
 * for the same read into a reused buffer (BENCHMARKS.md, Formats). It also
 * reads in 512 KiB steps; here one read asks for the whole file.
 *
 * The contract: `release()` hands the buffer back, and nothing may use
 * `data` (or anything made from it without a copy, e.g. parsed units) after
 * that. A lease never released is simply collected: forgetting it costs
 * speed, never correctness. The free buffers together stay under
 * `MAX_FREE_BYTES` (the larger ones are kept), and they are all dropped after
 * a quiet minute, so an idle agent holds no pooled memory.
 */
import { open } from 'node:fs/promises';

export interface PooledFile {
  /** The file's bytes: a view of the lent buffer, valid until `release()`. */
  readonly data: Buffer;
  /** Gives the buffer back to the pool (at most once; later calls do nothing). */
  release(): void;
}

/** Bytes of free buffers kept at most (the bench's 100 MB report fits; a till's files are far smaller). */
const MAX_FREE_BYTES = 128 << 20;
/** Free buffers kept at most (a collector pass reads a few files ahead). */
const MAX_FREE = 4;
/** Free buffers are dropped when none was lent for this long. */
const IDLE_DROP_MS = 60_000;
const MIN_SIZE = 64 << 10;

const free: Buffer[] = [];
let dropTimer: NodeJS.Timeout | undefined;

function take(size: number): Buffer {
  let best = -1;
  for (let i = 0; i < free.length; i++) {
    if (free[i]!.length >= size && (best === -1 || free[i]!.length < free[best]!.length)) best = i;
  }
  if (best !== -1) return free.splice(best, 1)[0]!;
  return Buffer.allocUnsafeSlow(Math.max(size, MIN_SIZE));
}

function giveBack(buf: Buffer): void {
  if (buf.length > MAX_FREE_BYTES) return;
  let bytes = buf.length;
  for (const f of free) bytes += f.length;
  while (free.length >= MAX_FREE || bytes > MAX_FREE_BYTES) {
    // Keep the larger ones: they are the ones worth not allocating again.
    let smallest = 0;
    for (let i = 1; i < free.length; i++) if (free[i]!.length < free[smallest]!.length) smallest = i;
    if (free[smallest]!.length >= buf.length) return;
    bytes -= free[smallest]!.length;
    free.splice(smallest, 1);
  }
  free.push(buf);
  dropTimer?.refresh();
  dropTimer ??= setTimeout(() => {
    free.length = 0;
    dropTimer = undefined;
  }, IDLE_DROP_MS).unref();
}

/**
 * Reads `path` into a pooled buffer, as fs.readFile does: the size it has
 * when opened (a file that reports size 0 is read to its end). Rejects as
 * fs.readFile would (ENOENT, EBUSY...).
 */
export async function readFilePooled(path: string): Promise<PooledFile> {
  const fh = await open(path, 'r');
  let buf: Buffer | undefined;
  try {
    const size = (await fh.stat()).size;
    buf = take(size);
    let filled = 0;
    while (size === 0 || filled < size) {
      if (filled === buf.length) {
        const bigger = take(buf.length * 2);
        buf.copy(bigger, 0, 0, filled);
        giveBack(buf);
        buf = bigger;
      }
      const want = size === 0 ? buf.length - filled : size - filled;
      const { bytesRead } = await fh.read(buf, filled, want, filled);
      if (bytesRead === 0) break;
      filled += bytesRead;
    }
    const lent = buf;
    let released = false;
    return {
      data: lent.subarray(0, filled),
      release: () => {
        if (released) return;
        released = true;
        giveBack(lent);
      },
    };
  } catch (e) {
    if (buf !== undefined) giveBack(buf);
    throw e;
  } finally {
    await fh.close();
  }
}
