/**
 * The agent's small durable state (counters, open package, inbox index,
 * transport cursor) lives in two alternating slots, `state.a.json` and
 * `state.b.json`, each written crash-safely and stamped with a sequence number.
 * Loading takes the valid slot with the highest sequence. A slot torn by a
 * power cut on a disk that lied about fsync therefore costs at most the last
 * change, never everything; a damaged slot is quarantined with a log line.
 */
import * as fs from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '../util/logger.js';
import { writeJsonAtomic } from '../util/fsutil.js';
import { STATE_SLOTS as SLOTS } from './layout.js';

export interface SlotEnvelope<T> {
  format: 'kassir-agent-state';
  version: 1;
  seq: number;
  savedAt: string;
  state: T;
}

export interface LoadedSlots<T> {
  state: T | undefined;
  seq: number;
  /** Slots that could not be read, already copied to quarantine by the caller's hook. */
  damaged: { file: string; reason: string }[];
}

export class StateFile<T> {
  private seq = 0;

  constructor(
    private readonly dir: string,
    private readonly validate: (raw: unknown) => T,
    private readonly log: Logger,
  ) {}

  async load(onDamaged: (file: string, reason: string) => Promise<void>): Promise<LoadedSlots<T>> {
    const found: { seq: number; state: T }[] = [];
    const damaged: { file: string; reason: string }[] = [];
    for (const name of SLOTS) {
      const file = join(this.dir, name);
      let text: string;
      try {
        text = await fs.readFile(file, 'utf8');
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') continue;
        throw e;
      }
      try {
        const env = JSON.parse(text) as SlotEnvelope<unknown>;
        if (env?.format !== 'kassir-agent-state' || typeof env.seq !== 'number') throw new Error('not a kassir-agent state file');
        found.push({ seq: env.seq, state: this.validate(env.state) });
      } catch (e) {
        const reason = text.length === 0 ? 'empty (interrupted write)' : /^\0+$/.test(text) ? 'only NUL bytes (interrupted write)' : `unreadable: ${(e as Error).message}`;
        damaged.push({ file, reason });
        await onDamaged(file, reason);
      }
    }
    found.sort((a, b) => b.seq - a.seq);
    const best = found[0];
    this.seq = best?.seq ?? 0;
    if (damaged.length > 0) this.log.warn('store.state.damaged', { slots: damaged, recoveredFromSeq: best?.seq ?? null });
    return { state: best?.state, seq: this.seq, damaged };
  }

  /** Writes the next slot; the other slot keeps the previous state. */
  async save(state: T): Promise<void> {
    const seq = this.seq + 1;
    const env: SlotEnvelope<T> = { format: 'kassir-agent-state', version: 1, seq, savedAt: new Date().toISOString(), state };
    await writeJsonAtomic(join(this.dir, SLOTS[seq % 2]!), env);
    this.seq = seq;
  }
}
