/**
 * Cyrillic file names in Windows-1251 against a real ProFTPD (mod_lang).
 * Two servers: one converting (`UseEncoding UTF-8 CP1251`: the client speaks
 * cp1251, the disk holds UTF-8), one byte-transparent (`UseEncoding off`: the
 * disk holds exactly the bytes the client sent). Either way, a client that
 * sent UTF-8 instead of cp1251 would leave different names on the disk.
 */
import assert from 'node:assert/strict';
import { mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import iconv from 'iconv-lite';
import { FtpRemoteDir } from '../../src/transports/ftp/ftp-remote-dir.js';
import { startProftpd, type ProftpdServer } from '../helpers/proftpd.js';
import { makeTempDir, removeDir } from '../helpers/temp-dir.js';
import { ftpOptions } from '../helpers/ftp-config.js';

const FOLDER = 'Файлы';
const PART1 = 'КАССА1.spr.$1';
const PART2 = 'КАССА1.spr.$2';
const cp1251 = (s: string) => iconv.encode(s, 'win1251');

function client(server: ProftpdServer): FtpRemoteDir {
  return new FtpRemoteDir(ftpOptions(server, { encoding: 'cp1251' }));
}

let scratch: string;
before(async () => {
  scratch = await makeTempDir('kassir-ftp-enc');
});
after(() => removeDir(scratch));

/** Upload, list, rename, size, download, remove a Cyrillic name; `diskName` says how the server stores a name. */
function scenario(mode: 'cp1251' | 'cp1251-raw', diskName: (s: string) => Buffer): void {
  describe(`cp1251 names, ProFTPD ${mode === 'cp1251' ? 'UseEncoding UTF-8 CP1251' : 'UseEncoding off'}`, () => {
    let server: ProftpdServer | undefined;
    let dir: FtpRemoteDir | undefined;
    before(async () => {
      server = await startProftpd({ encoding: mode });
      // The back office made the folder on its disk, in its own encoding.
      await mkdir(Buffer.concat([Buffer.from(server.root + '/'), diskName(FOLDER)]));
      dir = client(server);
      await dir.open();
    });
    after(async () => {
      await dir?.close();
      await server?.stop();
    });

    it('uploads, lists, renames, downloads and removes Файлы/КАССА1.spr.$n', async () => {
      assert.ok(server && dir);
      const data = Buffer.from('##@@&&\r\n#\r\n1;Товар;10.00\r\n', 'utf8');
      const src = join(scratch, `${mode}.src`);
      await writeFile(src, data);

      await dir.upload(src, `${FOLDER}/${PART1}`);
      assert.deepEqual(
        (await dir.list(FOLDER)).map((e) => [e.name, e.size]),
        [[PART1, data.length]],
      );
      assert.equal(await dir.renameNoReplace(`${FOLDER}/${PART1}`, `${FOLDER}/${PART2}`), 'renamed');
      assert.equal(await dir.size(`${FOLDER}/${PART2}`), data.length);
      assert.equal(await dir.size(`${FOLDER}/${PART1}`), undefined);

      // The server's disk: the folder and the file under the expected byte sequences.
      const folderOnDisk = Buffer.concat([Buffer.from(server.root + '/'), diskName(FOLDER)]);
      const names = await readdir(folderOnDisk, { encoding: 'buffer' });
      assert.equal(names.length, 1);
      assert.deepEqual([...names[0]!], [...diskName(PART2)], `name bytes on disk: ${names[0]!.toString('hex')}`);
      assert.ok((await readFile(Buffer.concat([folderOnDisk, Buffer.from('/'), names[0]!]))).equals(data));

      const dst = join(scratch, `${mode}.dst`);
      assert.equal(await dir.download(`${FOLDER}/${PART2}`, dst), data.length);
      assert.ok((await readFile(dst)).equals(data));

      // A name the back office wrote itself shows up decoded.
      await writeFile(Buffer.concat([folderOnDisk, Buffer.from('/'), diskName('Отчёт.rep')]), 'x');
      assert.deepEqual((await dir.list(FOLDER)).map((e) => e.name).sort(), [PART2, 'Отчёт.rep'].sort());

      await dir.remove(`${FOLDER}/${PART2}`);
      await dir.remove(`${FOLDER}/Отчёт.rep`);
      assert.deepEqual(await readdir(folderOnDisk), []);
    });
  });
}

scenario('cp1251', (s) => Buffer.from(s, 'utf8'));
scenario('cp1251-raw', cp1251);
