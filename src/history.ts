/**
 * `kassir-agent history`: the attempt journal (`history/YYYY-MM-DD.jsonl` in
 * each exchange's data folder): what, when, attempt number, outcome and the
 * server's answer, kept for `archive.retentionDays`. Read-only; works with or
 * without a running agent. A line torn by a power cut is reported, not fatal.
 */
import * as fs from 'node:fs/promises';
import { join } from 'node:path';
import type { ExchangeConfig } from './config/schema.js';
import type { HistoryEntry } from './store/history-writer.js';
import { HISTORY_DIR, historyDay } from './store/layout.js';

export interface HistoryFilter {
  since?: Date;
  package?: number;
  errorsOnly?: boolean;
  pos?: number;
}

export interface HistoryRow extends HistoryEntry {
  pos: number;
}

const OK_OUTCOMES = new Set(['delivered', 'duplicate', 'queued']);

export async function readHistory(exchanges: ExchangeConfig[], f: HistoryFilter): Promise<{ rows: HistoryRow[]; unreadable: number }> {
  const rows: HistoryRow[] = [];
  let unreadable = 0;
  for (const ex of exchanges) {
    if (f.pos !== undefined && ex.pos !== f.pos) continue;
    const dir = join(ex.dataDir, HISTORY_DIR);
    let files: string[];
    try {
      files = (await fs.readdir(dir)).filter((n) => historyDay(n) !== undefined).sort();
    } catch {
      continue;
    }
    for (const name of files) {
      if (f.since && name.slice(0, 10) < f.since.toISOString().slice(0, 10)) continue;
      for (const line of (await fs.readFile(join(dir, name), 'utf8')).split('\n')) {
        if (line.trim() === '') continue;
        let e: HistoryEntry;
        try {
          e = JSON.parse(line) as HistoryEntry;
        } catch {
          unreadable++;
          continue;
        }
        if (f.since && Date.parse(e.at) < f.since.getTime()) continue;
        if (f.package !== undefined && e.package !== f.package) continue;
        if (f.errorsOnly && OK_OUTCOMES.has(e.outcome)) continue;
        rows.push({ pos: ex.pos, ...e });
      }
    }
  }
  rows.sort((a, b) => a.at.localeCompare(b.at));
  return { rows, unreadable };
}

export function formatHistoryRow(r: HistoryRow): string {
  const parts = [
    r.at,
    `pos=${r.pos}`,
    r.op,
    r.package !== undefined ? `package=${r.package}` : '',
    r.attempt !== undefined ? `attempt=${r.attempt}` : '',
    r.outcome,
    r.remoteName ? `-> ${r.remoteName}` : '',
    r.transactions !== undefined ? `${r.transactions} tx` : '',
    r.durationMs !== undefined ? `${r.durationMs} ms` : '',
    r.errorKind ? `[${r.errorKind}]` : '',
    r.error ?? '',
    r.serverAnswer ? `server: ${r.serverAnswer}` : '',
  ];
  return parts.filter((p) => p !== '').join('  ');
}
