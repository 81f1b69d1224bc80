/**
 * Entry point of the single executable (bundled by scripts/build-sea.mjs).
 * Does what bin/kassir-agent.js does for the npm install: runs the CLI with the
 * user's arguments and turns its result into the exit code. In a single
 * executable process.argv is [exe, exe, ...args], as for `node script ...args`,
 * so the arguments start at index 2 here too.
 */
import { EXIT, main } from '../src/cli.js';

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`${(err as Error)?.stack ?? String(err)}\n`);
    process.exitCode = EXIT.failure;
  },
);
