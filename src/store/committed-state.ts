/**
 * The agent's state as committed: the copy in memory and the two slots on disk
 * (state-file.ts). A change is made on a draft, saved, and only then becomes
 * the state, so `current` is never ahead of the disk except for what `defer`
 * puts there (counters and times after a delivery, whose durable record is
 * the outbox journal; the records of released till files, whose durable record
 * is the file's absence), which is saved with the next change or at close.
 */
import type { Logger } from '../util/logger.js';
import { StateFile, type LoadedSlots } from './state-file.js';
import { agentStateSchema, newAgentState, type AgentState } from './state.js';

export class CommittedState {
  private state: AgentState = newAgentState();
  private readonly file: StateFile<AgentState>;
  /** `state` is newer than the saved slot (see `defer`). */
  private dirty = false;

  constructor(dataDir: string, log: Logger) {
    this.file = new StateFile(dataDir, (raw) => agentStateSchema.parse(raw), log);
  }

  get current(): Readonly<AgentState> {
    return this.state;
  }

  /** Loads the newest readable slot (a fresh state when there is none). */
  async load(onDamaged: (file: string, reason: string) => Promise<void>): Promise<LoadedSlots<AgentState>> {
    const loaded = await this.file.load(onDamaged);
    this.state = loaded.state ?? newAgentState();
    return loaded;
  }

  /** A copy of the state to edit and `save`. */
  draft(): AgentState {
    return structuredClone(this.state);
  }

  async save(draft: AgentState): Promise<void> {
    await this.file.save(draft);
    this.state = draft;
    this.dirty = false;
  }

  /** Takes `next` as the state without saving it: only for changes another durable record covers. */
  defer(next: AgentState): void {
    this.state = next;
    this.dirty = true;
  }

  /** What `defer` took is not saved yet. */
  get unsaved(): boolean {
    return this.dirty;
  }
}
