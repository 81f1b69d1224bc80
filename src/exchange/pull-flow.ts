/**
 * The pull flow: fetches reference parts and requests from the back office
 * (on the `schedule.pull` cron and on demand). A part that cannot be read is
 * quarantined instead of staged (checked here, before the store stages the
 * rest with the transport's cursor in one atomic step); the rest keeps flowing.
 * A pull that works means the back office answers: the push flow is told, so
 * it can cut a connection backoff short.
 */
import { FormatError } from '../formats/errors.js';
import { scanSprPart, type SprPartScan } from '../formats/spr.js';
import type { Store } from '../store/store.js';
import type { SprScans } from '../till/spr-scans.js';
import type { IncomingPart } from '../transports/transport.js';
import { failpoint } from '../util/failpoints.js';
import type { Logger } from '../util/logger.js';
import type { FlowHealth } from './flow-health.js';
import type { ProgressBoard } from './progress.js';
import { retryDecision, type BackoffOptions } from './retry-policy.js';
import type { TransportSession } from './transport-session.js';

export interface PullFlowDeps {
  store: Store;
  session: TransportSession;
  health: FlowHealth;
  log: Logger;
  signal: AbortSignal;
  /** The retry options (pull keeps its schedule; the policy classifies its failures). */
  retry: BackoffOptions;
  /** Called after every pull the back office answered. */
  onAnswered: () => void;
  /** Where the scan of each staged reference part is left for the merge (so it is not scanned twice). */
  scans?: SprScans;
  /** Where the download's progress is shown (status, log, run --once's bar). */
  progress?: ProgressBoard;
}

export class PullFlow {
  constructor(private readonly deps: PullFlowDeps) {}

  /** One pull: everything new, staged in order. Never throws: a failure is logged and recorded in the state. */
  async run(): Promise<void> {
    const { store, session, log, signal, health } = this.deps;
    await session.exclusive(async () => {
      const started = Date.now();
      try {
        const transport = await session.ensureOpen();
        const r = await transport.pull({
          tmpDir: store.tmpDir,
          cursor: structuredClone(store.state.cursor),
          stage: async (parts, cursor) => {
            const { bad, scans } = await this.scan(parts);
            const staged = await store.stage(parts, cursor, bad);
            // Staged items are the parts not in `bad`, in order.
            const kept = parts.filter((p) => !bad.has(p.localPath));
            staged.forEach((item, i) => {
              const scan = scans.get(kept[i]!.localPath);
              if (scan !== undefined) this.deps.scans?.keep(item, scan);
            });
            failpoint('pull.after-stage');
          },
          quarantine: async (raw, remoteName, reason, cursor) => {
            await store.quarantineIncoming(raw, remoteName, reason, cursor);
          },
          log,
          signal,
          progress: (unit, done, total) => this.deps.progress?.report('reference-download', unit, done, total),
        });
        await store.recordPull();
        health.recovered();
        this.deps.onAnswered();
        if (r.parts > 0) log.info('pull.staged', { parts: r.parts, bytes: r.bytes, durationMs: Date.now() - started, outcome: 'ok' });
      } catch (e) {
        // Pull has no backoff of its own (it runs on its schedule): the policy says what the failure is.
        health.failed(e, retryDecision(e, 1, this.deps.retry), { durationMs: Date.now() - started });
        await store
          .recordPull((e as Error).message)
          .catch((err) => log.error('store.state.save-failed', { error: (err as Error).message, note: 'status shows the previous pull outcome until the next one is saved' }));
      } finally {
        this.deps.progress?.end('reference-download');
      }
    });
  }

  /**
   * Scans every reference part: `bad` the parts that cannot be read, each with
   * why (the store quarantines them instead of staging them), `scans` the
   * others' scans by local path (the merge reuses them).
   */
  private async scan(parts: IncomingPart[]): Promise<{ bad: Map<string, string>; scans: Map<string, SprPartScan> }> {
    const bad = new Map<string, string>();
    const scans = new Map<string, SprPartScan>();
    for (const part of parts) {
      if (part.kind !== 'spr') continue;
      try {
        scans.set(part.localPath, await scanSprPart(part.localPath, part.remoteName));
      } catch (e) {
        bad.set(part.localPath, (e instanceof FormatError ? e : new FormatError(part.remoteName, undefined, (e as Error).message)).message);
      }
    }
    return { bad, scans };
  }
}
