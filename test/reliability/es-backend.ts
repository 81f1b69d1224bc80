/**
 * The 1C EquipmentService back office for the reliability harness: the
 * emulator (scripts/es-emulator) with basic auth (a Cyrillic user, a random
 * password) behind the TCP proxy, whose catalogue holds every good the
 * simulated Kassir sells (so sales map back to 1C codes once the first full
 * price list is in) and grows by one "reference part" per publication.
 *
 * A reference part here is a run of PART_GOODS new goods with codes
 * 70000000 + 100 n + j (numeric: they pass through the code map unchanged),
 * added to 1C's catalogue at once, so the next incremental transfer carries
 * the whole part in several packages (PER_PACKAGE elements each).
 * `esReferenceParts` reads them back out of the reference file Kassir loads.
 *
 * What 1C received is the shifts it holds (one per SaleReport UUID) and every
 * PostDocs; shift-check.ts compares them with what Kassir wrote.
 */
import type { Catalog, CatalogItem } from '../../scripts/es-emulator/catalog.js';
import { startEsEmulator, type EsTrap } from '../../scripts/es-emulator/server.js';
import { writerCatalog } from '../helpers/sale-reports.js';
import { startTcpProxy } from '../helpers/tcp-proxy.js';
import { randInt } from '../helpers/kassir.js';
import type { Backend, EsFault, FinalNameWatch } from './backends.js';

const USER = 'Кассир';
const DEVICE = 'KASSA-01';
/**
 * Goods per reference part, and elements per price-list package: a part takes two packages, the first full export
 * (the ~190 goods Kassir sells, and the parts so far) five or more, few enough to finish under random kills early on
 * (sales reach 1C only once the price list gave their codes).
 */
export const PART_GOODS = 60;
const PER_PACKAGE = 50;
const PART_CODE_FROM = 70_000_000;
const PART_CODE_TO = 80_000_000;
/** The Description of a post the harness makes 1C refuse (its import cancelled): any other refusal is a bad document. */
const REFUSED_TEXT = 'Загрузка отменена: проведение документа не выполнено (ошибка, внесённая тестом)';

/** The goods of reference part `n`. */
function partGoods(n: number): CatalogItem[] {
  return Array.from({ length: PART_GOODS }, (_, j) => {
    const code = PART_CODE_FROM + n * 100 + j;
    return {
      attrs: { UUID: `d0000000-0000-4000-8000-${String(code).padStart(12, '0')}`, Code: String(code), Name: `Часть ${n}; товар #${j}`, TaxRate: '20', Price: `${n}.${String(j).padStart(2, '0')}`, CalculationSubject: 1 },
      barcodes: [`29${String(code).padStart(11, '0')}`],
    };
  });
}

/**
 * The reference parts in the data lines of a reference file (goods lines of part goods, in order), and whether the
 * file clears Kassir's goods first (a full export). Undefined when a part is there only in part: a half transfer.
 */
export function esReferenceParts(lines: string[]): { parts: number[]; clear: boolean } | undefined {
  const parts: number[] = [];
  let next = 0;
  for (const l of lines) {
    if (l.startsWith('#') || l.startsWith('$$$')) continue;
    const f = l.split(';');
    const code = Number(f[0]);
    if (f[16] === '0' || !(code >= PART_CODE_FROM && code < PART_CODE_TO)) continue;
    const n = Math.floor((code - PART_CODE_FROM) / 100);
    const j = code % 100;
    if (j !== next || (j > 0 && parts.at(-1) !== n)) return undefined;
    if (j === 0) parts.push(n);
    next = j + 1 === PART_GOODS ? 0 : j + 1;
  }
  if (next !== 0) return undefined;
  return { parts, clear: lines.includes('$$$CLR') };
}

export async function esBackend(): Promise<Backend & FinalNameWatch> {
  const password = `es-pw-${Math.random().toString(36).slice(2, 10)}`;
  const catalog: Catalog = writerCatalog();
  const emu = await startEsEmulator({ user: USER, password, devices: { [DEVICE]: { version: 3003, perPackage: PER_PACKAGE } }, catalog: structuredClone(catalog) });
  const proxy = await startTcpProxy({ targetHost: '127.0.0.1', targetPort: emu.port });
  /** Traps armed so far by kind: each kind goes round its operations (the download's and the upload's) in turn. */
  const armed = new Map<string, number>();
  const arm = (t: EsTrap) => {
    armed.set(t.kind, (armed.get(t.kind) ?? 0) + 1);
    emu.addTrap(t);
  };
  const op = (kind: EsTrap['kind'], ops: string[]) => ops[(armed.get(kind) ?? 0) % ops.length]!;
  let seen = 0;
  return {
    kind: 'equipment-service',
    transportConfig: {
      type: 'equipment-service',
      url: emu.url.replace(`:${emu.port}/`, `:${proxy.port}/`),
      user: USER,
      password,
      deviceId: DEVICE,
      taxGroups: { '20': 1, '10': 2, '0': 3, none: 4 },
      paymentKinds: { '1': 'cash', '2': '1' },
      timeoutMs: 1_500,
      formPollMs: 10,
      formWaitMs: 1_000,
    },
    // The password, and the basic-auth header that carries it.
    secrets: [password, Buffer.from(`${USER}:${password}`).toString('base64')],
    publishPart: async (n) => {
      catalog.goods.push(...partGoods(n));
      emu.setCatalog(structuredClone(catalog));
    },
    // 1C keeps no report packages: what it received is checked shift by shift (saleReports).
    delivered: async () => [],
    leftovers: async () => [],
    async check() {
      // A document 1C refused other than by the harness's own trap is one its reader could not take: a broken post.
      const bad = emu.posted.slice(seen).filter((p) => !p.ok && p.description !== REFUSED_TEXT);
      seen = emu.posted.length;
      return bad.map((p) => `PostDocs ${p.docType} refused by 1C: ${p.description}`);
    },
    proxy,
    loseNextReply: () => arm({ kind: 'lost-answer', op: op('lost-answer', ['PostDocs', 'GetPriceListPackage']) }),
    lostReplies: () => emu.trapsFired['lost-answer'] ?? 0,
    arm: (kind: EsFault) => {
      if (kind === 'soap-fault') arm({ kind: 'fault', op: op('fault', ['GetPriceListPackage', 'PostDocs', 'PreparePriceList', 'GetSettings']), text: 'Ошибка при вызове метода контекста (тест): сеанс прерван' });
      else if (kind === 'unformed') arm({ kind: 'unformed', calls: randInt(1, 4) });
      else arm({ kind: 'refuse', text: REFUSED_TEXT });
    },
    faultsFired: () => {
      const f = emu.trapsFired;
      return { 'soap-fault': f.fault ?? 0, unformed: f.unformed ?? 0, refused: f.refuse ?? 0 };
    },
    saleReports: () => ({ shifts: emu.shifts, posted: emu.posted }),
    clearFaults: () => emu.clearTraps(),
    stop: async () => {
      await proxy.stop();
      await emu.stop();
    },
  };
}
