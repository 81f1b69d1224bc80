/**
 * Footprint of an idle agent (issue: a till is a weak machine): the compiled
 * agent runs on the default kind of config (folder transport, watcher, rescan
 * and pull schedule all active) with nothing to do; RSS and CPU are read from
 * /proc for IDLE_S seconds. Baseline in the same run: a bare `node` process
 * with one idle timer. Targets: under 60 MB RSS and under 1% of one core.
 */
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';

const ROOT = new URL('..', import.meta.url).pathname;
const IDLE_S = Number(process.env.FOOTPRINT_SECONDS ?? 20);
const TICKS = 100; // USER_HZ on Linux

async function sample(pid: number): Promise<{ rssKb: number; cpuTicks: number }> {
  const status = await fs.readFile(`/proc/${pid}/status`, 'utf8');
  const stat = (await fs.readFile(`/proc/${pid}/stat`, 'utf8')).split(') ')[1]!.split(' ');
  return { rssKb: Number(/VmRSS:\s+(\d+)/.exec(status)![1]), cpuTicks: Number(stat[11]) + Number(stat[12]) };
}

async function measure(cmd: string, args: string[], warmupMs: number): Promise<{ rssMb: number; maxRssMb: number; cpuPercent: number }> {
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
    return { rssMb: last.rssKb / 1024, maxRssMb: max / 1024, cpuPercent: ((last.cpuTicks - a.cpuTicks) / TICKS / seconds) * 100 };
  } finally {
    child.kill('SIGTERM');
  }
}

export default async function footprint(): Promise<void> {
  spawnSync('npx', ['tsc', '-p', 'tsconfig.build.json'], { cwd: ROOT, stdio: 'inherit' });
  const dir = await fs.mkdtemp(join(tmpdir(), 'kassir-footprint-'));
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
    const baseline = await measure(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], 1000);
    const agent = await measure(process.execPath, [join(ROOT, 'bin/kassir-agent.js'), 'run', '--config', join(dir, 'agent.yaml')], 3000);
    const row = (name: string, m: typeof agent) => `| ${name} | ${m.rssMb.toFixed(1)} MB | ${m.maxRssMb.toFixed(1)} MB | ${m.cpuPercent.toFixed(2)} % |`;
    console.log(`idle for ${IDLE_S} s after start-up (folder transport: watcher, ${5} s rescan, 30 s pull cron)\n`);
    console.log('| process | RSS at end | peak RSS | CPU (one core) |');
    console.log('|---|---|---|---|');
    console.log(row('bare node (baseline)', baseline));
    console.log(row('kassir-agent idle', agent));
    console.log(`\nagent over baseline: +${(agent.rssMb - baseline.rssMb).toFixed(1)} MB RSS; targets: < 60 MB RSS, < 1 % CPU: ${agent.maxRssMb < 60 ? 'met' : 'NOT met'}, ${agent.cpuPercent < 1 ? 'met' : 'NOT met'}`);
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
}
