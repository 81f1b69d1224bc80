/**
 * Building KKMTransfer addresses from the configured service root. The root
 * may or may not end with `/`, may carry credentials (moved to basic auth so
 * they never reach a log line), and every path segment is encoded on its own
 * (a UID is the back office's string: it must stay one segment).
 */
import { TransportError } from '../errors.js';

export interface ServiceRoot {
  /** The root without credentials and without a trailing slash, safe to log. */
  url: URL;
  /** Credentials found in the URL itself (`https://user:pass@host/...`), decoded. */
  user?: string;
  password?: string;
}

export function parseServiceRoot(raw: string): ServiceRoot {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new TransportError('config', `transport.url "${redactRaw(raw)}" is not a valid URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new TransportError('config', `transport.url must start with http:// or https://, got "${url.protocol}"`);
  }
  const root: ServiceRoot = { url };
  if (url.username !== '') {
    root.user = decodeURIComponent(url.username);
    root.password = decodeURIComponent(url.password);
    url.username = '';
    url.password = '';
  }
  url.pathname = url.pathname.replace(/\/+$/, '');
  url.hash = '';
  return root;
}

/** `root` + `/seg1/seg2...`, each segment percent-encoded, never a double slash. */
export function joinUrl(root: URL, ...segments: string[]): URL {
  const u = new URL(root.href);
  u.pathname = `${root.pathname.replace(/\/+$/, '')}/${segments.map((s) => encodeURIComponent(s)).join('/')}`;
  return u;
}

/** For error messages about an unparseable URL: drop anything that looks like `user:pass@`. */
function redactRaw(raw: string): string {
  return raw.replace(/\/\/[^/@]*@/, '//***@');
}
