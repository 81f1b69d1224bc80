/**
 * The back office of each transport as the harness drives it: a share folder,
 * a real ProFTPD behind a TCP proxy, the KKMTransfer emulator (with basic
 * auth) behind a TCP proxy, or the 1C EquipmentService emulator behind a TCP
 * proxy (es-backend.ts). Each publishes reference parts, returns the report
 * packages it received (decoded, in number order; 1C: the shifts it holds),
 * lists leftovers, and says which files under a final name are not complete
 * packages (1C: which posted documents it could not read).
 */
import * as fs from 'node:fs/promises';
import { join } from 'node:path';
import { sharePackages } from '../helpers/kassir.js';
import { startProftpd, type ProftpdServer } from '../helpers/proftpd.js';
import { startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy.js';
import { startKkmEmulator, type KkmEmulator } from '../../scripts/kkm-emulator/server.js';
import { makeTempDir, removeDir } from '../helpers/temp-dir.js';
import type { PostedDoc } from '../../scripts/es-emulator/server.js';
import type { ReceivedShift } from '../../scripts/es-emulator/sale-reports.js';
import { ftpTransportConfig } from '../helpers/ftp-config.js';

export type TransportKind = 'folder' | 'ftp' | 'kkmtransfer' | 'equipment-service';
export const TRANSPORTS: readonly TransportKind[] = ['folder', 'ftp', 'kkmtransfer', 'equipment-service'];

/** 1C's traps the harness arms in the EquipmentService emulator: a SOAP Fault, a transfer left unformed, a post refused (IsSuccess=false). */
export type EsFault = 'soap-fault' | 'unformed' | 'refused';

export interface Delivered {
  n: number;
  data: string;
}

export interface Backend {
  kind: TransportKind;
  /** The `transport:` section of the agent's config (paths relative to the workspace root). */
  transportConfig: Record<string, unknown>;
  /** Passwords the agent was given: they must never show up in a log. */
  secrets: string[];
  publishPart(n: number, text: string): Promise<void>;
  /** Report packages the back office holds, in number order. */
  delivered(): Promise<Delivered[]>;
  /** Files left on the remote side that are neither a final report package nor expected. */
  leftovers(): Promise<string[]>;
  /** The TCP proxy between agent and server (ftp: control connection; kkmtransfer: every request). */
  proxy?: TcpProxy;
  /** Stops the server and starts it again (same port and files); open sessions are cut. */
  restartServer?(): Promise<void>;
  /** Arms a reply lost after the server processed the request (the next SendData, or RNTO). */
  loseNextReply?(): void;
  /** Lost replies that actually fired so far. */
  lostReplies(): number;
  emulator?(): KkmEmulator;
  /** EquipmentService: arms one of 1C's traps for the coming calls. */
  arm?(kind: EsFault): void;
  /** EquipmentService: the traps armed by `arm` that went off so far. */
  faultsFired?(): Partial<Record<EsFault, number>>;
  /** EquipmentService: the shifts 1C holds (one per SaleReport UUID) and every document posted. */
  saleReports?(): { shifts: readonly ReceivedShift[]; posted: readonly PostedDoc[] };
  /** Drops every fault still armed, for the undisturbed finish. */
  clearFaults?(): void;
  stop(): Promise<void>;
}

const FINAL_REP = /^POS1\.rep\.\$(\d+)$/;

/** Why `data` is not a complete report package as the agent writes it, or undefined when it is. */
export function incompletePackage(data: string): string | undefined {
  if (!data.startsWith('#\r\n')) return 'does not start with a block header';
  if (!data.endsWith('\r\n')) return 'does not end with CRLF (cut short)';
  const lines = data.split('\r\n').filter((l) => l !== '');
  const last = lines[lines.length - 1]!.split(';');
  if (last[3] !== '55') return `last line is not a receipt close: ${lines[lines.length - 1]}`;
  return undefined;
}

/** Checks the final-name report files in a local folder, remembering the ones already found complete (they never change). */
function finalNameChecker(dir: () => string): () => Promise<string[]> {
  const ok = new Set<string>();
  return async () => {
    const bad: string[] = [];
    let names: string[];
    try {
      names = await fs.readdir(dir());
    } catch {
      return [];
    }
    for (const name of names) {
      if (!FINAL_REP.test(name) || ok.has(name)) continue;
      const data = await fs.readFile(join(dir(), name), 'latin1').catch(() => undefined);
      if (data === undefined) continue;
      const why = incompletePackage(data);
      if (why) bad.push(`${name}: ${why}: ${JSON.stringify(data.slice(0, 120))}`);
      else ok.add(name);
    }
    return bad;
  };
}

export interface FinalNameWatch {
  /** Final-name files found incomplete, once each. */
  check(): Promise<string[]>;
}

export function folderBackend(share: string): Backend & FinalNameWatch {
  return {
    kind: 'folder',
    transportConfig: { type: 'folder', dir: 'share', referenceName: 'POS1.spr', reportName: 'POS1.rep', sequenced: true },
    secrets: [],
    publishPart: (n, text) => publishToFolder(share, n, text),
    delivered: () => sharePackages(share),
    leftovers: async () => (await fs.readdir(share)).filter((n) => !FINAL_REP.test(n)),
    check: finalNameChecker(() => share),
    lostReplies: () => 0,
    stop: async () => {},
  };
}

/** The back office publishes at the first number above every part still waiting, writing then renaming (as it should). */
async function publishToFolder(dir: string, _n: number, text: string): Promise<void> {
  const names = await fs.readdir(dir);
  const next = Math.max(0, ...names.filter((x) => x.startsWith('POS1.spr.$')).map((x) => Number(x.slice(10)))) + 1;
  await fs.writeFile(join(dir, '.publishing'), text, 'latin1');
  await fs.rename(join(dir, '.publishing'), join(dir, `POS1.spr.$${next}`));
}

export async function ftpBackend(opts: { timeoutMs?: number; secure?: boolean } = {}): Promise<Backend & FinalNameWatch> {
  const server: ProftpdServer = await startProftpd();
  const files = join(server.root, 'Files');
  await fs.mkdir(files);
  const proxy = await startTcpProxy({ targetHost: server.host, targetPort: server.port });
  let lost = 0;
  return {
    kind: 'ftp',
    transportConfig: ftpTransportConfig({ ...server, host: '127.0.0.1', port: proxy.port }, { timeoutMs: opts.timeoutMs ?? 1_500 }),
    secrets: [server.password],
    publishPart: (n, text) => publishToFolder(files, n, text),
    delivered: () => sharePackages(files),
    leftovers: async () => (await fs.readdir(files)).filter((n) => !FINAL_REP.test(n)),
    check: finalNameChecker(() => files),
    proxy,
    restartServer: () => server.restart({}),
    loseNextReply: () => void proxy.onClientCommand(/^RNTO /, 'drop-replies').then(() => lost++),
    lostReplies: () => lost,
    stop: async () => {
      await proxy.stop();
      await server.stop();
    },
  };
}

export async function kkmBackend(): Promise<Backend & FinalNameWatch> {
  const dir = await makeTempDir('kassir-rel-emu');
  const user = 'bo-user';
  const password = `http-pw-${Math.random().toString(36).slice(2, 10)}`;
  let emu = await startKkmEmulator({ dir, user, password });
  const port = emu.port;
  const proxy = await startTcpProxy({ targetHost: '127.0.0.1', targetPort: port });
  const seen = new Set<number>();
  const delivered = async (): Promise<Delivered[]> => (await emu.received(1)).map((p) => ({ n: p.number, data: p.data.toString('latin1') }));
  // Lost replies that fired on emulators already restarted (each restart starts a fresh request log).
  let lostBefore = 0;
  const lostNow = () => emu.requests.filter((r) => r.fault === 'lost-reply').length;
  return {
    kind: 'kkmtransfer',
    transportConfig: { type: 'kkmtransfer', url: `http://127.0.0.1:${proxy.port}/hs/KKMTransfer`, user, password, timeoutMs: 1_500 },
    secrets: [password],
    publishPart: (n, text) => emu.publish(`part-${String(n).padStart(6, '0')}.spr`, text),
    delivered,
    leftovers: async () => [],
    async check() {
      // What the emulator stored is what the agent sent under that package number: it must be a whole package.
      const bad: string[] = [];
      for (const p of await delivered().catch(() => [])) {
        if (seen.has(p.n)) continue;
        const why = incompletePackage(p.data);
        if (why) bad.push(`SendData ${p.n}: ${why}: ${JSON.stringify(p.data.slice(0, 120))}`);
        seen.add(p.n);
      }
      return bad;
    },
    proxy,
    restartServer: async () => {
      lostBefore += lostNow();
      await emu.stop();
      emu = await startKkmEmulator({ dir, port, user, password });
    },
    loseNextReply: () => emu.setFault({ kind: 'lost-reply', on: 'send', times: 1 }),
    lostReplies: () => lostBefore + lostNow(),
    emulator: () => emu,
    stop: async () => {
      await proxy.stop();
      await emu.stop();
      await removeDir(dir);
    },
  };
}
