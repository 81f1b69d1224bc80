/**
 * Footprint of an idle agent (issue: a till is a weak machine): the compiled
 * agent runs on the default kind of config (folder transport, watcher, rescan
 * and pull schedule all active) with nothing to do; RSS and CPU are read from
 * /proc for IDLE_S seconds, for `node bin/kassir-agent.js` and for the single
 * executable (built for this machine in the same run). Baseline in the same
 * run: a bare `node` process with one idle timer. RSS is split into the
 * process's own memory (RssAnon) and mapped file pages (RssFile: mostly the
 * executable's code and ICU data, shared and reclaimable; how many of them
 * count depends on the page cache, see uncache()). Targets: under 60 MB RSS
 * and under 1% of one core.
 */
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs/promises';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { makeTempDir, removeDir } from '../test/helpers/temp-dir.js';

const ROOT = new URL('..', import.meta.url).pathname;
const IDLE_S = Number(process.env.FOOTPRINT_SECONDS ?? 20);
const TICKS = 100; // USER_HZ on Linux

async function sample(pid: number): Promise<{ rssKb: number; anonKb: number; fileKb: number; cpuTicks: number }> {
  const status = await fs.readFile(`/proc/${pid}/status`, 'utf8');
  const stat = (await fs.readFile(`/proc/${pid}/stat`, 'utf8')).split(') ')[1]!.split(' ');
  const kb = (key: string) => Number(new RegExp(`${key}:\\s+(\\d+)`).exec(status)![1]);
  return { rssKb: kb('VmRSS'), anonKb: kb('RssAnon'), fileKb: kb('RssFile'), cpuTicks: Number(stat[11]) + Number(stat[12]) };
}

interface Footprint {
  rssMb: number;
  /** The process's own memory (heap, stacks, buffers). */
  anonMb: number;
  /** Pages of the executable and other files mapped in (shared with other processes running the same file, and reclaimable). */
  fileMb: number;
  maxRssMb: number;
  cpuPercent: number;
}

/**
 * Drops the executable's pages from the page cache (GNU dd's `iflag=nocache`:
 * posix_fadvise DONTNEED, no privileges needed; pages other processes have
 * mapped stay). Why: a page fault maps not just the page it needs but its
 * neighbours already in the cache (fault-around), so an executable just
 * written (a fresh build, all of it cached) shows up to 10 MB more RssFile
 * than the same executable started on a till after a boot. Best effort.
 */
function uncache(file: string): void {
  spawnSync('dd', [`if=${file}`, 'iflag=nocache', 'count=0', 'status=none'], { stdio: 'ignore' });
}

async function measure(cmd: string, args: string[], warmupMs: number): Promise<Footprint> {
  uncache(cmd);
  const child = spawn(cmd, args, { cwd: ROOT, stdio: 'ignore' });
  try {
    await new Promise((r) => setTimeout(r, warmupMs));
    const a = await sample(child.pid!);
    let max = a.rssKb;
    const t0 = Date.now();
    let last = a;
    while (Date.now() - t0 < IDLE_S * 1000) {
      await new Promise((r) => setTimeout(r, 1000));
      last = await sample(child.pid!);
      max = Math.max(max, last.rssKb);
    }
    const seconds = (Date.now() - t0) / 1000;
    return { rssMb: last.rssKb / 1024, anonMb: last.anonKb / 1024, fileMb: last.fileKb / 1024, maxRssMb: max / 1024, cpuPercent: ((last.cpuTicks - a.cpuTicks) / TICKS / seconds) * 100 };
  } finally {
    child.kill('SIGTERM');
  }
}

export default async function footprint(): Promise<void> {
  spawnSync('npx', ['tsc', '-p', 'tsconfig.build.json'], { cwd: ROOT, stdio: 'inherit' });
  const dir = await makeTempDir('kassir-footprint');
  try {
    await fs.mkdir(join(dir, 'till'));
    await fs.mkdir(join(dir, 'share'));
    await fs.writeFile(
      join(dir, 'agent.yaml'),
      stringify({
        pos: 1,
        dataDir: 'data',
        till: { dir: 'till', referenceFile: 'POS1.spr' },
        transport: { type: 'folder', dir: 'share', referenceName: 'POS1.spr', reportName: 'POS1.rep' },
        log: { dir: 'log', console: false },
      }),
    );
    // The single executable (what the service definitions run on a till without Node), built for this machine.
    const seaDir = join(dir, 'sea');
    const built = spawnSync(process.execPath, [join(ROOT, 'scripts/build-sea.mjs'), '--target', 'linux-x64', '--out', seaDir], { cwd: ROOT, stdio: 'ignore' });
    const args = ['run', '--config', join(dir, 'agent.yaml')];
    const baseline = await measure(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], 1000);
    const agent = await measure(process.execPath, [join(ROOT, 'bin/kassir-agent.js'), ...args], 3000);
    const sea = built.status === 0 ? await measure(join(seaDir, 'linux-x64/kassir-agent'), args, 3000) : undefined;
    const mb = (x: number) => `${x.toFixed(1)} MB`;
    const row = (name: string, m: Footprint) => `| ${name} | ${mb(m.rssMb)} | ${mb(m.anonMb)} | ${mb(m.fileMb)} | ${mb(m.maxRssMb)} | ${m.cpuPercent.toFixed(2)} % |`;
    console.log(`idle for ${IDLE_S} s after start-up (folder transport: watcher, ${5} s rescan, pull every 30 s)\n`);
    console.log('| process | RSS at end | of which own (RssAnon) | of which files (RssFile) | peak RSS | CPU (one core) |');
    console.log('|---|---|---|---|---|---|');
    console.log(row('bare node (baseline)', baseline));
    console.log(row('kassir-agent idle (node bin/kassir-agent.js)', agent));
    if (sea) console.log(row('kassir-agent idle (single executable)', sea));
    else console.log('| single executable | not built (npm run build:sea failed) | | | | |');
    const verdict = (m: Footprint) => `${m.rssMb < 60 ? 'met' : 'NOT met'} (${mb(m.rssMb)}), CPU ${m.cpuPercent < 1 ? 'met' : 'NOT met'}`;
    console.log(`\nagent over baseline: +${mb(agent.rssMb - baseline.rssMb)} RSS; target < 60 MB RSS and < 1 % CPU: node ${verdict(agent)}${sea ? `; single executable ${verdict(sea)}` : ''}`);
  } finally {
    await removeDir(dir);
  }
}
