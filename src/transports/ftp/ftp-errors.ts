/**
 * Turns whatever basic-ftp (or the socket under it) throws into a
 * TransportError, and tells connection-level failures (worth one transparent
 * reconnect) from answers the server gave on purpose.
 *
 * basic-ftp reports server answers as FTPError (with the reply code), and
 * everything else as plain Errors: socket errors keep their errno `code`,
 * timeouts are `Error('Timeout (control socket)')` and the like, and a closed
 * client answers `Client is closed because <reason>`.
 */
import { FTPError } from 'basic-ftp';
import { TransportError, isTransportError, type TransportErrorKind } from '../errors.js';

/** Where the failure happened; `folder` marks operations on a folder, so a 550 there means a wrong configured path. */
export interface FtpErrorContext {
  /** `list`, `download`, `connect`, ... */
  op: string;
  /** The remote path (or folder) involved; '' for connection steps. */
  path: string;
  /** `host:port`, for the message. */
  server: string;
  /** The login phase: a server answer here is about our credentials. */
  phase?: 'connect' | 'tls' | 'login' | 'command';
  /** The path names a folder (list): a 550 means it does not exist. */
  folder?: boolean;
  /** Decode a reply for the message (cp1251 servers answer in cp1251). */
  decode?: (wire: string) => string;
  /** The configured user, named when a login is refused (never the password). */
  user?: string;
  /** The configured `transport.secure`, so a mismatch with the server says which setting to change. */
  secure?: boolean | 'implicit';
}

/** An upload the server aborted for lack of room: 452/552 always; 451 ("local error", vsftpd's `451 Failure writing to local file`) when its text says so. */
const FULL_451 = /writ|space|disk|full|quota/i;

const UNREACHABLE_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'ENETDOWN', 'ECONNABORTED', 'EHOSTDOWN']);

function errCode(e: unknown): string | undefined {
  const c = (e as { code?: unknown } | undefined)?.code;
  return typeof c === 'string' ? c : undefined;
}

/** Node's certificate verification codes and TLS/SSL error codes. */
export function isTlsError(e: unknown): boolean {
  const code = errCode(e);
  if (code !== undefined && /^(ERR_TLS_|ERR_SSL_)|CERT|SELF_SIGNED|UNABLE_TO_(GET|VERIFY)|HOSTNAME_MISMATCH/.test(code)) return true;
  const msg = e instanceof Error ? e.message : '';
  return /certificate|SSL routines|TLS handshake|tlsv1 alert|wrong version number/i.test(msg);
}

export function isTimeoutError(e: unknown): boolean {
  if (errCode(e) === 'ETIMEDOUT') return true;
  const msg = e instanceof Error ? e.message : '';
  return /\bTimeout\b/i.test(msg);
}

/**
 * A failure of the connection rather than an answer: the client is closed,
 * the socket broke, it timed out, or the server said 421 (closing the session).
 * Only these are worth a reconnect.
 */
export function isConnectionLevel(e: unknown, clientClosed: boolean): boolean {
  if (isTransportError(e)) return false;
  // A server answer is a deliberate reply, even if the session was dropped after it; only 421 means "gone".
  if (e instanceof FTPError) return e.code === 421;
  return clientClosed || isTimeoutError(e) || UNREACHABLE_CODES.has(errCode(e) ?? '');
}

export function toTransportError(e: unknown, ctx: FtpErrorContext): TransportError {
  if (isTransportError(e)) return e;
  const where = ctx.path === '' ? `FTP ${ctx.op} on ${ctx.server}` : `FTP ${ctx.op} '${ctx.path}' on ${ctx.server}`;
  if (e instanceof FTPError) {
    const answer = (ctx.decode ?? ((s: string) => s))(e.message).trim();
    const kind = kindForReply(e.code, ctx, answer);
    if (kind === 'auth' && ctx.phase === 'login') {
      return new TransportError(kind, `FTP login as '${ctx.user ?? 'anonymous'}' on ${ctx.server} refused: ${answer} (check transport.user and transport.password)`, { code: e.code, serverAnswer: answer, cause: e });
    }
    const detail =
      kind === 'config' && ctx.folder
        ? ` (folder '${ctx.path}' does not exist or cannot be listed)`
        : kind === 'full'
          ? ' (the FTP server has no room left: free space or raise the quota on the server; the package is retried and nothing is lost)'
          : kind === 'tls' && ctx.phase === 'tls'
            ? ' (the server does not do explicit FTPS, AUTH TLS: set transport.secure: false for plain FTP, or implicit if it is an implicit-FTPS port)'
            : '';
    return new TransportError(kind, `${where} failed: ${answer}${detail}`, { code: e.code, serverAnswer: answer, cause: e });
  }
  const raw = e instanceof Error ? e.message : String(e);
  const code = errCode(e);
  let kind: TransportErrorKind;
  if (isTlsError(e)) kind = 'tls';
  else if (isTimeoutError(e)) kind = 'timeout';
  // The server hung up during the handshake: it did not like our TLS (version, SNI, client certificate).
  else if (ctx.phase === 'tls') kind = 'tls';
  else if (UNREACHABLE_CODES.has(code ?? '') || /closed|FIN packet|socket hang up/i.test(raw)) kind = 'unreachable';
  else kind = ctx.phase === 'connect' ? 'unreachable' : 'server';
  return new TransportError(kind, `${where} failed: ${firstLine(raw)}${mismatchHint(e, kind, ctx)}`, { code, cause: e });
}

function firstLine(s: string): string {
  return s.split('\n')[0]!.trim();
}

/**
 * Implicit and explicit FTPS mixed up: OpenSSL only says "wrong version number" (the server answered in
 * plain text) and the other way round nothing comes at all (the server waits for a TLS handshake).
 */
function mismatchHint(e: unknown, kind: TransportErrorKind, ctx: FtpErrorContext): string {
  if (ctx.phase !== 'connect') return '';
  const wrongVersion = errCode(e) === 'ERR_SSL_WRONG_VERSION_NUMBER' || /wrong version number/i.test(e instanceof Error ? e.message : '');
  if (kind === 'tls' && wrongVersion && ctx.secure === 'implicit') {
    return ' (the server answered in plain text: this port does not do implicit FTPS; set transport.secure: true for explicit FTPS (AUTH TLS) or false for plain FTP, or use the implicit-FTPS port, usually 990)';
  }
  if (kind === 'timeout' && ctx.secure !== 'implicit') {
    return ' (no greeting from the server: if this port does implicit FTPS, usually 990, set transport.secure: implicit)';
  }
  return '';
}

function kindForReply(code: number, ctx: FtpErrorContext, answer: string): TransportErrorKind {
  if (code === 530 || code === 532 || (ctx.phase === 'login' && code >= 500)) return 'auth';
  // AUTH TLS refused: the server does not do FTPS (or not the flavour configured).
  if (ctx.phase === 'tls') return 'tls';
  if (code === 421) return 'unreachable';
  if (code === 452 || code === 552 || (code === 451 && ctx.op === 'upload' && FULL_451.test(answer))) return 'full';
  if (code === 550 && ctx.folder) return 'config';
  return 'server';
}
