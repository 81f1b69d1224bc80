/**
 * Builds the configured transport. Each transport module is loaded only when it
 * is configured (a folder-only till never loads undici or basic-ftp, which keeps
 * start-up quick and memory small). Constructors only store dependencies;
 * nothing connects before `open()`.
 */
import type { ExchangeConfig } from '../config/schema.js';
import type { Logger } from '../util/logger.js';
import { SequencedFilesTransport } from './sequenced.js';
import type { Transport } from './transport.js';

export async function createTransport(config: ExchangeConfig, log: Logger): Promise<Transport> {
  const t = config.transport;
  switch (t.type) {
    case 'folder': {
      const { FolderRemoteDir } = await import('./folder/folder-remote-dir.js');
      return new SequencedFilesTransport('folder', new FolderRemoteDir(t.dir, { log }), t);
    }
    case 'ftp': {
      const { FtpRemoteDir } = await import('./ftp/ftp-remote-dir.js');
      const remote = new FtpRemoteDir(
        { host: t.host, port: t.port, user: t.user, password: t.password ?? '', secure: t.secure, tls: t.tls, encoding: t.encoding, timeoutMs: t.timeoutMs },
        { log },
      );
      return new SequencedFilesTransport('ftp', remote, t);
    }
    case 'kkmtransfer': {
      const { KkmTransferTransport } = await import('./kkmtransfer/transport.js');
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
    case 'equipment-service': {
      const { EquipmentServiceTransport } = await import('./equipment-service/transport.js');
      const { equipmentServiceDir } = await import('./equipment-service/full-export.js');
      return new EquipmentServiceTransport(
        {
          url: t.url,
          ...(t.user !== undefined ? { user: t.user, password: t.password ?? '' } : {}),
          deviceId: t.deviceId,
          soapVersion: t.soapVersion,
          tls: t.tls,
          timeoutMs: t.timeoutMs,
          maxPackageBytes: t.maxPackageBytes,
          taxGroups: t.taxGroups,
          nameMaxLength: t.nameMaxLength,
          formPollMs: t.formPollMs,
          formWaitMs: t.formWaitMs,
          paymentKinds: t.paymentKinds,
          ...(t.taxationSystem !== undefined ? { taxationSystem: t.taxationSystem } : {}),
          shiftLayout: config.shifts,
          dir: equipmentServiceDir(config.dataDir),
        },
        { log },
      );
    }
  }
}
