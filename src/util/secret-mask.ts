/**
 * The last line of defence against a password in a log line or a status
 * answer. The first line is at the source: the agent never puts a secret in a
 * message (credentials are moved out of URLs, the Authorization header is never
 * quoted). What is left is text from outside (a server's answer, a library's
 * error) that might echo a password back.
 *
 * Masking must never make a line unreadable: shops set passwords like `1` or
 * `ftp`, and replacing every `1` in a line destroys its timestamps and numbers.
 * So:
 * - credentials in a URL (`scheme://user:PASS@`) are always masked;
 * - a password in a credential context (`PASS x`, `password=x`, `"password":"x"`)
 *   is masked whatever its length;
 * - elsewhere a password is masked only as a whole word (not inside another
 *   word or number), and only when it is long enough (`MIN_FREE_TEXT_SECRET`)
 *   to be a password rather than ordinary text: a 3-letter word in a server's
 *   answer is far more likely `ftp` the protocol than `ftp` the password.
 * Keys, event names, timestamps and numbers are never touched (see log.ts).
 */
export const MASK = '***';

/** Shorter secrets are masked only in credential contexts (see above). */
export const MIN_FREE_TEXT_SECRET = 4;

const URL_CREDENTIALS = /(\b[a-z][a-z0-9+.-]*:\/\/[^:/\s@]+:)[^@\s/]+@/gi;

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Text with every secret (and URL credentials) masked, readable whatever the secrets are. */
export function maskSecrets(text: string, secrets: readonly string[]): string {
  let out = text.replace(URL_CREDENTIALS, `$1${MASK}@`);
  for (const s of secrets) {
    if (s.length === 0) continue;
    if (out === s) return MASK;
    const e = escapeRegExp(s);
    // Credential contexts: `PASS x`, `password=x`, `password: x`, `"password":"x"`.
    out = out.replace(new RegExp(`(\\b(?:PASS|passw(?:or)?d|pwd)["']?\\s*[=: ]\\s*["']?)${e}(?![\\p{L}\\p{N}_])`, 'giu'), `$1${MASK}`);
    if (s.length >= MIN_FREE_TEXT_SECRET) {
      out = out.replace(new RegExp(`(?<![\\p{L}\\p{N}_])${e}(?![\\p{L}\\p{N}_])`, 'gu'), MASK);
      // A long secret is masked even inside other text: it cannot be there by chance.
      if (s.length >= 8) out = out.split(s).join(MASK);
    }
  }
  return out;
}

/** A value with its strings masked; keys, numbers and booleans are left as they are. */
export function maskDeep(v: unknown, secrets: readonly string[], depth = 0): unknown {
  if (typeof v === 'string') return maskSecrets(v, secrets);
  if (depth > 8 || v === null || typeof v !== 'object') return v;
  if (Array.isArray(v)) return v.map((x) => maskDeep(x, secrets, depth + 1));
  if (v instanceof Error) return maskSecrets(v.message, secrets);
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v)) out[k] = maskDeep(x, secrets, depth + 1);
  return out;
}
