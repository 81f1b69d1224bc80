/**
 * Uploads ahead (src/transports/ahead-uploads.ts) through the sequenced push
 * over a real share folder: the next packages reach their temporary names
 * while the current one is renamed, a failed early upload is redone by the
 * package's own push, and nothing ever appears under a final name out of order.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { FolderRemoteDir } from '../../src/transports/folder/folder-remote-dir.js';
import type { RemoteDir } from '../../src/transports/remote-dir.js';
import { SequencedFilesTransport } from '../../src/transports/sequenced.js';
import type { OutgoingPackage, RemoteNotes } from '../../src/transports/transport.js';
import { nullLogger } from '../../src/util/logger.js';
import { makeTempDir, removeDir } from '../helpers/temp-dir.js';

let root: string;
let share: string;
let packages: OutgoingPackage[];

beforeEach(async () => {
  root = await makeTempDir('kassir-ahead');
  share = join(root, 'share');
  await fs.mkdir(share);
  packages = [];
  for (let n = 1; n <= 6; n++) {
    const path = join(root, `${n}.rep`);
    const data = `#\r\npackage ${n}\r\n`;
    await fs.writeFile(path, data);
    packages.push({ number: n, path, bytes: data.length, transactions: 1 });
  }
});
afterEach(() => removeDir(root));

/** A share whose forked sessions record what they upload, and fail when told to. */
class ForkingShare extends FolderRemoteDir {
  readonly early: string[] = [];
  failEarly = false;
  override fork(): RemoteDir {
    const main = this;
    return Object.assign(Object.create(this) as FolderRemoteDir, {
      async upload(localPath: string, path: string) {
        main.early.push(path);
        if (main.failEarly) throw new Error('injected: the second session is refused');
        return FolderRemoteDir.prototype.upload.call(main, localPath, path);
      },
      async close() {},
    });
  }
}

async function drain(remote: ForkingShare): Promise<string[]> {
  const t = new SequencedFilesTransport('folder', remote, { referenceName: 'POS1.spr', reportName: 'POS1.rep', sequenced: true });
  await t.open();
  const seen: string[] = [];
  for (const [i, pkg] of packages.entries()) {
    const notes: RemoteNotes = {};
    const r = await t.push(pkg, { notes, saveNotes: async () => {}, log: nullLogger, signal: new AbortController().signal, upcoming: packages.slice(i + 1, i + 3) });
    seen.push(r.remoteName);
    // Nothing under a final name but whole, in order: the finals so far hold packages 1..i+1.
    for (const [k, name] of seen.entries()) assert.equal(await fs.readFile(join(share, name), 'utf8'), `#\r\npackage ${k + 1}\r\n`);
  }
  await t.close();
  return seen;
}

describe('uploads ahead', () => {
  it('uploads the next packages to their temporary names on forked sessions; renames stay in order', async () => {
    const remote = new ForkingShare(share);
    const finals = await drain(remote);
    assert.deepEqual(finals, ['POS1.rep.$1', 'POS1.rep.$2', 'POS1.rep.$3', 'POS1.rep.$4', 'POS1.rep.$5', 'POS1.rep.$6']);
    assert.deepEqual(remote.early, [2, 3, 4, 5, 6].map((n) => `POS1.rep.kassir-agent-${n}.tmp`), 'each later package uploaded early once');
    assert.deepEqual((await fs.readdir(share)).filter((n) => n.endsWith('.tmp')), [], 'no temporary file left');
  });

  it('the first push of a session removes temporary files of earlier packages only', async () => {
    for (const name of ['POS1.rep.kassir-agent-1.tmp', 'POS1.rep.kassir-agent-9.tmp', 'POS1.rep.kassir-agent-x.tmp', 'POS2.rep.kassir-agent-1.tmp']) await fs.writeFile(join(share, name), 'left by a crash');
    const t = new SequencedFilesTransport('folder', new ForkingShare(share), { referenceName: 'POS1.spr', reportName: 'POS1.rep', sequenced: true });
    await t.open();
    await t.push(packages[1]!, { notes: {}, saveNotes: async () => {}, log: nullLogger, signal: new AbortController().signal });
    await t.close();
    assert.deepEqual((await fs.readdir(share)).sort(), ['POS1.rep.$1', 'POS1.rep.kassir-agent-9.tmp', 'POS1.rep.kassir-agent-x.tmp', 'POS2.rep.kassir-agent-1.tmp']);
  });

  it('an early upload that fails is done again by the package\'s own push', async () => {
    const remote = new ForkingShare(share);
    remote.failEarly = true;
    const finals = await drain(remote);
    assert.equal(finals.length, 6);
    assert.ok(remote.early.length >= 5, 'the early uploads were tried');
    assert.deepEqual((await fs.readdir(share)).sort(), finals.slice().sort(), 'every package under its final name, nothing else');
  });
});
