/** What FtpRemoteDir needs to reach a server; the config schema produces exactly this. */
export interface FtpOptions {
  host: string;
  port: number;
  user: string;
  password: string;
  /** false: plain FTP; true: explicit FTPS (AUTH TLS); 'implicit': TLS from the first byte (usually port 990). */
  secure: boolean | 'implicit';
  tls: {
    /** PEM file with the CA (or self-signed server certificate) to trust, read at each connect. */
    caFile?: string;
    rejectUnauthorized: boolean;
    /** The name to check the certificate against when `host` is an address the certificate does not name. */
    servername?: string;
  };
  /** File-name encoding on the control connection. */
  encoding: 'utf8' | 'cp1251';
  /** Control and data inactivity timeout: how long a silent server (black hole) may stall one step. */
  timeoutMs: number;
  /**
   * Root folder on the server that relative paths start from; absent or '' = the login folder.
   * The config never sets it (a till works in its login folder): tests use it to give each case
   * its own folder on one server.
   */
  root?: string;
}
