/**
 * A reference delivery cut twice by power-cut-like kills (SIGKILL at named fail
 * points, the agent as a real process, the folder exchange): once between
 * recording the delivery and renaming its file into place, then again while
 * the next start undoes that delivery. The third start must deliver the part,
 * once: the kill in the undo must not leave "intent without its temporary
 * file", which reads as "renamed" and retires a part Kassir never got (the
 * Windows CI run lost reference package 2 of 5 so in the KKMTransfer crash test).
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs/promises';
import { join } from 'node:path';
import { it } from 'node:test';
import { makeWorkspace, runCli, type RunResult } from '../helpers/kassir.js';

const PART = '##@@&&\r\n#\r\nP1;;part;;1;\r\n';
const TMP = '.POS1.spr.kassir-agent.tmp';
/** The till folder's files, without the agent's own working folder in it. */
const tillFiles = async (till: string) => (await fs.readdir(till)).filter((n) => n !== '.kassir-agent').sort();

function killedAtFailpoint(r: RunResult, name: string): boolean {
  // Windows has no signals: the child's own line on stderr says it killed itself there.
  return r.stderr.includes(`failpoint ${name}: SIGKILL`) && (r.signal === 'SIGKILL' || process.platform === 'win32');
}

it('a delivery killed before its rename, and the next start killed while undoing it: the third start delivers the part once', { timeout: 300_000 }, async (t) => {
  const ws = await makeWorkspace({ log: { level: 'info', dir: 'log', console: true } });
  t.after(() => ws.cleanup());
  await fs.writeFile(join(ws.share, 'POS1.spr.$1'), PART, 'latin1');
  const once = (failpoints?: string) => runCli(['run', '--once', '--config', ws.configFile], failpoints ? { env: { KASSIR_FAILPOINTS: failpoints } } : {});

  const r1 = await once('till.deliver.before-rename');
  assert.ok(killedAtFailpoint(r1, 'till.deliver.before-rename'), r1.stdout + r1.stderr);
  assert.deepEqual(await tillFiles(ws.till), [TMP], 'killed with the file under its temporary name only');

  const r2 = await once('till.recover.after-undo');
  assert.ok(killedAtFailpoint(r2, 'till.recover.after-undo'), r2.stdout + r2.stderr);

  const r3 = await once();
  assert.equal(r3.code, 0, r3.stdout + r3.stderr);
  assert.equal(await fs.readFile(join(ws.till, 'POS1.spr'), 'latin1'), PART, 'the part reached the till');
  assert.deepEqual(await tillFiles(ws.till), ['POS1.spr'], 'no temporary file left');
  assert.match(r3.stdout, /till\.reference\.delivered/, 'delivered by the third start');
  // Once: Kassir takes it, and a further run delivers nothing again.
  await fs.writeFile(join(ws.till, 'POS1.spr'), PART.replace('\r\n#\r\n', '\r\n@\r\n'), 'latin1');
  const r4 = await once();
  assert.equal(r4.code, 0, r4.stdout + r4.stderr);
  assert.doesNotMatch(r4.stdout, /till\.reference\.delivered/, 'not delivered twice');
  assert.match(await fs.readFile(join(ws.till, 'POS1.spr'), 'latin1'), /^##@@&&\r\n@\r\n/);
});
