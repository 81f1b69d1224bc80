/**
 * The single executable for linux-x64, built once for this file by
 * scripts/build-sea.mjs into a temp folder (about 10 s here; the first run on a
 * machine also fetches the Node binary package, ~43 MB, into
 * node_modules/.cache), then run the way the service and the README run it:
 * --help, --version, `run --once` on the shipped default config, check-config
 * on a bad config, the lazily loaded FTP and HTTP transports, and a graceful
 * stop on SIGTERM (systemd) and SIGINT (Ctrl+C, WinSW).
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { freePort as closedPort } from '../helpers/ports.js';
import { REPO } from './linux-root.js';

const VERSION = (JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { version: string }).version;

/** A copy of the repo's default config with the folders it ships (var/till, var/backoffice). */
function defaultConfigCopy(into: string): string {
  mkdirSync(join(into, 'config'), { recursive: true });
  cpSync(join(REPO, 'config/agent.yaml'), join(into, 'config/agent.yaml'));
  for (const d of ['var/till', 'var/backoffice']) mkdirSync(join(into, d), { recursive: true });
  return join(into, 'config/agent.yaml');
}

describe('single executable (linux-x64)', () => {
  let dir: string;
  let exe: string;
  const run = (args: string[], cwd = dir) => {
    const r = spawnSync(exe, args, { cwd, encoding: 'utf8', timeout: 60_000 });
    if (r.error) throw r.error;
    return { status: r.status, stdout: r.stdout, stderr: r.stderr, output: `${r.stdout}${r.stderr}` };
  };

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'kassir-sea-'));
    const build = spawnSync(process.execPath, [join(REPO, 'scripts/build-sea.mjs'), '--target', 'linux-x64', '--out', join(dir, 'sea')], {
      encoding: 'utf8',
    });
    assert.equal(build.status, 0, `build-sea failed:\n${build.stdout}${build.stderr}`);
    exe = join(dir, 'sea/linux-x64/kassir-agent');
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('is one self-contained file that starts without Node around it', () => {
    assert.ok(existsSync(exe));
    // An empty PATH: no node to fall back on; the executable carries its own.
    const r = spawnSync(exe, ['--help'], { encoding: 'utf8', env: { PATH: '' } });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^kassir-agent: exchange agent/);
    assert.match(r.stdout, /run --config FILE/);
    assert.equal(r.stderr, '', 'no ExperimentalWarning or other noise on stderr');
  });

  it('--version prints the package version (injected at build time)', () => {
    const r = run(['--version']);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout.trim(), VERSION);
  });

  it('run --once on the shipped default config exits 0', () => {
    const work = join(dir, 'default');
    const config = defaultConfigCopy(work);
    const r = run(['run', '--once', '--config', config], work);
    assert.equal(r.status, 0, r.output);
    assert.match(r.output, /agent\.once\.done/);
    assert.ok(existsSync(join(work, 'var/data')), 'the data folder was created next to the config');
  });

  it('check-config on a bad config exits 2 and names the key', () => {
    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, 'pos: one\ndataDir: data\ntill:\n  dir: till\n  referenceFile: POS1.spr\ntransport:\n  type: folder\n  dir: share\n  referenceName: POS1.spr\n  reportName: POS1.rep\n');
    const r = run(['check-config', '--config', bad]);
    assert.equal(r.status, 2, r.output);
    assert.match(r.stderr, /^pos: /m);
  });

  for (const type of ['ftp', 'kkmtransfer'] as const) {
    it(`loads the ${type} transport from inside the bundle (server down: exit 3, not a missing module)`, async () => {
      const port = await closedPort();
      const work = join(dir, type);
      mkdirSync(join(work, 'till'), { recursive: true });
      const transport =
        type === 'ftp'
          ? `  type: ftp\n  host: 127.0.0.1\n  port: ${port}\n  timeoutMs: 5000\n  referenceName: POS1.spr\n  reportName: POS1.rep\n`
          : `  type: kkmtransfer\n  url: http://127.0.0.1:${port}/hs/KKMTransfer\n  timeoutMs: 5000\n`;
      writeFileSync(join(work, 'agent.yaml'), `pos: 1\ndataDir: data\ntill:\n  dir: till\n  referenceFile: POS1.spr\ntransport:\n${transport}`);
      const r = run(['run', '--once', '--config', join(work, 'agent.yaml')], work);
      assert.equal(r.status, 3, r.output);
      assert.match(r.output, /ECONNREFUSED/);
      assert.doesNotMatch(r.output, /Cannot find module|ERR_MODULE_NOT_FOUND/);
    });
  }

  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    it(`the daemon stops cleanly on ${signal} and exits 0`, async () => {
      const work = join(dir, `daemon-${signal}`);
      const config = defaultConfigCopy(work);
      const child = spawn(exe, ['run', '--config', config], { cwd: work });
      let output = '';
      child.stdout.on('data', (b: Buffer) => (output += b.toString()));
      child.stderr.on('data', (b: Buffer) => (output += b.toString()));
      const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
      // Poll for the start line instead of sleeping a guessed time.
      const deadline = Date.now() + 30_000;
      while (!/agent\.started/.test(output)) {
        assert.ok(Date.now() < deadline, `no agent.started within 30 s:\n${output}`);
        assert.equal(child.exitCode, null, `exited before starting:\n${output}`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      child.kill(signal);
      assert.equal(await exited, 0, output);
      assert.match(output, new RegExp(`agent\\.stopping .*signal=${signal}`));
      assert.match(output, /agent\.stopped/);
    });
  }
});
