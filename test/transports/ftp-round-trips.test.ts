/**
 * The FTP commands a backlog drain costs, counted in ProFTPD's own command log
 * (ExtendedLog): per package one upload to the temporary name (EPSV, STOR) with
 * its size check (SIZE), the look that the final name is free (SIZE) and the
 * rename (RNFR, RNTO), whether the upload ran ahead and the package was noted
 * ahead or not; the folder listed only when the session starts; no TYPE, CWD
 * or listing repeated per package. The figure does not depend on load or
 * timing: a regression (a re-list, a second look at a temporary file) shows
 * here as a count.
 */
import assert from 'node:assert/strict';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { FtpRemoteDir } from '../../src/transports/ftp/ftp-remote-dir.js';
import { SequencedFilesTransport } from '../../src/transports/sequenced.js';
import { drainQueue, queuePackages } from '../../bench/lib/queue.js';
import { ftpOptions } from '../helpers/ftp-config.js';
import { startProftpd, type ProftpdServer } from '../helpers/proftpd.js';
import { makeTempDir, removeDir } from '../helpers/temp-dir.js';
import { openTempStore } from '../helpers/temp-store.js';

const PACKAGES = 24;

let server: ProftpdServer;
let logDir: string;
let commandLog: string;
before(async () => {
  logDir = await makeTempDir('kassir-ftp-commands');
  commandLog = join(logDir, 'commands.log');
  server = await startProftpd({ extraConfig: ['LogFormat commands "%r"', `ExtendedLog ${commandLog} ALL commands`] });
});
after(async () => {
  await server?.stop();
  await removeDir(logDir);
});

/** The command lines ProFTPD logged, once it has logged `until` of them that match. */
async function logged(until: RegExp, count: number): Promise<string[]> {
  for (;;) {
    const lines = (await readFile(commandLog, 'utf8').catch(() => '')).split('\n').filter(Boolean);
    if (lines.filter((l) => until.test(l)).length >= count) return lines;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('FTP round trips of a backlog drain (ProFTPD command log)', () => {
  it(`${PACKAGES} packages: EPSV, STOR, SIZE of the temporary name, SIZE of the final name, RNFR, RNTO each, nothing else per package`, async (t) => {
    const { store } = await openTempStore(t, 'ftp-round-trips');
    await queuePackages(store, PACKAGES);
    const numbers = store.queued().map((m) => m.number);
    await mkdir(join(server.root, 'Files'));
    const transport = new SequencedFilesTransport('ftp', new FtpRemoteDir(ftpOptions(server)), { referenceName: 'Files/POS1.spr', reportName: 'Files/POS1.rep', sequenced: true });
    await drainQueue(store, transport, PACKAGES);

    const lines = await logged(/^RNTO /, PACKAGES);
    const count = (re: RegExp) => lines.filter((l) => re.test(l)).length;
    const temp = (n: number) => `Files/POS1.rep.kassir-agent-${n}.tmp`;
    for (const [i, n] of numbers.entries()) {
      const final = `Files/POS1.rep.$${i + 1}`;
      assert.equal(count(new RegExp(`^STOR ${literal(temp(n))}$`)), 1, `package ${n} uploaded once`);
      assert.equal(count(new RegExp(`^SIZE ${literal(temp(n))}$`)), 1, `package ${n}: its temporary file's size checked once, after the upload`);
      assert.equal(count(new RegExp(`^SIZE ${literal(final)}$`)), 1, `package ${n}: ${final} looked at once before the rename`);
      assert.equal(count(new RegExp(`^RNFR ${literal(temp(n))}$`)), 1);
      assert.equal(count(new RegExp(`^RNTO ${literal(final)}$`)), 1);
    }
    const listings = count(/^(MLSD|LIST|NLST)\b/);
    assert.equal(count(/^EPSV|^PASV/), PACKAGES + listings, 'one data connection per upload and per listing');
    assert.ok(listings <= 2, `the folder listed when the session starts only (stale temporary files, the first number): ${listings} listings`);
    assert.equal(count(/^SIZE /), 2 * PACKAGES);
    assert.equal(count(/^CWD |^CDUP/), 0, 'no change of folder');
    // The rest is the sessions' log-ins (the main one and two for the uploads ahead): USER, PASS, FEAT, TYPE,
    // STRU, PWD, QUIT and OPTS (UTF8 twice, MLST), each OPTS logged twice by ProFTPD (`OPTS_UTF8 ON`, `OPTS UTF8 ON`).
    const perPackage = 6 * PACKAGES + listings;
    const sessions = count(/^USER /);
    assert.ok(sessions <= 3, `${sessions} sessions`);
    assert.ok(count(/^TYPE /) <= sessions, 'TYPE once per session');
    assert.ok(lines.length - perPackage <= 14 * sessions, `${lines.length - perPackage} commands beside the packages' own:\n${lines.filter((l) => !/^(EPSV|STOR|SIZE|RNFR|RNTO|MLSD)\b/.test(l)).join('\n')}`);
  });
});

/** `s` as a regular expression matching it literally. */
function literal(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
