/**
 * The emulator's back-office side on disk, under `--dir`:
 *
 *   outbox/*.spr|*.flr          published to every POS
 *   outbox/POS{n}/*.spr|*.flr   published to POS n only
 *   outbox/<file>.uid           optional sidecar: the UID of an flr (else a random UUID)
 *   state/POS{n}/packages.json  the numbered packages of POS n (1, 2, ...)
 *   state/POS{n}/{k}.{type}     the content of package k as it was published
 *   received/POS{n}/{k}.rep     every SendData, decoded (unzipped if it was a ZIP)
 *   received/POS{n}/{k}.json    its uid, time, sizes and hashes
 *
 * A file is published (numbered) the first time a POS asks for packages after
 * it appeared; new files are numbered in name order after those already
 * published. Its content is copied at that moment, so a package never
 * changes, and every package stays readable (a real back office may drop a
 * package once a later one is requested; keeping them is allowed).
 */
import { randomUUID, createHash } from 'node:crypto';
import { mkdir, readdir, readFile, rename, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';

export type PackageType = 'spr' | 'flr';

export interface PublishedPackage {
  number: number;
  /** The outbox file it came from, relative to `outbox/`. */
  source: string;
  type: PackageType;
  uid?: string;
  publishedAt: string;
}

export interface ReceivedPackage {
  pos: number;
  number: number;
  uid?: string;
  receivedAt: string;
  /** The report as the till meant it (unzipped when the body was a ZIP). */
  data: Buffer;
  zipped: boolean;
  /** The ZIP entry names, when zipped. */
  entries?: string[];
  /** sha256 of the raw request body (the base64 text). */
  bodySha256: string;
}

const PACKAGE_FILE = /\.(spr|flr)$/i;

export class EmulatorStore {
  constructor(readonly dir: string) {}

  async init(): Promise<void> {
    for (const d of ['outbox', 'state', 'received']) await mkdir(join(this.dir, d), { recursive: true });
  }

  /** Number any new outbox files for `pos` and return all its packages. */
  async syncPackages(pos: number): Promise<PublishedPackage[]> {
    const packages = await this.packages(pos);
    const known = new Set(packages.map((p) => p.source));
    const candidates = [...(await listPackageFiles(join(this.dir, 'outbox'), '')), ...(await listPackageFiles(join(this.dir, 'outbox', `POS${pos}`), `POS${pos}/`))]
      .filter((s) => !known.has(s))
      .sort((a, b) => compare(basename(a), basename(b)) || compare(a, b));
    if (candidates.length === 0) return packages;
    const posDir = join(this.dir, 'state', `POS${pos}`);
    await mkdir(posDir, { recursive: true });
    for (const source of candidates) {
      const type = PACKAGE_FILE.exec(source)![1]!.toLowerCase() as PackageType;
      const number = packages.length + 1;
      const content = await readFile(join(this.dir, 'outbox', source));
      await atomicWrite(join(posDir, `${number}.${type}`), content);
      const pkg: PublishedPackage = { number, source, type, publishedAt: new Date().toISOString() };
      if (type === 'flr') pkg.uid = (await readSidecarUid(join(this.dir, 'outbox', `${source}.uid`))) ?? randomUUID();
      packages.push(pkg);
    }
    await atomicWrite(join(posDir, 'packages.json'), Buffer.from(JSON.stringify(packages, null, 2)));
    return packages;
  }

  async packages(pos: number): Promise<PublishedPackage[]> {
    try {
      return JSON.parse(await readFile(join(this.dir, 'state', `POS${pos}`, 'packages.json'), 'utf8')) as PublishedPackage[];
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw e;
    }
  }

  async packageContent(pos: number, pkg: PublishedPackage): Promise<{ name: string; data: Buffer }> {
    return { name: basename(pkg.source), data: await readFile(join(this.dir, 'state', `POS${pos}`, `${pkg.number}.${pkg.type}`)) };
  }

  /** Drop a file into the outbox (atomically), for tests: `pos` undefined = every POS. */
  async publish(name: string, data: Buffer | string, opts: { pos?: number; uid?: string } = {}): Promise<void> {
    if (!PACKAGE_FILE.test(name) || name.includes('/') || name.includes('\\')) throw new Error(`publish: "${name}" must be a plain *.spr or *.flr file name`);
    const dir = opts.pos === undefined ? join(this.dir, 'outbox') : join(this.dir, 'outbox', `POS${opts.pos}`);
    await mkdir(dir, { recursive: true });
    if (opts.uid !== undefined) await atomicWrite(join(dir, `${name}.uid`), Buffer.from(opts.uid));
    await atomicWrite(join(dir, name), typeof data === 'string' ? Buffer.from(data) : data);
  }

  async isReceived(pos: number, number: number): Promise<boolean> {
    try {
      await readFile(join(this.dir, 'received', `POS${pos}`, `${number}.json`));
      return true;
    } catch {
      return false;
    }
  }

  /** Store one SendData: the report first, then its `.json` (whose presence means "processed"). */
  async saveReceived(p: ReceivedPackage): Promise<void> {
    const dir = join(this.dir, 'received', `POS${p.pos}`);
    await mkdir(dir, { recursive: true });
    await atomicWrite(join(dir, `${p.number}.rep`), p.data);
    const { data, ...meta } = p;
    await atomicWrite(join(dir, `${p.number}.json`), Buffer.from(JSON.stringify({ ...meta, bytes: data.length, sha256: sha256(data) }, null, 2)));
  }

  async received(pos: number): Promise<ReceivedPackage[]> {
    const dir = join(this.dir, 'received', `POS${pos}`);
    let names: string[];
    try {
      names = await readdir(dir);
    } catch {
      return [];
    }
    const numbers = names.filter((n) => /^\d+\.json$/.test(n)).map((n) => Number(n.slice(0, -5))).sort((a, b) => a - b);
    const out: ReceivedPackage[] = [];
    for (const n of numbers) {
      const meta = JSON.parse(await readFile(join(dir, `${n}.json`), 'utf8')) as Omit<ReceivedPackage, 'data'>;
      out.push({ pos: meta.pos, number: meta.number, uid: meta.uid, receivedAt: meta.receivedAt, zipped: meta.zipped, entries: meta.entries, bodySha256: meta.bodySha256, data: await readFile(join(dir, `${n}.rep`)) });
    }
    return out;
  }

  /** How many report files are stored for `pos` (to prove a duplicate was not stored twice). */
  async storedFiles(pos: number): Promise<string[]> {
    try {
      return (await readdir(join(this.dir, 'received', `POS${pos}`))).filter((n) => n.endsWith('.rep')).sort();
    } catch {
      return [];
    }
  }
}

export function sha256(b: Buffer | string): string {
  return createHash('sha256').update(b).digest('hex');
}

async function listPackageFiles(dir: string, prefix: string): Promise<string[]> {
  try {
    const entries = await readdir(dir, { withFileTypes: true });
    return entries.filter((e) => e.isFile() && PACKAGE_FILE.test(e.name) && !e.name.startsWith('.')).map((e) => prefix + e.name);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw e;
  }
}

async function readSidecarUid(path: string): Promise<string | undefined> {
  try {
    const uid = (await readFile(path, 'utf8')).trim();
    return uid === '' ? undefined : uid;
  } catch {
    return undefined;
  }
}

let tmpCounter = 0;
async function atomicWrite(path: string, data: Buffer): Promise<void> {
  const tmp = `${path}.${process.pid}.${++tmpCounter}.tmp`;
  await writeFile(tmp, data);
  await rename(tmp, path);
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
