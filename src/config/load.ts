/**
 * Loads a config file: YAML -> `${ENV}` substitution -> zod validation ->
 * paths resolved against the file's folder -> secrets read from `passwordFile`.
 * Problems come back as `path: message` lines (all of them, not just the first),
 * so `check-config` and `run` report the same thing, before touching any data.
 */
import { readFileSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parseDocument } from 'yaml';
import type { z } from 'zod';
import { configSchema, PATH_KEYS, type Config } from './schema.js';

export interface ConfigProblem {
  /** Dotted key path (`transport.port`), or `(file)` for problems with the file itself. */
  path: string;
  message: string;
}

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  constructor(
    readonly file: string,
    readonly problems: ConfigProblem[],
  ) {
    super(`${file}: ${problems.length} problem(s)\n` + problems.map((p) => `${p.path}: ${p.message}`).join('\n'));
  }
}

export interface LoadedConfig {
  config: Config;
  file: string;
  /** Secret values in use (passwords), so the logger can mask them wherever they appear. */
  secrets: string[];
  /** Things that work but deserve a word (e.g. a world-readable file holding a password). */
  warnings: string[];
}

export function loadConfig(file: string, env: NodeJS.ProcessEnv = process.env): LoadedConfig {
  const abs = resolve(file);
  let text: string;
  try {
    text = readFileSync(abs, 'utf8');
  } catch (e) {
    throw new ConfigError(abs, [{ path: '(file)', message: `cannot read: ${(e as NodeJS.ErrnoException).code ?? String(e)}` }]);
  }
  return parseConfigText(text, abs, env);
}

export function parseConfigText(text: string, file: string, env: NodeJS.ProcessEnv = process.env): LoadedConfig {
  const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length > 0) {
    throw new ConfigError(
      file,
      doc.errors.map((e) => ({ path: '(yaml)', message: `line ${e.linePos?.[0]?.line ?? '?'}: ${e.message.split('\n')[0]}` })),
    );
  }
  const raw: unknown = doc.toJS();
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new ConfigError(file, [{ path: '(file)', message: 'must be a YAML mapping of keys (pos, dataDir, till, transport, ...)' }]);
  }
  const problems: ConfigProblem[] = [];
  const substituted = substituteEnv(raw, env, [], problems);
  const parsed = configSchema.safeParse(substituted);
  if (!parsed.success) problems.push(...zodProblems(parsed.error, substituted));
  if (problems.length > 0 || !parsed.success) throw new ConfigError(file, problems);

  const config = parsed.data;
  const base = dirname(file);
  resolvePaths(config, base);
  const secrets: string[] = [];
  const warnings: string[] = [];
  const t = config.transport;
  if (t.type !== 'folder') {
    if (t.passwordFile !== undefined) {
      if (t.password !== undefined) throw new ConfigError(file, [{ path: 'transport.password', message: 'give either password or passwordFile, not both' }]);
      try {
        t.password = readFileSync(t.passwordFile, 'utf8').split(/\r?\n/)[0] ?? '';
      } catch (e) {
        throw new ConfigError(file, [{ path: 'transport.passwordFile', message: `cannot read ${t.passwordFile}: ${(e as NodeJS.ErrnoException).code ?? e}` }]);
      }
    }
    if (t.password) {
      secrets.push(t.password);
      // A password written literally in a file everyone can read deserves a word.
      if (/^\s*password\s*:/m.test(text) && process.platform !== 'win32') {
        try {
          if ((statSync(file).mode & 0o004) !== 0) warnings.push(`${file} holds a password and is readable by every user: chmod 600 it, or use \${ENV_VAR} or passwordFile`);
        } catch {
          /* the file was readable a moment ago; nothing to add */
        }
      }
    }
  }
  if (config.till.requestFile === undefined) config.till.requestFile = config.till.referenceFile.replace(/(\.[^.]*)?$/, '.flr');
  return { config, file, secrets, warnings };
}

/** `${NAME}` in any string value is replaced by the environment variable NAME; an unset one is a problem. */
function substituteEnv(value: unknown, env: NodeJS.ProcessEnv, path: (string | number)[], problems: ConfigProblem[]): unknown {
  if (typeof value === 'string') {
    return value.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (_m, name: string) => {
      const v = env[name];
      if (v === undefined) {
        problems.push({ path: path.join('.'), message: `environment variable ${name} is not set` });
        return '';
      }
      return v;
    });
  }
  if (Array.isArray(value)) return value.map((v, i) => substituteEnv(v, env, [...path, i], problems));
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = substituteEnv(v, env, [...path, k], problems);
    return out;
  }
  return value;
}

function zodProblems(error: z.ZodError, input: unknown): ConfigProblem[] {
  const out: ConfigProblem[] = [];
  for (const issue of error.issues) {
    const at = issue.path.map(String);
    if (issue.code === 'unrecognized_keys') {
      const known = knownKeysAt(input, at);
      for (const key of issue.keys) {
        const hint = closest(key, known);
        out.push({ path: [...at, key].join('.'), message: `unknown key${hint ? ` (did you mean ${hint}?)` : ''}` });
      }
    } else if (issue.code === 'invalid_union' && at.length === 1 && at[0] === 'transport') {
      out.push({ path: 'transport.type', message: 'must be one of folder, ftp, kkmtransfer' });
    } else {
      const received = issue.code === 'invalid_type' && valueAt(input, at) === undefined ? 'is required' : issue.message;
      out.push({ path: at.join('.') || '(root)', message: received });
    }
  }
  return out;
}

function valueAt(input: unknown, path: string[]): unknown {
  let v: unknown = input;
  for (const k of path) v = v !== null && typeof v === 'object' ? (v as Record<string, unknown>)[k] : undefined;
  return v;
}

/** The keys the strict object at `path` accepts, read off the schema (the transport variant is chosen by `type`). */
function knownKeysAt(input: unknown, path: string[]): string[] {
  let schema: unknown = configSchema;
  for (let i = 0; i < path.length && schema !== undefined; i++) {
    const key = path[i]!;
    if (i === 0 && key === 'transport') {
      const type = valueAt(input, ['transport', 'type']);
      const union = unwrap(configSchema.shape.transport) as { options: ZodLike[] };
      schema = union.options.find((o) => (unwrap(o.shape?.type) as ZodLike).def?.values?.includes(type as string));
    } else {
      schema = (unwrap(schema) as ZodLike).shape?.[key];
    }
  }
  return Object.keys((unwrap(schema) as ZodLike | undefined)?.shape ?? {});
}

interface ZodLike {
  shape?: Record<string, ZodLike>;
  def?: { innerType?: ZodLike; values?: unknown[] };
}

/** Strips default/optional/prefault wrappers. */
function unwrap(schema: unknown): unknown {
  let s = schema as ZodLike | undefined;
  while (s?.def?.innerType !== undefined) s = s.def.innerType;
  return s;
}

/** The nearest known key by edit distance, if it is near enough to be a typo. */
export function closest(word: string, candidates: string[]): string | undefined {
  let best: string | undefined;
  let bestD = Infinity;
  for (const c of candidates) {
    const d = editDistance(word.toLowerCase(), c.toLowerCase());
    if (d < bestD) [best, bestD] = [c, d];
  }
  return best !== undefined && bestD <= Math.max(2, Math.floor(word.length / 3)) ? best : undefined;
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cur = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = cur;
    }
  }
  return row[b.length]!;
}

function resolvePaths(config: Config, base: string): void {
  for (const key of PATH_KEYS) {
    const parts = key.split('.');
    let obj = config as unknown as Record<string, unknown>;
    for (const p of parts.slice(0, -1)) obj = (obj?.[p] ?? undefined) as Record<string, unknown>;
    const last = parts[parts.length - 1]!;
    if (obj && typeof obj[last] === 'string') obj[last] = resolve(base, obj[last] as string);
  }
}
