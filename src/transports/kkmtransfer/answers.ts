/**
 * Reading the service's JSON answers. Tolerant where real back offices vary
 * (`errcode` as a string or a number, key case, a UTF-8 BOM in front, missing
 * optional keys), strict where a wrong guess would lose data (anything that is
 * not JSON is a `protocol` error quoting the start of the body: typically an
 * IIS/Apache error page served with 200).
 */
import { z } from 'zod';
import { TransportError } from '../errors.js';

/** The documented codes: 0 ok; ReceiveData 3 = nothing to send; SendData 1 = already processed. */
export const ERRCODE_OK = 0;
export const ERRCODE_NOTHING = 3;
export const ERRCODE_DUPLICATE = 1;

const errcode = z.union([
  z.number().int(),
  z
    .string()
    .trim()
    .regex(/^-?\d+$/, 'must be a whole number')
    .transform(Number),
]);
const text = z.string().nullish().transform((s) => s ?? '');

const receiveSchema = z.object({
  data: text,
  errcode,
  errmessage: text,
  packagetype: text,
  uid: z.union([z.string(), z.number()]).nullish().transform((s) => (s === null || s === undefined || s === '' ? undefined : String(s))),
});
const sendSchema = z.object({ errcode, errmessage: text });

export type ReceiveAnswer = z.infer<typeof receiveSchema>;
export type SendAnswer = z.infer<typeof sendSchema>;

export function parseReceiveAnswer(body: string, what: string, secrets: string[]): ReceiveAnswer {
  return parseWith(receiveSchema, body, what, secrets);
}

export function parseSendAnswer(body: string, what: string, secrets: string[]): SendAnswer {
  return parseWith(sendSchema, body, what, secrets);
}

function parseWith<T>(schema: z.ZodType<T>, body: string, what: string, secrets: string[]): T {
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
  // 1C code writes `UID`, `ErrCode`... as it likes: compare keys case-insensitively.
  const lower = Object.fromEntries(Object.entries(json).map(([k, v]) => [k.toLowerCase(), v]));
  const r = schema.safeParse(lower);
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
  for (const secret of secrets) if (secret.length >= 3) s = s.split(secret).join('***');
  return s.length > max ? `${s.slice(0, max)}…` : s;
}
