/**
 * The behaviour every RemoteDir must show, written once and run against each
 * implementation (folder share, FTP, FTPS). `make()` gives a fresh, empty
 * remote root per test and the local folder where its files really are, so
 * assertions look at the bytes on disk, not at what the implementation says.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, readdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { TransportError } from '../../src/transports/errors.js';
import type { RemoteDir } from '../../src/transports/remote-dir.js';
import { makeTempDir, removeDir } from '../helpers/temp-dir.js';

export interface ContractSubject {
  dir: RemoteDir;
  /** Where the remote root's files are on local disk, for assertions. */
  localRoot: string;
  cleanup(): Promise<void>;
  /**
   * FTPS cannot store an empty file (the TLS data connection closes before any data and
   * servers answer with a TLS alert): such a subject must refuse it with a clear error instead.
   */
  refusesEmptyUploads?: boolean;
}

function assertKind(e: unknown, kind: TransportError['kind'], mentions?: string): true {
  assert.ok(e instanceof TransportError, `expected a TransportError, got ${String(e)}`);
  assert.equal(e.kind, kind, `kind of: ${e.message}`);
  if (mentions !== undefined) assert.ok(e.message.includes(mentions), `message should name '${mentions}': ${e.message}`);
  return true;
}

export function remoteDirContract(name: string, make: () => Promise<ContractSubject>): void {
  describe(`RemoteDir contract: ${name}`, () => {
    let scratch: string;
    const subjects: ContractSubject[] = [];
    before(async () => {
      scratch = await makeTempDir('kassir-contract');
    });
    after(async () => {
      for (const s of subjects) {
        await s.dir.close();
        await s.cleanup();
      }
      await removeDir(scratch);
    });
    /** A fresh opened subject; closed and cleaned up after the suite. */
    async function fresh(): Promise<ContractSubject> {
      const s = await make();
      subjects.push(s);
      await s.dir.open();
      return s;
    }
    async function localFile(fileName: string, data: Buffer): Promise<string> {
      const p = join(scratch, fileName);
      await writeFile(p, data);
      return p;
    }

    it('open() is idempotent', async () => {
      const { dir } = await fresh();
      await dir.open();
      assert.deepEqual(await dir.list(''), []);
    });

    it('list() returns plain files only, with their sizes and times', async () => {
      const { dir, localRoot } = await fresh();
      await writeFile(join(localRoot, 'POS1.spr.$1'), 'abc');
      await writeFile(join(localRoot, 'empty.txt'), '');
      await mkdir(join(localRoot, 'Files'));
      await writeFile(join(localRoot, 'Files', 'inner.rep'), '12345');
      const entries = (await dir.list('')).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
      assert.deepEqual(
        entries.map((e) => [e.name, e.size]),
        [
          ['POS1.spr.$1', 3],
          ['empty.txt', 0],
        ],
      );
      for (const e of entries) {
        if (e.mtimeMs === undefined) continue;
        const onDisk = (await stat(join(localRoot, e.name))).mtimeMs;
        // FTP MLSD has whole seconds: allow the truncation, nothing more.
        assert.ok(Math.abs(e.mtimeMs - onDisk) < 1000, `${e.name}: mtime ${e.mtimeMs} vs ${onDisk} on disk`);
      }
      const inner = await dir.list('Files');
      assert.deepEqual(
        inner.map((e) => [e.name, e.size]),
        [['inner.rep', 5]],
      );
    });

    it('list() of a missing folder is a config error naming the folder', async () => {
      const { dir } = await fresh();
      await assert.rejects(dir.list('NoSuchFolder'), (e) => assertKind(e, 'config', 'NoSuchFolder'));
    });

    it('upload() then download() round-trips exact bytes (5 MB, empty, $ in the name)', async () => {
      const { dir, localRoot, refusesEmptyUploads } = await fresh();
      const cases: Array<[string, Buffer]> = [
        ['big.bin.$1', randomBytes(5 * 1024 * 1024 + 123)],
        ...(refusesEmptyUploads ? [] : ([['empty.rep', Buffer.alloc(0)]] as Array<[string, Buffer]>)),
        ['POS1.rep.$12', Buffer.from('#\r\n1;2;3\r\n', 'latin1')],
      ];
      if (refusesEmptyUploads) {
        const src = await localFile('up-empty', Buffer.alloc(0));
        await assert.rejects(dir.upload(src, 'empty.rep'), (e) => assertKind(e, 'protocol', 'empty.rep'));
      }
      for (const [remoteName, data] of cases) {
        const src = await localFile(`up-${remoteName}`, data);
        await dir.upload(src, remoteName);
        assert.ok((await readFile(join(localRoot, remoteName))).equals(data), `${remoteName}: bytes on the remote side`);
        const progress: number[] = [];
        const dst = join(scratch, `down-${remoteName}`);
        const n = await dir.download(remoteName, dst, (b) => progress.push(b));
        assert.equal(n, data.length, `${remoteName}: returned byte count`);
        assert.ok((await readFile(dst)).equals(data), `${remoteName}: downloaded bytes`);
        assert.equal(progress.at(-1), data.length, `${remoteName}: last progress report`);
        assert.ok(progress.every((b) => b <= data.length), `${remoteName}: progress never exceeds the size`);
      }
    });

    it('upload() replaces our own existing file, download() replaces the local file', async () => {
      const { dir, localRoot } = await fresh();
      await writeFile(join(localRoot, 'tmp.part'), 'old content that is longer');
      await dir.upload(await localFile('new.txt', Buffer.from('new')), 'tmp.part');
      assert.equal(await readFile(join(localRoot, 'tmp.part'), 'utf8'), 'new');
      const dst = join(scratch, 'replace-me');
      await writeFile(dst, 'something much longer than three bytes');
      assert.equal(await dir.download('tmp.part', dst), 3);
      assert.equal(await readFile(dst, 'utf8'), 'new');
    });

    it('size() tells the size, or undefined for a missing file', async () => {
      const { dir, localRoot } = await fresh();
      await writeFile(join(localRoot, 'POS1.rep.$3'), 'x'.repeat(1234));
      await writeFile(join(localRoot, 'zero'), '');
      assert.equal(await dir.size('POS1.rep.$3'), 1234);
      assert.equal(await dir.size('zero'), 0);
      assert.equal(await dir.size('POS1.rep.$4'), undefined);
    });

    it('renameNoReplace() to a free name moves the file', async () => {
      const { dir, localRoot } = await fresh();
      await writeFile(join(localRoot, 'POS1.rep.tmp'), 'payload');
      assert.equal(await dir.renameNoReplace('POS1.rep.tmp', 'POS1.rep.$1'), 'renamed');
      assert.deepEqual((await readdir(localRoot)).sort(), ['POS1.rep.$1']);
      assert.equal(await readFile(join(localRoot, 'POS1.rep.$1'), 'utf8'), 'payload');
    });

    it("renameNoReplace() to a taken name resolves 'exists' and changes neither file", async () => {
      const { dir, localRoot } = await fresh();
      await writeFile(join(localRoot, 'mine.tmp'), 'mine');
      await writeFile(join(localRoot, 'POS1.spr.$2'), 'theirs, not yet taken');
      assert.equal(await dir.renameNoReplace('mine.tmp', 'POS1.spr.$2'), 'exists');
      assert.equal(await readFile(join(localRoot, 'mine.tmp'), 'utf8'), 'mine');
      assert.equal(await readFile(join(localRoot, 'POS1.spr.$2'), 'utf8'), 'theirs, not yet taken');
    });

    it('remove() deletes, and is idempotent', async () => {
      const { dir, localRoot } = await fresh();
      await writeFile(join(localRoot, 'POS1.spr.$1'), 'x');
      await dir.remove('POS1.spr.$1');
      assert.deepEqual(await readdir(localRoot), []);
      await dir.remove('POS1.spr.$1');
      await dir.remove('never-was-there');
    });

    it('works in subfolders (Files/POS1.rep)', async () => {
      const { dir, localRoot } = await fresh();
      await mkdir(join(localRoot, 'Files'));
      const data = Buffer.from('report\r\n');
      await dir.upload(await localFile('sub.rep', data), 'Files/POS1.rep.tmp');
      assert.equal(await dir.size('Files/POS1.rep.tmp'), data.length);
      assert.equal(await dir.renameNoReplace('Files/POS1.rep.tmp', 'Files/POS1.rep'), 'renamed');
      assert.deepEqual(
        (await dir.list('Files')).map((e) => e.name),
        ['POS1.rep'],
      );
      const dst = join(scratch, 'sub-down');
      assert.equal(await dir.download('Files/POS1.rep', dst), data.length);
      assert.ok((await readFile(dst)).equals(data));
      await dir.remove('Files/POS1.rep');
      assert.deepEqual(await readdir(join(localRoot, 'Files')), []);
    });

    it('upload() into a missing folder is a config error naming the folder', async () => {
      const { dir } = await fresh();
      const src = await localFile('orphan.txt', Buffer.from('x'));
      await assert.rejects(dir.upload(src, 'Missing/POS1.rep.tmp'), (e) => assertKind(e, 'config', 'Missing'));
    });
  });
}
