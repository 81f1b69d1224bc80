/**
 * winston behind the Logger contract (util/logger.ts): readable text on the
 * console, JSON lines in a daily-rotated file under `log.dir` (one object per
 * line: `time`, `level`, `event`, then the fields, so Filebeat or Promtail can
 * parse every line). Secrets are kept out of messages where they arise; as a
 * last line of defence the values of fields (never the keys, the event name or
 * the timestamp, never numbers) go through `maskSecrets`, which keeps every line
 * readable whatever the password (see util/secret-mask.ts).
 */
import { chmodSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { finished } from 'node:stream/promises';
import winston from 'winston';
import DailyRotateFile from 'winston-daily-rotate-file';
import type { LogFields, Logger } from './util/logger.js';
import { maskDeep } from './util/secret-mask.js';

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

/**
 * Fields only the agent fills, from a fixed vocabulary: never masked, so `transport=ftp` stays readable
 * with the password `ftp`. (`message` is the event name, `timestamp` the time.)
 */
const AGENT_FILLED = new Set(['level', 'message', 'timestamp', 'transport', 'outcome', 'errorKind', 'kind', 'secure', 'encoding', 'auth', 'note']);

function formatConsoleValue(v: unknown): string {
  if (typeof v === 'string') return /[\s"=]/.test(v) ? JSON.stringify(v) : v;
  return JSON.stringify(v);
}

/**
 * Ends the logger and resolves once every line is in the file: the transport's 'finish' only says it
 * has handed its last line to the file stream (file-stream-rotator's), whose writes may still be
 * pending; a process exiting then, or the next start appending, would lose or reorder the tail. So
 * this waits, after the transport's end, for the file stream to finish (every write completed) and
 * close (the descriptor closed; after an error too, as the stream is destroyed then). No timeout here:
 * the daemon's stop watchdog bounds a disk that never answers.
 */
async function closeFile(w: winston.Logger, file: DailyRotateFile): Promise<void> {
  const stream = file.logStream;
  const closed = new Promise<void>((resolve) => stream.once('close', () => resolve()));
  const handedOver = finished(file).catch(() => undefined);
  w.end();
  await handedOver;
  // The transport ends its stream itself when the logger unpipes it; ending it again does no harm, and
  // the callback comes once the current file's writes have all completed (or the stream failed).
  await new Promise<void>((resolve) => stream.end(() => resolve()));
  await closed;
}

export function createLogger(opts: LogOptions): ClosableLogger {
  const secrets = opts.secrets.filter((s) => s.length > 0);
  const mask = winston.format((info) => {
    for (const key of Object.keys(info)) {
      if (AGENT_FILLED.has(key)) continue;
      info[key] = maskDeep(info[key], secrets);
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
        // winston keeps the event in `message`: a field of that name would replace the event name.
        const { message: text, ...rest } = { ...base, ...fields };
        w.log({ level, message: event, ...rest, ...(text !== undefined ? { text } : {}) });
      };
    return {
      debug: at('debug'),
      info: at('info'),
      warn: at('warn'),
      error: at('error'),
      child: (fields) => make({ ...base, ...fields }),
      close: () => (closing ??= file ? closeFile(w, file) : Promise.resolve()),
    };
  };
  return make(opts.base ?? {});
}
