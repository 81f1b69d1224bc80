/**
 * A throw-away Linux root for the ops tests: scripts/install-linux.sh installs
 * into it with --root, and systemd-analyze checks the result with --root. The
 * machine's own unit library is copied in because `systemd-analyze verify`
 * follows the unit's dependencies (multi-user.target, network-online.target...)
 * and, under --root, looks for them only inside the root.
 */
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { chmodSync, cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

export const REPO = resolve(import.meta.dirname, '../..');
export const INSTALL_SCRIPT = join(REPO, 'scripts/install-linux.sh');
const SYSTEM_UNITS = '/usr/lib/systemd/system';

export interface LinuxRoot {
  dir: string;
  root: string;
  /** A stand-in for the executable: logs its arguments to `calls`, exits with `exitCode`. */
  stub: (exitCode?: number) => string;
  calls: string;
  install: (...args: string[]) => SpawnSyncReturns<string>;
  cleanup: () => void;
}

export function makeLinuxRoot(): LinuxRoot {
  const dir = mkdtempSync(join(tmpdir(), 'kassir-ops-'));
  const root = join(dir, 'root');
  mkdirSync(join(root, 'usr/lib/systemd'), { recursive: true });
  cpSync(SYSTEM_UNITS, join(root, 'usr/lib/systemd/system'), { recursive: true, verbatimSymlinks: true });
  const calls = join(dir, 'calls.log');
  return {
    dir,
    root,
    calls,
    stub: (exitCode = 0) => {
      const file = join(dir, `stub-${exitCode}`);
      writeFileSync(file, `#!/bin/sh\necho "$@" >> '${calls}'\nexit ${exitCode}\n`);
      chmodSync(file, 0o755);
      return file;
    },
    install: (...args) => spawnSync('bash', [INSTALL_SCRIPT, '--root', root, ...args], { encoding: 'utf8' }),
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}

export function systemdAnalyze(...args: string[]): { status: number | null; output: string } {
  const r = spawnSync('systemd-analyze', args, { encoding: 'utf8' });
  if (r.error) throw r.error;
  return { status: r.status, output: `${r.stdout}${r.stderr}`.trim() };
}
