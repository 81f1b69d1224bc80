/**
 * Shifts end to end: Kassir writes report files with several shifts (sales,
 * returns, cancelled, deferred and prepayment receipts, discounts, cash and
 * card payments with change, cash in/out, X reports, one Z that does not
 * match); the agent runs as a real process (`run --once`, and the daemon) and
 * `kassir-agent shifts --json` must show the figures the test computed itself
 * from the amounts it wrote. Every transaction reaches the share once, and no
 * package holds transactions of two shifts.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, it } from 'node:test';
import type { ShiftRecord } from '../../src/shifts/record.js';
import { dropReport, makeWorkspace, runCli, sharePackages, startAgent, transactionNumbers, type Workspace } from '../helpers/kassir.js';
import { ShiftWriter, comparable, zNotLast } from '../helpers/shift-writer.js';
import { waitFor } from '../helpers/wait.js';

let ws: Workspace | undefined;
afterEach(async () => {
  await ws?.cleanup();
  ws = undefined;
});

/** Four shifts: the first seen from its middle (partial), a matching one, one whose Z does not match, one still open. */
async function writeShifts(w: ShiftWriter, till: string, from = 0): Promise<number> {
  let file = from;
  const drop = async () => {
    const text = w.take();
    if (text) await dropReport(till, `R${String(++file).padStart(4, '0')}.rep`, text);
  };
  w.activity(6);
  await drop();
  w.z();
  w.sale();
  w.returnReceipt();
  w.cancelled();
  w.cashIn();
  await drop();
  w.activity(25);
  w.xReport();
  w.defer();
  w.activity(10);
  await drop();
  w.defer(); // resumed and closed
  w.prepayment();
  w.cashOut();
  w.z();
  await drop();
  w.sale();
  w.sale();
  w.activity(15);
  w.z(1234); // the Z says 12.34 more than the receipts
  w.sale();
  w.noise();
  w.unknownLine();
  w.returnReceipt();
  await drop();
  return file;
}

async function shiftsJson(configFile: string, extra: string[] = []): Promise<ShiftRecord[]> {
  const r = await runCli(['shifts', '--config', configFile, '--json', ...extra]);
  assert.equal(r.code, 0, r.stderr);
  const doc = JSON.parse(r.stdout) as { schema: number; shifts: ShiftRecord[] };
  assert.equal(doc.schema, 1);
  return doc.shifts;
}

/** `agentOutput`: what the run that was to deliver them said, shown should a transaction be missing. */
async function checkShare(w: ShiftWriter, share: string, agentOutput = ''): Promise<void> {
  const pkgs = await sharePackages(share);
  assert.deepEqual(pkgs.flatMap((p) => transactionNumbers(p.data)), w.written, `every transaction on the share once, in order${agentOutput ? `; the agent said:\n${agentOutput}` : ''}`);
  assert.deepEqual(pkgs.filter((p) => zNotLast(p.data)).map((p) => p.name), [], 'no package holds transactions of two shifts');
}

describe('shifts end to end', () => {
  it('run --once: the ledger equals the figures of the lines written; closed shifts delivered; table and --last/--pos', { timeout: 120_000 }, async () => {
    ws = await makeWorkspace({ batch: { maxTransactions: 25, flushMs: 0 } });
    const w = new ShiftWriter();
    await writeShifts(w, ws.till);
    const r = await runCli(['run', '--once', '--config', ws.configFile]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    await checkShare(w, ws.share, r.stdout + r.stderr);

    const shifts = await shiftsJson(ws.configFile);
    assert.deepEqual(shifts.map(comparable), w.expected({ withOpen: true }));
    assert.deepEqual(shifts.map((s) => [s.state, s.matches]), [['closed', null], ['closed', true], ['closed', false], ['open', null]]);
    const pkgs = await sharePackages(ws.share);
    for (const s of shifts.slice(0, 3)) {
      assert.equal(s.delivered, true, `shift ${s.number} delivered`);
      assert.ok(s.deliveredAt !== null && s.packages.length > 0);
      // Its last package ends with its Z.
      const last = pkgs.find((p) => p.n === s.packages.at(-1))!;
      assert.match(last.data, new RegExp(`;61;1;;7;${s.number};`));
    }
    assert.equal(shifts[3]!.delivered, false);
    assert.deepEqual(shifts.flatMap((s) => s.packages), pkgs.map((p) => p.n), 'each package belongs to exactly one shift');
    assert.equal(shifts[3]!.unknown, 1);
    assert.equal((r.stdout.match(/shift\.closed/g) ?? []).length, 3);
    assert.equal((r.stdout.match(/shift\.mismatch/g) ?? []).length, 1);
    assert.equal((r.stdout.match(/shift\.delivered/g) ?? []).length, 3);

    const table = await runCli(['shifts', '--config', ws.configFile]);
    assert.equal(table.code, 0, table.stderr);
    const rows = table.stdout.split('\n').filter((l) => /^1 /.test(l));
    assert.equal(rows.length, 4);
    assert.match(rows[2]!, / NO /);
    assert.match(rows[0]!, /closed \(partial\)/);
    assert.deepEqual((await shiftsJson(ws.configFile, ['--last', '2', '--pos', '1'])).map((s) => s.number), [shifts[2]!.number, null]);
    const unknownPos = await runCli(['shifts', '--config', ws.configFile, '--pos', '9']);
    assert.equal(unknownPos.code, 2);

    // What operators and the fleet see comes from the same ledger: the last closed shift (delivered, not matching its Z).
    const status = await runCli(['status', '--config', ws.configFile]);
    assert.equal(status.code, 0, status.stderr);
    assert.match(status.stdout, new RegExp(`last shift ${shifts[2]!.number} closed`));
    assert.match(status.stdout, /DOES NOT MATCH Z/);
    const doc = JSON.parse((await runCli(['status', '--config', ws.configFile, '--json'])).stdout) as { tills: Record<string, { shift: Record<string, number> }> };
    const shift = doc.tills['1']!.shift;
    assert.equal(shift.lastClosedNumber, Number(shifts[2]!.number));
    assert.equal(shift.lastClosedTimestampSeconds, Date.parse(shifts[2]!.closedAt!) / 1000);
    assert.equal(shift.lastDeliveredTimestampSeconds, Date.parse(shifts[2]!.deliveredAt!) / 1000);
    assert.equal(shift.undelivered, 0);
    assert.equal(shift.mismatches, 1);
  });

  it('the daemon: shifts arrive while it runs; `shifts` reads the same with the agent running and stopped', { timeout: 180_000 }, async () => {
    ws = await makeWorkspace({ batch: { maxTransactions: 40, flushMs: 200 } });
    const w = new ShiftWriter();
    const agent = await startAgent(ws.configFile);
    try {
      await writeShifts(w, ws.till);
      await waitFor(() => (agent.output().match(/shift\.delivered/g) ?? []).length >= 3, 'the three closed shifts delivered', 60_000);
      const expected = w.expected({ withOpen: true });
      // The open shift's last receipts may still be on their way: wait until the agent took every file.
      await waitFor(async () => (await fs.readdir(ws!.till)).filter((n) => n.endsWith('.rep')).length === 0, 'every report file taken', 60_000);
      await waitFor(async () => JSON.stringify((await shiftsJson(ws!.configFile)).map(comparable)) === JSON.stringify(expected), 'the ledger has every line', 60_000, 300);
      const running = await shiftsJson(ws.configFile);
      assert.deepEqual(running.map(comparable), expected);
      assert.deepEqual(running.slice(0, 3).map((s) => s.delivered), [true, true, true]);
      agent.child.kill('SIGTERM');
      await agent.exited;
      const stopped = await shiftsJson(ws.configFile);
      assert.deepEqual(stopped.slice(0, 3), running.slice(0, 3), 'the same closed shifts with the agent stopped');
      assert.deepEqual(stopped.map(comparable), expected);
    } finally {
      agent.child.kill('SIGKILL');
    }
    const once = await runCli(['run', '--once', '--config', ws.configFile]);
    await checkShare(w, ws.share, once.stdout + once.stderr);
  });

  it('bad Z reports and amounts: the lines travel unchanged, the shifts are marked and the log says why', { timeout: 120_000 }, async () => {
    ws = await makeWorkspace();
    const text = [
      '#', '1', 'POS1',
      '1;05.12.26;08:00:00;61;1;;7;;;0.00;;0.00;', // a Z without a number
      '2;05.12.26;09:00:00;11;1;1;7;100;1;10.00;1;10.00;',
      '3;05.12.26;09:00:01;61;1;;7;5;;0.00;;10.00;', // a Z while receipt 1 is open
      '4;05.12.26;09:00:02;40;1;1;7;;;0.00;1;10.00;',
      '5;05.12.26;09:00:03;55;1;1;7;;;;;10.00;',
      '6;05.12.26;10:00:00;61;1;;7;5;;0.00;;10.00;', // the same number again
      '7;05.12.26;11:00:00;11;1;2;7;100;1;abc;1;1O.00;',
      '8;05.12.26;11:00:01;55;1;2;7;;;;;1O.00;', // not an amount
      '9;05.12.26;12:00:00;61;1;;7;4;;0.00;;0.00;', // backwards
    ].map((l) => l + '\r\n').join('');
    await dropReport(ws.till, 'BAD.rep', text);
    const r = await runCli(['run', '--once', '--config', ws.configFile]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const sent = (await sharePackages(ws.share)).map((p) => p.data.replace(/^\xef\xbb\xbf/, '')).join('');
    for (const line of text.split('\r\n').slice(3, -1)) assert.ok(sent.includes(line + '\r\n'), `travels unchanged: ${line}`);
    const shifts = await shiftsJson(ws.configFile);
    const anomalies = shifts.map((s) => s.anomalies.join(' | '));
    assert.match(anomalies[0]!, /no shift number/);
    assert.match(anomalies[1]!, /had no end line/);
    assert.match(anomalies[2]!, /second Z report with shift number 5/);
    assert.match(anomalies[3]!, /not an amount: "1O.00"/);
    assert.match(anomalies[3]!, /goes backwards: 4 after 5/);
    assert.ok((r.stdout.match(/shift\.anomaly/g) ?? []).length >= 5, r.stdout);
    assert.equal(shifts[3]!.matches, true, 'the receipt with a bad total is left out and said so, the rest still compares');
    assert.deepEqual(await fs.readdir(join(ws.data, 'quarantine')).catch(() => []), [], 'nothing quarantined: the lines are valid report lines');
  });
});
