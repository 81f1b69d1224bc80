/**
 * The logging contract every module uses. `src/log.ts` backs it with winston;
 * tests use `memoryLogger()` to assert on events.
 *
 * One call = one line = one event. `event` is a short stable name
 * (`push.delivered`, `pull.staged`), `fields` carry POS, transport, package
 * number, counts, bytes, durationMs, outcome. Never put a secret in a field.
 */
export type LogFields = Record<string, unknown>;

export interface Logger {
  debug(event: string, fields?: LogFields): void;
  info(event: string, fields?: LogFields): void;
  warn(event: string, fields?: LogFields): void;
  error(event: string, fields?: LogFields): void;
  /** A logger that adds `fields` to every line (e.g. `{ pos: 1, transport: 'ftp' }`). */
  child(fields: LogFields): Logger;
}

export interface LogRecord {
  level: 'debug' | 'info' | 'warn' | 'error';
  event: string;
  fields: LogFields;
}

/** A logger that keeps its records in memory, for tests. */
export function memoryLogger(base: LogFields = {}, sink: LogRecord[] = []): Logger & { records: LogRecord[] } {
  const make = (level: LogRecord['level']) => (event: string, fields: LogFields = {}) => {
    sink.push({ level, event, fields: { ...base, ...fields } });
  };
  return {
    records: sink,
    debug: make('debug'),
    info: make('info'),
    warn: make('warn'),
    error: make('error'),
    child: (fields) => memoryLogger({ ...base, ...fields }, sink),
  };
}

export const nullLogger: Logger = {
  debug: () => {},
  info: () => {},
  warn: () => {},
  error: () => {},
  child: () => nullLogger,
};
