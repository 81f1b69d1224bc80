/**
 * Cron syntax for `schedule.pull`, checked with node-cron's own validator but
 * loaded only when a config holds a cron expression: node-cron costs about
 * 2 MB of RSS for as long as the agent runs, and a till on an interval
 * schedule (the default) never needs it. The schema's check is synchronous,
 * so the validator is loaded first (`loadCronSyntax`); `loadConfig` does that
 * and parses again when a parse meets a cron expression without it.
 */

let validate: ((expression: string) => boolean) | undefined;

/** Thrown by `isValidCron` before `loadCronSyntax` has run: the caller loads it and parses again. */
export class CronSyntaxNotLoaded extends Error {
  constructor() {
    super('a cron expression needs node-cron\'s validator: await loadCronSyntax() before parsing the config');
  }
}

export async function loadCronSyntax(): Promise<void> {
  validate ??= (await import('node-cron')).default.validate;
}

export function isValidCron(expression: string): boolean {
  if (!validate) throw new CronSyntaxNotLoaded();
  return validate(expression);
}
