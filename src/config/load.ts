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
import { prepareMetricsConfig } from '../metrics/config-check.js';
import { CronSyntaxNotLoaded, loadCronSyntax } from './cron-syntax.js';
import type { ConfigProblem } from './problem.js';
import { EXCHANGE_PATH_KEYS, exchangeSchema, multiConfigSchema, singleConfigSchema, type Config, type ExchangeConfig } from './schema.js';

export type { ConfigProblem } from './problem.js';

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  constructor(
    readonly file: string,
    readonly problems: ConfigProblem[],
  ) {
    super(`${file}: ${problems.length} problem(s)\n` + problems.map((p) => `${p.path}: ${p.message}`).join('\n'));
  }
}

/** Something that works but deserves a word: a short stable `event` name for the log, and the sentence for a person. */
export interface ConfigWarning {
  event: string;
  message: string;
}

export interface LoadedConfig {
  config: Config;
  file: string;
  /** Secret values in use (passwords), so the logger can mask them wherever they appear. */
  secrets: string[];
  /** Things that work but deserve a word (e.g. a world-readable file holding a password). */
  warnings: ConfigWarning[];
}

export interface LoadOptions {
  /**
   * false: do not resolve secrets (`password: ${VAR}` with VAR unset, `passwordFile`): for the commands that
   * only read the data folder or talk to the running agent, run from a shell that does not have the
   * service's environment. The loaded transports then have no password.
   */
  secrets?: boolean;
}

export async function loadConfig(file: string, env: NodeJS.ProcessEnv = process.env, opts: LoadOptions = {}): Promise<LoadedConfig> {
  const abs = resolve(file);
  let text: string;
  try {
    text = readFileSync(abs, 'utf8');
  } catch (e) {
    throw new ConfigError(abs, [{ path: '(file)', message: `cannot read: ${(e as NodeJS.ErrnoException).code ?? String(e)}` }]);
  }
  try {
    return parseConfigText(text, abs, env, opts);
  } catch (e) {
    // A cron schedule: node-cron's validator is loaded only for one (config/cron-syntax.ts).
    if (!(e instanceof CronSyntaxNotLoaded)) throw e;
    await loadCronSyntax();
    return parseConfigText(text, abs, env, opts);
  }
}

/** Synchronous: a config with a cron schedule needs `await loadCronSyntax()` first (`loadConfig` does it). */
export function parseConfigText(text: string, file: string, env: NodeJS.ProcessEnv = process.env, opts: LoadOptions = {}): LoadedConfig {
  const resolveSecrets = opts.secrets !== false;
  const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length > 0) {
    // One clear line instead of a cascade of syntax errors: `{ password: ${X} }` opens a nested mapping.
    const misplaced = unquotedVarsInFlow(text);
    if (misplaced.length > 0) throw new ConfigError(file, misplaced);
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
  const substituted = substituteEnv(raw, env, [], problems, resolveSecrets) as Record<string, unknown>;
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
  problems.push(...prepareMetricsConfig(config.metrics, base));
  const secrets: string[] = [];
  const warnings: ConfigWarning[] = [];
  exchanges.forEach((ex, i) => {
    const at = multi ? `exchanges.${i}.` : '';
    resolvePaths(ex, base);
    const t = ex.transport;
    if (t.type !== 'folder') {
      if (t.passwordFile !== undefined) {
        if (t.password !== undefined) problems.push({ path: `${at}transport.password`, message: 'give either password or passwordFile, not both' });
        if (resolveSecrets) try {
          t.password = readFileSync(t.passwordFile, 'utf8').split(/\r?\n/)[0] ?? '';
        } catch (e) {
          problems.push({ path: `${at}transport.passwordFile`, message: `cannot read ${t.passwordFile}: ${(e as NodeJS.ErrnoException).code ?? e}` });
        }
      }
      if (t.password) secrets.push(t.password);
      // A password written into the URL (`https://user:pass@host/...`) is a secret too.
      if (t.type === 'kkmtransfer' || t.type === 'equipment-service') {
        const inUrl = urlPassword(t.url);
        if (inUrl) secrets.push(inUrl);
      }
    }
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
  // A password written literally (not `${VAR}`, not passwordFile) in a file everyone can read deserves a word.
  const literal = literalPasswordKeys(raw);
  if (literal.length > 0 && process.platform !== 'win32') {
    try {
      if ((statSync(file).mode & 0o004) !== 0) {
        warnings.push({
          event: 'config.password_world_readable',
          message: `${file} holds a password (${literal.join(', ')}) and every user of this machine can read it: chmod 600 ${file}, or write the password as \${ENV_VAR} or in a passwordFile`,
        });
      }
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

const ENV_REF = /\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g;

/**
 * `${NAME}` in any string value is replaced by the environment variable NAME; an unset one is a problem.
 * Without `resolveSecrets` a `password` value is dropped instead (its variable may be unset).
 */
function substituteEnv(value: unknown, env: NodeJS.ProcessEnv, path: (string | number)[], problems: ConfigProblem[], resolveSecrets: boolean, seen = new Set<unknown>()): unknown {
  if (typeof value === 'string') {
    if (!resolveSecrets && path[path.length - 1] === 'password') return undefined;
    return value.replace(ENV_REF, (_m, name: string) => {
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
      if (Array.isArray(value)) return value.map((v, i) => substituteEnv(v, env, [...path, i], problems, resolveSecrets, seen));
      const out: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(value)) out[k] = substituteEnv(v, env, [...path, k], problems, resolveSecrets, seen);
      return out;
    } finally {
      seen.delete(value);
    }
  }
  return value;
}

/** The password of a URL with credentials, decoded; undefined when there is none (or the URL does not parse). */
function urlPassword(raw: string): string | undefined {
  try {
    const p = new URL(raw).password;
    return p ? decodeURIComponent(p) : undefined;
  } catch {
    return undefined;
  }
}

/** Dotted keys of passwords written into the file itself: a `password` that is not only `${VAR}`s, a URL with credentials. */
function literalPasswordKeys(raw: unknown, path: string[] = [], out: string[] = [], depth = 0): string[] {
  if (raw === null || typeof raw !== 'object' || depth > 20) return out;
  for (const [k, v] of Object.entries(raw as Record<string, unknown>)) {
    const at = [...path, k];
    if (typeof v === 'string') {
      if (k === 'password' && v.replace(ENV_REF, '') !== '') out.push(at.join('.'));
      else if (k === 'url' && (urlPassword(v) ?? '').replace(ENV_REF, '') !== '') out.push(at.join('.'));
    } else literalPasswordKeys(v, at, out, depth + 1);
  }
  return out;
}

/**
 * `${VAR}` written without quotes inside a `{ ... }` mapping: YAML reads the `{` as the start of another
 * mapping and reports a cascade of syntax errors. One problem per line, saying what to write instead.
 */
function unquotedVarsInFlow(text: string): ConfigProblem[] {
  const out: ConfigProblem[] = [];
  text.split(/\r?\n/).forEach((line, i) => {
    const code = line.replace(/\s#.*$/, '');
    const m = /([A-Za-z_][\w-]*)\s*:\s*\$\{([A-Za-z_][A-Za-z0-9_]*)\}/.exec(code);
    if (m && code.lastIndexOf('{', m.index) !== -1) {
      out.push({ path: '(yaml)', message: `line ${i + 1}: \${${m[2]}} inside { ... } must be quoted: write ${m[1]}: "\${${m[2]}}"` });
    }
  });
  return out;
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
      out.push({ path: [...at, 'type'].join('.'), message: 'must be one of folder, ftp, kkmtransfer, equipment-service' });
    } else {
      out.push({ path: at.join('.') || '(root)', message: issueMessage(issue, valueAt(input, at), at[at.length - 1] ?? '') });
    }
  }
  return out;
}

/** The unit a number key is counted in, read off its name (the schema's naming rule: `...Ms`, `...Bytes`, `...Days`). */
function unitOf(key: string): string {
  if (/Ms$/.test(key)) return ' of milliseconds (e.g. 5000 for 5 s)';
  if (/Bytes$/.test(key)) return ' of bytes';
  if (/Days$/.test(key)) return ' of days';
  return '';
}

/** zod's message made into what to write: the unit of a number, the allowed values of a choice. Never quotes a secret. */
function issueMessage(issue: z.core.$ZodIssue, value: unknown, key: string): string {
  if (value === undefined && issue.code === 'invalid_type') return 'is required';
  const secret = /password|url/i.test(key);
  const got = secret ? '' : ` (got ${JSON.stringify(value)})`;
  if (issue.code === 'invalid_type' && (issue.expected === 'int' || issue.expected === 'number')) {
    if (typeof value === 'string' && value.trim() !== '' && Number.isFinite(Number(value))) return `must be a number, written without quotes${got}`;
    return `must be a ${issue.expected === 'int' ? 'whole number' : 'number'}${unitOf(key)}${got}`;
  }
  if (issue.code === 'too_small' || issue.code === 'too_big') {
    const bound = Number(issue.code === 'too_small' ? issue.minimum : issue.maximum);
    if (typeof value === 'number') return `must be ${issue.code === 'too_small' ? 'at least' : 'at most'} ${bound}${unitOf(key).replace(/ \(.*\)$/, '').replace(/^ of/, '')}${got}`;
  }
  if (issue.code === 'invalid_value') return `must be one of ${issue.values.map((v) => String(v)).join(', ')}${got}`;
  if (issue.code === 'invalid_type' && issue.expected === 'boolean') return `must be true or false${got}`;
  if (issue.code === 'invalid_union') return `${issue.message === 'Invalid input' ? 'is not an allowed value' : issue.message}${got}`;
  return issue.message;
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
  def?: { innerType?: ZodLike; values?: unknown[]; element?: ZodLike; in?: ZodLike };
}

/** Strips default/optional/prefault wrappers, and a transform's output (its input is the object read). */
function unwrap(schema: unknown): unknown {
  let s = schema as ZodLike | undefined;
  while (s?.def?.innerType !== undefined || s?.def?.in !== undefined) s = s.def.innerType ?? s.def.in;
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
