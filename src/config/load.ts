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
import { EXCHANGE_PATH_KEYS, exchangeSchema, multiConfigSchema, singleConfigSchema, type Config, type ExchangeConfig } from './schema.js';

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
      doc.errors.map((e) => ({ path: '(yaml)', message: `line ${e.linePos?.[0]?.line ?? '?'}, column ${e.linePos?.[0]?.col ?? '?'}: ${yamlReason(e.message)}` })),
    );
  }
  let raw: unknown;
  try {
    // Aliases are allowed (shared transport settings across exchanges), alias bombs are not.
    raw = doc.toJS({ maxAliasCount: 1000 });
  } catch (e) {
    throw new ConfigError(file, [{ path: '(yaml)', message: `aliases expand too far (${(e as Error).message.split('\n')[0]})` }]);
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new ConfigError(file, [{ path: '(file)', message: 'must be a YAML mapping of keys (pos, dataDir, till, transport, ...)' }]);
  }
  const problems: ConfigProblem[] = [];
  const substituted = substituteEnv(raw, env, [], problems) as Record<string, unknown>;
  const multi = 'exchanges' in substituted;
  const schema = multi ? multiConfigSchema : singleConfigSchema;
  const parsed = schema.safeParse(substituted);
  if (!parsed.success) problems.push(...zodProblems(parsed.error, substituted, multi));
  if (problems.length > 0 || !parsed.success) throw new ConfigError(file, problems);

  const base = dirname(file);
  const { log, control, metrics, stop } = parsed.data;
  const exchanges: ExchangeConfig[] = multi
    ? (parsed.data as { exchanges: ExchangeConfig[] }).exchanges
    : [exchangeSchema.parse(Object.fromEntries(Object.keys(exchangeSchema.shape).map((k) => [k, (parsed.data as Record<string, unknown>)[k]])))];
  const config: Config = { exchanges, log, control, metrics, stop };
  if (config.log.dir !== undefined) config.log.dir = resolve(base, config.log.dir);
  if (config.control.socket !== undefined && !config.control.socket.startsWith('\\\\')) config.control.socket = resolve(base, config.control.socket);
  const secrets: string[] = [];
  const warnings: string[] = [];
  exchanges.forEach((ex, i) => {
    const at = multi ? `exchanges.${i}.` : '';
    resolvePaths(ex, base);
    const t = ex.transport;
    if (t.type !== 'folder') {
      if (t.passwordFile !== undefined) {
        if (t.password !== undefined) problems.push({ path: `${at}transport.password`, message: 'give either password or passwordFile, not both' });
        try {
          t.password = readFileSync(t.passwordFile, 'utf8').split(/\r?\n/)[0] ?? '';
        } catch (e) {
          problems.push({ path: `${at}transport.passwordFile`, message: `cannot read ${t.passwordFile}: ${(e as NodeJS.ErrnoException).code ?? e}` });
        }
      }
      if (t.password) secrets.push(t.password);
    }
    if (ex.till.requestFile === undefined) ex.till.requestFile = ex.till.referenceFile.replace(/(\.[^.]*)?$/, '.flr');
  });
  // Exchanges run independently: they must not share a POS, a data folder or a till folder.
  for (const key of ['pos', 'dataDir', 'till.dir'] as const) {
    const seen = new Map<unknown, number>();
    exchanges.forEach((ex, i) => {
      const v = key === 'till.dir' ? ex.till.dir : ex[key];
      if (seen.has(v)) problems.push({ path: `exchanges.${i}.${key}`, message: `same as exchanges.${seen.get(v)}.${key} (${String(v)}); each exchange needs its own` });
      else seen.set(v, i);
    });
  }
  if (problems.length > 0) throw new ConfigError(file, problems);
  // A password written literally in a file everyone can read deserves a word.
  if (secrets.length > 0 && /^\s*password\s*:/m.test(text) && process.platform !== 'win32') {
    try {
      if ((statSync(file).mode & 0o004) !== 0) warnings.push(`${file} holds a password and is readable by every user: chmod 600 it, or use \${ENV_VAR} or passwordFile`);
    } catch {
      /* the file was readable a moment ago; nothing to add */
    }
  }
  return { config, file, secrets, warnings };
}

/**
 * The yaml library's message without the text it quotes from the file: a
 * syntax error may sit on the password's line, and these lines are printed.
 */
function yamlReason(message: string): string {
  return message
    .split('\n')[0]!
    .replace(/\s*at line \d+, column \d+:?\s*$/, '')
    .replace(/"(?:[^"\\]|\\.)*"/g, '(text hidden)')
    .replace(/:\s*$/, '');
}

/** `${NAME}` in any string value is replaced by the environment variable NAME; an unset one is a problem. */
function substituteEnv(value: unknown, env: NodeJS.ProcessEnv, path: (string | number)[], problems: ConfigProblem[], seen = new Set<unknown>()): unknown {
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
  if (value !== null && typeof value === 'object') {
    // An alias that refers to itself (`a: &a [*a]`) makes a cycle: a problem, not a stack overflow.
    if (seen.has(value)) {
      problems.push({ path: path.join('.') || '(root)', message: 'a YAML alias refers to itself' });
      return null;
    }
    seen.add(value);
    try {
      if (Array.isArray(value)) return value.map((v, i) => substituteEnv(v, env, [...path, i], problems, seen));
      const out: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(value)) out[k] = substituteEnv(v, env, [...path, k], problems, seen);
      return out;
    } finally {
      seen.delete(value);
    }
  }
  return value;
}

function zodProblems(error: z.ZodError, input: unknown, multi: boolean): ConfigProblem[] {
  const out: ConfigProblem[] = [];
  for (const issue of error.issues) {
    const at = issue.path.map(String);
    if (issue.code === 'unrecognized_keys') {
      const known = knownKeysAt(input, at, multi);
      for (const key of issue.keys) {
        const hint = closest(key, known);
        out.push({ path: [...at, key].join('.'), message: `unknown key${hint ? ` (did you mean ${hint}?)` : ''}` });
      }
    } else if (issue.code === 'invalid_union' && at[at.length - 1] === 'transport') {
      out.push({ path: [...at, 'type'].join('.'), message: 'must be one of folder, ftp, kkmtransfer' });
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

/** The keys the strict object at `path` accepts, read off the schema (the transport variant is chosen by its `type`). */
function knownKeysAt(input: unknown, path: string[], multi: boolean): string[] {
  let schema: unknown = multi ? multiConfigSchema : singleConfigSchema;
  for (let i = 0; i < path.length && schema !== undefined; i++) {
    const key = path[i]!;
    const node = unwrap(schema) as ZodLike;
    if (node.def?.element !== undefined) {
      schema = node.def.element; // an array: `key` is the index
    } else if (key === 'transport') {
      const type = valueAt(input, [...path.slice(0, i), 'transport', 'type']);
      const union = unwrap(node.shape?.transport) as { options: ZodLike[] };
      schema = union.options.find((o) => (unwrap(o.shape?.type) as ZodLike).def?.values?.includes(type as string));
    } else {
      schema = node.shape?.[key];
    }
  }
  return Object.keys((unwrap(schema) as ZodLike | undefined)?.shape ?? {});
}

interface ZodLike {
  shape?: Record<string, ZodLike>;
  def?: { innerType?: ZodLike; values?: unknown[]; element?: ZodLike };
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

function resolvePaths(exchange: ExchangeConfig, base: string): void {
  for (const key of EXCHANGE_PATH_KEYS) {
    const parts = key.split('.');
    let obj = exchange as unknown as Record<string, unknown> | undefined;
    for (const p of parts.slice(0, -1)) obj = obj?.[p] as Record<string, unknown> | undefined;
    const last = parts[parts.length - 1]!;
    if (obj && typeof obj[last] === 'string') obj[last] = resolve(base, obj[last] as string);
  }
}
