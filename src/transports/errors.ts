/**
 * The transports' error contract. Every failure a transport reports is a
 * TransportError; its `kind` says what went wrong, and the exchange's retry
 * policy (`src/exchange/retry-policy.ts`) decides from it how to retry:
 * nothing is ever given up, but errors that need a person (`auth`, `tls`,
 * `config`) are retried only at the slowest pace, so a wrong password never
 * becomes a retry storm.
 */
export type TransportErrorKind =
  | 'unreachable' // connection refused/reset, DNS, share not mounted, socket closed
  | 'timeout' // no answer within the configured timeout (black hole)
  | 'auth' // 401/403, FTP 530: needs a person
  | 'tls' // certificate rejected
  | 'config' // the remote side says our configuration is wrong (no such folder, ...)
  | 'protocol' // the server answered something we cannot read (HTML instead of JSON, bad base64)
  | 'server' // the server answered with an error (HTTP 5xx, errcode > 1, FTP 4xx/5xx)
  | 'full' // the server's disk is full (FTP 452/552, ENOSPC on a share)
  | 'busy'; // not an error: the remote side is not ready yet (the previous no-suffix file not taken); polled at a steady pace

/** What a flow's failure was: a TransportError kind, or `local` for a failure on this machine (data folder, till folder). */
export type FailureKind = TransportErrorKind | 'local';

export class TransportError extends Error {
  override readonly name = 'TransportError';
  constructor(
    readonly kind: TransportErrorKind,
    message: string,
    readonly details: {
      /** What the server said, verbatim but trimmed (never a secret). */
      serverAnswer?: string;
      /** HTTP status or FTP reply code. */
      code?: number | string;
      cause?: unknown;
      /**
       * What in the package's shift cannot be sent as it is (the EquipmentService upload holds
       * such a shift): the push flow writes each into the anomalies of the shifts the package holds.
       */
      shiftProblems?: readonly string[];
    } = {},
  ) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
  }

  /** Errors a person must fix (the retry policy retries them at the slowest pace only). */
  get needsOperator(): boolean {
    return this.kind === 'auth' || this.kind === 'tls' || this.kind === 'config';
  }
}

export function isTransportError(e: unknown): e is TransportError {
  return e instanceof TransportError;
}
