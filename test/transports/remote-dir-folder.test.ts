/**
 * FolderRemoteDir: the shared contract on a real temp folder, plus what only a
 * share has: the crash between link and unlink, shares without hard links,
 * an unmounted share, and the errno mapping.
 */
import assert from 'node:assert/strict';
import { link, mkdir, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { join, win32 } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { TransportError } from '../../src/transports/errors.js';
import { FolderRemoteDir, sharePath } from '../../src/transports/folder/folder-remote-dir.js';
import { kindForErrno } from '../../src/transports/folder/fs-errors.js';
import { memoryLogger } from '../../src/util/logger.js';
import { remoteDirContract } from './remote-dir.contract.js';
import { makeTempDir, removeDir } from '../helpers/temp-dir.js';

remoteDirContract('folder', async () => {
  const localRoot = await makeTempDir('kassir-share');
  return { dir: new FolderRemoteDir(localRoot), localRoot, cleanup: () => removeDir(localRoot) };
});

/** A share whose filesystem has no hard links (SMB/CIFS without unix extensions). */
class NoLinkFolder extends FolderRemoteDir {
  links = 0;
  protected override async link(): Promise<void> {
    this.links++;
    throw Object.assign(new Error('EPERM: operation not permitted, link'), { code: 'EPERM' });
  }
}

describe('FolderRemoteDir specifics', () => {
  let base: string;
  before(async () => {
    base = await makeTempDir('kassir-share-x');
  });
  after(() => removeDir(base));
  async function share(name: string): Promise<string> {
    const p = join(base, name);
    await mkdir(p);
    return p;
  }

  it('publishes reports readable by the back office (0644) even under the service\'s UMask=0077', async () => {
    const root = await share('umask');
    const src = join(base, 'umask-src.rep');
    await writeFile(src, 'sealed package');
    const saved = process.umask(0o077);
    try {
      const dir = new FolderRemoteDir(root);
      await dir.upload(src, 'POS1.rep.kassir-agent-1.tmp');
      assert.equal(await dir.renameNoReplace('POS1.rep.kassir-agent-1.tmp', 'POS1.rep.$1'), 'renamed');
    } finally {
      process.umask(saved);
    }
    if (process.platform !== 'win32') assert.equal((await stat(join(root, 'POS1.rep.$1'))).mode & 0o777, 0o644);
  });

  it("finishes a rename interrupted between link and unlink (same inode under both names) as 'renamed'", async () => {
    const root = await share('crash');
    await writeFile(join(root, 'POS1.rep.tmp'), 'sealed package');
    await link(join(root, 'POS1.rep.tmp'), join(root, 'POS1.rep.$7')); // the crash left both names
    const log = memoryLogger();
    const dir = new FolderRemoteDir(root, { log });
    assert.equal(await dir.renameNoReplace('POS1.rep.tmp', 'POS1.rep.$7'), 'renamed');
    assert.deepEqual(await readdir(root), ['POS1.rep.$7']);
    assert.equal(await readFile(join(root, 'POS1.rep.$7'), 'utf8'), 'sealed package');
    assert.ok(log.records.some((r) => r.event === 'folder.rename.finished'));
  });

  it('falls back to check + rename when the share has no hard links', async () => {
    const root = await share('nolink');
    await writeFile(join(root, 'a.tmp'), 'A');
    await writeFile(join(root, 'b.tmp'), 'B');
    await writeFile(join(root, 'taken'), 'theirs');
    const dir = new NoLinkFolder(root);
    assert.equal(await dir.renameNoReplace('a.tmp', 'free'), 'renamed');
    assert.equal(await dir.renameNoReplace('b.tmp', 'taken'), 'exists');
    assert.equal(dir.links, 2, 'link was tried first both times');
    assert.deepEqual((await readdir(root)).sort(), ['b.tmp', 'free', 'taken']);
    assert.equal(await readFile(join(root, 'free'), 'utf8'), 'A');
    assert.equal(await readFile(join(root, 'taken'), 'utf8'), 'theirs');
  });

  it('open() on a share that is not there (not mounted) is unreachable, so it is retried', async () => {
    const dir = new FolderRemoteDir(join(base, 'not-mounted'));
    await assert.rejects(dir.open(), (e) => e instanceof TransportError && e.kind === 'unreachable' && e.message.includes('not-mounted'));
    await writeFile(join(base, 'a-file'), '');
    await assert.rejects(new FolderRemoteDir(join(base, 'a-file')).open(), (e) => e instanceof TransportError && e.kind === 'unreachable');
  });

  it('a share that disappears after open() is unreachable, not a missing file', async () => {
    const root = await share('vanishing');
    const dir = new FolderRemoteDir(root);
    await dir.open();
    await rm(root, { recursive: true });
    await assert.rejects(dir.size('POS1.rep.$1'), (e) => e instanceof TransportError && e.kind === 'unreachable');
    await assert.rejects(dir.list(''), (e) => e instanceof TransportError && e.kind === 'unreachable');
    // Regression (reliability harness): a delete while the share is away is not "already gone";
    // the caller would forget a part still on the share and apply it again when it returns.
    await assert.rejects(dir.remove('POS1.spr.$1'), (e) => e instanceof TransportError && e.kind === 'unreachable');
  });

  it('a UNC share root (\\\\server\\share\\POS1): names joined with Windows separators, nothing escapes the share (path.win32, on every platform)', () => {
    // What the constructor makes of the configured dir on Windows (path.resolve), forward slashes as a YAML file may write them.
    const root = win32.resolve('//server/share/POS1');
    assert.equal(root, '\\\\server\\share\\POS1');
    assert.equal(sharePath(root, 'POS1.rep.$1', win32), '\\\\server\\share\\POS1\\POS1.rep.$1');
    assert.equal(sharePath(root, 'out/./POS1.rep.$1.tmp', win32), '\\\\server\\share\\POS1\\out\\POS1.rep.$1.tmp');
    assert.equal(sharePath(root, '', win32), root, 'the share folder itself (list)');
    // The share's own root: \\server\share resolves with a trailing separator, still one per join.
    assert.equal(sharePath(win32.resolve('\\\\server\\share'), 'POS1.spr.$1', win32), '\\\\server\\share\\POS1.spr.$1');
    for (const bad of ['../POS2/x', 'out/../../x', 'a\\b', '\\\\other\\share\\x', '/x', 'C:/x']) {
      assert.throws(() => sharePath(root, bad, win32), (e) => e instanceof TransportError && e.kind === 'config' && e.message.includes(root), bad);
    }
  });

  it('a missing source file is a server error naming it; a path escaping the share is refused', async () => {
    const root = await share('errors');
    const dir = new FolderRemoteDir(root);
    await assert.rejects(dir.renameNoReplace('nope.tmp', 'x'), (e) => e instanceof TransportError && e.kind === 'server' && e.message.includes('nope.tmp'));
    await assert.rejects(dir.download('nope', join(base, 'out')), (e) => e instanceof TransportError && e.kind === 'server' && e.message.includes('nope'));
    await assert.rejects(dir.size('../escape'), (e) => e instanceof TransportError && e.kind === 'config');
    await assert.rejects(dir.size('/etc/passwd'), (e) => e instanceof TransportError && e.kind === 'config');
  });

  it('maps errno codes to kinds', () => {
    assert.equal(kindForErrno('ENOSPC'), 'full');
    assert.equal(kindForErrno('EDQUOT'), 'full');
    assert.equal(kindForErrno('EACCES'), 'server');
    assert.equal(kindForErrno('EPERM'), 'server');
    for (const c of ['EIO', 'ENOTCONN', 'EHOSTDOWN', 'ESTALE', 'ETIMEDOUT']) assert.equal(kindForErrno(c), 'unreachable', c);
    assert.equal(kindForErrno('ENOTDIR'), 'config');
    assert.equal(kindForErrno('EWHATEVER'), 'server');
  });

});
