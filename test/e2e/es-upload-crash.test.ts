/**
 * The upload of sales through the EquipmentService under SIGKILL: the agent
 * (a real process, `run --once` and the daemon) is killed at each step of an
 * upload in turn, at random fail points (src/util/failpoints.ts: its own
 * progress, never the clock), and right after it logged a posted shift. Every
 * closed shift must reach 1C (the emulator) once, with the figures of
 * `kassir-agent shifts --json`; a repeat post carries the same UUIDs and the
 * same bytes, so 1C replaces instead of duplicating; nothing is lost.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { EsEmulator } from '../../scripts/es-emulator/server.js';
import { ES_PASSWORD, esEmulatorFor } from '../helpers/es-emulator.js';
import { dropReport, runCli, type Workspace } from '../helpers/kassir.js';
import { runAndKill } from '../helpers/kill-at.js';
import { figuresOf, KIND_OF, ledgerFigures, uploadWorkspace, writerCatalog } from '../helpers/sale-reports.js';
import { ShiftWriter } from '../helpers/shift-writer.js';
import type { ShiftRecord } from '../../src/shifts/record.js';

// runAndKill starts the daemon with this process's environment.
process.env.ES_PASSWORD = ES_PASSWORD;

const once = (ws: Workspace, failpoints?: string) => runCli(['run', '--once', '--config', ws.configFile], { env: failpoints ? { KASSIR_FAILPOINTS: failpoints } : {} });

/** Clean runs until nothing is pending (at most 5): the exit code of the last. */
async function settle(ws: Workspace): Promise<number | null> {
  let code: number | null = null;
  for (let i = 0; i < 5 && code !== 0; i++) code = (await once(ws)).code;
  return code;
}

function killed(r: { signal: NodeJS.Signals | null; stderr: string }): boolean {
  return r.signal === 'SIGKILL' || (process.platform === 'win32' && /^failpoint \S+: SIGKILL$/m.test(r.stderr));
}

/** Three shifts of report files (each several packages), then a fourth one open. */
async function writeShifts(w: ShiftWriter, till: string): Promise<void> {
  let file = 0;
  const drop = async () => {
    const text = w.take();
    if (text) await dropReport(till, `R${String(++file).padStart(4, '0')}.rep`, text);
  };
  for (let i = 0; i < 3; i++) {
    w.activity(25);
    w.cashIn();
    await drop();
    w.returnReceipt();
    w.activity(20);
    w.z();
    await drop();
  }
  w.activity(10);
  await drop();
}

async function closedShifts(ws: Workspace): Promise<ShiftRecord[]> {
  const r = await runCli(['shifts', '--json', '--config', ws.configFile]);
  assert.equal(r.code, 0, r.stderr);
  return (JSON.parse(r.stdout) as { shifts: ShiftRecord[] }).shifts.filter((s) => s.state === 'closed');
}

/** Every closed shift in 1C once, with the ledger's figures; every post of one UUID the same bytes; nothing refused. */
async function checkPosted(ws: Workspace, emu: EsEmulator): Promise<void> {
  const closed = await closedShifts(ws);
  assert.equal(closed.length, 3);
  assert.ok(closed.every((s) => s.delivered), 'every package of every closed shift delivered');
  assert.deepEqual(emu.posted.filter((p) => !p.ok).map((p) => p.description), [], 'no post refused');
  assert.deepEqual(emu.shifts.map((s) => figuresOf(s, KIND_OF)), closed.map(ledgerFigures), 'each shift once, with the ledger\'s figures');
  const byUuid = new Map<string, Set<string>>();
  for (const p of emu.posted) {
    const uuid = /<SaleReport [^>]*UUID="([^"]+)"/.exec(p.document)![1]!;
    (byUuid.get(uuid) ?? byUuid.set(uuid, new Set()).get(uuid)!).add(p.document);
  }
  assert.equal(byUuid.size, 3);
  assert.ok([...byUuid.values()].every((docs) => docs.size === 1), 'a repeat post is byte for byte the first');
}

describe('EquipmentService upload under SIGKILL', () => {
  it('killed after each step of an upload in turn: each shift posted, repeats identical, nothing lost', { timeout: 300_000 }, async (t) => {
    const emu = await esEmulatorFor(t, { catalog: writerCatalog() });
    const ws = await uploadWorkspace(t, emu);
    assert.equal((await once(ws)).code, 0, 'the price list first');
    await writeShifts(new ShiftWriter(), ws.till);
    // After 1C took a shift, before anything is noted; after the notes, before the older staged lines go;
    // after the push answered, before the store recorded the delivery.
    const steps = ['es.upload.after-post:1', 'es.upload.after-notes:1', 'push.after-answer:2', 'es.upload.after-post:1', 'es.upload.after-notes:2'];
    const kills = [];
    for (const step of steps) kills.push(killed(await once(ws, step)));
    assert.deepEqual(kills, steps.map(() => true), 'every run was killed at its step');
    assert.ok(emu.posted.length >= 2, 'the kills hit uploads under way');
    assert.equal(await settle(ws), 0);
    await checkPosted(ws, emu);
    assert.ok(emu.shifts.some((s) => s.posts > 1), 'some shift was posted again after a kill, and replaced');
  });

  it('killed at random fail points during uploads: every shift posted once in 1C, repeats identical', { timeout: 300_000 }, async (t) => {
    const emu = await esEmulatorFor(t, { catalog: writerCatalog() });
    const ws = await uploadWorkspace(t, emu);
    assert.equal((await once(ws)).code, 0);
    await writeShifts(new ShiftWriter(), ws.till);
    let kills = 0;
    for (let round = 0; round < 10; round++) if (killed(await once(ws, '*:random:0.05'))) kills++;
    assert.equal(await settle(ws), 0);
    assert.ok(kills > 0, 'the agent was killed at least once');
    await checkPosted(ws, emu);
  });

  it('the daemon killed at random moments after it posted a shift: every shift in 1C once', { timeout: 300_000 }, async (t) => {
    const emu = await esEmulatorFor(t, { catalog: writerCatalog() });
    const ws = await uploadWorkspace(t, emu);
    assert.equal((await once(ws)).code, 0);
    await writeShifts(new ShiftWriter(), ws.till);
    let reached = 0;
    for (let round = 0; round < 3; round++) {
      const r = await runAndKill(ws.configFile, { after: 'es.shift.posted', delayMs: [0, 150] });
      if (r.reached) reached++;
    }
    assert.ok(reached > 0, 'a kill came after a posted shift');
    assert.equal(await settle(ws), 0);
    await checkPosted(ws, emu);
  });
});
