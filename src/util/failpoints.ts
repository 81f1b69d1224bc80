/**
 * Named fail points for the reliability harness (test/reliability). They do
 * nothing unless the environment variable KASSIR_FAILPOINTS names them, so
 * production code pays one Set lookup.
 *
 *   KASSIR_FAILPOINTS="store.seal.after-rename"          crash (SIGKILL) the first time it is hit
 *   KASSIR_FAILPOINTS="push.after-upload:3"              crash the 3rd time
 *   KASSIR_FAILPOINTS="fsync:eio"                        throw EIO there instead of crashing
 *   KASSIR_FAILPOINTS="*:random:0.02"                    crash at any point with probability 0.02
 *
 * A crash is a SIGKILL of the agent's own process: no cleanup, no flush, like a
 * power cut as far as the process is concerned.
 */
import { access, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

interface Rule {
  action: 'kill' | 'eio' | 'enospc';
  /** Fire on the n-th hit (1 = first). */
  nth?: number;
  probability?: number;
}

const rules = new Map<string, Rule>();
const hits = new Map<string, number>();

function parse(spec: string | undefined): void {
  rules.clear();
  if (!spec) return;
  for (const item of spec.split(',').map((s) => s.trim()).filter(Boolean)) {
    const [name, a, b] = item.split(':');
    if (!name) continue;
    if (a === 'random') rules.set(name, { action: 'kill', probability: Number(b ?? 0.01) });
    else if (a === 'eio' || a === 'enospc') rules.set(name, { action: a, nth: b ? Number(b) : undefined });
    else rules.set(name, { action: 'kill', nth: a ? Number(a) : 1 });
  }
}
parse(process.env.KASSIR_FAILPOINTS);

/** Every fail point in the code, for the harness to iterate over. Keep in step with the calls. */
export const FAILPOINTS = [
  'fsync.file',
  'fsync.dir',
  'atomic.before-rename',
  'atomic.after-rename',
  'store.stage.after-move',
  'store.append.after-fsync',
  'store.seal.after-meta',
  'store.seal.after-rename',
  'store.recover.after-quarantine',
  'store.delivered.after-journal',
  'store.checkpoint.before-reset',
  'till.taken.after-rename',
  'till.deliver.before-rename',
  // Right after the point that leaves a delivery to undo: the harness arms it for the next start, whose recovery hits it.
  'till.recover.after-undo',
  'till.deliver.after-rename',
  'push.after-upload',
  'push.after-rename',
  'push.after-answer',
  'pull.after-stage',
  'pull.before-ack',
  'es.upload.after-post',
  'es.upload.after-notes',
  'till.scan.list',
] as const;
export type FailpointName = (typeof FAILPOINTS)[number];

/** Marks a step that matters. Crashes or fails here when the harness says so. */
export function failpoint(name: FailpointName): void {
  if (rules.size === 0) return;
  const rule = rules.get(name) ?? rules.get('*');
  if (!rule) return;
  const n = (hits.get(name) ?? 0) + 1;
  hits.set(name, n);
  if (rule.probability !== undefined ? Math.random() >= rule.probability : rule.nth !== undefined && n !== rule.nth) return;
  if (rule.action === 'kill') {
    process.stderr.write(`failpoint ${name}: SIGKILL\n`);
    process.kill(process.pid, 'SIGKILL');
  }
  const code = rule.action === 'eio' ? 'EIO' : 'ENOSPC';
  throw Object.assign(new Error(`${code}: injected at failpoint ${name}`), { code });
}

/** For tests in the same process. */
export function setFailpoints(spec: string | undefined): void {
  parse(spec);
  hits.clear();
}

/**
 * Hold points: where a test holds the agent mid-work, to look at it (its
 * `status` while a download is under way) without racing it. They do nothing
 * unless KASSIR_HOLDPOINTS names them and KASSIR_HOLD_DIR is set; then the
 * n-th hit of `name` writes `<dir>/<name>.<n>.held` and waits until the test
 * creates `<dir>/<name>.<n>.go`.
 */
export const HOLDPOINTS = ['pull.part.next'] as const;
export type HoldpointName = (typeof HOLDPOINTS)[number];

const holds = new Set((process.env.KASSIR_HOLDPOINTS ?? '').split(',').map((s) => s.trim()).filter(Boolean));
const holdHits = new Map<string, number>();

export async function holdpoint(name: HoldpointName): Promise<void> {
  const dir = process.env.KASSIR_HOLD_DIR;
  if (holds.size === 0 || !holds.has(name) || !dir) return;
  const n = (holdHits.get(name) ?? 0) + 1;
  holdHits.set(name, n);
  await writeFile(join(dir, `${name}.${n}.held`), '');
  for (;;) {
    if (await access(join(dir, `${name}.${n}.go`)).then(() => true, () => false)) return;
    await new Promise((r) => setTimeout(r, 20));
  }
}
