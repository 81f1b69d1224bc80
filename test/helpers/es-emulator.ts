/** The EquipmentService emulator for tests: started on a free port, stopped after the test; a catalogue with every shape the conversion handles. */
import { spawn, type ChildProcessByStdio } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import type { TestContext } from 'node:test';
import { Agent } from 'undici';
import { startEsEmulator, type EsEmulator, type EsEmulatorOptions } from '../../scripts/es-emulator/server.js';
import type { Catalog } from '../../scripts/es-emulator/catalog.js';
import { EsClient } from '../../src/transports/equipment-service/client.js';
import { parseServiceRoot } from '../../src/transports/kkmtransfer/urls.js';
import type { SoapVersion } from '../../src/transports/equipment-service/soap.js';
import { ROOT } from './kassir.js';

export const ES_USER = 'Кассир';
export const ES_PASSWORD = 'пароль-1';
export const ES_DEVICE = 'KASSA-01';

export async function esEmulatorFor(t: TestContext, opts: EsEmulatorOptions = {}): Promise<EsEmulator> {
  const emu = await startEsEmulator({ user: ES_USER, password: ES_PASSWORD, ...opts });
  t.after(() => emu.stop());
  return emu;
}

/** A SOAP client of the agent's own, pointed at `url`. */
export function esClient(t: TestContext, url: string, over: { user?: string; password?: string; soapVersion?: SoapVersion } = {}): EsClient {
  const dispatcher = new Agent();
  t.after(() => dispatcher.close());
  return new EsClient({
    root: parseServiceRoot(url),
    user: over.user ?? ES_USER,
    password: over.password ?? ES_PASSWORD,
    soapVersion: over.soapVersion ?? '1.1',
    timeoutMs: 5000,
    maxAnswerBytes: 16 * 1024 * 1024,
    dispatcher,
  });
}

export const LONG_NAME = 'Шоколад молочный с цельным фундуком и изюмом, плитка в подарочной упаковке, производство фабрики «Красный Октябрь», Москва, вес нетто 200 г, артикул 2024-123456';

/**
 * The example catalogue integrators try the emulator with (examples/es-catalog.json), a
 * fresh copy each call: groups (one nested), a plain good with three barcodes and a
 * name with `;` and `#`, a weighed good with a PLU code, a good with two
 * characteristics (one with a pack), a good with packs, a 160-character name
 * (LONG_NAME), a service whose code has letters.
 */
export function sampleCatalog(): Catalog {
  return JSON.parse(readFileSync(join(ROOT, 'examples', 'es-catalog.json'), 'utf8')) as Catalog;
}

/** Why the command-line emulator is not started under Windows Node: it runs through tsx, whose esbuild binary cannot run under Wine 8. */
export const CLI_EMULATOR_SKIP = process.platform === 'win32' ? "the emulator script runs through tsx, whose esbuild binary cannot run under Wine 8 (its server code runs here in process)" : false;

/** `npm run es-emulator` as a child process (killed after the test): resolves with its URL once it listens. */
export async function esEmulatorCli(t: TestContext, args: string[]): Promise<{ url: string; child: ChildProcessByStdio<null, Readable, null> }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/es-emulator.ts', '--port', '0', ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
  t.after(() => child.kill('SIGKILL'));
  let out = '';
  const url = await new Promise<string>((ok, fail) => {
    child.stdout.on('data', (b: Buffer) => {
      out += b.toString('utf8');
      const m = /emulator at (\S+)/.exec(out);
      if (m) ok(m[1]!);
    });
    child.once('exit', (code) => fail(new Error(`the emulator exited ${code}: ${out}`)));
  });
  return { url, child };
}
