/**
 * Reading the service's JSON answers. Tolerant where real back offices vary
 * (`errcode` as a string or a number, key case, a UTF-8 BOM in front, missing
 * optional keys), strict where a wrong guess would lose data (anything that is
 * not JSON is a `protocol` error quoting the start of the body: typically an
 * IIS/Apache error page served with 200).
 */
import { z } from 'zod';
import { TransportError } from '../errors.js';
import { maskSecrets } from '../../util/secret-mask.js';

/** The documented codes: 0 ok; ReceiveData 3 = nothing to send; SendData 1 = already processed. */
export const ERRCODE_OK = 0;
export const ERRCODE_NOTHING = 3;
export const ERRCODE_DUPLICATE = 1;

const errcode = z.union(
  [
    z.number().int(),
    z
      .string()
      .trim()
      .regex(/^-?\d+$/)
      .transform(Number),
  ],
  // zod's own union message is "Invalid input"; say what is expected.
  { error: 'must be a whole number (or a string of digits)' },
);
const text = z.string().nullish().transform((s) => s ?? '');

/** What every ReceiveData answer must have for us to know whether it is a package at all. */
const envelopeSchema = z.object({ errcode, errmessage: text });
/** What a package (errcode 0) must have to be readable. A failure here is a bad package, not a bad connection. */
const packageSchema = z.object({
  data: text,
  packagetype: text,
  uid: z.union([z.string(), z.number()]).nullish().transform((s) => (s === null || s === undefined || s === '' ? undefined : String(s))),
});
const sendSchema = z.object({ errcode, errmessage: text });

export type ReceiveEnvelope = z.infer<typeof envelopeSchema> & {
  /** The answer's keys, lower-cased, for `readReceivePackage`. */
  fields: Record<string, unknown>;
};
export type ReceivePackage = z.infer<typeof packageSchema>;
export type SendAnswer = z.infer<typeof sendSchema>;

/**
 * The first half of reading a ReceiveData answer: JSON object and errcode.
 * Anything wrong here (an HTML page, no errcode) says nothing about the
 * package, so it is a `protocol` error and the package is asked for again later.
 */
export function parseReceiveEnvelope(body: string, what: string, secrets: string[]): ReceiveEnvelope {
  const fields = parseObject(body, what, secrets);
  return { ...checkWith(envelopeSchema, fields, body, what, secrets), fields };
}

/**
 * The second half, for an errcode 0 answer: `data`, `packagetype`, `UID`.
 * Returns the problem as text instead of throwing: the server did hand out
 * this package, and asking again would get the same unusable answer, so the
 * caller quarantines it and moves on.
 */
export function readReceivePackage(env: ReceiveEnvelope): ReceivePackage | { problem: string } {
  const r = packageSchema.safeParse(env.fields);
  if (r.success) return r.data;
  const issue = r.error.issues[0]!;
  return { problem: `answer key "${issue.path.join('.') || '(answer)'}": ${issue.message}` };
}

export function parseSendAnswer(body: string, what: string, secrets: string[]): SendAnswer {
  return checkWith(sendSchema, parseObject(body, what, secrets), body, what, secrets);
}

/** JSON.parse the body into an object with lower-cased keys (1C writes `UID`, `ErrCode`... as it likes). */
function parseObject(body: string, what: string, secrets: string[]): Record<string, unknown> {
  let json: unknown;
  try {
    json = JSON.parse(body.replace(/^\uFEFF/, ''));
  } catch {
    throw new TransportError('protocol', `${what}: the answer is not JSON: ${snippet(body, secrets) || '(empty body)'}`, {
      serverAnswer: snippet(body, secrets),
    });
  }
  if (json === null || typeof json !== 'object' || Array.isArray(json)) {
    throw new TransportError('protocol', `${what}: the answer is not a JSON object: ${snippet(body, secrets)}`, { serverAnswer: snippet(body, secrets) });
  }
  return Object.fromEntries(Object.entries(json).map(([k, v]) => [k.toLowerCase(), v]));
}

function checkWith<T>(schema: z.ZodType<T>, fields: Record<string, unknown>, body: string, what: string, secrets: string[]): T {
  const r = schema.safeParse(fields);
  if (!r.success) {
    const issue = r.error.issues[0]!;
    const key = issue.path.join('.') || '(answer)';
    throw new TransportError('protocol', `${what}: answer key "${key}": ${issue.message}: ${snippet(body, secrets)}`, { serverAnswer: snippet(body, secrets) });
  }
  return r.data;
}

/**
 * The first ~200 characters of a body, fit for a log line and the history
 * journal: markup and control characters flattened, secrets masked.
 */
export function snippet(body: string, secrets: string[] = [], max = 200): string {
  // Only the head matters; do not run the clean-up over a 10 MB page.
  let s = body
    .slice(0, 8 * max + 4096)
    .replace(/^\uFEFF/, '')
    .replace(/<(script|style)[\s\S]*?<\/\1>/gi, ' ')
    .replace(/<[^>]*>/g, ' ')
    .replace(/[\u0000-\u001f\u007f]+/g, ' ')
    .replace(/\s+/g, ' ')
    .trim();
  s = maskSecrets(s, secrets);
  return s.length > max ? `${s.slice(0, max)}…` : s;
}
