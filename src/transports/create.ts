/**
 * Builds the configured transport. Constructors only store dependencies;
 * nothing connects before `open()`.
 */
import type { Config } from '../config/schema.js';
import type { Logger } from '../util/logger.js';
import { FolderRemoteDir } from './folder/folder-remote-dir.js';
import { FtpRemoteDir } from './ftp/ftp-remote-dir.js';
import { KkmTransferTransport } from './kkmtransfer/transport.js';
import { SequencedFilesTransport } from './sequenced.js';
import type { Transport } from './transport.js';

export function createTransport(config: Config, log: Logger): Transport {
  const t = config.transport;
  switch (t.type) {
    case 'folder':
      return new SequencedFilesTransport('folder', new FolderRemoteDir(t.dir, { log }), t);
    case 'ftp':
      return new SequencedFilesTransport(
        'ftp',
        new FtpRemoteDir(
          {
            host: t.host,
            port: t.port,
            user: t.user,
            password: t.password ?? '',
            secure: t.secure,
            tls: t.tls,
            encoding: t.encoding,
            timeoutMs: t.timeoutMs,
          },
          { log },
        ),
        t,
      );
    case 'kkmtransfer':
      return new KkmTransferTransport(
        {
          url: t.url,
          pos: config.pos,
          ...(t.user !== undefined ? { user: t.user, password: t.password ?? '' } : {}),
          tls: t.tls,
          timeoutMs: t.timeoutMs,
          zipReports: t.zipReports,
          maxPackageBytes: t.maxPackageBytes,
        },
        { log },
      );
  }
}
