/**
 * Runs the benches' baseline commands (`wc -l`, `cat`, `true`) on behalf of
 * the bench process, and times them here (see `command` in measure.ts).
 *
 * Why a process of its own: spawning from the bench process forks it, and
 * after a fork every page of the parent is write-protected until it is
 * written again (copy-on-write). A bench process holding a few hundred MB
 * (parsed units, pooled buffers) then pays one page fault per page it next
 * writes, and the entry timed right after a baseline paid them: on this VM
 * 8,200 faults and about 110 ms of system time for a 32 MB pooled read that
 * otherwise faults no page. The agent never spawns anything; a baseline run
 * from a shell forks a small process, as here.
 *
 * Protocol: one JSON request per stdin line, {cmd, args, stdoutPath}; one
 * JSON reply per stdout line, {ms} or {error}. Plain JavaScript, no tsx: this
 * process stays small, so its own forks stay cheap.
 */
import { spawnSync } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { createInterface } from 'node:readline';

for await (const line of createInterface({ input: process.stdin })) {
  const { cmd, args, stdoutPath } = JSON.parse(line);
  // Timed as a shell's `cmd > file` is: the truncating open, the run, the close.
  const t0 = performance.now();
  const fd = openSync(stdoutPath, 'w');
  let r;
  try {
    r = spawnSync(cmd, args, { stdio: ['ignore', fd, 'inherit'] });
  } finally {
    closeSync(fd);
  }
  const ms = performance.now() - t0;
  const reply = r.status === 0 ? { ms } : { error: `${cmd} exited with ${r.status}${r.error ? ` (${r.error.message})` : ''}` };
  process.stdout.write(`${JSON.stringify(reply)}\n`);
}
