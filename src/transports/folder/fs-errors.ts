/**
 * Maps Node filesystem errors on a (network) share to TransportError kinds.
 * One table, so the folder transport retries a flaky SMB mount the same way
 * the FTP transport retries a flaky server.
 */
import { TransportError, type TransportErrorKind } from '../errors.js';

/** errno codes that mean "the share is gone for now" (SMB/NFS dropped, stale handle). */
const UNREACHABLE = new Set(['EIO', 'ENOTCONN', 'EHOSTDOWN', 'EHOSTUNREACH', 'ENETUNREACH', 'ENETDOWN', 'ESTALE', 'ETIMEDOUT', 'ECONNRESET', 'ECONNABORTED', 'ECONNREFUSED']);

export function errnoOf(e: unknown): string | undefined {
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  return typeof code === 'string' ? code : undefined;
}

/**
 * The kind for an errno other than ENOENT (ENOENT needs a look at the disk
 * to tell a missing folder from a missing file; see FolderRemoteDir).
 */
export function kindForErrno(code: string | undefined): TransportErrorKind {
  if (code === undefined) return 'server';
  if (code === 'ENOSPC' || code === 'EDQUOT') return 'full';
  // An unwritable share (permissions being fixed, read-only remount) is a normal, temporary state.
  if (code === 'EACCES' || code === 'EPERM' || code === 'EROFS' || code === 'EBUSY') return 'server';
  if (UNREACHABLE.has(code)) return 'unreachable';
  // A path component that is a file where we expect a folder: the configuration names the wrong thing.
  if (code === 'ENOTDIR') return 'config';
  return 'server';
}

/** `op` is a verb phrase (`list`, `upload to`), `what` the share-relative path. */
export function fsTransportError(kind: TransportErrorKind, op: string, what: string, root: string, e: unknown): TransportError {
  const code = errnoOf(e);
  const reason = e instanceof Error ? e.message : String(e);
  return new TransportError(kind, `folder transport: ${op} '${what}' in share '${root}' failed: ${reason}`, { code, cause: e });
}
