/**
 * The service under a real systemd: systemd (the machine's own, from the
 * `systemd` package .ci installs) runs as PID 1 of a throw-away box (new
 * mount, PID, UTS and IPC namespaces over an overlay of this machine's root,
 * nothing written to the real one; kernel settings, /sys and devices left
 * alone, see BOX_SCRIPT), the agent installed in it by
 * scripts/install-linux.sh as the single executable built here. Checked:
 * ExecStartPre, the service user, a report carried from the till folder to
 * the share with every hardening setting of the unit in force, a clean stop on
 * SIGTERM, the log file kept across restarts, Restart=always after a crash.
 * Needs root (CI runs as root), unshare and nsenter (util-linux); the error
 * says so plainly if not.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { reportFile } from '../helpers/kassir.js';
import { INSTALL_SCRIPT, REPO } from './linux-root.js';

const UNIT = 'kassir-agent.service';

/** PID 1 of the box: the overlay root, the install, then systemd. */
const BOX_SCRIPT = `#!/bin/bash
set -e
B=$1; EXE=$2; INSTALL=$3; R=$B/root
mkdir -p $B/upper $B/work $R
mount -t overlay overlay -o lowerdir=/,upperdir=$B/upper,workdir=$B/work $R
mkdir -p $R/srv/kassir/till $R/srv/kassir/share
bash $INSTALL --root $R --binary $EXE --till-dir /srv/kassir/till --share-dir /srv/kassir/share > $B/install.log 2>&1
# Kassir's folder and the share belong to whoever runs them; here, to the service user.
chroot $R chown kassir-agent:kassir-agent /srv/kassir/till /srv/kassir/share
mount -t proc proc $R/proc
mount --rbind /sys $R/sys
mount --rbind /dev $R/dev
mount -t tmpfs tmpfs $R/run
mount -t tmpfs tmpfs $R/tmp
# The box must not change the machine: kernel settings and /sys read-only (systemd then skips
# systemd-sysctl and udev, as in any container; the cgroup mounts under /sys stay writable), and
# no kernel modules or device nodes.
mount --bind $R/proc/sys $R/proc/sys && mount -o remount,bind,ro $R/proc/sys
mount -o remount,bind,ro $R/sys
for unit in systemd-modules-load.service systemd-tmpfiles-setup-dev.service systemd-sysctl.service systemd-udevd.service systemd-udev-trigger.service; do
  ln -sf /dev/null $R/etc/systemd/system/$unit
done
printf '[Unit]\\nDescription=kassir-agent test box\\nWants=${UNIT}\\n' > $R/etc/systemd/system/kassir-box.target
exec chroot $R /usr/bin/env container=kassir-box /usr/bin/systemd --unit=kassir-box.target --log-target=console --show-status=false
`;

/** Kernel settings a systemd booting with write access to /proc/sys would apply from /usr/lib/sysctl.d. */
function hostSysctls(): Record<string, string> {
  const keys = ['fs/protected_regular', 'fs/protected_fifos', 'fs/protected_hardlinks', 'fs/protected_symlinks', 'kernel/pid_max'];
  return Object.fromEntries(keys.map((k) => [k, readFileSync(`/proc/sys/${k}`, 'utf8').trim()]));
}

async function waitFor<T>(what: string, fn: () => T | undefined, ms = 30_000): Promise<T> {
  const until = Date.now() + ms;
  for (;;) {
    const v = fn();
    if (v !== undefined) return v;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

describe('the service under a real systemd (PID 1 of a throw-away box)', () => {
  let dir: string;
  let box: ChildProcess | undefined;
  /** Runs a command inside the box (its namespaces and root), `input` on its stdin. */
  let inBoxWith: (input: Buffer | string, ...cmd: string[]) => { status: number | null; out: string };
  const inBox = (...cmd: string[]) => inBoxWith('', ...cmd);

  let sysctlsBefore: Record<string, string>;
  before(async () => {
    assert.equal(process.getuid?.(), 0, 'these tests boot systemd in new namespaces: run them as root (CI does)');
    sysctlsBefore = hostSysctls();
    dir = mkdtempSync(join(tmpdir(), 'kassir-sdbox-'));
    const build = spawnSync(process.execPath, [join(REPO, 'scripts/build-sea.mjs'), '--target', 'linux-x64', '--out', join(dir, 'sea')], { encoding: 'utf8' });
    assert.equal(build.status, 0, `build-sea failed:\n${build.stdout}${build.stderr}`);
    writeFileSync(join(dir, 'box.sh'), BOX_SCRIPT, { mode: 0o755 });
    box = spawn('unshare', ['--mount', '--pid', '--uts', '--ipc', '--fork', '--propagation', 'private', join(dir, 'box.sh'), join(dir, 'box'), join(dir, 'sea/linux-x64/kassir-agent'), INSTALL_SCRIPT], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    box.stdout!.on('data', (d) => (output += d));
    box.stderr!.on('data', (d) => (output += d));
    // The box's PID 1 is unshare's child: find systemd by its unit argument.
    const pid = await waitFor('systemd in the box', () => {
      if (box!.exitCode !== null) throw new Error(`the box did not start:\n${output}\n${readFileSync(join(dir, 'box/install.log'), 'utf8')}`);
      const r = spawnSync('pgrep', ['-f', '^/usr/bin/systemd --unit=kassir-box.target'], { encoding: 'utf8' });
      return r.stdout.split('\n').find((l) => l.trim() !== '');
    });
    inBoxWith = (input, ...cmd) => {
      const r = spawnSync('nsenter', ['-t', pid, '-m', '-p', '-u', '-r', '-w', ...cmd], { encoding: 'utf8', input });
      return { status: r.status, out: `${r.stdout}${r.stderr}` };
    };
    await waitFor('systemd to finish starting', () => (/^(running|degraded)/.test(inBox('systemctl', 'is-system-running').out) ? true : undefined));
  });

  after(() => {
    box?.kill('SIGKILL'); // unshare; its child, the box's PID 1, is killed with the PID namespace
    spawnSync('pkill', ['-9', '-f', '^/usr/bin/systemd --unit=kassir-box.target']);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const show = (prop: string) => inBox('systemctl', 'show', '-p', prop, '--value', UNIT).out.trim();

  it('starts after check-config, as its own user, and stays up', async () => {
    await waitFor('the service to be active', () => (show('ActiveState') === 'active' ? true : undefined));
    assert.match(inBox('journalctl', '-u', UNIT, '--no-pager').out, /agent\.yaml: ok \(POS 1, transport folder\)/, 'ExecStartPre ran check-config');
    assert.equal(inBox('stat', '-c', '%U', `/proc/${show('MainPID')}`).out.trim(), 'kassir-agent');
  });

  it('carries a report from the till folder to the share with the unit\'s hardening in force', async () => {
    const report = reportFile([{ receipt: 1 }, { receipt: 2 }], 1);
    // Written under a temporary name and renamed, as Kassir does.
    const put = inBoxWith(
      Buffer.from(report.data, 'latin1'),
      'sh',
      '-c',
      'cat > /srv/kassir/till/.R1.tmp && chown kassir-agent /srv/kassir/till/.R1.tmp && mv /srv/kassir/till/.R1.tmp /srv/kassir/till/R00001.rep',
    );
    assert.equal(put.status, 0, put.out);
    const sent = await waitFor('the package on the share', () => {
      const r = inBox('cat', '/srv/kassir/share/POS1.rep.$1');
      return r.status === 0 ? r.out : undefined;
    });
    const numbers = (text: string) => [...text.matchAll(/^(\d+);/gm)].map((m) => m[1]);
    assert.deepEqual(numbers(sent), report.txs.map(String), 'every transaction of the report, in order');
    // UMask=0077 keeps the agent's own files private; the report is for the back office to read.
    assert.equal(inBox('stat', '-c', '%a', '/srv/kassir/share/POS1.rep.$1').out.trim(), '644');
  });

  it('stops on SIGTERM with a clean log line, and the log file keeps earlier starts', async () => {
    const stop = inBox('systemctl', 'stop', UNIT);
    assert.equal(stop.status, 0, stop.out);
    assert.equal(show('ActiveState'), 'inactive');
    assert.match(inBox('journalctl', '-u', UNIT, '--no-pager').out, /agent\.stopped .*outcome=ok/);
    assert.equal(inBox('systemctl', 'start', UNIT).status, 0);
    await waitFor('the service to be active again', () => (show('ActiveState') === 'active' ? true : undefined));
    await waitFor('the second start in the log file', () => {
      const log = inBox('sh', '-c', 'cat /var/log/kassir-agent/kassir-agent-*.log').out;
      return (log.match(/"event":"agent\.started"/g) ?? []).length >= 2 ? true : undefined;
    });
  });

  it('left the machine\'s kernel settings alone', () => {
    assert.deepEqual(hostSysctls(), sysctlsBefore);
  });

  it('is started again after a crash (Restart=always)', async () => {
    const before = show('MainPID');
    assert.equal(inBox('kill', '-9', before).status, 0);
    await waitFor('a new main process', () => {
      const now = show('MainPID');
      return show('ActiveState') === 'active' && now !== '0' && now !== before ? now : undefined;
    }, 20_000);
    assert.ok(Number(show('NRestarts')) >= 1);
  });
});
