/**
 * One HTTP exchange with the KKMTransfer service over undici, and the mapping
 * of everything that can go wrong on the wire to a TransportError kind:
 * refused/reset/closed -> `unreachable`, undici's connect/headers/body
 * timeouts -> `timeout`, certificate problems -> `tls`, 401/403 -> `auth`,
 * other non-2xx -> `server`, an answer too big -> `protocol`.
 * The answer body is read with a byte cap so a misbehaving server cannot fill memory.
 */
import { readFile } from 'node:fs/promises';
import { Agent, request, type Dispatcher } from 'undici';
import { TransportError } from '../errors.js';
import { snippet } from './answers.js';

export interface HttpCall {
  method: 'GET' | 'POST';
  url: URL;
  headers: Record<string, string>;
  body?: string;
  dispatcher: Dispatcher;
  signal: AbortSignal;
  timeoutMs: number;
  /** The largest answer body accepted, in bytes. */
  maxAnswerBytes: number;
  /** What this call is, for messages: `ReceiveData 1/17`. */
  what: string;
  /** Strings that must never appear in an error message (the password). */
  secrets: string[];
  /** The basic-auth user, named when the server refuses it. */
  user?: string;
  /** Non-2xx statuses whose body is an answer the caller reads (a SOAP Fault comes with HTTP 500). */
  answerStatuses?: number[];
  /** What a 404 means at this address, for the operator (default: no KKMTransfer service there). */
  notFoundHint?: string;
  /** Bytes of a 2xx answer's body received so far, of its Content-Length when the server gives one. */
  onBody?: (bytes: number, total: number | undefined) => void;
}

export interface HttpAnswer {
  status: number;
  text: string;
}

/** The undici Agent of an HTTP transport: the CA file of `transport.tls`, and one timeout for connect, headers and body. */
export async function httpAgent(tls: { caFile?: string; rejectUnauthorized: boolean }, timeoutMs: number): Promise<Agent> {
  let ca: Buffer | undefined;
  if (tls.caFile) {
    try {
      ca = await readFile(tls.caFile);
    } catch (e) {
      throw new TransportError('config', `transport.tls.caFile ${tls.caFile}: ${(e as Error).message}`, { cause: e });
    }
  }
  return new Agent({
    connect: { ca, rejectUnauthorized: tls.rejectUnauthorized, timeout: timeoutMs },
    headersTimeout: timeoutMs,
    bodyTimeout: timeoutMs,
  });
}

/** Error answers are only read far enough to quote them. */
const ERROR_BODY_BYTES = 16 * 1024;

export async function httpCall(c: HttpCall): Promise<HttpAnswer> {
  let res: Dispatcher.ResponseData;
  try {
    res = await request(c.url, {
      method: c.method,
      headers: c.headers,
      body: c.body,
      dispatcher: c.dispatcher,
      signal: c.signal,
      // Per request as well as on our Agent, so an injected dispatcher gets the same limits.
      headersTimeout: c.timeoutMs,
      bodyTimeout: c.timeoutMs,
    });
  } catch (e) {
    throw networkError(e, c.what, c.signal, c.url);
  }
  const ok = (res.statusCode >= 200 && res.statusCode < 300) || (c.answerStatuses?.includes(res.statusCode) ?? false);
  const length = Number(res.headers['content-length']);
  const onChunk = ok && c.onBody ? (bytes: number) => c.onBody!(bytes, Number.isSafeInteger(length) ? length : undefined) : undefined;
  const text = await readCapped(res.body, ok ? c.maxAnswerBytes : ERROR_BODY_BYTES, !ok, c, onChunk);
  if (ok) return { status: res.statusCode, text };
  const answer = snippet(text, c.secrets);
  const status = res.statusCode;
  // 404: no KKMTransfer service at this address (a wrong path in the URL); it needs a person like a wrong password.
  const kind = status === 401 || status === 403 ? 'auth' : status === 404 ? 'config' : 'server';
  const hint =
    kind === 'auth'
      ? ` (check transport.user${c.user !== undefined ? ` '${c.user}'` : ''} and transport.password)`
      : kind === 'config'
        ? ` at ${c.url.href} (${c.notFoundHint ?? 'no KKMTransfer service there: check transport.url, it ends in /hs/KKMTransfer'})`
        : '';
  throw new TransportError(kind, `${c.what}: HTTP ${status}${hint}${answer ? `: ${answer}` : ''}`, {
    code: res.statusCode,
    serverAnswer: answer,
  });
}

async function readCapped(body: Dispatcher.ResponseData['body'], max: number, truncateQuietly: boolean, c: HttpCall, onChunk?: (bytes: number) => void): Promise<string> {
  const chunks: Buffer[] = [];
  let total = 0;
  try {
    for await (const chunk of body) {
      const b = chunk as Buffer;
      total += b.length;
      if (total > max) {
        body.destroy();
        if (truncateQuietly) {
          chunks.push(b.subarray(0, b.length - (total - max)));
          break;
        }
        throw new TransportError('protocol', `${c.what}: the answer is larger than ${max} bytes (transport.maxPackageBytes)`);
      }
      chunks.push(b);
      onChunk?.(total);
    }
  } catch (e) {
    if (e instanceof TransportError) throw e;
    throw networkError(e, c.what, c.signal, c.url);
  }
  return Buffer.concat(chunks).toString('utf8');
}

const TIMEOUT_CODES = new Set(['UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'ETIMEDOUT']);
const TLS_CODES = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_UNTRUSTED',
  'CERT_REVOKED',
  'CERT_SIGNATURE_FAILURE',
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'EPROTO',
]);

/** Map a thrown network error to a TransportError; an abort by our own signal is passed through as the signal's reason. */
export function networkError(e: unknown, what: string, signal: AbortSignal, url?: URL): unknown {
  if (e instanceof TransportError) return e;
  if (signal.aborted) return signal.reason ?? e;
  const code = errorCode(e);
  const detail = e instanceof Error ? e.message : String(e);
  if (code !== undefined && TIMEOUT_CODES.has(code)) {
    return new TransportError('timeout', `${what}: no answer in time (${code})`, { code, cause: e });
  }
  if (code === 'ERR_SSL_WRONG_VERSION_NUMBER' || (code === 'EPROTO' && /wrong version number/i.test(detail))) {
    // OpenSSL's "wrong version number": the server answered in plain HTTP to our TLS hello.
    return new TransportError('tls', `${what}: ${url ? `${url.origin} ` : ''}does not speak HTTPS (it answered in plain HTTP): use http:// in transport.url, or the server's HTTPS port`, { code, cause: e });
  }
  if (code !== undefined && (TLS_CODES.has(code) || code.startsWith('ERR_SSL_') || code.startsWith('ERR_TLS_'))) {
    return new TransportError('tls', `${what}: TLS failed: ${detail} (${code}; check transport.tls)`, { code, cause: e });
  }
  return new TransportError('unreachable', `${what}: ${detail}${code ? ` (${code})` : ''}`, { code, cause: e });
}

/** undici wraps socket errors; the useful code may be on the error or its cause. */
function errorCode(e: unknown): string | undefined {
  for (let x: unknown = e, depth = 0; x instanceof Error && depth < 4; x = x.cause, depth++) {
    const code = (x as { code?: unknown }).code;
    if (typeof code === 'string' && code !== 'UND_ERR_SOCKET' && code !== 'UND_ERR') return code;
    if (typeof code === 'string' && x.cause === undefined) return code;
  }
  return undefined;
}
