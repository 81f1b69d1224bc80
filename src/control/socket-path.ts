/**
 * Where the running agent listens for commands: a Unix socket in the first
 * exchange's data folder (private to the service user, so only that user and
 * root can send commands), or on Windows a named pipe derived from that folder.
 */
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import type { Config } from '../config/schema.js';

export function controlSocketPath(config: Config, platform: NodeJS.Platform = process.platform): string {
  if (config.control.socket) return config.control.socket;
  const dataDir = config.exchanges[0]!.dataDir;
  if (platform === 'win32') return `\\\\.\\pipe\\kassir-agent-${createHash('sha256').update(dataDir.toLowerCase()).digest('hex').slice(0, 16)}`;
  return join(dataDir, 'control.sock');
}
