/** The emulators' logger on the command line: one line per event, time, level, event and its fields as JSON. */
import type { Logger, LogFields } from '../src/util/logger.js';

export function consoleLogger(base: LogFields = {}): Logger {
  const line = (level: string) => (event: string, fields: LogFields = {}) =>
    console.log(`${new Date().toISOString()} ${level} ${event} ${JSON.stringify({ ...base, ...fields })}`);
  return { debug: () => {}, info: line('info'), warn: line('warn'), error: line('error'), child: (f) => consoleLogger({ ...base, ...f }) };
}
