/**
 * The reliability harness: runs the compiled agent against one transport's
 * back office many times while Kassir sells and the back office publishes,
 * and beats it up on every run according to a plan:
 *
 * - `points`: crash (SIGKILL) at each named fail point in turn (FAILPOINTS),
 *   at its 1st, 2nd or 3rd hit;
 * - `random`: crash anywhere with a probability per fail point, or SIGKILL
 *   from outside at a random moment of a running daemon;
 * - `faults`: network faults through the TCP proxy (reset, black hole, slow
 *   link, server restarted mid-run, reply lost after processing, connection
 *   cut mid-upload), or the share vanishing for the folder transport, or 1C's
 *   own traps for the EquipmentService (a SOAP Fault, a transfer left
 *   unformed, a post refused with IsSuccess=false).
 *
 * Then it lets the agent finish undisturbed and returns the figures: kills by
 * point, faults by kind, transactions written/sent/lost/duplicated/out of
 * order, reference parts, files seen incomplete under a final name, secrets
 * found in any output. The tests assert the invariants; the soak script adds
 * the figures up into RELIABILITY.md.
 *
 * For the EquipmentService, whose 1C takes sales per closed shift and keeps
 * no transaction numbers, Kassir writes whole shifts with Z reports (closing
 * the last one before the finish) and the check is per shift
 * (shift-check.ts): each closed shift in 1C once, with its counts and sums.
 */
import * as fs from 'node:fs/promises';
import { join } from 'node:path';
import { FAILPOINTS } from '../../src/util/failpoints.js';
import { makeWorkspace, randInt, receiptsOf, transactionNumbers, type Workspace } from '../helpers/kassir.js';
import { agentCli } from './agent-build.js';
import { runAgent, type AgentRun } from './agent-run.js';
import { folderBackend, ftpBackend, incompletePackage, kkmBackend, type Backend, type EsFault, type FinalNameWatch, type TransportKind } from './backends.js';
import { KassirSim, compareSequences } from '../helpers/kassir-sim.js';
import { esBackend, esReferenceParts } from './es-backend.js';
import { compareShifts, emptyShiftFigures, type ShiftFigures } from './shift-check.js';

export type Plan = 'points' | 'random' | 'faults';

export type FaultKind = 'reset' | 'blackhole' | 'slow' | 'restart' | 'lost-reply' | 'cut-mid-upload' | 'share-gone' | EsFault;

export const FAULTS_BY_TRANSPORT: Record<TransportKind, FaultKind[]> = {
  folder: ['share-gone'],
  ftp: ['reset', 'blackhole', 'slow', 'restart', 'lost-reply', 'cut-mid-upload'],
  kkmtransfer: ['reset', 'blackhole', 'slow', 'restart', 'lost-reply'],
  // No `restart`: the emulator keeps 1C's queue and shifts in memory, and a 1C that forgets them is not a fault to survive.
  'equipment-service': ['reset', 'blackhole', 'slow', 'lost-reply', 'soap-fault', 'unformed', 'refused'],
};

export interface ScenarioOptions {
  transport: TransportKind;
  plan: Plan;
  /** Agent runs with an attack (kills or faults). */
  rounds: number;
  /** Largest package, in transactions (small: many packages, many pushes to crash in). */
  maxTransactions?: number;
  /** Progress lines (one per 25 rounds). */
  progress?: (line: string) => void;
}

export interface Figures {
  transport: TransportKind;
  plan: Plan;
  rounds: number;
  /** Agent processes started (attacks plus the undisturbed finish). */
  runs: number;
  /** Kills by fail point (plan `points` and the random fail points of plan `random`). */
  killsByPoint: Record<string, number>;
  /** Fail points asked for (plan `points`) that were never hit: not placed in the code yet, or not reached. */
  pointsNeverHit: string[];
  /** Random crashes: inside the agent at a random fail point, and SIGKILL from outside at a random moment. */
  randomKills: { failpoint: number; external: number };
  faults: Partial<Record<FaultKind, number>>;
  transactions: { written: number; sent: number; lost: number; duplicated: number; outOfOrder: number };
  packages: { count: number; numberGaps: number; splitReceipts: number };
  referenceParts: { published: number; applied: number; lost: number; duplicated: number; outOfOrder: number };
  /** EquipmentService: the closed shifts Kassir wrote against the SaleReports 1C holds (zeros for the others). */
  shifts: ShiftFigures;
  /** Files seen under a final name that were not complete (share/server/emulator packages, the till's reference file). */
  tempUnderFinal: number;
  tempUnderFinalSamples: string[];
  /** Files left on the remote side that are not final report packages (temporary files, parts never fetched). */
  leftovers: string[];
  /** Agent runs that hit the hang guard. */
  hangs: number;
  /** Exits other than 0 (done), 3 (something still queued) or our SIGKILL, with the start of their stderr. */
  unexpectedExits: string[];
  /** Occurrences of the passwords in any stdout, stderr or log file. */
  secretsInLogs: number;
  /** Items the agent quarantined (none expected: kills and network faults damage nothing). */
  quarantined: number;
  finished: boolean;
  durationMs: number;
}

export async function makeBackend(kind: TransportKind, ws?: Workspace): Promise<Backend & FinalNameWatch> {
  if (kind === 'folder') {
    if (!ws) throw new Error('the folder backend needs the workspace (its share folder)');
    return folderBackend(ws.share);
  }
  return kind === 'ftp' ? ftpBackend() : kind === 'kkmtransfer' ? kkmBackend() : esBackend();
}

/** A workspace whose transport is `backend` (started first, except folder, whose share is in the workspace). */
export async function makeRig(kind: TransportKind, config: Record<string, unknown> = {}): Promise<{ ws: Workspace; backend: Backend & FinalNameWatch; cleanup(): Promise<void> }> {
  let backend: (Backend & FinalNameWatch) | undefined;
  if (kind !== 'folder') backend = await makeBackend(kind);
  const ws = await makeWorkspace({ log: { level: 'debug', dir: 'log', console: true }, ...config }, backend?.transportConfig);
  backend ??= await makeBackend(kind, ws);
  const b = backend;
  return {
    ws,
    backend: b,
    cleanup: async () => {
      await b.stop();
      // RELIABILITY_KEEP=1 keeps the workspace (data folder, logs, share) for a post-mortem.
      if (process.env.RELIABILITY_KEEP === '1') process.stderr.write(`# workspace kept: ${ws.root}\n`);
      else await ws.cleanup();
    },
  };
}

export async function runScenario(o: ScenarioOptions): Promise<Figures> {
  const started = Date.now();
  const cli = await agentCli();
  const { ws, backend, cleanup } = await makeRig(o.transport, { batch: { maxTransactions: o.maxTransactions ?? 7, flushMs: 0 } });
  try {
    const es = o.transport === 'equipment-service';
    // 1C takes sales per closed shift: Kassir writes shifts with Z reports; reference parts are goods in 1C's price list.
    const kassir = new KassirSim(ws.till, es ? { shifts: true, readReference: esReferenceParts } : {});
    const fig = emptyFigures(o);
    const outputs: string[] = [];
    const violations: string[] = [];
    const record = (r: AgentRun) => {
      fig.runs++;
      outputs.push(r.stdout, r.stderr);
      if (r.hung) fig.hangs++;
      else if (r.signal !== 'SIGKILL' && r.code !== 0 && r.code !== 3) fig.unexpectedExits.push(`exit ${r.code ?? r.signal}: ${r.stderr.slice(0, 300)}`);
    };
    const watch = async <T>(work: Promise<T>): Promise<T> => {
      // Look at the final names while the agent works: a half-written file there is visible only for a moment.
      let done = false;
      const poll = (async () => {
        while (!done) {
          violations.push(...(await backend.check()));
          await new Promise((r) => setTimeout(r, 15));
        }
      })();
      try {
        return await work;
      } finally {
        done = true;
        await poll;
      }
    };

    if (es) {
      // A new till's first synchronisation, undisturbed: sales reach 1C only under the codes its price list gave, so
      // without it the attacks would hit a download that cannot finish and uploads that wait for it. (The first
      // full export under SIGKILL is test/e2e/es-download-crash.test.ts.)
      record(await watch(runAgent({ cli, configFile: ws.configFile, mode: 'once' })));
      await kassir.load();
    }
    for (let round = 0; round < o.rounds; round++) {
      await kassir.sell();
      if (round % 3 === 0) {
        const p = kassir.nextPart();
        await backend.publishPart(p.n, p.text);
      }
      await kassir.load();
      const r = await watch(attack(o, round, cli, ws, backend, fig));
      record(r);
      if (o.progress && (round + 1) % 25 === 0) o.progress(`${o.transport}/${o.plan}: ${round + 1}/${o.rounds} rounds`);
    }

    // The finish, undisturbed: Kassir takes reference files as they come; run --once until nothing is pending.
    backend.proxy?.setMode('pass');
    backend.emulator?.().clearFaults();
    backend.clearFaults?.();
    // Kassir closes the shift it is in, so that every transaction written is in a shift 1C must hold.
    await kassir.closeShift();
    const loads = () => kassir.applied.length + kassir.fullLoads;
    for (let i = 0; i < 40 && !fig.finished; i++) {
      await kassir.load();
      const before = loads();
      const r = await watch(runAgent({ cli, configFile: ws.configFile, mode: 'once' }));
      record(r);
      // An EquipmentService pull takes one price-list transfer (1C registers later changes for the next): done when a run brought Kassir nothing new.
      if (es) await kassir.load();
      fig.finished = r.code === 0 && (!es || loads() === before);
    }
    await kassir.load();

    const pkgs = await backend.delivered();
    const sent = pkgs.flatMap((p) => transactionNumbers(p.data));
    fig.transactions = { written: kassir.written.length, sent: sent.length, ...compareSequences(kassir.written, sent) };
    fig.packages.count = pkgs.length;
    fig.packages.numberGaps = pkgs.filter((p, i) => p.n !== i + 1).length;
    const owner = new Map<string, number>();
    for (const p of pkgs) {
      const why = incompletePackage(p.data);
      if (why) violations.push(`package ${p.n}: ${why}: ${JSON.stringify(p.data.slice(0, 120))}`);
      for (const rc of receiptsOf(p.data)) {
        if (owner.has(rc)) fig.packages.splitReceipts++;
        owner.set(rc, p.n);
      }
    }
    const published = Array.from({ length: kassir.published }, (_, i) => i + 1);
    fig.referenceParts = { published: kassir.published, applied: kassir.applied.length, ...compareSequences(published, kassir.applied) };
    fig.referenceParts.lost += kassir.lostInFullLoads.length;
    const oneC = backend.saleReports?.();
    if (oneC) {
      // No transaction numbers reach 1C: the shift figures below are the comparison.
      fig.transactions = { written: kassir.written.length, sent: 0, lost: 0, duplicated: 0, outOfOrder: 0 };
      fig.shifts = compareShifts(kassir.expectedShifts(), oneC.shifts, oneC.posted);
      fig.packages.count = fig.shifts.posts;
    }
    const torn = [...new Set([...violations, ...kassir.tornReferenceFiles])];
    fig.tempUnderFinal = torn.length;
    fig.tempUnderFinalSamples = torn.slice(0, 5);
    fig.leftovers = await backend.leftovers();
    fig.secretsInLogs = await countSecrets(backend.secrets, outputs, ws.logs);
    fig.quarantined = (await fs.readdir(join(ws.data, 'quarantine')).catch(() => [])).filter((n) => !n.endsWith('.why.txt')).length;
    fig.lostReplies = backend.lostReplies();
    if (fig.lostReplies > 0) fig.faults['lost-reply'] = fig.lostReplies;
    delete fig.lostReplies;
    for (const [k, n] of Object.entries(backend.faultsFired?.() ?? {})) if (n) fig.faults[k as EsFault] = n;
    if (o.plan === 'points') fig.pointsNeverHit = FAILPOINTS.filter((p) => !fig.killsByPoint[p]);
    fig.durationMs = Date.now() - started;
    return fig;
  } finally {
    await cleanup();
  }
}

/** The EquipmentService's own fail points first, so that a short run also kills there. */
const ES_POINTS_FIRST = [...FAILPOINTS.filter((p) => p.startsWith('es.')), ...FAILPOINTS.filter((p) => !p.startsWith('es.'))];

/** One agent run under this round's attack. */
async function attack(o: ScenarioOptions, round: number, cli: string, ws: Workspace, backend: Backend, fig: Figures & { lostReplies?: number }): Promise<AgentRun> {
  const base = { cli, configFile: ws.configFile };
  if (o.plan === 'points') {
    const points = o.transport === 'equipment-service' ? ES_POINTS_FIRST : FAILPOINTS;
    const point = points[round % points.length]!;
    const nth = 1 + (Math.floor(round / FAILPOINTS.length) % 3);
    const r = await runAgent({ ...base, mode: 'once', failpoints: `${point}:${nth}` });
    for (const p of r.fired) fig.killsByPoint[p] = (fig.killsByPoint[p] ?? 0) + 1;
    return r;
  }
  if (o.plan === 'random') {
    if (round % 2 === 0) {
      const r = await runAgent({ ...base, mode: 'once', failpoints: '*:random:0.04' });
      for (const p of r.fired) fig.killsByPoint[p] = (fig.killsByPoint[p] ?? 0) + 1;
      fig.randomKills.failpoint += r.fired.length;
      return r;
    }
    const r = await runAgent({ ...base, mode: 'daemon', killAfterOpenedMs: randInt(0, 600) });
    if (r.signal === 'SIGKILL' && !r.hung) fig.randomKills.external++;
    return r;
  }
  const kinds = FAULTS_BY_TRANSPORT[o.transport];
  const kind = kinds[round % kinds.length]!;
  const count = () => (fig.faults[kind] = (fig.faults[kind] ?? 0) + 1);
  const proxy = backend.proxy;
  switch (kind) {
    case 'share-gone': {
      // The network share drops away for a moment mid-run (an unmounted share looks like a missing folder).
      const share = ws.share;
      const away = `${share}.away`;
      let back: Promise<void> = Promise.resolve();
      const r = await runAgent({
        ...base,
        mode: 'once',
        onOpened: () => {
          back = (async () => {
            await new Promise((res) => setTimeout(res, randInt(0, 150)));
            await fs.rename(share, away);
            count();
            await new Promise((res) => setTimeout(res, randInt(50, 400)));
            await fs.rename(away, share);
          })();
        },
      });
      await back;
      return r;
    }
    case 'reset':
    case 'blackhole': {
      let healed: Promise<void> = Promise.resolve();
      const r = await runAgent({
        ...base,
        mode: 'once',
        onOpened: () => {
          healed = (async () => {
            await new Promise((res) => setTimeout(res, randInt(0, 200)));
            proxy!.setMode(kind);
            count();
            await new Promise((res) => setTimeout(res, randInt(100, 500)));
          })();
        },
      });
      await healed;
      proxy!.setMode('pass');
      return r;
    }
    case 'slow': {
      proxy!.setMode('slow', { delayMs: randInt(5, 40) });
      count();
      const r = await runAgent({ ...base, mode: 'once' });
      proxy!.setMode('pass');
      return r;
    }
    case 'restart': {
      let restarted: Promise<void> = Promise.resolve();
      const r = await runAgent({
        ...base,
        mode: 'once',
        onOpened: () => {
          restarted = (async () => {
            await new Promise((res) => setTimeout(res, randInt(0, 300)));
            await backend.restartServer!();
            count();
          })();
        },
      });
      await restarted;
      return r;
    }
    case 'lost-reply':
      // Counted when it fires (backend.lostReplies), not when armed.
      backend.loseNextReply!();
      return runAgent({ ...base, mode: 'once' });
    case 'soap-fault':
    case 'unformed':
    case 'refused':
      // 1C's own traps, counted when they went off (backend.faultsFired), not when armed.
      backend.arm!(kind);
      return runAgent({ ...base, mode: 'once' });
    case 'cut-mid-upload':
      // The control connection dies after the server's 150 to STOR: the data is flowing.
      void proxy!.onClientCommand(/^STOR /, 'reset-after-reply').then(count);
      return runAgent({ ...base, mode: 'once' });
  }
}

function emptyFigures(o: ScenarioOptions): Figures & { lostReplies?: number } {
  return {
    transport: o.transport,
    plan: o.plan,
    rounds: o.rounds,
    runs: 0,
    killsByPoint: {},
    pointsNeverHit: [],
    randomKills: { failpoint: 0, external: 0 },
    faults: {},
    transactions: { written: 0, sent: 0, lost: 0, duplicated: 0, outOfOrder: 0 },
    packages: { count: 0, numberGaps: 0, splitReceipts: 0 },
    referenceParts: { published: 0, applied: 0, lost: 0, duplicated: 0, outOfOrder: 0 },
    shifts: emptyShiftFigures(),
    tempUnderFinal: 0,
    tempUnderFinalSamples: [],
    leftovers: [],
    hangs: 0,
    unexpectedExits: [],
    secretsInLogs: 0,
    quarantined: 0,
    finished: false,
    durationMs: 0,
  };
}

/** Occurrences of any secret in the given outputs and every file under the log folder. */
export async function countSecrets(secrets: string[], outputs: string[], logDir: string): Promise<number> {
  const texts = [...outputs];
  for (const name of await fs.readdir(logDir).catch(() => [] as string[])) {
    texts.push(await fs.readFile(join(logDir, name), 'utf8').catch(() => ''));
  }
  let n = 0;
  for (const s of secrets.filter((x) => x.length > 0)) for (const t of texts) n += t.split(s).length - 1;
  return n;
}
