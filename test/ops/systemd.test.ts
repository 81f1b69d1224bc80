/**
 * The systemd unit as scripts/install-linux.sh installs it, checked by the
 * machine's own systemd-analyze: `verify` must pass without a single warning
 * (it exits 0 even on an unknown key, so the output is checked too), and the
 * hardening must stay in place. No systemd needs to be running.
 */
import assert from 'node:assert/strict';
import { readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { makeLinuxRoot, REPO, systemdAnalyze, type LinuxRoot } from './linux-root.js';

const UNIT = 'kassir-agent.service';

/** `Key=value` lines of a unit file, comments and sections dropped (last one wins, as for systemd). */
function unitKeys(text: string): Map<string, string> {
  const keys = new Map<string, string>();
  for (const line of text.split('\n')) {
    const m = /^([A-Za-z]+)=(.*)$/.exec(line.trim());
    if (m) keys.set(m[1]!, m[2]!);
  }
  return keys;
}

describe('systemd unit', () => {
  let r: LinuxRoot;
  before(() => {
    r = makeLinuxRoot();
    const res = r.install('--binary', r.stub(0), '--till-dir', '/srv/kassir/exchange', '--share-dir', '/mnt/backoffice');
    assert.equal(res.status, 0, res.stderr);
  });
  after(() => r.cleanup());

  it('passes systemd-analyze verify with no warnings, drop-in included', () => {
    const v = systemdAnalyze('verify', '--man=no', `--root=${r.root}`, UNIT);
    assert.equal(v.output, '', `systemd-analyze verify said:\n${v.output}`);
    assert.equal(v.status, 0);
  });

  it('verify is not passing vacuously: a mistyped key in a drop-in is reported', () => {
    // Guards the test above (wrong root, unit not found, output not captured...).
    const typo = join(r.root, 'etc/systemd/system/kassir-agent.service.d/20-typo.conf');
    writeFileSync(typo, '[Service]\nRestartSecs=5\n');
    try {
      const v = systemdAnalyze('verify', '--man=no', `--root=${r.root}`, UNIT);
      assert.match(v.output, /Unknown key 'RestartSecs'/);
    } finally {
      rmSync(typo);
    }
  });

  it('verify fails when the executable is not installed', () => {
    const exe = join(r.root, 'opt/kassir-agent/kassir-agent');
    renameSync(exe, `${exe}.away`);
    try {
      const v = systemdAnalyze('verify', '--man=no', `--root=${r.root}`, UNIT);
      assert.notEqual(v.status, 0);
      assert.match(v.output, /\/opt\/kassir-agent\/kassir-agent is not executable/);
    } finally {
      renameSync(`${exe}.away`, exe);
    }
  });

  it('is hardened: systemd-analyze security rates it 2.0 or better ("OK")', () => {
    // 1.7 with systemd 252 (Debian 12). A rise means a protection was dropped.
    const s = systemdAnalyze('security', '--offline=yes', `--root=${r.root}`, UNIT);
    assert.equal(s.status, 0, s.output);
    const m = /Overall exposure level for kassir-agent\.service: ([\d.]+)/.exec(s.output);
    assert.ok(m, s.output);
    assert.ok(Number(m[1]) <= 2.0, `exposure ${m[1]}:\n${s.output}`);
  });

  it('keeps the settings the agent depends on', () => {
    const keys = unitKeys(readFileSync(join(REPO, 'systemd', UNIT), 'utf8'));
    // V8's JIT needs writable+executable memory: this setting kills the agent at start.
    assert.equal(keys.has('MemoryDenyWriteExecute'), false);
    assert.equal(keys.get('User'), 'kassir-agent');
    assert.equal(keys.get('Restart'), 'always');
    assert.equal(keys.get('UMask'), '0077');
    assert.equal(keys.get('ProtectSystem'), 'strict');
    assert.equal(keys.get('NoNewPrivileges'), 'yes');
    assert.equal(keys.get('PrivateTmp'), 'yes');
    assert.equal(keys.get('KillSignal'), 'SIGTERM');
    assert.match(keys.get('ExecStartPre') ?? '', / check-config --config \/etc\/kassir-agent\/agent\.yaml$/);
    assert.match(keys.get('ExecStart') ?? '', / run --config \/etc\/kassir-agent\/agent\.yaml$/);
    // The agent's own stop deadline is 10 s (src/daemon.ts); systemd must wait longer before SIGKILL.
    assert.ok(Number(keys.get('TimeoutStopSec')) > 10);
    assert.ok(Number(keys.get('StartLimitBurst')) > 0 && Number(keys.get('StartLimitIntervalSec')) > 0);
    assert.match(keys.get('ReadWritePaths') ?? '', /\/var\/lib\/kassir-agent .*\/var\/log\/kassir-agent/);
  });

  it('the drop-in written by the installer makes the till folder and the share writable', () => {
    const dropin = readFileSync(join(r.root, 'etc/systemd/system/kassir-agent.service.d/10-paths.conf'), 'utf8');
    assert.equal(unitKeys(dropin).get('ReadWritePaths'), '/srv/kassir/exchange /mnt/backoffice');
  });
});
