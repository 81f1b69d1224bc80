/**
 * Progress of a slow reference download over FTP, end to end against the real
 * ProFTPD: the agent runs as a daemon and holds between two reference parts
 * (hold point `pull.part.next`) while the test reads `status --json` from it.
 * The bytes come from basic-ftp's transfer tracking (ftp-remote-dir.ts).
 * The folder, KKMTransfer and EquipmentService cases: test/e2e/progress.test.ts.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import iconv from 'iconv-lite';
import { ftpTransportConfig } from '../helpers/ftp-config.js';
import { makeWorkspace, startAgent, stopDaemon } from '../helpers/kassir.js';
import { downloadShown, holdBetweenParts, inFlight, progressLogged } from '../helpers/progress.js';
import { startProftpd, type ProftpdServer } from '../helpers/proftpd.js';
import { waitFor } from '../helpers/wait.js';

describe('progress of a slow reference download over FTP (ProFTPD)', { timeout: 180_000 }, () => {
  let server: ProftpdServer;
  before(async () => {
    server = await startProftpd();
  });
  after(() => server?.stop());

  it('done of total in bytes rises part by part in status --json; the log has a progress line', async (t) => {
    const files = join(server.root, 'Files');
    await fs.mkdir(files, { recursive: true });
    const parts = [1, 2, 3].map((n) => iconv.encode(`##@@&&\r\n#\r\n${Array.from({ length: 200 * n }, (_, i) => `${n * 1000 + i};;Товар ${i};;1;`).join('\r\n')}\r\n`, 'cp1251'));
    for (const [i, p] of parts.entries()) await fs.writeFile(join(files, `POS1.spr.$${i + 1}`), p);
    const total = parts.reduce((s, p) => s + p.length, 0);
    // One pull, at the start (no second download in flight when the test looks for none), a progress line every 100 ms.
    const ws = await makeWorkspace(
      { log: { level: 'debug', dir: 'log', console: true, progressIntervalMs: 100 }, schedule: { pull: '1h', retry: { initialMs: 50, maxMs: 400, jitter: 0.2 } } },
      // The session idles while the agent is held: no timeout of the agent's may end it meanwhile.
      ftpTransportConfig(server, { timeoutMs: 300_000 }),
    );
    t.after(() => ws.cleanup());
    const hold = await holdBetweenParts(ws);
    const agent = await startAgent(ws.configFile, hold.env);

    await hold.held(1);
    const first = await downloadShown(ws, (p) => p.done === parts[0]!.length, "part 1's bytes");
    assert.deepEqual({ unit: first.unit, total: first.total }, { unit: 'bytes', total });
    assert.ok(first.done < total);
    const line = await progressLogged(ws, parts[0]!.length);
    assert.deepEqual({ transport: line.transport, total: line.total }, { transport: 'ftp', total });

    await hold.go(1);
    await hold.held(2);
    const second = await downloadShown(ws, (p) => p.done === parts[0]!.length + parts[1]!.length, 'parts 1 and 2');
    assert.ok(second.done > first.done && second.done < total && second.total === total, JSON.stringify(second));
    await hold.go(2);
    await waitFor(() => fs.access(join(ws.till, 'POS1.spr')).then(() => true, () => false), 'POS1.spr delivered to the till', 60_000);
    assert.deepEqual((await inFlight(ws)).filter((p) => p.activity === 'reference-download'), [], 'nothing in flight once the download is over');
    assert.equal(await stopDaemon(agent, ws.configFile), 0);
    await fs.rm(files, { recursive: true, force: true });
  });
});
