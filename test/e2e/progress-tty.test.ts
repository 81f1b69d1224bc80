/**
 * `run --once`'s progress bar is drawn on a terminal only: the same run under
 * a pseudo-terminal (`script` from util-linux) draws it on stderr with escape
 * codes (stdout, a file, has none), through a pipe it leaves no trace, and
 * the log file never has one.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import iconv from 'iconv-lite';
import { CLI, CLI_NODE_ARGS, makeWorkspace, ROOT, runCli, type Workspace } from '../helpers/kassir.js';

/** What the erase-line sequence of the bar and any other escape code look like. */
const ESC = '\x1b';

async function shareWithParts(ws: Workspace): Promise<void> {
  for (const n of [1, 2]) {
    const lines = Array.from({ length: 500 }, (_, i) => `${n * 1000 + i};;Товар ${i};;1;`);
    await fs.writeFile(join(ws.share, `POS1.spr.$${n}`), iconv.encode(`##@@&&\r\n#\r\n${lines.join('\r\n')}\r\n`, 'cp1251'));
  }
}

/**
 * `run --once` with stderr on a pseudo-terminal (`script -q -e -c CMD /dev/null`) and stdout into
 * `stdoutFile`; resolves with all the terminal showed.
 */
function runOnceOnTerminal(configFile: string, stdoutFile: string): Promise<{ code: number | null; output: string }> {
  const quote = (a: string) => `'${a.replace(/'/g, `'\\''`)}'`;
  const cmd = `${[process.execPath, ...CLI_NODE_ARGS, CLI, 'run', '--once', '--config', configFile].map(quote).join(' ')} >${quote(stdoutFile)}`;
  return new Promise((resolve, reject) => {
    const child = spawn('script', ['-q', '-e', '-c', cmd, '/dev/null'], { cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, output }));
  });
}

async function logText(ws: Workspace): Promise<string> {
  const names = await fs.readdir(ws.logs);
  return (await Promise.all(names.map((n) => fs.readFile(join(ws.logs, n), 'utf8')))).join('\n');
}

// Linux only (scripts/run-tests.mjs LINUX_ONLY): the pseudo-terminal comes from util-linux `script`.
describe('run --once progress bar', { timeout: 120_000 }, () => {
  it('is drawn on a terminal, with escape codes on stderr, and never on a pipe or in the log file', async (t) => {
    // Console logging off: the terminal then shows only what run --once draws and prints.
    const tty = await makeWorkspace({ log: { level: 'debug', dir: 'log', console: false } });
    t.after(() => tty.cleanup());
    await shareWithParts(tty);
    const stdoutFile = join(tty.root, 'stdout.txt');
    const onTerminal = await runOnceOnTerminal(tty.configFile, stdoutFile);
    assert.equal(onTerminal.code, 0, onTerminal.output);
    assert.match(onTerminal.output, /\r\x1b\[2KPOS 1 \[[#.]{20}\] reference download: \d+ (B|KB) of \d+ KB \(\d+%\)/, JSON.stringify(onTerminal.output));
    await fs.access(join(tty.till, 'POS1.spr'));
    assert.ok(!(await fs.readFile(stdoutFile, 'utf8')).includes(ESC), 'the bar is on stderr only: stdout (a file here) has no escape code');
    assert.ok(!(await logText(tty)).includes(ESC), 'no escape code in the log file');

    const piped = await makeWorkspace({ log: { level: 'debug', dir: 'log', console: true } });
    t.after(() => piped.cleanup());
    await shareWithParts(piped);
    const r = await runCli(['run', '--once', '--config', piped.configFile]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    await fs.access(join(piped.till, 'POS1.spr'));
    assert.ok(!r.stderr.includes(ESC) && !r.stdout.includes(ESC), `no escape code through a pipe: ${JSON.stringify(r.stderr)}`);
    assert.doesNotMatch(r.stderr, /reference download/);
    assert.ok(!(await logText(piped)).includes(ESC), 'no escape code in the log file');
  });
});
