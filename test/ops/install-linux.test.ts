/**
 * scripts/install-linux.sh, run for real into a throw-away root (--root): the
 * user, the folders and their permissions, the config kept across upgrades,
 * the check-config gate, uninstall and purge. systemctl is not involved (no
 * systemd runs here); the unit itself is checked in systemd.test.ts.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { appendFileSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { makeLinuxRoot, REPO, type LinuxRoot } from './linux-root.js';

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

describe('install-linux.sh and the Zabbix agent', () => {
  const SUDOERS = 'etc/sudoers.d/kassir-agent-zabbix';
  const CONF = 'etc/zabbix/zabbix_agent2.d/kassir-agent.conf';
  let r: LinuxRoot;
  before(() => {
    r = makeLinuxRoot();
  });
  after(() => r.cleanup());

  it('no zabbix user and no --zabbix: no sudo rule', () => {
    const res = r.install('--binary', r.stub(0));
    assert.equal(res.status, 0, res.stderr);
    assert.equal(existsSync(join(r.root, SUDOERS)), false);
  });

  it('a zabbix user exists: installs the sudo rule (0440, passes visudo) and the conf into the agent 2 folder; --no-zabbix does not', () => {
    mkdirSync(join(r.root, 'etc/zabbix/zabbix_agent2.d'), { recursive: true });
    const none = r.install('--binary', r.stub(0), '--no-zabbix');
    assert.equal(none.status, 0, none.stderr);
    appendFileSync(join(r.root, 'etc/passwd'), 'zabbix:x:990:990::/nonexistent:/usr/sbin/nologin\n');
    assert.equal(r.install('--binary', r.stub(0), '--no-zabbix').status, 0);
    assert.equal(existsSync(join(r.root, SUDOERS)), false, '--no-zabbix');

    const res = r.install('--binary', r.stub(0));
    assert.equal(res.status, 0, res.stderr);
    const sudoers = join(r.root, SUDOERS);
    assert.equal(mode(sudoers), '440');
    if (process.getuid?.() === 0) assert.equal(statSync(sudoers).uid, 0);
    assert.equal(readFileSync(sudoers, 'utf8'), readFileSync(join(REPO, 'monitoring/zabbix/kassir-agent.sudoers'), 'utf8'));
    const visudo = spawnSync('visudo', ['-cf', sudoers], { encoding: 'utf8' });
    assert.equal(visudo.status, 0, `${visudo.stdout}${visudo.stderr}`);
    assert.equal(readFileSync(join(r.root, CONF), 'utf8'), readFileSync(join(REPO, 'monitoring/zabbix/kassir-agent.conf'), 'utf8'));
    assert.match(res.stdout, /Zabbix agent may run 'kassir-agent status' as kassir-agent/);
  });

  it('the conf runs exactly the command lines the rule allows, on the paths the script installs', () => {
    const rule = readFileSync(join(r.root, SUDOERS), 'utf8').replace(/\\\n\s*/g, ' ');
    const allowed = /^Cmnd_Alias KASSIR_AGENT_STATUS = (.+)$/m.exec(rule)![1]!.split(/,\s*/);
    assert.match(rule, /^zabbix ALL = \(kassir-agent\) NOPASSWD: KASSIR_AGENT_STATUS$/m);
    const conf = readFileSync(join(r.root, CONF), 'utf8');
    const run = [...conf.matchAll(/^UserParameter=[^,]+,sudo -n -u kassir-agent (.+)$/gm)].map((m) => m[1]!.replace('"$1"', '/etc/kassir-agent/agent.yaml'));
    assert.equal(run.length, 2, 'both UserParameters go through sudo as kassir-agent');
    assert.deepEqual(run.sort(), allowed.sort());
    for (const line of allowed) {
      const [exe, , , , config] = line.split(' ');
      assert.ok(existsSync(join(r.root, exe!)), `${exe} is what the script installs`);
      assert.ok(existsSync(join(r.root, config!)), `${config} is what the script installs`);
    }
  });

  it('--zabbix without a zabbix user installs it too; uninstall removes rule and conf', () => {
    const other = makeLinuxRoot();
    try {
      const res = other.install('--binary', other.stub(0), '--zabbix');
      assert.equal(res.status, 0, res.stderr);
      assert.ok(existsSync(join(other.root, SUDOERS)));
      assert.match(res.stderr, /no Zabbix agent include folder found/);
    } finally {
      other.cleanup();
    }
    const res = r.install('--uninstall');
    assert.equal(res.status, 0, res.stderr);
    assert.equal(existsSync(join(r.root, SUDOERS)), false);
    assert.equal(existsSync(join(r.root, CONF)), false);
  });
});
