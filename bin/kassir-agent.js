#!/usr/bin/env node
// The installed entry point runs the compiled agent (built by `npm install` through
// the `prepare` script). Tests run the TypeScript sources through tsx instead.
import('../dist/cli.js').then((m) => m.main(process.argv.slice(2))).then(
  (code) => { process.exitCode = code; },
  (err) => { console.error(err?.stack ?? String(err)); process.exitCode = 70; },
);
