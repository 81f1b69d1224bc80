/** The back-office emulator in a temp folder, stopped and removed after the test. */
import type { TestContext } from 'node:test';
import { memoryLogger, type Logger } from '../../src/util/logger.js';
import { KkmTransferTransport, type KkmTransferOptions } from '../../src/transports/kkmtransfer/transport.js';
import { startKkmEmulator, type KkmEmulator, type KkmEmulatorOptions } from '../../scripts/kkm-emulator/server.js';
import { tempDirFor } from './temp-dir.js';

export async function emulatorFor(t: TestContext, opts: Omit<KkmEmulatorOptions, 'dir'> = {}): Promise<KkmEmulator> {
  const dir = await tempDirFor(t, 'kkm-emu');
  const emu = await startKkmEmulator({ dir, ...opts });
  t.after(() => emu.stop());
  return emu;
}

export function kkmOptions(url: string, over: Partial<KkmTransferOptions> = {}): KkmTransferOptions {
  return {
    url,
    pos: 1,
    tls: { rejectUnauthorized: true },
    timeoutMs: 5000,
    zipReports: true,
    maxPackageBytes: 16 * 1024 * 1024,
    ...over,
  };
}

/** A transport that is opened now and closed after the test. */
export async function kkmTransport(t: TestContext, url: string, over: Partial<KkmTransferOptions> = {}, log: Logger = memoryLogger()): Promise<KkmTransferTransport> {
  const tr = new KkmTransferTransport(kkmOptions(url, over), { log });
  await tr.open();
  t.after(() => tr.close());
  return tr;
}
