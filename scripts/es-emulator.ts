/**
 * The 1C EquipmentService emulator on the command line:
 *   npm run es-emulator -- --catalog catalog.json [--port 8081] [--host 127.0.0.1]
 *        [--base retail] [--user Кассир --password secret]
 *        [--device KASSA-01:3003:100]... [--dir var/es-emulator]
 *        [--trap lost-answer:GetPriceListPackage] [--trap unformed:3] ...
 * The catalogue (JSON: { groups: [attrs], units: [attrs], goods: [{ attrs, barcodes, characteristics, packs }] })
 * is read again whenever the file changes; what changed goes into the next
 * incremental transfer. Posted SaleReports are checked against the format,
 * kept per SaleReport UUID (a re-post replaces) and logged under
 * DIR/received/<device>/ (each document, and shifts.json: the shifts held).
 * Stops on SIGINT/SIGTERM.
 */
import { readFileSync, watchFile } from 'node:fs';
import { resolve } from 'node:path';
import { consoleLogger } from './console-logger.js';
import { parseEmulatorArgs } from './emulator-args.js';
import type { Catalog } from './es-emulator/catalog.js';
import { startEsEmulator, type EsDevice, type EsTrap } from './es-emulator/server.js';

const USAGE = `usage: npm run es-emulator -- --catalog FILE [--port 8081] [--host 127.0.0.1] [--base retail]
                               [--user U --password P] [--device ID:VERSION:PER_PACKAGE]... [--dir DIR] [--trap SPEC]...
  SPEC = lost-answer:OPERATION[,skip=N] | fault:OPERATION:TEXT | http:STATUS[:OPERATION] | unformed:CALLS | prepare-error:TEXT | refuse:TEXT, then [,times=N]
  e.g. --device KASSA-01:3003:100 --trap lost-answer:GetPriceListPackage --trap unformed:3,times=2`;

export function parseTrap(spec: string): EsTrap {
  const [head, ...opts] = spec.split(',');
  const times = opts.map((o) => /^times=(\d+)$/.exec(o.trim())).find(Boolean);
  const skip = opts.map((o) => /^skip=(\d+)$/.exec(o.trim())).find(Boolean);
  const extra = times ? { times: Number(times[1]) } : {};
  const [kind, a, ...rest] = (head ?? '').split(':');
  switch (kind) {
    case 'lost-answer':
      if (!a) break;
      return { kind, op: a, ...extra, ...(skip ? { skip: Number(skip[1]) } : {}) };
    case 'fault':
      if (!a) break;
      return { kind, op: a, text: rest.join(':') || 'Ошибка при вызове метода', ...extra };
    case 'http':
      if (!a || !/^\d{3}$/.test(a)) break;
      return { kind, status: Number(a), ...(rest[0] ? { op: rest[0] } : {}), ...extra };
    case 'unformed':
      if (!a || !/^\d+$/.test(a)) break;
      return { kind, calls: Number(a), ...extra };
    case 'refuse':
      return { kind, text: [a, ...rest].filter(Boolean).join(':') || 'Не удалось загрузить отчет о продажах', ...extra };
    case 'prepare-error':
      return { kind, text: [a, ...rest].filter(Boolean).join(':') || 'Не заполнено обязательное поле', ...extra };
  }
  throw new Error(`--trap "${spec}" is not understood`);
}

function parseDevice(spec: string): [string, EsDevice] {
  const m = /^(.+):(\d+):(\d+)$/.exec(spec);
  if (!m) throw new Error(`--device "${spec}" must be ID:VERSION:PER_PACKAGE, e.g. KASSA-01:3003:100`);
  return [m[1]!, { version: Number(m[2]), perPackage: Number(m[3]) }];
}

function readCatalog(file: string): Catalog {
  const c = JSON.parse(readFileSync(file, 'utf8')) as Catalog;
  if (!Array.isArray(c.goods)) throw new Error(`${file}: "goods" must be a list`);
  return c;
}

async function main(): Promise<number> {
  const values = parseEmulatorArgs({
    catalog: { type: 'string' },
    port: { type: 'string', default: '8081' },
    host: { type: 'string', default: '127.0.0.1' },
    base: { type: 'string', default: 'retail' },
    user: { type: 'string' },
    password: { type: 'string' },
    device: { type: 'string', multiple: true, default: [] },
    dir: { type: 'string' },
    trap: { type: 'string', multiple: true, default: [] },
  }, USAGE);
  if (typeof values === 'number') return values;
  let devices: Record<string, EsDevice>;
  let traps: EsTrap[];
  let catalog: Catalog = { goods: [] };
  try {
    devices = Object.fromEntries(values.device.length > 0 ? values.device.map(parseDevice) : [['KASSA-01', { version: 3003, perPackage: 100 }]]);
    traps = values.trap.map(parseTrap);
    if (values.catalog) catalog = readCatalog(values.catalog);
  } catch (e) {
    console.error(`${(e as Error).message}\n${USAGE}`);
    return 2;
  }
  const log = consoleLogger();
  const emu = await startEsEmulator({
    port: Number(values.port),
    host: values.host,
    base: values.base,
    ...(values.user !== undefined ? { user: values.user, password: values.password ?? '' } : {}),
    devices,
    catalog,
    traps,
    ...(values.dir ? { dir: resolve(values.dir) } : {}),
    log,
  });
  if (values.catalog) {
    const file = values.catalog;
    watchFile(file, { interval: 1000 }, () => {
      try {
        emu.setCatalog(readCatalog(file));
        log.info('es-emulator.catalog', { file, note: 'read again; changes go into the next incremental transfer' });
      } catch (e) {
        log.error('es-emulator.catalog', { file, error: (e as Error).message });
      }
    });
  }
  console.log(`EquipmentService emulator at ${emu.url} (devices: ${Object.keys(devices).join(', ')})`);
  await new Promise<void>((ok) => {
    process.once('SIGINT', ok);
    process.once('SIGTERM', ok);
  });
  await emu.stop();
  return 0;
}

if (process.argv[1] && resolve(process.argv[1]).endsWith('es-emulator.ts')) {
  main().then(
    (code) => process.exit(code),
    (e) => {
      console.error(e);
      process.exit(1);
    },
  );
}
