/**
 * Every change of the agent's state (state.ts), one pure function each, and
 * so the one place that says what may change together. The store (store.ts)
 * and its rooms apply them to a draft that is saved in one durable commit;
 * nothing outside `src/store/` edits the state.
 *
 * A change that must happen together with another goes into the same
 * function (or the same draft): e.g. a take-over moves the open package's
 * state, the source's progress and the counters in one commit, so a crash
 * leaves all of them or none. State added later (a per-POS ledger updated
 * with the transactions it counts) is updated by the function of the step it
 * belongs to, on the same draft.
 */
import type { ShiftLayout } from '../config/schema.js';
import type { BatchPlan } from '../formats/batcher.js';
import type { ReportUnit } from '../formats/report.js';
import { applyUnits, deliveredPackage, heldPackage, pruneShifts, sealedAs, type ShiftEvent } from '../shifts/ledger.js';
import { emptyOpenPackage, type AgentState, type InboxItem } from './state.js';

/** A read-only view of the state, for readers (status, the flows' decisions). */
export type StateView = DeepReadonly<AgentState>;
type DeepReadonly<T> = T extends (infer E)[] ? readonly DeepReadonly<E>[] : T extends object ? { readonly [K in keyof T]: DeepReadonly<T[K]> } : T;

/** A reference or request file being moved into the till folder (see till/deliver.ts). */
export type Delivering = NonNullable<AgentState['delivering']>;

/** The outcome of one pull: ok, or the failure's message. */
export function pullOutcome(d: AgentState, at: string, error?: string): void {
  d.lastPull = { at, ok: error === undefined, ...(error !== undefined ? { error } : {}) };
  if (error === undefined) d.lastPullOk = at;
}

/** A failed push attempt (a delivery is recorded by `delivered`). */
export function pushFailed(d: AgentState, at: string, error: string): void {
  d.lastPush = { at, ok: false, error };
}

/** Package `number` refused for what its shift holds: the problems become the shift's anomalies (their events returned). */
export function packageHeld(d: AgentState, number: number, problems: readonly string[]): ShiftEvent[] {
  return heldPackage(d.shiftLedger, number, problems);
}

/** Package `number` delivered: counted, the last push made ok, and the shifts it completes delivered (their events returned). */
export function delivered(d: AgentState, number: number, at: string): ShiftEvent[] {
  d.counters.packagesDelivered += 1;
  d.lastPushOk = at;
  d.lastPush = { at, ok: true };
  return deliveredPackage(d.shiftLedger, number, at);
}

/**
 * Units `from`..`plan.upTo - 1` of the taken report file `takenName` appended
 * to the open package (`plan`, formats/batcher.ts): the open package's state,
 * the file's progress and the count move together.
 */
export function unitsTaken(d: AgentState, takenName: string, plan: BatchPlan, startedAt: string, uid: string | undefined): void {
  d.open.pkg = plan.state;
  d.open.startedAt ??= startedAt;
  if (uid !== undefined) d.open.uid = uid;
  d.sources[takenName] = { units: plan.upTo, ...(uid !== undefined ? { uid } : {}) };
  d.counters.transactionsCollected += plan.transactions;
}

/**
 * The same units counted in this POS's shift ledger (shifts/ledger.ts), on the draft of the
 * take-over that appends them: never counted twice, never lost. Returns the shift events to log.
 */
export function shiftsCounted(d: AgentState, units: readonly ReportUnit[], pos: number, layout: ShiftLayout): ShiftEvent[] {
  return applyUnits(d.shiftLedger, units, pos, layout);
}

/** Shifts delivered before `beforeMs` leave the ledger (kept as long as history); returns how many. */
export function shiftsPruned(d: AgentState, beforeMs: number): number {
  return pruneShifts(d.shiftLedger, beforeMs);
}

/** Bytes appended to the open package: its committed length. */
export function openGrew(d: AgentState, length: number): void {
  d.open.length = length;
}

/** The open package sealed as `number`: the next one starts empty. */
export function sealed(d: AgentState, number: number): void {
  d.nextPackage = number + 1;
  d.open = emptyOpenPackage();
  d.counters.packagesSealed += 1;
  // The shifts whose transactions it holds list it from this very commit on.
  sealedAs(d.shiftLedger, number);
}

/** An archived package queued again as `number` (`resend`). */
export function requeued(d: AgentState, number: number): void {
  d.nextPackage = number + 1;
}

/** Something was moved into quarantine (a damaged package, an unreadable part). */
export function quarantined(d: AgentState): void {
  d.counters.quarantined += 1;
}

/** A taken report file that is not a report went to quarantine: its record goes, it is counted. */
export function takenQuarantined(d: AgentState, takenName: string): void {
  delete d.sources[takenName];
  quarantined(d);
}

/** Taken report files done with (released, or gone before a crash): their records go. */
export function takenReleased(d: AgentState, takenNames: readonly string[]): void {
  for (const n of takenNames) delete d.sources[n];
}

/** Incoming parts staged in the inbox, with the transport's cursor past them. */
export function staged(d: AgentState, items: readonly InboxItem[], cursor: AgentState['cursor']): void {
  d.inbox.push(...items);
  d.cursor = cursor;
  d.counters.partsStaged += items.length;
}

/** The next inbox item's id (taken as an item is staged). */
export function nextInboxId(d: AgentState): number {
  return d.nextInboxId++;
}

/** An incoming item kept in quarantine instead: the cursor moves past it. */
export function incomingQuarantined(d: AgentState, cursor: AgentState['cursor']): void {
  d.cursor = cursor;
  quarantined(d);
}

/** A file about to be renamed into the till folder (see till/deliver.ts): recorded before the rename. */
export function deliveryStarted(d: AgentState, delivering: Delivering): void {
  d.delivering = delivering;
}

/** A delivery interrupted before its rename: it is made again from the inbox. */
export function deliveryUndone(d: AgentState): void {
  d.delivering = undefined;
}

/**
 * Inbox parts whose file is in the till folder (or that were skipped) leave
 * the inbox; a reference file is counted, a request file starts waiting for
 * Kassir to take it and for its answer (till/requests.ts).
 */
export function partsRetired(d: AgentState, ids: readonly number[], kind: 'spr' | 'flr', at: string, uid?: string): void {
  d.inbox = d.inbox.filter((i) => !ids.includes(i.id));
  d.delivering = undefined;
  if (kind === 'spr') {
    d.counters.referenceFilesDelivered += 1;
    d.lastReferenceDelivered = at;
  }
  if (kind === 'flr' && uid !== undefined) d.requests.push({ uid, deliveredAt: at });
}

/** Kassir has taken the request file: every delivered request is taken. */
export function requestsTaken(d: AgentState, at: string): void {
  for (const r of d.requests) r.takenAt ??= at;
}

/** The taken report file `takenName` answers request `uid`: the request leaves the list and the file carries its UID. */
export function answerClaimed(d: AgentState, takenName: string, uid: string): void {
  d.requests = d.requests.filter((r) => r.uid !== uid);
  d.sources[takenName] = { units: 0, uid };
}
