/**
 * The emulators' command line (npm run emulator / es-emulator): their options
 * parsed strictly, plus -h/--help; a bad option is answered with the usage
 * (exit 2), --help with the usage (exit 0). Returns the values, or the exit
 * code to end with.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';

type ParseArgsOptionsConfig = NonNullable<ParseArgsConfig['options']>;

type Values<O extends ParseArgsOptionsConfig> = ReturnType<typeof parseArgs<{ options: O; strict: true }>>['values'];

export function parseEmulatorArgs<const O extends ParseArgsOptionsConfig>(options: O, usage: string): Values<O> | number {
  let values: Values<O> & { help?: boolean };
  try {
    values = parseArgs({ options: { ...options, help: { type: 'boolean', short: 'h' } }, strict: true }).values as Values<O> & { help?: boolean };
  } catch (e) {
    console.error(`${(e as Error).message}\n${usage}`);
    return 2;
  }
  if (values.help) {
    console.log(usage);
    return 0;
  }
  return values;
}
