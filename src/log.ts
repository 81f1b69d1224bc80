/**
 * winston behind the Logger contract (util/logger.ts): readable text on the
 * console, JSON lines in a daily-rotated file under `log.dir` (one object per
 * line: `time`, `level`, `event`, then the fields, so Filebeat or Promtail can
 * parse every line). Known secrets are masked wherever they appear, and so are
 * credentials in URLs, as a second line of defence behind code that never logs
 * them.
 */
import { chmodSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import winston from 'winston';
import DailyRotateFile from 'winston-daily-rotate-file';
import type { LogFields, Logger } from './util/logger.js';

export interface LogOptions {
  level: 'error' | 'warn' | 'info' | 'debug';
  dir?: string;
  console: boolean;
  maxFiles: string;
  /** Values to mask (passwords in use). */
  secrets: string[];
  /** Fields on every line (pos, transport). */
  base?: LogFields;
}

export interface ClosableLogger extends Logger {
  /** Flushes and closes the file: call on shutdown so the last line is written. */
  close(): Promise<void>;
}

const MASK = '***';
const URL_CREDENTIALS = /(\b[a-z][a-z0-9+.-]*:\/\/[^:/\s@]+:)[^@\s/]+@/gi;

export function maskSecrets(text: string, secrets: string[]): string {
  let out = text.replace(URL_CREDENTIALS, `$1${MASK}@`);
  for (const s of secrets) if (s.length > 0) out = out.split(s).join(MASK);
  return out;
}

function maskValue(v: unknown, secrets: string[]): unknown {
  if (typeof v === 'string') return maskSecrets(v, secrets);
  if (v !== null && typeof v === 'object') {
    try {
      return JSON.parse(maskSecrets(JSON.stringify(v), secrets));
    } catch {
      return '[unserialisable]';
    }
  }
  return v;
}

function formatConsoleValue(v: unknown): string {
  if (typeof v === 'string') return /[\s"=]/.test(v) ? JSON.stringify(v) : v;
  return JSON.stringify(v);
}

export function createLogger(opts: LogOptions): ClosableLogger {
  const secrets = opts.secrets.filter((s) => s.length > 0);
  const mask = winston.format((info) => {
    for (const key of Object.keys(info)) {
      if (key === 'level') continue;
      info[key] = maskValue(info[key], secrets);
    }
    return info;
  });
  const transports: winston.transport[] = [];
  let file: DailyRotateFile | undefined;
  if (opts.dir) {
    mkdirSync(opts.dir, { recursive: true, mode: 0o700 });
    file = new DailyRotateFile({
      dirname: opts.dir,
      filename: 'kassir-agent-%DATE%.log',
      datePattern: 'YYYY-MM-DD',
      maxFiles: opts.maxFiles,
      // The rotation's bookkeeping: hidden, so a shipper globbing *.log reads log lines only.
      auditFile: join(opts.dir, '.kassir-agent-log-audit.json'),
      // `flags: 'a'`: the stream options replace the library's default ({ flags: 'a' }), and without it
      // every start would truncate the day's file (found when a harness run's log held only its last start).
      options: { flags: 'a', mode: 0o600 },
      format: winston.format.combine(
        winston.format((info) => {
          // `message` carries the event name; rename it so every line reads {time, level, event, ...}.
          const { message, level, timestamp, ...rest } = info as Record<string, unknown>;
          return Object.assign(info, { [Symbol.for('message')]: JSON.stringify({ time: timestamp, level, event: message, ...rest }) });
        })(),
      ),
    });
    // The rotation's audit file is created with the default mode; make it as private as the logs.
    const privateAudit = () => chmodSync(join(opts.dir!, '.kassir-agent-log-audit.json'), 0o600);
    for (const ev of ['new', 'rotate', 'logRemoved']) file.on(ev, () => {
      try {
        privateAudit();
      } catch {
        /* not written yet */
      }
    });
    try {
      privateAudit();
    } catch {
      /* written with the first line */
    }
    // A rotation refused by a Windows file lock (an editor holding the log) must never stop the agent.
    file.on('error', (e: Error) => process.stderr.write(`kassir-agent: log file error (logging continues on the console): ${e.message}\n`));
    transports.push(file);
  }
  if (opts.console) {
    transports.push(
      new winston.transports.Console({
        format: winston.format.printf((info) => {
          const { message, level, timestamp, ...rest } = info as Record<string, unknown>;
          const fields = Object.entries(rest)
            .filter(([, v]) => v !== undefined)
            .map(([k, v]) => `${k}=${formatConsoleValue(v)}`)
            .join(' ');
          return `${String(timestamp)} ${String(level).padEnd(5)} ${String(message)}${fields ? ' ' + fields : ''}`;
        }),
      }),
    );
  }
  const w = winston.createLogger({
    level: opts.level,
    format: winston.format.combine(winston.format.timestamp(), mask()),
    transports: transports.length > 0 ? transports : [new winston.transports.Console({ silent: true })],
    exitOnError: false,
  });
  w.on('error', (e: Error) => process.stderr.write(`kassir-agent: logging error: ${e.message}\n`));

  // Closed once for the logger and all its children. A line after close() would make winston
  // report "write after end"; the stop closes the log after everything that logs, so there is none.
  let closing: Promise<void> | undefined;
  const make = (base: LogFields): ClosableLogger => {
    const at =
      (level: 'debug' | 'info' | 'warn' | 'error') =>
      (event: string, fields: LogFields = {}) => {
        if (closing) return;
        w.log({ level, message: event, ...base, ...fields });
      };
    return {
      debug: at('debug'),
      info: at('info'),
      warn: at('warn'),
      error: at('error'),
      child: (fields) => make({ ...base, ...fields }),
      close: () =>
        (closing ??= new Promise<void>((resolve) => {
          if (!file) {
            resolve();
            return;
          }
          const done = () => resolve();
          file.once('finish', done);
          setTimeout(done, 2_000).unref();
          w.end();
        })),
    };
  };
  return make(opts.base ?? {});
}
