/**
 * scripts/install-linux.sh, run for real into a throw-away root (--root): the
 * user, the folders and their permissions, the config kept across upgrades,
 * the check-config gate, uninstall and purge. systemctl is not involved (no
 * systemd runs here); the unit itself is checked in systemd.test.ts.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { makeLinuxRoot, type LinuxRoot } from './linux-root.js';

const mode = (p: string) => (statSync(p).mode & 0o777).toString(8);

function passwdEntry(root: string): string[] | undefined {
  const file = join(root, 'etc/passwd');
  if (!existsSync(file)) return undefined;
  return readFileSync(file, 'utf8')
    .split('\n')
    .map((l) => l.split(':'))
    .find((f) => f[0] === 'kassir-agent');
}

describe('install-linux.sh', () => {
  let r: LinuxRoot;
  before(() => {
    r = makeLinuxRoot();
  });
  after(() => r.cleanup());

  it('installs the user, the program, the unit and private folders, and checks the config', () => {
    const res = r.install('--binary', r.stub(0), '--till-dir', '/srv/till', '--share-dir', '/mnt/share');
    assert.equal(res.status, 0, res.stderr);

    const user = passwdEntry(r.root);
    assert.ok(user, 'kassir-agent is in the root passwd');
    assert.equal(user[6], '/usr/sbin/nologin');

    const p = (rel: string) => join(r.root, rel);
    assert.equal(mode(p('opt/kassir-agent/kassir-agent')), '755');
    assert.equal(mode(p('etc/kassir-agent')), '750');
    assert.equal(mode(p('etc/kassir-agent/agent.yaml')), '640');
    assert.equal(mode(p('var/lib/kassir-agent')), '700');
    assert.equal(mode(p('var/log/kassir-agent')), '700');
    assert.equal(mode(p('etc/systemd/system/kassir-agent.service')), '644');
    if (process.getuid?.() === 0) {
      // Owned by the service user of the root being installed, by number.
      assert.equal(statSync(p('var/lib/kassir-agent')).uid, Number(user[2]));
      assert.equal(statSync(p('etc/kassir-agent/agent.yaml')).gid, Number(user[3]));
      assert.equal(statSync(p('etc/kassir-agent/agent.yaml')).uid, 0);
    }

    const config = readFileSync(p('etc/kassir-agent/agent.yaml'), 'utf8');
    assert.match(config, /^ {2}dir: \/srv\/till\b/m);
    assert.match(config, /^ {2}dir: \/mnt\/share\b/m);
    assert.match(config, /^dataDir: \/var\/lib\/kassir-agent\b/m);
    assert.equal(readFileSync(r.calls, 'utf8').trim(), `check-config --config ${p('etc/kassir-agent/agent.yaml')}`);
  });

  it('runs again as an upgrade: replaces the program, keeps the edited config', () => {
    const conf = join(r.root, 'etc/kassir-agent/agent.yaml');
    writeFileSync(conf, `${readFileSync(conf, 'utf8')}# edited by the integrator\n`);
    const newer = r.stub(0);
    writeFileSync(newer, `${readFileSync(newer, 'utf8')}# newer build\n`);
    const res = r.install('--binary', newer);
    assert.equal(res.status, 0, res.stderr);
    assert.match(readFileSync(conf, 'utf8'), /# edited by the integrator\n$/);
    assert.match(readFileSync(join(r.root, 'opt/kassir-agent/kassir-agent'), 'utf8'), /# newer build/);
    assert.equal(existsSync(join(r.root, 'opt/kassir-agent/kassir-agent.new')), false);
  });

  it('fails, naming the config, when check-config rejects it', () => {
    const res = r.install('--binary', r.stub(2));
    assert.equal(res.status, 1);
    assert.match(res.stderr, /does not pass check-config: fix .*etc\/kassir-agent\/agent\.yaml/);
  });

  it('rejects a till folder it could not write into the unit', () => {
    const res = r.install('--binary', r.stub(0), '--till-dir', 'relative/till');
    assert.equal(res.status, 1);
    assert.match(res.stderr, /--till-dir relative\/till: must be an absolute path/);
    const spaced = r.install('--binary', r.stub(0), '--share-dir', '/mnt/back office');
    assert.equal(spaced.status, 1);
    assert.match(spaced.stderr, /must not contain spaces/);
  });

  it('uninstalls the program but keeps config, data and logs; --purge removes them and the user', () => {
    writeFileSync(join(r.root, 'var/lib/kassir-agent/state.a.json'), '{}');
    const res = r.install('--uninstall');
    assert.equal(res.status, 0, res.stderr);
    assert.equal(existsSync(join(r.root, 'opt/kassir-agent')), false);
    assert.equal(existsSync(join(r.root, 'etc/systemd/system/kassir-agent.service')), false);
    assert.equal(existsSync(join(r.root, 'etc/systemd/system/kassir-agent.service.d')), false);
    assert.equal(existsSync(join(r.root, 'var/lib/kassir-agent/state.a.json')), true);
    assert.equal(existsSync(join(r.root, 'etc/kassir-agent/agent.yaml')), true);
    assert.match(res.stdout, /undelivered reports may be there/);

    const purge = r.install('--uninstall', '--purge');
    assert.equal(purge.status, 0, purge.stderr);
    for (const gone of ['etc/kassir-agent', 'var/lib/kassir-agent', 'var/log/kassir-agent', 'usr/lib/sysusers.d/kassir-agent.conf']) {
      assert.equal(existsSync(join(r.root, gone)), false, gone);
    }
    assert.equal(passwdEntry(r.root), undefined);
  });
});
