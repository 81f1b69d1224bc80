/**
 * The shape of the agent's durable state, validated with zod when it is read
 * back (a state file from a newer/older agent or a damaged one is caught here,
 * not three calls later). Defaults fill keys added by later versions.
 */
import { z } from 'zod';
import { shiftLedgerSchema } from '../shifts/ledger-state.js';

export const inboxItemSchema = z.object({
  id: z.number().int(),
  /** File name inside `inbox/`. */
  file: z.string(),
  remoteName: z.string(),
  kind: z.enum(['spr', 'flr']),
  uid: z.string().optional(),
  bytes: z.number().int(),
  stagedAt: z.string(),
});
export type InboxItem = z.infer<typeof inboxItemSchema>;

export const openPackageSchema = z.object({
  /** The batcher's state (formats/batcher.ts OpenPackageState). */
  pkg: z.object({
    transactions: z.number().int(),
    bytes: z.number().int(),
    lastHeaderKey: z.string().optional(),
    encoding: z.enum(['utf8bom', 'cp1251']).optional(),
  }),
  /** Bytes of `outbox/open.rep` that are committed; anything beyond is an interrupted append and is cut off at start-up. */
  length: z.number().int(),
  /** When the first transaction went in (ISO), for the flush interval. */
  startedAt: z.string().optional(),
  /** The KKMTransfer flr request this package answers. */
  uid: z.string().optional(),
});
export type OpenPackage = z.infer<typeof openPackageSchema>;

export const emptyOpenPackage = (): OpenPackage => ({ pkg: { transactions: 0, bytes: 0 }, length: 0 });

export const agentStateSchema = z.object({
  nextPackage: z.number().int().min(1).default(1),
  open: openPackageSchema.default(emptyOpenPackage),
  /** Report files taken over from the till and not yet finished: taken name -> units already in packages. */
  sources: z.record(z.string(), z.object({ units: z.number().int(), uid: z.string().optional() })).default({}),
  inbox: z.array(inboxItemSchema).default([]),
  nextInboxId: z.number().int().default(1),
  /** The transport's own durable cursor (next ReceiveData number, parts pending deletion on a share). */
  cursor: z.record(z.string(), z.unknown()).default({}),
  /** A reference or request file being moved into the till folder (see till/deliver.ts). */
  delivering: z
    .object({ tmp: z.string(), target: z.string(), inboxIds: z.array(z.number().int()), kind: z.enum(['spr', 'flr']), uid: z.string().optional() })
    .optional(),
  /** flr requests delivered to the till and not yet answered by a report. */
  requests: z.array(z.object({ uid: z.string(), deliveredAt: z.string(), takenAt: z.string().optional() })).default([]),
  counters: z
    .object({
      transactionsCollected: z.number().int().default(0),
      packagesSealed: z.number().int().default(0),
      packagesDelivered: z.number().int().default(0),
      partsStaged: z.number().int().default(0),
      referenceFilesDelivered: z.number().int().default(0),
      quarantined: z.number().int().default(0),
    })
    .prefault({}),
  lastPull: z.object({ at: z.string(), ok: z.boolean(), error: z.string().optional() }).optional(),
  lastPullOk: z.string().optional(),
  lastPush: z.object({ at: z.string(), ok: z.boolean(), error: z.string().optional() }).optional(),
  lastPushOk: z.string().optional(),
  /** When reference data was last handed to Kassir (ISO): monitoring alerts when it gets old. */
  lastReferenceDelivered: z.string().optional(),
  /** This POS's shifts as counted from the transactions taken over (shifts/ledger.ts), committed with them. */
  shiftLedger: shiftLedgerSchema.prefault({}),
});
export type AgentState = z.infer<typeof agentStateSchema>;

export const newAgentState = (): AgentState => agentStateSchema.parse({});

export const packageMetaSchema = z.object({
  number: z.number().int(),
  transactions: z.number().int(),
  bytes: z.number().int(),
  /** SHA-256 of the package bytes at sealing: a package damaged on disk is never sent as if whole. */
  sha256: z.string().optional(),
  sealedAt: z.string(),
  uid: z.string().optional(),
  attempts: z.number().int().default(0),
  firstAttemptAt: z.string().optional(),
  lastAttemptAt: z.string().optional(),
  lastError: z.string().optional(),
  /** Transport notes (temporary and final names, ...), persisted before risky steps. */
  notes: z.record(z.string(), z.unknown()).default({}),
  deliveredAt: z.string().optional(),
  remoteName: z.string().optional(),
  outcome: z.enum(['delivered', 'duplicate']).optional(),
  /** Set when an operator put an archived package back in the queue (`resend`). */
  resendOf: z.number().int().optional(),
});
export type PackageMeta = z.infer<typeof packageMetaSchema>;
