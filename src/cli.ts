/**
 * The command line: the product's interface, documented in the README.
 *
 *   kassir-agent run --config FILE [--once]
 *   kassir-agent check-config --config FILE
 *   kassir-agent status --config FILE [--json]
 *
 * Exit codes (EXIT below): 0 done; 1 unexpected failure; 2 usage or config
 * error; 3 `run --once` left something undelivered; 4 the data folder is in
 * use by another agent.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { ConfigError, loadConfig, type LoadedConfig } from './config/load.js';
import { runDaemon, runOnce } from './daemon.js';
import { formatStatus, readStatus } from './status.js';
import { DataDirLockedError } from './store/lock.js';

export const EXIT = { ok: 0, failure: 1, usage: 2, pending: 3, locked: 4 } as const;

const HELP = `kassir-agent: exchange agent for the Kassir 5 point of sale

Usage:
  kassir-agent run --config FILE [--once]   run the agent (--once: one full cycle, then exit)
  kassir-agent check-config --config FILE   validate the config; prints "key: problem" lines
  kassir-agent status --config FILE [--json]
                                            queued packages, attempts, last errors, counters
  kassir-agent --help | --version

Exit codes:
  0  done (run --once: everything delivered)
  1  unexpected failure (see the log)
  2  usage error or invalid configuration
  3  run --once: something is still queued (network down, Kassir has not taken a file...)
  4  the data folder is in use by another kassir-agent
`;

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

function load(file: string | undefined): LoadedConfig | number {
  if (!file) {
    process.stderr.write('--config FILE is required\n');
    return EXIT.usage;
  }
  try {
    return loadConfig(file);
  } catch (e) {
    if (e instanceof ConfigError) {
      for (const p of e.problems) process.stderr.write(`${p.path}: ${p.message}\n`);
      process.stderr.write(`${e.file}: invalid configuration (${e.problems.length} problem${e.problems.length === 1 ? '' : 's'})\n`);
      return EXIT.usage;
    }
    throw e;
  }
}

export async function main(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        config: { type: 'string', short: 'c' },
        once: { type: 'boolean' },
        json: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
        version: { type: 'boolean', short: 'v' },
      },
    });
  } catch (e) {
    process.stderr.write(`${(e as Error).message}\n\n${HELP}`);
    return EXIT.usage;
  }
  const { values, positionals } = parsed;
  const command = positionals[0];
  if (values.version) {
    process.stdout.write(`${version()}\n`);
    return EXIT.ok;
  }
  if (values.help || command === undefined || command === 'help') {
    process.stdout.write(HELP);
    return command === undefined && !values.help ? EXIT.usage : EXIT.ok;
  }
  switch (command) {
    case 'check-config': {
      const loaded = load(values.config);
      if (typeof loaded === 'number') return loaded;
      for (const w of loaded.warnings) process.stderr.write(`warning: ${w}\n`);
      process.stdout.write(`${loaded.file}: ok (POS ${loaded.config.pos}, transport ${loaded.config.transport.type})\n`);
      return EXIT.ok;
    }
    case 'status': {
      const loaded = load(values.config);
      if (typeof loaded === 'number') return loaded;
      const report = await readStatus(loaded.config);
      process.stdout.write(values.json ? JSON.stringify(report, null, 2) + '\n' : formatStatus(report) + '\n');
      return EXIT.ok;
    }
    case 'run': {
      const loaded = load(values.config);
      if (typeof loaded === 'number') return loaded;
      try {
        if (values.once) {
          const r = await runOnce(loaded);
          return r.queued === 0 && r.inbox === 0 && r.openTransactions === 0 && !r.pullError ? EXIT.ok : EXIT.pending;
        }
        return await runDaemon(loaded);
      } catch (e) {
        if (e instanceof DataDirLockedError) {
          process.stderr.write(`${e.message}\n`);
          return EXIT.locked;
        }
        throw e;
      }
    }
    default:
      process.stderr.write(`unknown command: ${command}\n\n${HELP}`);
      return EXIT.usage;
  }
}

// Run when executed directly (tsx src/cli.ts ...); bin/kassir-agent.js imports main().
if (import.meta.url === `file://${process.argv[1]}` || process.argv[1]?.endsWith('/src/cli.ts')) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (err) => {
      process.stderr.write(`${(err as Error)?.stack ?? String(err)}\n`);
      process.exitCode = EXIT.failure;
    },
  );
}
