/**
 * The package version, for `--version` and the `kassir_agent_build_info`
 * metric. Read from package.json next to the compiled code; the single
 * executable has no such file, so scripts/build-sea.mjs replaces this exact
 * expression with the version as a literal.
 */
import { readFileSync } from 'node:fs';

let cached: string | undefined;

export function version(): string {
  cached ??= (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;
  return cached;
}
