/**
 * The one interface every transport (folder, ftp, kkmtransfer, equipment-service) implements.
 * Constructors only store dependencies; `open()` connects, and the exchange
 * calls it once before the first `pull` or `push` of a cycle (and again only
 * after a `close()`: see exchange/transport-session.ts). The exchange calls
 * `pull` and `push` one at a time (never concurrently on one transport).
 *
 * Durability contract: a transport never acknowledges anything to the remote
 * side (deletes a part, advances a package counter) before the local store has
 * made the corresponding data durable; it does so by calling `ctx.stage(...)`
 * and awaiting it. A transport may keep a small JSON "cursor" (e.g. the next
 * ReceiveData package number, or the parts pending deletion on a share) which
 * the store persists atomically together with the staged parts.
 */
import type { Logger } from '../util/logger.js';

export type IncomingKind = 'spr' | 'flr';

export interface IncomingPart {
  /** A file the transport downloaded into `ctx.tmpDir`; the store moves it. */
  localPath: string;
  /** The remote name, for logs and error messages (e.g. `Files/POS1.spr.$3`, `package 17`). */
  remoteName: string;
  kind: IncomingKind;
  /** KKMTransfer flr requests carry a UID that the answering report must quote. */
  uid?: string;
}

export type TransportCursor = Record<string, unknown>;

export interface PullContext {
  /** Download here (same filesystem as the store, so staging is a rename). */
  tmpDir: string;
  /** The cursor last persisted for this transport ({} the first time). */
  cursor: TransportCursor;
  /**
   * Durably stage `parts` (in order) and persist `cursor` in one atomic step.
   * Resolves only once both are on disk. Call with `parts = []` to persist a
   * cursor change alone.
   */
  stage(parts: IncomingPart[], cursor: TransportCursor): Promise<void>;
  /**
   * An incoming item that cannot be read (bad base64, a broken or hostile ZIP,
   * an unreadable answer): keep its raw bytes in quarantine with `reason`, and
   * persist `cursor` so the exchange moves past it. Bad input never blocks
   * the items after it; an operator finds it in quarantine and in the log.
   */
  quarantine(raw: Buffer, remoteName: string, reason: string, cursor: TransportCursor): Promise<void>;
  log: Logger;
  signal: AbortSignal;
  /**
   * How far the download is, for `status`, the log's `progress` lines and
   * `run --once`'s bar: `done` of `total` (undefined while unknown) bytes or
   * packages since this pull began. Advice only: it changes nothing of what
   * is staged or acknowledged. Optional: a transport may not call it.
   */
  progress?(unit: 'bytes' | 'packages', done: number, total?: number): void;
}

export interface PullResult {
  /** Parts staged during this call. */
  parts: number;
  bytes: number;
}

/** A sealed package as the transport sees it: immutable bytes with a number. */
export interface OutgoingPackage {
  /** The package number assigned at sealing (KKMTransfer package number; `.$n` is chosen by the transport). */
  number: number;
  /** The report file (a valid Kassir report: `#` block header, service lines, transactions). */
  path: string;
  bytes: number;
  transactions: number;
  /** Set when the package answers a KKMTransfer flr request. */
  uid?: string;
}

/** Per-package durable notes a transport keeps across attempts and crashes. */
export type RemoteNotes = Record<string, unknown>;

/** Notes for an upcoming package, saved with the current package's (PushContext.saveNotes). */
export interface AheadNotes {
  number: number;
  notes: RemoteNotes;
}

export interface PushContext {
  /** What the transport saved for this package in earlier attempts ({} on the first). */
  notes: RemoteNotes;
  /**
   * Persist `notes` durably (await it) before a step that a crash must not repeat blindly.
   * `ahead`: first-attempt notes for packages of `upcoming`, made durable by the same write
   * (one sync for several packages); the store keeps them only for a package that has no
   * notes yet, so they never replace what an attempt saved.
   */
  saveNotes(notes: RemoteNotes, ahead?: readonly AheadNotes[]): Promise<void>;
  log: Logger;
  signal: AbortSignal;
  /**
   * The packages the exchange will push after this one, in order (a few at
   * most; empty when the queue runs dry). A transport may start sending them
   * early, as long as nothing of them is visible to the back office before
   * their own `push` (e.g. uploads to temporary names).
   */
  upcoming?: OutgoingPackage[];
}

/**
 * How many upcoming packages the exchange passes to `push` (PushContext.upcoming); a transport
 * uses as many as it can (FTP uploads two ahead; KKMTransfer saves the first-attempt notes of
 * all of them with the current package's, so a backlog costs one sync per this many + 1).
 */
export const UPCOMING_PACKAGES = 8;

export interface PushResult {
  /** `delivered`: accepted now; `duplicate`: the server already had it (KKMTransfer errcode 1, or found at its final name). */
  outcome: 'delivered' | 'duplicate';
  /** Where it landed, for logs and history: `Files/POS1.rep.$7`, `SendData/1/17`. */
  remoteName: string;
  /** The server's answer, verbatim and trimmed, for the history journal. */
  serverAnswer?: string;
}

export interface Transport {
  /** `folder`, `ftp`, `kkmtransfer` or `equipment-service`, for logs. */
  readonly type: string;
  open(): Promise<void>;
  close(): Promise<void>;
  /** Fetch every new incoming part, in order, staging each through `ctx.stage`. Throws TransportError. */
  pull(ctx: PullContext): Promise<PullResult>;
  /**
   * Deliver one sealed package exactly once. Safe to call again with the same
   * package and the notes saved by an earlier (maybe crashed) attempt.
   * Throws TransportError; the caller retries (exchange/retry-policy.ts).
   */
  push(pkg: OutgoingPackage, ctx: PushContext): Promise<PushResult>;
}
