/**
 * Stand-ins for what the store gives a transport: a PullContext whose `stage`
 * and `quarantine` record each call (with the staged files' bytes, read at
 * staging time) and persist the cursor like the store would, and a PushContext whose notes
 * survive between attempts.
 */
import { readFile } from 'node:fs/promises';
import type { IncomingPart, PullContext, PushContext, RemoteNotes, TransportCursor } from '../../src/transports/transport.js';
import { memoryLogger, type Logger } from '../../src/util/logger.js';

export interface StageCall {
  parts: (IncomingPart & { data: Buffer })[];
  cursor: TransportCursor;
}

export interface QuarantineCall {
  raw: Buffer;
  remoteName: string;
  reason: string;
  cursor: TransportCursor;
}

export type FakePullContext = PullContext & { calls: StageCall[]; quarantined: QuarantineCall[] };

export function fakePullContext(tmpDir: string, cursor: TransportCursor = {}, log: Logger = memoryLogger(), signal = new AbortController().signal): FakePullContext {
  const ctx: FakePullContext = {
    tmpDir,
    cursor,
    calls: [],
    quarantined: [],
    log,
    signal,
    async stage(parts, next) {
      const withData = await Promise.all(parts.map(async (p) => ({ ...p, data: await readFile(p.localPath) })));
      ctx.calls.push({ parts: withData, cursor: next });
      ctx.cursor = next; // what the store persisted; the next pull starts from it
    },
    async quarantine(raw, remoteName, reason, next) {
      ctx.quarantined.push({ raw: Buffer.from(raw), remoteName, reason, cursor: next });
      ctx.cursor = next; // the store persists the cursor past the bad item with it
    },
  };
  return ctx;
}

export type FakePushContext = PushContext & { saved: RemoteNotes[] };

/** `notes` are shared by reference between attempts, as the store would reload them. */
export function fakePushContext(state: { notes: RemoteNotes } = { notes: {} }, log: Logger = memoryLogger()): FakePushContext {
  const ctx: FakePushContext = {
    notes: state.notes,
    saved: [],
    log,
    signal: new AbortController().signal,
    async saveNotes(notes) {
      state.notes = structuredClone(notes);
      ctx.saved.push(state.notes);
    },
  };
  return ctx;
}
