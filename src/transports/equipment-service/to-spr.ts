/**
 * A downloaded price list -> one SPR reference file for Kassir.
 *
 * The unit is the sellable leaf: a good without characteristics or packs,
 * each characteristic without packs, each pack (of a good or of a
 * characteristic). 1C gives every leaf its own code, and Kassir reports sales
 * under that code, so each leaf is one goods line of its own:
 *   1 code; 2 first barcode; 3 name; 4 receipt text; 5 price; 6 balance;
 *   7 -; 8 weighed (1/0); 9 section; 10 max discount %; 11 tax group;
 *   12 article; 13-15 -; 16 parent group; 17 `1` (goods) / `0` (group).
 * Further barcodes are `#` lines (code; barcode; names; the same price;
 * coefficient 1 in field 10). Groups are group lines (field 17 `0`) with codes
 * of their own range (code-map.ts). A full export starts with `$$$CLR`; every
 * file says `$$$RPL` because 1C sends current balances, not arrivals.
 *
 * Refused whole (ConversionRefused, nothing written): a tax rate that
 * transport.taxGroups does not map (never a default group: a wrong tax is
 * fiscally wrong), a leaf without a code (a sale could not go back to 1C), a
 * barcode Kassir cannot hold in a field.
 * SPR has no quoting: `;` in names becomes `,`, line breaks become spaces.
 */
import type { CodeMap } from './code-map.js';
import type { EsGood, EsItem, EsPriceList } from './messages.js';

export interface SprOptions {
  /** 1C TaxRate value -> Kassir tax group (field 11). */
  taxGroups: Record<string, number>;
  /** Names longer than this are cut (Kassir's limit is not documented). */
  nameMaxLength: number;
  /** Settings/AllowDiscounts: true -> 99, false -> -1, unknown -> empty (field 10). */
  allowDiscounts?: boolean;
}

export class ConversionRefused extends Error {
  override readonly name = 'ConversionRefused';
}

export interface SprCounts {
  groups: number;
  goods: number;
  barcodes: number;
}

/** Collects the lines of one transfer, package by package; `text()` gives the whole file. */
export class SprBuilder {
  private readonly lines: string[] = [];
  readonly counts: SprCounts = { groups: 0, goods: 0, barcodes: 0 };
  private readonly unknownRates = new Map<string, string[]>();

  constructor(
    private readonly full: boolean,
    private readonly codes: CodeMap,
    private readonly o: SprOptions,
  ) {}

  /** Adds one package's price list (`what` names it in messages). */
  add(pl: EsPriceList, what: string): void {
    for (const g of pl.groups) {
      const parent = g.parentCode !== undefined ? String(this.codes.groupCode(g.parentCode)) : '';
      const name = this.name(g.name);
      this.lines.push(line([this.codes.groupCode(g.code), '', name, name, '', '', '', '', '', '', '', '', '', '', '', parent, '0']));
      this.counts.groups++;
    }
    for (const good of pl.goods) {
      const group = good.groupCode !== undefined ? String(this.codes.groupCode(good.groupCode)) : '';
      const tax = this.o.taxGroups[good.taxRate];
      if (tax === undefined) {
        const list = this.unknownRates.get(good.taxRate) ?? [];
        if (list.length < 3) list.push(`"${good.name}" (${what}, line ${good.line})`);
        this.unknownRates.set(good.taxRate, list);
        continue;
      }
      for (const leaf of leaves(good)) this.addLeaf(good, leaf, tax, group, what);
    }
  }

  /** The whole file (UTF-8 with BOM, CRLF). Throws ConversionRefused when a tax rate was not mapped. */
  text(): Buffer {
    if (this.unknownRates.size > 0) {
      const rates = [...this.unknownRates].map(([rate, goods]) => `"${rate}" (e.g. ${goods.join(', ')})`).join('; ');
      throw new ConversionRefused(
        `tax rate ${rates} is not in transport.taxGroups: add it, mapped to the Kassir tax group with that rate, then restart the agent or run kassir-agent full-export (nothing of this price list was delivered; the next download is a full export)`,
      );
    }
    const head = ['##@@&&', '#', ...(this.full ? ['$$$CLR'] : []), '$$$RPL'];
    return Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from([...head, ...this.lines].join('\r\n') + '\r\n', 'utf8')]);
  }

  private addLeaf(good: EsGood, leaf: Leaf, tax: number, group: string, what: string): void {
    const code1c = leaf.item.code?.trim();
    if (!code1c) {
      throw new ConversionRefused(
        `${what}, line ${leaf.item.line}: "${leaf.name}" has no code in 1C, so its sales could not go back to 1C: give it a code in 1C (the offline-equipment goods codes), then run kassir-agent full-export (nothing of this price list was delivered)`,
      );
    }
    const code = this.codes.goodCode(code1c);
    this.codes.setTaxRate(code1c, good.taxRate);
    for (const b of leaf.item.barcodes) {
      if (!/^[\x21-\x3a\x3c-\x7e]{1,64}$/.test(b)) {
        throw new ConversionRefused(`${what}, line ${leaf.item.line}: the barcode "${b}" of "${leaf.name}" does not fit a Kassir barcode field (printable ASCII without ";", up to 64 characters): fix it in 1C, then run kassir-agent full-export`);
      }
    }
    const name = this.name(leaf.name);
    const price = money(leaf.item.price);
    const disc = this.o.allowDiscounts === undefined ? '' : this.o.allowDiscounts ? '99' : '-1';
    const balance = leaf.item.balance !== undefined ? leaf.item.balance.toFixed(3) : '';
    const [first, ...more] = leaf.item.barcodes;
    this.lines.push(
      line([code, first ?? '', name, name, price, balance, '', good.isWeight ? '1' : '0', good.department ?? '', disc, tax, this.field(good.article ?? ''), '', '', '', group, '1']),
    );
    for (const b of more) this.lines.push('#' + line([code, b, name, name, price, '', '', '', '', '1']));
    this.counts.goods++;
    this.counts.barcodes += leaf.item.barcodes.length;
  }

  private name(raw: string): string {
    const s = this.field(raw);
    return [...s].length > this.o.nameMaxLength ? [...s].slice(0, this.o.nameMaxLength).join('').trimEnd() : s;
  }

  private field(raw: string): string {
    return raw.replace(/[\r\n\t]+/g, ' ').replace(/;/g, ',').trim();
  }
}

interface Leaf {
  item: EsItem;
  name: string;
}

/** The sellable leaves of a good, each with its display name (the good's, plus the part's unless already in it). */
export function leaves(good: EsGood): Leaf[] {
  const named = (base: string, part: string | undefined) => (part && !base.includes(part.trim()) ? `${base} (${part.trim()})` : base);
  if (good.characteristics.length > 0) {
    return good.characteristics.flatMap((c) => {
      const cname = named(good.name, c.name);
      return c.packs.length > 0 ? c.packs.map((p) => ({ item: p, name: named(cname, p.name) })) : [{ item: c, name: cname }];
    });
  }
  if (good.packs.length > 0) return good.packs.map((p) => ({ item: p, name: named(good.name, p.name) }));
  return [{ item: good, name: good.name }];
}

function money(v: number | undefined): string {
  return v === undefined ? '0' : v.toFixed(2);
}

function line(fields: (string | number)[]): string {
  return fields.join(';');
}
