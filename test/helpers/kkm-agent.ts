/**
 * The agent (a child process) against the KKMTransfer emulator (in the test
 * process): a workspace whose transport points at the emulator, the agent's
 * JSON log lines, and what the emulator stored, decoded back to transaction
 * numbers.
 */
import * as fs from 'node:fs/promises';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import type { KkmEmulator, RequestRecord } from '../../scripts/kkm-emulator/server.js';
import { makeWorkspace, receiptsOf, transactionNumbers, type Workspace } from './kassir.js';

/** A workspace (see makeWorkspace) whose transport is KKMTransfer at `url`; removed after the test. */
export async function kkmWorkspace(
  t: TestContext,
  url: string,
  opts: { transport?: Record<string, unknown>; config?: Record<string, unknown> } = {},
): Promise<Workspace> {
  const ws = await makeWorkspace(opts.config ?? {}, { type: 'kkmtransfer', url, timeoutMs: 5_000, ...opts.transport });
  t.after(() => ws.cleanup());
  return ws;
}

export interface LogLine {
  level: string;
  event: string;
  [field: string]: unknown;
}

/** Every line of the agent's JSON log files, in order (all runs of the workspace). */
export async function logLines(ws: Workspace): Promise<LogLine[]> {
  let names: string[];
  try {
    names = (await fs.readdir(ws.logs)).filter((n) => n.endsWith('.log')).sort();
  } catch {
    return [];
  }
  const out: LogLine[] = [];
  for (const n of names) {
    for (const line of (await fs.readFile(join(ws.logs, n), 'utf8')).split('\n')) {
      if (line.trim() === '') continue;
      try {
        out.push(JSON.parse(line) as LogLine);
      } catch {
        // A line cut by SIGKILL: not an event.
      }
    }
  }
  return out;
}

export interface StoredPackage {
  number: number;
  uid?: string;
  text: string;
  txs: number[];
  receipts: Set<string>;
}

/** What the emulator stored for `pos`, decoded, in package order. */
export async function storedPackages(emu: KkmEmulator, pos = 1): Promise<StoredPackage[]> {
  return (await emu.received(pos)).map((p) => {
    const text = p.data.toString('latin1');
    return { number: p.number, ...(p.uid !== undefined ? { uid: p.uid } : {}), text, txs: transactionNumbers(text), receipts: receiptsOf(text) };
  });
}

/** The SendData requests the emulator saw, in arrival order. */
export function sendRequests(emu: KkmEmulator): RequestRecord[] {
  return emu.requests.filter((r) => r.kind === 'send');
}

/** `1..n` for a list of numbers that should be exactly that. */
export function oneToN(xs: readonly unknown[]): number[] {
  return xs.map((_, i) => i + 1);
}
