/**
 * Merge an ordered list of SPR parts into the fewest files whose loading one
 * after another gives the same final state as loading every part in order.
 * Two streaming passes: scan every part (commands, counts), plan (plan.ts),
 * then copy the kept lines. Pass 1 already copies what it can into the first
 * output (speculate.ts), so in the usual case each part is read once. Memory
 * stays bounded whatever the sizes.
 *
 * Output: one header (`##@@&&`, `#`), the merged commands, data lines in part
 * order, CRLF. Encoding: the parts' own when they agree, UTF-8 with BOM when
 * they differ (loses nothing), or what the caller forces.
 * Nothing is deleted: inputs are only read; an output that fails half-way is
 * left in outDir for the caller to discard with its staging folder.
 */
import { join } from 'node:path';
import type { TextEncoding } from '../encoding.js';
import { planSprMerge, remainingLines, type GroupPlan } from './plan.js';
import { scanSprPart, type SprPartScan } from './scan.js';
import { SpeculativeOutput } from './speculate.js';
import { mergeBuffers, writeGroup } from './write.js';

/**
 * Skipped lines located by pass 1 (spr/scan.ts) are held for all parts until
 * pass 2. Past this many in one merge, further parts are copied line by line,
 * so memory does not grow with the number of parts either (about 1.5 MB).
 */
export const SKIPPED_LINES_BUDGET = 65536;

export type SprOutputEncoding = 'auto' | 'utf8bom' | 'cp1251';

export interface SprMergeOutput {
  path: string;
  /** Names of ALL input parts this output accounts for, including skipped/empty ones in its range. */
  parts: string[];
  bytes: number;
  encoding: TextEncoding;
  dataLines: number;
}

export interface SprMergeResult {
  /** Delivery order. */
  outputs: SprMergeOutput[];
  skipped: { name: string; reason: string }[];
}

export interface SprMergeOptions {
  encoding?: SprOutputEncoding;
  filePrefix?: string;
}

function outputEncoding(g: GroupPlan, wanted: SprOutputEncoding): TextEncoding {
  if (wanted !== 'auto') return wanted;
  const contributing = g.parts.filter((p) => g.isolated || remainingLines(p) > 0);
  const encs = new Set((contributing.length > 0 ? contributing : g.parts).map((p) => p.scan.encoding));
  return encs.size === 1 ? [...encs][0]! : 'utf8bom';
}

/**
 * A part to merge. `scan`: its pass 1 already made (scanSprPart of the same
 * bytes, under any path and name): the merge uses a copy of it instead of
 * reading the part twice.
 */
export interface SprMergePart {
  path: string;
  name: string;
  scan?: SprPartScan;
}

export async function mergeSprParts(parts: SprMergePart[], outDir: string, opts: SprMergeOptions = {}): Promise<SprMergeResult> {
  const buffers = mergeBuffers();
  const outPath = (i: number) => join(outDir, `${opts.filePrefix ?? ''}merged-${i + 1}.spr`);
  // Pass 1 copies into the first output as it scans (spr/speculate.ts), unless the first part needs no reading.
  const wanted = opts.encoding ?? 'auto';
  const first = parts.length > 0 && !parts[0]!.scan ? new SpeculativeOutput(outPath(0), wanted) : undefined;
  await first?.open();
  try {
    const scans = [];
    let budget = SKIPPED_LINES_BUDGET;
    try {
      for (const p of parts) {
        // A given scan is copied (this merge may drop its skips below) and takes the part's path and name.
        const copy = p.scan ? first?.stop() : first?.part();
        const s = p.scan ? { ...p.scan, path: p.path, name: p.name } : await scanSprPart(p.path, p.name, { buffer: buffers.read, spare: buffers.spare, behind: buffers.behind, ...(copy ? { sink: copy } : {}) });
        await copy?.done(s);
        const located = s.skips.length / 3;
        if (located > budget) {
          s.rangeCopy = false;
          s.skips = [];
        } else {
          budget -= located;
        }
        scans.push(s);
      }
    } catch (e) {
      await first?.discard();
      throw e;
    }
    const plan = planSprMerge(scans);
    if (plan.groups.length === 0) await first?.discard();
    const outputs: SprMergeOutput[] = [];
    for (const [i, g] of plan.groups.entries()) {
      const encoding = outputEncoding(g, wanted);
      const path = outPath(i);
      const { bytes, dataLines } = await writeGroup(g, path, encoding, buffers, i === 0 ? first : undefined);
      outputs.push({ path, parts: g.names, bytes, encoding, dataLines });
    }
    return { outputs, skipped: plan.skipped };
  } finally {
    await first?.close();
  }
}
