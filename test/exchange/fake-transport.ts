/**
 * An in-process transport for the exchange's unit tests: it records every
 * call, fails the pushes it is told to, and lets a test wait for its next
 * push (timing keyed to what the code did, not to the clock).
 */
import type { OutgoingPackage, PullContext, PullResult, PushContext, PushResult, Transport } from '../../src/transports/transport.js';

export class FakeTransport implements Transport {
  readonly type = 'fake';
  /** 'open', 'close', 'pull', 'push <n>' in the order they came. */
  readonly calls: string[] = [];
  /** Package numbers delivered. */
  readonly delivered: number[] = [];
  /** Errors the next pushes throw, in order (undefined: that push works). */
  readonly pushFailures: (Error | undefined)[] = [];
  /** What a pull does (default: nothing new). */
  onPull: (ctx: PullContext) => Promise<PullResult> = async () => ({ parts: 0, bytes: 0 });
  private waiters: (() => void)[] = [];

  async open(): Promise<void> {
    this.calls.push('open');
  }

  async close(): Promise<void> {
    this.calls.push('close');
  }

  pull(ctx: PullContext): Promise<PullResult> {
    this.calls.push('pull');
    return this.onPull(ctx);
  }

  async push(pkg: OutgoingPackage, _ctx: PushContext): Promise<PushResult> {
    this.calls.push(`push ${pkg.number}`);
    const waiters = this.waiters;
    this.waiters = [];
    try {
      const failure = this.pushFailures.shift();
      if (failure) throw failure;
      this.delivered.push(pkg.number);
      return { outcome: 'delivered', remoteName: `R/${pkg.number}` };
    } finally {
      for (const w of waiters) setImmediate(w);
    }
  }

  /** Resolves after the next push call has returned or thrown (rejects after `ms`, so no test hangs). */
  nextPush(ms = 10_000): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no push within ${ms} ms`)), ms);
      this.waiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  count(call: string): number {
    return this.calls.filter((c) => c === call).length;
  }
}
