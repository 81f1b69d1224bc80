/**
 * check-config catches what would break at run time: missing
 * folders, CA files that are not certificates, numbers without their unit,
 * choices without their allowed values, `${VAR}` where YAML cannot read it,
 * and the world-readable-password warning, right both ways.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ConfigError, parseConfigText } from '../../src/config/load.js';
import { runCli } from '../helpers/kassir.js';
import { makeTestCa, type TestCa } from '../helpers/tls-certs.js';
import { makeTempDir, removeDir } from '../helpers/temp-dir.js';

let dir: string;
let ca: TestCa;
before(async () => {
  dir = await makeTempDir('kassir-check');
  await fs.mkdir(join(dir, 'till'));
  await fs.mkdir(join(dir, 'share'));
  ca = await makeTestCa(dir);
});
after(() => removeDir(dir));

const FOLDER = `pos: 1
dataDir: data
till: { dir: till, referenceFile: POS1.spr }
transport: { type: folder, dir: share, referenceName: POS1.spr, reportName: POS1.rep }
`;

function kkm(extra: string): string {
  return `pos: 1\ndataDir: data\ntill: { dir: till, referenceFile: POS1.spr }\ntransport:\n  type: kkmtransfer\n  url: https://bo.example/hs/KKMTransfer\n${extra}`;
}

async function check(name: string, text: string, args: string[] = [], env: NodeJS.ProcessEnv = {}, mode = 0o600) {
  const file = join(dir, name);
  await fs.writeFile(file, text);
  await fs.chmod(file, mode);
  return runCli(['check-config', ...args, '--config', file], { env });
}

function problems(text: string, env: NodeJS.ProcessEnv = {}): string[] {
  try {
    parseConfigText(text, '/etc/kassir/agent.yaml', env);
    return [];
  } catch (e) {
    if (e instanceof ConfigError) return e.problems.map((p) => `${p.path}: ${p.message}`);
    throw e;
  }
}

describe('check-config', () => {
  it('a till folder or share that does not exist: create it or fix the path (exit 2)', async () => {
    const r = await check('a.yaml', FOLDER.replace('dir: till', 'dir: no-such-till').replace('dir: share', 'dir: no-such-share'));
    assert.equal(r.code, 2);
    assert.match(r.stderr, /^till\.dir: .*no-such-till does not exist \(Kassir's exchange folder: create it, or fix the path/m);
    assert.match(r.stderr, /^transport\.dir: .*no-such-share does not exist/m);
    assert.equal(await fs.stat(join(dir, 'no-such-till')).catch(() => undefined), undefined, 'check-config creates nothing');
    const ok = await check('b.yaml', FOLDER);
    assert.equal(ok.code, 0, ok.stderr);
  });

  it('tls.caFile: missing, a private key instead of a certificate, not PEM; a real CA passes', async () => {
    const missing = await check('c1.yaml', kkm('  tls: { caFile: nope.pem }\n'));
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /^transport\.tls\.caFile: .*nope\.pem cannot be read \(ENOENT\)/m);
    const key = await check('c2.yaml', kkm(`  tls: { caFile: ${ca.keyFile} }\n`));
    assert.equal(key.code, 2);
    assert.match(key.stderr, /^transport\.tls\.caFile: .*holds a private key, not a certificate/m);
    await fs.writeFile(join(dir, 'junk.pem'), 'not a certificate\n');
    const junk = await check('c3.yaml', kkm('  tls: { caFile: junk.pem }\n'));
    assert.match(junk.stderr, /^transport\.tls\.caFile: .*holds no PEM certificate/m);
    const good = await check('c4.yaml', kkm(`  tls: { caFile: ${ca.certFile} }\n`));
    assert.equal(good.code, 0, good.stderr);
  });

  it('numbers with their unit, choices with their allowed values', () => {
    const p = problems(
      FOLDER.replace('transport: { type: folder, dir: share, referenceName: POS1.spr, reportName: POS1.rep }', 'transport: { type: ftp, host: h, port: "21", secure: yes, encoding: koi8, referenceName: a, reportName: b }') +
        'batch: { flushMs: 1.5 }\nlog: { level: verbose }\narchive: { retentionDays: 0 }\n',
    );
    assert.deepEqual(p.sort(), [
      'archive.retentionDays: must be at least 1 days (got 0)',
      'batch.flushMs: must be a whole number of milliseconds (e.g. 5000 for 5 s) (got 1.5)',
      'log.level: must be one of error, warn, info, debug (got "verbose")',
      'transport.encoding: must be one of utf8, cp1251 (got "koi8")',
      'transport.port: must be a number, written without quotes (got "21")',
      'transport.secure: must be false (plain FTP), true (explicit FTPS: AUTH TLS) or implicit (implicit FTPS, usually port 990) (got "yes")',
    ]);
  });

  it('an unquoted ${VAR} inside { ... } is one line saying how to write it', () => {
    const p = problems('pos: 1\ndataDir: d\ntill: { dir: t, referenceFile: POS1.spr }\ntransport: { type: ftp, host: h, password: ${FTP_PASSWORD}, referenceName: a, reportName: b }\n', { FTP_PASSWORD: 's' });
    assert.deepEqual(p, ['(yaml): line 4: ${FTP_PASSWORD} inside { ... } must be quoted: write password: "${FTP_PASSWORD}"']);
    assert.deepEqual(problems('pos: 1\ndataDir: d\ntill: { dir: t, referenceFile: POS1.spr }\ntransport: { type: ftp, host: h, password: "${FTP_PASSWORD}", referenceName: a, reportName: b }\n', { FTP_PASSWORD: 's' }), []);
  });

  it('the world-readable password warning: silent for ${VAR}, loud for a literal in any YAML form', { skip: process.platform === 'win32' ? 'file mode bits (0644, 0600): Windows has ACLs instead, and no such warning (config.test.ts checks that)' : false }, async () => {
    const env = { KKM_PASSWORD: 's3cret' };
    const fromEnv = await check('w1.yaml', kkm('  user: kassa\n  password: ${KKM_PASSWORD}\n'), [], env, 0o644);
    assert.equal(fromEnv.code, 0, fromEnv.stderr);
    assert.doesNotMatch(fromEnv.stderr, /warning/);
    for (const [name, text] of [
      ['w2.yaml', kkm('  user: kassa\n  password: s3cret\n')],
      ['w3.yaml', 'pos: 1\ndataDir: data\ntill: { dir: till, referenceFile: POS1.spr }\ntransport: { type: kkmtransfer, url: "https://bo.example/hs/KKMTransfer", user: kassa, password: s3cret }\n'],
      ['w4.yaml', kkm('  user: kassa\n  "password": "s3cret"\n')],
      ['w5.yaml', 'pos: 1\ndataDir: data\ntill: { dir: till, referenceFile: POS1.spr }\ntransport: { type: kkmtransfer, url: "https://kassa:s3cret@bo.example/hs/KKMTransfer" }\n'],
    ] as const) {
      const r = await check(name, text, [], {}, 0o644);
      assert.equal(r.code, 0, `${name}: ${r.stderr}`);
      assert.match(r.stderr, /^warning: .* holds a password \(transport\.(password|url)\) and every user of this machine can read it: chmod 600/m, name);
      assert.doesNotMatch(r.stderr, /s3cret/, `${name}: the warning never quotes the password`);
      const quiet = await check(`q-${name}`, text, [], {}, 0o600);
      assert.doesNotMatch(quiet.stderr, /warning/, `${name} at 0600`);
    }
  });
});
