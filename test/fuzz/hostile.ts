/**
 * Hostile input for the property tests: valid seeds mutated the ways damaged
 * transfers and hostile senders do (bytes flipped, cut short, NUL-filled
 * tails, separators and line breaks injected, chunks repeated, random
 * garbage), plus fully random bytes. And the check every parser must pass:
 * it returns, or throws its typed error, within a hang guard.
 */
import assert from 'node:assert/strict';
import fc from 'fast-check';

/** Inputs per property; FUZZ_RUNS overrides (the soak runs more). */
export const RUNS = Number(process.env.FUZZ_RUNS ?? 300);

/** A hang guard, not a timing assertion: a parser stuck for this long on a few KB is a hang. */
const HANG_MS = 20_000;

const SPECIAL = [0x00, 0x0a, 0x0d, 0x3b /* ; */, 0x23 /* # */, 0x24 /* $ */, 0x40 /* @ */, 0xff, 0xef, 0xbb, 0xbf, 0x22, 0x5c];

type Mutation =
  | { op: 'flip'; at: number; byte: number }
  | { op: 'truncate'; at: number }
  | { op: 'insert'; at: number; bytes: number[] }
  | { op: 'special'; at: number; which: number }
  | { op: 'repeat'; at: number; len: number; times: number }
  | { op: 'nul-tail'; at: number }
  | { op: 'delete'; at: number; len: number };

const position = fc.double({ min: 0, max: 1, noNaN: true });
const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ op: fc.constant('flip' as const), at: position, byte: fc.integer({ min: 0, max: 255 }) }),
  fc.record({ op: fc.constant('truncate' as const), at: position }),
  fc.record({ op: fc.constant('insert' as const), at: position, bytes: fc.array(fc.integer({ min: 0, max: 255 }), { maxLength: 16 }) }),
  fc.record({ op: fc.constant('special' as const), at: position, which: fc.integer({ min: 0, max: SPECIAL.length - 1 }) }),
  fc.record({ op: fc.constant('repeat' as const), at: position, len: fc.integer({ min: 1, max: 64 }), times: fc.integer({ min: 2, max: 50 }) }),
  fc.record({ op: fc.constant('nul-tail' as const), at: position }),
  fc.record({ op: fc.constant('delete' as const), at: position, len: fc.integer({ min: 1, max: 32 }) }),
);

export function applyMutations(seed: Buffer, ms: Mutation[]): Buffer {
  let b = Buffer.from(seed);
  for (const m of ms) {
    const at = Math.min(b.length, Math.floor(m.at * (b.length + 1)));
    switch (m.op) {
      case 'flip':
        if (b.length > 0) b[Math.min(at, b.length - 1)] = m.byte;
        break;
      case 'truncate':
        b = b.subarray(0, at);
        break;
      case 'insert':
        b = Buffer.concat([b.subarray(0, at), Buffer.from(m.bytes), b.subarray(at)]);
        break;
      case 'special':
        b = Buffer.concat([b.subarray(0, at), Buffer.from([SPECIAL[m.which]!]), b.subarray(at)]);
        break;
      case 'repeat': {
        const chunk = b.subarray(at, at + m.len);
        b = Buffer.concat([b.subarray(0, at), ...Array.from({ length: m.times }, () => chunk), b.subarray(at)]);
        break;
      }
      case 'nul-tail':
        // What a power cut leaves: the size was extended, the data never written.
        b = Buffer.concat([b.subarray(0, at), Buffer.alloc(b.length - at)]);
        break;
      case 'delete':
        b = Buffer.concat([b.subarray(0, at), b.subarray(at + m.len)]);
        break;
    }
  }
  return b;
}

/** A seed from `seeds`, mutated 0-6 times; or random bytes (1 in 8). */
export function hostileBytes(seeds: Buffer[]): fc.Arbitrary<Buffer> {
  return fc.oneof(
    { weight: 7, arbitrary: fc.tuple(fc.integer({ min: 0, max: seeds.length - 1 }), fc.array(mutation, { minLength: 0, maxLength: 6 })).map(([i, ms]) => applyMutations(seeds[i]!, ms)) },
    { weight: 1, arbitrary: fc.uint8Array({ maxLength: 2048 }).map((a) => Buffer.from(a)) },
  );
}

/** Runs `fn`; it must return, or throw an instance of one of `allowed`. Anything else (TypeError, RangeError, a hang) fails, naming the input. */
export async function returnsOrTypedError(what: string, input: Buffer | string, allowed: (abstract new (...args: never[]) => Error)[], fn: () => unknown): Promise<'ok' | 'typed'> {
  const started = Date.now();
  let outcome: 'ok' | 'typed';
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      Promise.resolve().then(fn),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`hang: no result after ${HANG_MS} ms`)), HANG_MS);
      }),
    ]);
    outcome = 'ok';
  } catch (e) {
    const ok = allowed.some((c) => e instanceof c);
    assert.ok(ok, `${what}: threw ${(e as Error)?.stack ?? String(e)}\ninput (${input.length}): ${JSON.stringify(input.toString('latin1').slice(0, 300))}`);
    outcome = 'typed';
  } finally {
    clearTimeout(timer);
  }
  assert.ok(Date.now() - started < HANG_MS, `${what}: took ${Date.now() - started} ms (hang guard)`);
  return outcome;
}

/** Tally of outcomes, printed so the run shows how many inputs were tried and how many were refused. */
export class Tally {
  ok = 0;
  typed = 0;
  add(o: 'ok' | 'typed'): void {
    this[o]++;
  }
  get total(): number {
    return this.ok + this.typed;
  }
  toString(): string {
    return `${this.total} inputs (${this.ok} accepted, ${this.typed} refused with a typed error)`;
  }
}
