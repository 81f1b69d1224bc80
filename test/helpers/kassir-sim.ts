/**
 * The one Kassir simulator of the tests (the crash tests, the reliability
 * harness, power loss, disk full, security): Kassir writes report files (whole
 * receipts, consecutive transaction numbers) and loads the reference file when
 * one waits; the publisher numbers reference parts P1, P2, ... so a test can
 * tell which reached the till, how often and in what order.
 */
import * as fs from 'node:fs/promises';
import { join } from 'node:path';
import { dropReport, randInt, reportFile } from './kassir.js';
import { ShiftWriter, type ExpectedShift } from './shift-writer.js';

/** The text of reference part `n`: one goods line naming it. */
export function partText(n: number): string {
  return `##@@&&\r\n#\r\nP${n};;part;;1;\r\n`;
}

/**
 * The reference parts in the data lines of a reference file (after the `##@@&&` and flag lines), and whether the
 * file clears Kassir's goods first; undefined when the file is not whole.
 */
export type ReferenceReader = (lines: string[]) => { parts: number[]; clear: boolean } | undefined;

/** Reference files of partText lines only. */
const readPartLines: ReferenceReader = (lines) => (lines.every((l) => /^P\d+;;part;;1;$/.test(l)) ? { parts: lines.map((l) => Number(l.slice(1, l.indexOf(';')))), clear: false } : undefined);

export class KassirSim {
  /** Every transaction written, in order. */
  readonly written: number[] = [];
  /** Reference part numbers as Kassir loaded them, in order. */
  readonly applied: number[] = [];
  /** Till reference files that were not complete when Kassir looked (a half-written file under the final name). */
  readonly tornReferenceFiles: string[] = [];
  /** Parts applied before that a later file clearing Kassir's goods (a full export) did not bring again: lost. */
  readonly lostInFullLoads: number[] = [];
  /** Files loaded that cleared Kassir's goods first (their parts already applied are not counted again). */
  fullLoads = 0;
  published = 0;
  private tx = 1;
  private receipt = 1;
  private file = 0;
  /** With `shifts`: the lines of whole shifts (see shift-writer.ts), a Z report now and then. */
  private readonly shiftWriter?: ShiftWriter;

  private readonly readReference: ReferenceReader;

  constructor(
    private readonly till: string,
    opts: { shifts?: boolean; readReference?: ReferenceReader } = {},
  ) {
    this.readReference = opts.readReference ?? readPartLines;
    if (opts.shifts) {
      this.shiftWriter = new ShiftWriter();
      // A deferred receipt is resumed later, maybe in another package: it would break the tests' "no receipt split" check.
      this.shiftWriter.allowDefer = false;
    }
  }

  /** Kassir closes 1-3 report files of 1-4 receipts each (with `shifts`: of receipts and other events, a Z in one file of three). */
  async sell(): Promise<void> {
    const w = this.shiftWriter;
    if (w) {
      for (let f = 0, files = randInt(1, 4); f < files; f++) {
        w.activity(randInt(1, 6));
        if (randInt(0, 3) === 0) w.z(randInt(0, 4) === 0 ? randInt(1, 1000) : 0);
        if (randInt(0, 2) === 0) w.activity(randInt(1, 3));
        const text = w.take();
        this.written.push(...w.written.slice(this.written.length));
        await dropReport(this.till, `R${String(++this.file).padStart(5, '0')}.rep`, text);
      }
      return;
    }
    for (let f = 0, files = randInt(1, 4); f < files; f++) {
      const specs = Array.from({ length: randInt(1, 5) }, () => ({ receipt: this.receipt++, lines: randInt(0, 6) }));
      const r = reportFile(specs, this.tx);
      this.tx = r.nextTx;
      this.written.push(...r.txs);
      await dropReport(this.till, `R${String(++this.file).padStart(5, '0')}.rep`, r.data);
    }
  }

  /** With `shifts`: Kassir closes the open shift (a Z report in a file of its own), if anything was written in it. */
  async closeShift(): Promise<void> {
    const w = this.shiftWriter;
    if (!w || w.expected({ withOpen: true }).at(-1)?.state !== 'open') return;
    w.z();
    this.written.push(...w.written.slice(this.written.length));
    await dropReport(this.till, `R${String(++this.file).padStart(5, '0')}.rep`, w.take());
  }

  /** With `shifts`: the figures every shift written so far must show (the last one open). */
  expectedShifts(): ExpectedShift[] {
    if (!this.shiftWriter) throw new Error('KassirSim was made without shifts');
    return this.shiftWriter.expected({ withOpen: true });
  }

  /** The next reference part's number and text (the backend publishes it). */
  nextPart(): { n: number; text: string } {
    const n = ++this.published;
    return { n, text: partText(n) };
  }

  /**
   * The back office publishes the next part into folder `dir` (a share, an FTP server's folder) at the first number
   * above every part still waiting; `viaTemp`: written under a temporary name, then renamed (as an FTP publisher should).
   */
  async publishNextPart(dir: string, opts: { viaTemp?: boolean } = {}): Promise<void> {
    const names = await fs.readdir(dir);
    const next = Math.max(0, ...names.filter((n) => n.startsWith('POS1.spr.$')).map((n) => Number(n.slice(10)))) + 1;
    const final = join(dir, `POS1.spr.$${next}`);
    if (!opts.viaTemp) return fs.writeFile(final, this.nextPart().text);
    await fs.writeFile(join(dir, '.publishing'), this.nextPart().text);
    await fs.rename(join(dir, '.publishing'), final);
  }

  /** Kassir loads the reference file if one waits (line 2 `#`), notes its parts and marks it loaded (`@`). */
  async load(): Promise<void> {
    const path = join(this.till, 'POS1.spr');
    const ref = await fs.readFile(path, 'latin1').catch(() => undefined);
    if (ref === undefined) return;
    const lines = ref.replace(/^\xef\xbb\xbf/, '').split('\r\n');
    const head = ref.endsWith('\r\n') && lines[0]!.startsWith('##@@&&') && (lines[1] === '#' || lines[1] === '@');
    const read = head ? this.readReference(lines.slice(2, -1)) : undefined;
    if (!read) {
      this.tornReferenceFiles.push(JSON.stringify(ref.slice(0, 200)));
      return;
    }
    if (lines[1] !== '#') return;
    if (read.clear) {
      // A full export: Kassir's goods are replaced; the parts applied before must all be in it again.
      this.fullLoads++;
      const top = Math.max(0, ...this.applied);
      const has = new Set(read.parts);
      this.lostInFullLoads.push(...[...new Set(this.applied)].filter((n) => !has.has(n)));
      this.applied.push(...read.parts.filter((n) => n > top));
    } else this.applied.push(...read.parts);
    await fs.writeFile(path, ref.replace('\r\n#\r\n', '\r\n@\r\n'), 'latin1');
  }
}

/** Lost, duplicated and out-of-order counts of `got` against `expected` (both lists of unique ids in order). */
export function compareSequences(expected: readonly number[], got: readonly number[]): { lost: number; duplicated: number; outOfOrder: number } {
  const seen = new Set<number>();
  let duplicated = 0;
  let outOfOrder = 0;
  let last = -Infinity;
  const rank = new Map(expected.map((x, i) => [x, i]));
  for (const x of got) {
    if (seen.has(x)) {
      duplicated++;
      continue;
    }
    seen.add(x);
    const r = rank.get(x) ?? Infinity;
    if (r < last) outOfOrder++;
    last = Math.max(last, r);
  }
  const lost = expected.filter((x) => !seen.has(x)).length;
  return { lost, duplicated, outOfOrder };
}
