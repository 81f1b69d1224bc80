/**
 * The exchange's one transport, shared by the pull and push flows: it owns the
 * lock that keeps them from running at the same time, and the connection,
 * opened once (at the first call of a cycle) and kept open across cycles until
 * a connection failure drops it or the exchange stops. Transports do not open
 * themselves: this is the one place that does.
 */
import type { Transport } from '../transports/transport.js';
import { Mutex } from '../util/mutex.js';

export class TransportSession {
  private readonly lock = new Mutex();
  private open = false;

  constructor(readonly transport: Transport) {}

  get type(): string {
    return this.transport.type;
  }

  /** Runs `fn` alone on the transport (pull and push never overlap). */
  exclusive<T>(fn: () => Promise<T>): Promise<T> {
    return this.lock.run(fn);
  }

  /** Opens the connection unless it is open already. Call inside `exclusive`. */
  async ensureOpen(): Promise<Transport> {
    if (!this.open) {
      await this.transport.open();
      this.open = true;
    }
    return this.transport;
  }

  /** Drops a dead connection: the next `ensureOpen` opens a fresh one. Never throws. */
  async reconnect(): Promise<void> {
    await this.transport.close().catch(() => undefined);
    this.open = false;
  }

  /** For stop: closes the connection if it is open (throws what close throws). */
  async close(): Promise<void> {
    if (!this.open) return;
    this.open = false;
    await this.transport.close();
  }

  get isOpen(): boolean {
    return this.open;
  }
}
