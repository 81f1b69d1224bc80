import assert from 'node:assert/strict';
import * as fs from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { ConfigError, loadConfig, parseConfigText } from '../../src/config/load.js';
import { configJsonSchema } from '../../src/config/json-schema.js';
import { ROOT, runCli } from '../helpers/kassir.js';
import { withTempDir } from '../helpers/temp-dir.js';

const BASE = `pos: 1
dataDir: ../var/data
till:
  dir: ../var/till
  referenceFile: POS1.spr
transport:
  type: folder
  dir: ../var/bo
  referenceName: POS1.spr
  reportName: POS1.rep
`;

function problems(text: string, env: NodeJS.ProcessEnv = {}): string[] {
  try {
    parseConfigText(text, '/etc/kassir/agent.yaml', env);
  } catch (e) {
    if (e instanceof ConfigError) return e.problems.map((p) => `${p.path}: ${p.message}`);
    throw e;
  }
  return [];
}

describe('config', () => {
  it('fills defaults from the schema and resolves paths against the file folder', () => {
    const config = parseConfigText(BASE, "/etc/kassir/config/agent.yaml", {}).config.exchanges[0]!;
    // resolve(): on Windows a rooted path without a drive is on the current drive.
    assert.equal(config.dataDir, resolve('/etc/kassir/var/data'));
    assert.equal(config.till.dir, resolve('/etc/kassir/var/till'));
    assert.equal(config.transport.type === 'folder' && config.transport.dir, resolve('/etc/kassir/var/bo'));
    assert.equal(config.batch.maxTransactions, 1000);
    assert.equal(config.till.reportFiles, '*.rep');
    assert.equal(config.till.requestFile, 'POS1.flr');
    assert.equal(config.archive.retentionDays, 30);
    assert.equal(config.transport.type === 'folder' && config.transport.sequenced, true);
  });

  it('names unknown keys with a suggestion, and reports every problem at once', () => {
    const p = problems(BASE.replace('  referenceFile: POS1.spr', '  referenceFile: POS1.spr\n  reportFile: "*.rep"').replace('pos: 1', 'pos: 0\nbatch:\n  maxTransaction: 5'));
    assert.deepEqual(p.sort(), [
      'batch.maxTransaction: unknown key (did you mean maxTransactions?)',
      'pos: must be at least 1 (got 0)',
      'till.reportFile: unknown key (did you mean reportFiles?)',
    ]);
  });

  it('requires the keys that have no default, and checks the transport type and the pull schedule', async () => {
    // node-cron's validator is loaded only for a cron schedule: loadConfig loads it when a parse meets one.
    await withTempDir(async (dir) => {
      await fs.writeFile(join(dir, 'a.yaml'), BASE + 'schedule:\n  pull: "0 */15 6-22 * * *"\n');
      assert.equal((await loadConfig(join(dir, 'a.yaml'), {})).config.exchanges[0]!.schedule.pull, '0 */15 6-22 * * *');
    }, 'kassir-cfg');
    assert.deepEqual(problems('pos: 1\n'), ['dataDir: is required', 'till: is required', 'transport: is required']);
    assert.ok(problems(BASE.replace('type: folder', 'type: smb')).some((l) => l.startsWith('transport.type:')));
    for (const bad of ['every minute', '0s', '30 s x', '* * *']) {
      assert.ok(problems(BASE + `schedule:\n  pull: "${bad}"\n`).some((l) => l.startsWith('schedule.pull: neither an interval')), bad);
    }
    for (const good of ['30s', '5m', '1h', '500ms', '*/30 * * * * *', '0 */15 6-22 * * *']) assert.deepEqual(problems(BASE + `schedule:\n  pull: "${good}"\n`), [], good);
    assert.ok(problems(BASE.replace('referenceFile: POS1.spr', 'referenceFile: sub/POS1.spr')).some((l) => l.startsWith('till.referenceFile: must be a bare file name')));
  });

  it('substitutes ${ENV} and reports an unset variable by key', () => {
    const ftp = `${BASE.split('transport:')[0]}transport:\n  type: ftp\n  host: ftp.example\n  user: pos1\n  password: \${FTP_PASSWORD}\n  referenceName: Files/POS1.spr\n  reportName: Files/POS1.rep\n`;
    const loaded = parseConfigText(ftp, '/x/agent.yaml', { FTP_PASSWORD: 's3cret!' });
    assert.equal(loaded.config.exchanges[0]!.transport.type === 'ftp' && loaded.config.exchanges[0]!.transport.password, 's3cret!');
    assert.deepEqual(loaded.secrets, ['s3cret!']);
    assert.deepEqual(problems(ftp, {}), ['transport.password: environment variable FTP_PASSWORD is not set']);
  });

  it('equipment-service: the keys integrators script (as in the README), defaults from the schema, the tax map required', () => {
    const es = `${BASE.split('transport:')[0]}transport:
  type: equipment-service
  url: https://host/retail/ws/EquipmentService.1cws
  user: Кассир
  password: \${ES_PASSWORD}
  deviceId: KASSA-01
  taxGroups: { "20": 1, "10": 2, "0": 3, "none": 4 }
  paymentKinds: { "1": cash, "2": "1" }
`;
    const loaded = parseConfigText(es, '/x/agent.yaml', { ES_PASSWORD: 'пароль' });
    const t = loaded.config.exchanges[0]!.transport;
    assert.ok(t.type === 'equipment-service');
    assert.deepEqual(
      [t.user, t.password, t.deviceId, t.soapVersion, t.taxGroups, t.paymentKinds, t.tls.rejectUnauthorized],
      ['Кассир', 'пароль', 'KASSA-01', '1.1', { '20': 1, '10': 2, '0': 3, none: 4 }, { '1': 'cash', '2': '1' }, true],
    );
    assert.deepEqual(loaded.secrets, ['пароль']);
    assert.deepEqual(problems(es.replace(/  taxGroups: .*\n/, ''), { ES_PASSWORD: 'x' }), ['transport.taxGroups: is required']);
    assert.ok(problems(es.replace(/taxGroups: .*/, 'taxGroups: {}'), { ES_PASSWORD: 'x' }).some((l) => l.startsWith('transport.taxGroups: must map at least one 1C tax rate')));
    assert.ok(problems(es.replace(/taxGroups: .*/, 'taxGroups: { "20": first }'), { ES_PASSWORD: 'x' }).some((l) => l.startsWith('transport.taxGroups.20:')));
    assert.ok(problems(es.replace('KASSA-01', 'K'.repeat(37)), { ES_PASSWORD: 'x' }).some((l) => l.startsWith('transport.deviceId: must be at most 36')));
    assert.deepEqual(problems(es.replace('  deviceId: KASSA-01\n', ''), { ES_PASSWORD: 'x' }), ['transport.deviceId: is required']);
  });

  it('reads passwordFile, and warns about a world-readable file holding a password', async () => {
    await withTempDir(async (dir) => {
      await fs.writeFile(join(dir, 'ftp.pass'), 'from-file\n');
      const head = BASE.split('transport:')[0];
      await fs.writeFile(join(dir, 'a.yaml'), `${head}transport:\n  type: ftp\n  host: h\n  passwordFile: ftp.pass\n  referenceName: a.spr\n  reportName: a.rep\n`);
      const a = await loadConfig(join(dir, 'a.yaml'), {});
      assert.equal(a.config.exchanges[0]!.transport.type === 'ftp' && a.config.exchanges[0]!.transport.password, 'from-file');
      assert.deepEqual(a.warnings, []);
      await fs.writeFile(join(dir, 'b.yaml'), `${head}transport:\n  type: ftp\n  host: h\n  password: literal\n  referenceName: a.spr\n  reportName: a.rep\n`, { mode: 0o644 });
      await fs.chmod(join(dir, 'b.yaml'), 0o644);
      const b = await loadConfig(join(dir, 'b.yaml'), {});
      // Windows has no world-readable bit (its ACLs decide): no chmod advice there.
      if (process.platform === 'win32') assert.deepEqual(b.warnings, []);
      else assert.match(b.warnings[0]?.message ?? '', /every user of this machine can read it/);
    }, 'kassir-cfg');
  });

  it('a UNC share for the folder transport and the till folder is kept as it is, not put under the config folder', { skip: process.platform !== 'win32' && 'UNC paths are Windows paths (the folder transport\'s joining under a UNC root is tested with path.win32 on every platform)' }, async () => {
    await withTempDir(async (dir) => {
      const text = BASE.replace('dir: ../var/bo', 'dir: \'\\\\server\\share\\POS1\'').replace('dir: ../var/till', 'dir: //TILL01/kassa/Exchange');
      await fs.writeFile(join(dir, 'a.yaml'), text);
      const ex = (await loadConfig(join(dir, 'a.yaml'), {})).config.exchanges[0]!;
      assert.equal(ex.transport.type === 'folder' && ex.transport.dir, '\\\\server\\share\\POS1');
      assert.equal(ex.till.dir, '\\\\TILL01\\kassa\\Exchange', 'forward slashes as a YAML file may write them');
    }, 'kassir-cfg');
  });

  it('a YAML syntax error names the line', () => {
    assert.match(problems('pos: 1\ntill: [\n')[0] ?? '', /^\(yaml\): line \d+/);
  });

  it('config/agent.schema.json is generated from the current schema (run `npm run schema`)', async () => {
    assert.equal(await fs.readFile(join(ROOT, 'config/agent.schema.json'), 'utf8'), configJsonSchema());
  });

  it('the shipped config/agent.yaml is valid', async () => {
    const { config } = await loadConfig(join(ROOT, 'config/agent.yaml'), {});
    assert.equal(config.exchanges[0]!.transport.type, "folder");
  });
});

describe('check-config command', () => {
  it('prints one "path: message" line per problem and exits 2', async () => {
    await withTempDir(async (dir) => {
      await fs.writeFile(join(dir, 'bad.yaml'), BASE.replace('pos: 1', 'pos: one\nposs: 2'));
      const r = await runCli(['check-config', '--config', join(dir, 'bad.yaml')]);
      assert.equal(r.code, 2);
      assert.match(r.stderr, /^pos: must be a number \(got "one"\)$/m);
      assert.match(r.stderr, /^poss: unknown key \(did you mean pos\?\)$/m);
      // run refuses on the same problems, before touching any data
      const run = await runCli(['run', '--once', '--config', join(dir, 'bad.yaml')]);
      assert.equal(run.code, 2);
      assert.equal(await fs.stat(join(dir, '../var')).catch(() => undefined), undefined);
      const ok = await runCli(['check-config', '--config', join(ROOT, 'config/agent.yaml')]);
      assert.equal(ok.code, 0, ok.stderr);
      assert.match(ok.stdout, /ok \(POS 1, transport folder\)/);
    }, 'kassir-cfg');
  });

  it('--help exits 0 and lists the commands; an unknown command exits 2', async () => {
    const h = await runCli(['--help']);
    assert.equal(h.code, 0);
    assert.match(h.stdout, /run --config FILE \[--once\]/);
    assert.equal((await runCli(['frobnicate'])).code, 2);
  });
});

describe('README', () => {
  it('its config-key tables are generated from the current schema (run `npm run schema`)', async () => {
    const { withConfigDocs } = await import('../../src/config/docs.js');
    const readme = await fs.readFile(join(ROOT, 'README.md'), 'utf8');
    assert.equal(readme, withConfigDocs(readme));
  });
});
