/**
 * Pass 1 of a merge copies while it scans, so the usual merge reads each part
 * once instead of twice. It bets that the parts go into the first output
 * unchanged, in order, behind a header like the first part's: same encoding,
 * no line dropped, no line needing a CR, no new clear, one mode. Each chunk
 * pass 1 has scanned is written at once (positional writes, behind room left
 * for that header), around the empty and command lines the scan found in it.
 *
 * The bet is checked against the plan, never trusted: pass 2 keeps the
 * written bytes only for the leading parts whose copy is exactly what it
 * would write itself (spr/write.ts, `resume`), rewrites the header, writes
 * the rest and cuts the file to size. A lost bet costs the writes made, not
 * correctness. The bet stops at the first part that breaks it; a part whose
 * scan the caller already has is never read in pass 1, so it stops it too.
 * Memory: nothing but a position per part; the chunks are pass 1's own.
 */
import { rm } from 'node:fs/promises';
import type { TextEncoding } from '../encoding.js';
import type { SprMode } from './commands.js';
import { remainingLines, type GroupPlan } from './plan.js';
import type { SprChunkSink, SprPartScan, SprScanSoFar } from './scan.js';
import { dropsNothing, mergedHeader, OutputFile, RangeCopy, type PartlyWritten } from './write.js';

export class SpeculativeOutput implements PartlyWritten {
  private file: OutputFile | undefined;
  private active = true;
  /** Set by the first part with data: the output's encoding, mode and header size. */
  private encoding: TextEncoding | undefined;
  private mode: SprMode | undefined;
  private clear: ReadonlySet<string> | undefined;
  private headerLength = 0;
  /** Parts copied whole, and where: [from, to) in the output. */
  private readonly written = new Map<SprPartScan, { from: number; to: number }>();

  /** `wanted`: the encoding the caller forces, or 'auto'. */
  constructor(
    private readonly path: string,
    private readonly wanted: TextEncoding | 'auto',
  ) {}

  get out(): OutputFile {
    if (!this.file) throw new Error(`${this.path}: not open`);
    return this.file;
  }

  /** Creates the output file; called before the first part is scanned. */
  async open(): Promise<void> {
    this.file = await OutputFile.create(this.path);
  }

  /** Stops the bet: no further part is copied in pass 1. */
  stop(): undefined {
    this.active = false;
    return undefined;
  }

  /** The copy of the next part, or undefined once the bet has stopped. */
  part(): PartCopy | undefined {
    return this.active ? new PartCopy(this) : undefined;
  }

  get betting(): boolean {
    return this.active;
  }

  /** Where a part's copy lies in the output, once it is complete. */
  copied(scan: SprPartScan, from: number): void {
    this.written.set(scan, { from, to: this.out.pos });
  }

  /** Does a part whose first chunk with data was just scanned still fit the bet? The first one sets it. */
  fits(so: SprScanSoFar): boolean {
    const clear = so.summary.clear;
    if (this.encoding === undefined) {
      if (this.wanted !== 'auto' && this.wanted !== so.encoding) return false;
      this.encoding = so.encoding;
      this.mode = so.summary.mode;
      this.clear = clear;
      this.headerLength = mergedHeader(clear, so.summary.mode, so.encoding).length;
      this.out.pos = this.headerLength; // the header is written once the plan is made
      return true;
    }
    if (so.encoding !== this.encoding || so.summary.mode !== this.mode) return false;
    // A clear the header does not carry yet would change its size.
    for (const t of clear ?? []) if (!this.clear?.has(t)) return false;
    return true;
  }

  /** See PartlyWritten: the leading parts of `g` whose pass 1 copy is what pass 2 would write. */
  resume(g: GroupPlan, enc: TextEncoding, headerLength: number): { at: number; next: number; dataLines: number } {
    let at = headerLength;
    let dataLines = 0;
    if (g.isolated || enc !== this.encoding || headerLength !== this.headerLength) return { at, next: 0, dataLines };
    let i = 0;
    for (; i < g.parts.length; i++) {
      const p = g.parts[i]!;
      if (remainingLines(p) === 0) continue; // pass 2 writes nothing for it either
      const w = this.written.get(p.scan);
      if (!w || w.from !== at || p.scan.encoding !== enc || !dropsNothing(p)) break;
      at = w.to;
      dataLines += p.scan.dataLines;
    }
    return { at, next: i, dataLines };
  }

  async close(): Promise<void> {
    const f = this.file;
    this.file = undefined;
    await f?.fh.close();
  }

  /** Closes and removes the file: no output of the plan is it. */
  async discard(): Promise<void> {
    const had = this.file !== undefined;
    await this.close();
    if (had) await rm(this.path, { force: true });
  }
}

/**
 * What pass 1 needs to copy one part while scanning it: the scan's sink. A
 * class, so the scan's call to `onChunk` has one target for every part.
 */
export class PartCopy implements SprChunkSink {
  private copy: RangeCopy | undefined;
  private from = 0;

  constructor(private readonly output: SpeculativeOutput) {}

  onChunk(chunk: Buffer, offset: number, so: SprScanSoFar): Promise<void> | undefined {
    const output = this.output;
    // Header not read yet, or a part the till already loaded (nothing of it is delivered).
    if (!output.betting || so.dataOffset === 0 || so.loaded) return undefined;
    if (!so.rangeCopy || so.summary.unknown.length > 0) return output.stop();
    if (!this.copy) {
      // No data line yet: nothing to copy, and a part without any (only commands) is no guide to the header.
      if (so.dataLines === 0) return undefined;
      if (!output.fits(so)) return output.stop();
      this.copy = new RangeCopy(output.out, so.dataOffset, so.skips, false);
      this.from = output.out.pos;
    }
    return this.copy.chunk(chunk, offset);
  }

  /** After the part's scan: completes its copy and records where it lies. */
  async done(scan: SprPartScan): Promise<void> {
    if (!this.output.betting || !this.copy) return;
    await this.copy.finish(scan);
    this.output.copied(scan, this.from);
  }
}
