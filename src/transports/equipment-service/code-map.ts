/**
 * The durable two-way map between 1C codes (strings of up to 36 characters)
 * and Kassir goods codes (numbers). Sales come back to 1C under the code
 * Kassir reports, so a code once given is never given to another 1C code,
 * and the map must outlive restarts: it is a JSON file in the exchange's data
 * folder, written atomically and fsynced BEFORE the reference file that uses
 * it is staged (a crash in between leaves entries nothing used yet, which is
 * harmless: the next conversion finds and reuses them).
 *
 * The code spaces (Kassir codes stay below 10^9, so they fit a 32-bit field):
 * - goods whose 1C code is a plain number below GOODS_MAPPED_FROM keep it
 *   (`100231` -> 100231; a weighed PLU `00001` -> 1, so the scales' barcodes
 *   still find it; its 1C string `00001` is kept for the way back);
 * - any other goods code (letters, too long, a number clash) gets the next
 *   code from GOODS_MAPPED_FROM;
 * - groups always get codes from GROUPS_FROM, so a group never shares a code
 *   with a good.
 */
import { readFile } from 'node:fs/promises';
import { writeJsonAtomic } from '../../util/fsutil.js';

export const GOODS_MAPPED_FROM = 800_000_000;
export const GROUPS_FROM = 900_000_000;
const GROUPS_TO = 999_999_999;

interface CodeMapFile {
  schema: 1;
  /** 1C goods code -> Kassir code. */
  goods: Record<string, number>;
  /** 1C group code -> Kassir code. */
  groups: Record<string, number>;
  /** 1C goods code -> its TaxRate in the last price list that had it (the way back: a sale carries no rate). */
  rates?: Record<string, string>;
}

export class CodeMap {
  private goods = new Map<string, number>();
  private groups = new Map<string, number>();
  /** Kassir code -> 1C goods code (the way back, for sales). */
  private byKassir = new Map<number, string>();
  private rates = new Map<string, string>();
  private nextGood = GOODS_MAPPED_FROM;
  private nextGroup = GROUPS_FROM;
  private dirty = false;

  private constructor(private readonly file: string) {}

  static async load(file: string): Promise<CodeMap> {
    const m = new CodeMap(file);
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return m;
      throw e;
    }
    let data: CodeMapFile;
    try {
      data = JSON.parse(text) as CodeMapFile;
      if (data.schema !== 1 || typeof data.goods !== 'object' || typeof data.groups !== 'object') throw new Error('unknown layout');
    } catch (e) {
      // Never start a new map over a damaged one: codes already on the till would be given to other goods.
      throw new Error(`${file}: the 1C <-> Kassir code map cannot be read (${(e as Error).message}); restore it from a backup: a new map would give known codes to other goods`);
    }
    for (const [c, k] of Object.entries(data.goods)) m.setGood(c, k);
    for (const [c, k] of Object.entries(data.groups)) m.setGroup(c, k);
    for (const [c, r] of Object.entries(data.rates ?? {})) m.rates.set(c, r);
    return m;
  }

  /** The 1C code a Kassir goods code stands for. */
  oneCCode(kassir: number): string | undefined {
    return this.byKassir.get(kassir);
  }

  /** The 1C TaxRate the price list gave this 1C goods code (written into the sales of it). */
  taxRate(code: string): string | undefined {
    return this.rates.get(code);
  }

  /** Remembers the TaxRate of a 1C goods code, as the price list gives it. */
  setTaxRate(code: string, rate: string): void {
    if (this.rates.get(code) === rate) return;
    this.rates.set(code, rate);
    this.dirty = true;
  }

  /** The Kassir code of a 1C goods code, assigned now if new. */
  goodCode(code: string): number {
    const known = this.goods.get(code);
    if (known !== undefined) return known;
    let k: number | undefined;
    if (/^\d{1,9}$/.test(code) && Number(code) >= 1 && Number(code) < GOODS_MAPPED_FROM && !this.byKassir.has(Number(code))) k = Number(code);
    if (k === undefined) {
      k = this.nextGood;
      if (k >= GROUPS_FROM) throw new Error(`no Kassir code left for the 1C code "${code}": ${GROUPS_FROM - GOODS_MAPPED_FROM} codes are mapped already`);
    }
    this.setGood(code, k);
    this.dirty = true;
    return k;
  }

  /** The Kassir code of a 1C group code, assigned now if new. */
  groupCode(code: string): number {
    const known = this.groups.get(code);
    if (known !== undefined) return known;
    const k = this.nextGroup;
    if (k > GROUPS_TO) throw new Error(`no Kassir group code left for the 1C group "${code}"`);
    this.setGroup(code, k);
    this.dirty = true;
    return k;
  }

  /** Writes the map durably if anything was added. */
  async save(): Promise<void> {
    if (!this.dirty) return;
    const data: CodeMapFile = { schema: 1, goods: Object.fromEntries(this.goods), groups: Object.fromEntries(this.groups), rates: Object.fromEntries(this.rates) };
    await writeJsonAtomic(this.file, data);
    this.dirty = false;
  }

  private setGood(code: string, k: number): void {
    this.goods.set(code, k);
    this.byKassir.set(k, code);
    if (k >= this.nextGood && k < GROUPS_FROM) this.nextGood = k + 1;
  }

  private setGroup(code: string, k: number): void {
    this.groups.set(code, k);
    if (k >= this.nextGroup) this.nextGroup = k + 1;
  }
}
