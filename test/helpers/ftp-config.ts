/**
 * How tests reach a test FTP server (test/helpers/proftpd.ts), written once:
 * the agent's `transport:` config section, and the options of an FtpRemoteDir.
 */
import type { FtpOptions } from '../../src/transports/ftp/ftp-options.js';

/** Where and as whom to log in: a ProftpdServer, or the same through a proxy (`port` overridden). */
export interface FtpLogin {
  host: string;
  port: number;
  user: string;
  password: string;
}

/** The agent config's `transport:` for `server`, with the names the spec uses (`Files/POS1.spr`, `Files/POS1.rep`). */
export function ftpTransportConfig(server: FtpLogin, over: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    type: 'ftp',
    host: server.host,
    port: server.port,
    user: server.user,
    password: server.password,
    referenceName: 'Files/POS1.spr',
    reportName: 'Files/POS1.rep',
    timeoutMs: 5_000,
    ...over,
  };
}

/** FtpRemoteDir options for `server`: plain FTP, UTF-8 names, unless `over` says otherwise. */
export function ftpOptions(server: FtpLogin, over: Partial<FtpOptions> = {}): FtpOptions {
  return {
    host: server.host,
    port: server.port,
    user: server.user,
    password: server.password,
    secure: false,
    tls: { rejectUnauthorized: true },
    encoding: 'utf8',
    timeoutMs: 10_000,
    ...over,
  };
}
