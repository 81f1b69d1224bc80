/**
 * The protection of the metrics listener, configured the way Prometheus and
 * its exporters do it (exporter-toolkit's "web configuration file", the file
 * `promtool check web-config` checks): TLS with a certificate and key, and
 * optionally client certificates; and/or HTTP basic auth whose passwords are
 * bcrypt hashes. Paths in it are relative to its own folder, as in
 * exporter-toolkit. Keys kassir-agent does not implement are refused by name
 * rather than ignored, so nobody believes in a protection that is not there.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { SecureContextOptions } from 'node:tls';
import { dirname, resolve } from 'node:path';
import { parseDocument } from 'yaml';
import { z } from 'zod';

const BCRYPT = /^\$2[abxy]?\$\d{2}\$[./A-Za-z0-9]{53}$/;

const webConfigSchema = z.strictObject({
  tls_server_config: z
    .strictObject({
      cert_file: z.string().min(1),
      key_file: z.string().min(1),
      // exporter-toolkit also knows RequestClientCert, RequireAnyClientCert and
      // VerifyClientCertIfGiven: none of them keeps an unknown client out, so they are refused.
      client_auth_type: z
        .enum(['NoClientCert', 'RequireAndVerifyClientCert'], 'kassir-agent supports NoClientCert and RequireAndVerifyClientCert')
        .default('NoClientCert'),
      client_ca_file: z.string().min(1).optional(),
      min_version: z.enum(['TLS10', 'TLS11', 'TLS12', 'TLS13']).default('TLS12'),
      max_version: z.enum(['TLS10', 'TLS11', 'TLS12', 'TLS13']).optional(),
    })
    .optional(),
  basic_auth_users: z
    .record(z.string().min(1).refine((u) => !u.includes(':'), 'a user name cannot contain ":"'), z.string().regex(BCRYPT, 'must be a bcrypt hash ($2y$10$..., e.g. from `htpasswd -nBC 10 USER`)'))
    .optional(),
});

export interface WebConfig {
  file: string;
  /** Options for https.createServer, when TLS is configured. */
  tls?: SecureContextOptions & { requestCert: boolean; rejectUnauthorized: boolean };
  /** user -> bcrypt hash, when basic auth is configured. */
  users?: Map<string, string>;
}

export class WebConfigError extends Error {
  constructor(
    readonly file: string,
    readonly problems: string[],
  ) {
    super(`${file}: ${problems.join('; ')}`);
  }
}

const TLS_VERSION = { TLS10: 'TLSv1', TLS11: 'TLSv1.1', TLS12: 'TLSv1.2', TLS13: 'TLSv1.3' } as const;

/** Reads and checks a web config file; throws WebConfigError naming each bad key. */
export function loadWebConfig(file: string): WebConfig {
  const abs = resolve(file);
  let text: string;
  try {
    text = readFileSync(abs, 'utf8');
  } catch (e) {
    throw new WebConfigError(abs, [`cannot read: ${(e as NodeJS.ErrnoException).code ?? String(e)}`]);
  }
  const doc = parseDocument(text, { uniqueKeys: true });
  if (doc.errors.length > 0) throw new WebConfigError(abs, doc.errors.map((e) => `line ${e.linePos?.[0]?.line ?? '?'}: ${e.message.split('\n')[0]}`));
  const parsed = webConfigSchema.safeParse(doc.toJS() ?? {});
  if (!parsed.success) {
    throw new WebConfigError(
      abs,
      parsed.error.issues.map((i) =>
        i.code === 'unrecognized_keys'
          ? `${[...i.path, ...i.keys].join('.')}: not supported by kassir-agent (supported: tls_server_config with cert_file, key_file, client_auth_type, client_ca_file, min_version, max_version; basic_auth_users)`
          : `${i.path.join('.') || '(file)'}: ${i.message}`,
      ),
    );
  }
  const w = parsed.data;
  const out: WebConfig = { file: abs };
  const problems: string[] = [];
  const read = (key: string, path: string): Buffer | undefined => {
    try {
      return readFileSync(resolve(dirname(abs), path));
    } catch (e) {
      problems.push(`${key}: cannot read ${resolve(dirname(abs), path)}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
      return undefined;
    }
  };
  if (w.tls_server_config) {
    const t = w.tls_server_config;
    const cert = read('tls_server_config.cert_file', t.cert_file);
    const key = read('tls_server_config.key_file', t.key_file);
    const ca = t.client_ca_file !== undefined ? read('tls_server_config.client_ca_file', t.client_ca_file) : undefined;
    const verify = t.client_auth_type === 'RequireAndVerifyClientCert';
    if (verify && t.client_ca_file === undefined) problems.push(`tls_server_config.client_ca_file: needed with client_auth_type ${t.client_auth_type}`);
    if (cert && key) {
      const tls = {
        cert,
        key,
        ...(ca ? { ca } : {}),
        minVersion: TLS_VERSION[t.min_version],
        ...(t.max_version ? { maxVersion: TLS_VERSION[t.max_version] } : {}),
        requestCert: verify,
        rejectUnauthorized: verify,
      };
      try {
        // node:tls is loaded only when a web config asks for TLS (metrics.ts likewise for node:https).
        process.getBuiltinModule('node:tls').createSecureContext(tls); // the key matches the certificate, both are PEM
        out.tls = tls;
      } catch (e) {
        problems.push(`tls_server_config: cert_file/key_file unusable: ${(e as Error).message}`);
      }
    }
  }
  if (w.basic_auth_users && Object.keys(w.basic_auth_users).length > 0) out.users = new Map(Object.entries(w.basic_auth_users));
  if (!out.tls && !out.users && problems.length === 0) problems.push('protects nothing: give tls_server_config and/or basic_auth_users');
  if (problems.length > 0) throw new WebConfigError(abs, problems);
  return out;
}

/**
 * Checks `Authorization: Basic ...` against the bcrypt hashes. bcryptjs
 * (pure JS) is loaded only here, so an agent without basic auth never loads
 * it. A bcrypt check costs tens of milliseconds by design; a scrape every
 * 15 s would pay it each time, so credentials that passed are remembered as a
 * SHA-256 of user, password and hash (as exporter-toolkit caches them).
 */
export class BasicAuth {
  private readonly passed = new Set<string>();
  /** A hash to compare against for unknown users, so their answer takes as long as a wrong password. */
  private static readonly DUMMY = '$2b$10$' + 'C'.repeat(53);

  constructor(private readonly users: Map<string, string>) {}

  async check(header: string | undefined): Promise<boolean> {
    const m = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header ?? '');
    if (!m) return false;
    const decoded = Buffer.from(m[1]!, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon < 0) return false;
    const user = decoded.slice(0, colon);
    const password = decoded.slice(colon + 1);
    const hash = this.users.get(user);
    const key = createHash('sha256').update(`${user}\0${password}\0${hash ?? ''}`).digest();
    for (const k of this.passed) if (timingSafeEqual(Buffer.from(k, 'base64'), key)) return true;
    const { default: bcrypt } = await import('bcryptjs');
    const ok = await bcrypt.compare(password, hash ?? BasicAuth.DUMMY);
    if (!ok || hash === undefined) return false;
    if (this.passed.size >= 16) this.passed.clear();
    this.passed.add(key.toString('base64'));
    return true;
  }
}
