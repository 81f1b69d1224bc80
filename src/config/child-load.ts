/**
 * The daemon's config, read and validated in a short-lived child process: this
 * same program, started with a hidden command, loads the file as every command
 * does (`loadConfig`: YAML, `${ENV}`, the schema with its defaults, paths,
 * secrets) and hands back the result as JSON on a pipe. The daemon so never
 * loads the YAML parser and the config schema, which a module system cannot
 * unload after start-up and which cost the idle agent about 3 MB for as long as
 * it runs (BENCHMARKS.md, footprint). The schema stays the only place defaults
 * live, and a bad config is reported by the child, on the same stderr with the
 * same lines and exit code as before. Commands other than the daemon load the
 * config in-process: they are short-lived.
 */
import { spawn } from 'node:child_process';
import { isSea } from 'node:sea';
import type { LoadedConfig } from './load.js';

/** The hidden command the child runs (cli.ts): the loaded config as JSON on stdout, or the problems on stderr and exit 2. */
export const CONFIG_JSON_COMMAND = '__config-json';

/**
 * How to start this same program again: the single executable takes the command line as its
 * own; under Node, the script after Node's own flags (tsx's loader in the tests, the flags of
 * whoever started the agent).
 */
function thisProgram(): string[] {
  return isSea() ? [] : [...process.execArgv, process.argv[1]!];
}

/** The config loaded by a child process; a number is the child's exit code, its problems already on stderr. */
export async function loadInChild(file: string): Promise<LoadedConfig | number> {
  const child = spawn(process.execPath, [...thisProgram(), CONFIG_JSON_COMMAND, '--config', file], { stdio: ['ignore', 'pipe', 'inherit'], windowsHide: true });
  const chunks: Buffer[] = [];
  child.stdout.on('data', (chunk: Buffer) => chunks.push(chunk));
  const code = await new Promise<number>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (exitCode) => resolve(exitCode ?? 1));
  });
  if (code !== 0) return code;
  return JSON.parse(Buffer.concat(chunks).toString('utf8')) as LoadedConfig;
}
