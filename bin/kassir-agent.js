#!/usr/bin/env node
// The installed entry point runs the compiled agent (built by `npm install` through
// the `prepare` script). Tests run the TypeScript sources through tsx instead.
import('../dist/cli.js').then((m) => m.main(process.argv.slice(2))).then(
  (code) => { process.exitCode = code; },
  (err) => {
    if (err?.code === 'ERR_MODULE_NOT_FOUND' && String(err.message).includes('dist/cli.js')) {
      console.error('kassir-agent is not built yet: run `npm install` (or `npm run build`) in its folder first');
    } else console.error(err?.stack ?? String(err));
    process.exitCode = 70;
  },
);
