/**
 * `check-config --online`: what only the back office can tell. For an
 * `equipment-service` transport the transport is opened as the agent opens
 * it (`Connect`, then `GetVersion`), so an unknown device, a format outside
 * 3001-3003, a wrong password and a wrong base name (404) are reported under
 * the key to fix, in the same words the running agent logs. Other transports
 * are not checked online (their `open()` proves nothing about the server).
 */
import { DEVICE_PROBLEM } from '../transports/equipment-service/client.js';
import { createTransport } from '../transports/create.js';
import { isTransportError } from '../transports/errors.js';
import { nullLogger } from '../util/logger.js';
import type { ConfigProblem } from './load.js';
import type { Config } from './schema.js';

export interface OnlineResult {
  problems: ConfigProblem[];
  /** One line per exchange checked or skipped, for stdout. */
  notes: string[];
}

export async function checkOnline(config: Config): Promise<OnlineResult> {
  const out: OnlineResult = { problems: [], notes: [] };
  const multi = config.exchanges.length > 1;
  for (const [i, ex] of config.exchanges.entries()) {
    const at = multi ? `exchanges.${i}.` : '';
    if (ex.transport.type !== 'equipment-service') {
      out.notes.push(`POS ${ex.pos}: transport ${ex.transport.type} is not checked online`);
      continue;
    }
    const transport = await createTransport(ex, nullLogger);
    try {
      await transport.open();
      out.notes.push(`POS ${ex.pos}: 1C answers at ${ex.transport.url} and knows device "${ex.transport.deviceId}"`);
    } catch (e) {
      out.problems.push({ path: `${at}transport.${keyOf(e)}`, message: (e as Error).message });
    } finally {
      await transport.close();
    }
  }
  return out;
}

/** The key an operator changes for this failure. */
function keyOf(e: unknown): string {
  if (!isTransportError(e)) return 'url';
  if (e.kind === 'auth') return 'password';
  if (e.kind === 'tls') return 'tls';
  if (e.details.code === DEVICE_PROBLEM) return 'deviceId';
  return 'url';
}
