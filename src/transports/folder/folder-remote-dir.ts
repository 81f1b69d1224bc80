/**
 * RemoteDir over a local or network folder (SMB/CIFS or NFS mount, or a plain
 * directory). The sequenced-files logic above it relies on two properties:
 * writes are durable before they are renamed into place (copy + fsync), and
 * `renameNoReplace` never replaces a file the back office has not taken yet.
 */
import { constants as fsConstants, type Stats } from 'node:fs';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { TransportError } from '../errors.js';
import type { RemoteDir, RemoteEntry } from '../remote-dir.js';
import { nullLogger, type Logger } from '../../util/logger.js';
import { errnoOf, fsTransportError, kindForErrno } from './fs-errors.js';

/** link(2) failures that mean "this filesystem has no hard links", not "something is wrong". */
const NO_HARD_LINKS = new Set(['EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'EXDEV', 'ENOSYS']);

export interface FolderRemoteDirOptions {
  log?: Logger;
}

/** Mode of the files the agent publishes on a share (reports for the back office). */
const SHARED_FILE_MODE = 0o644;

export class FolderRemoteDir implements RemoteDir {
  private readonly root: string;
  private readonly log: Logger;

  constructor(rootDir: string, opts: FolderRemoteDirOptions = {}) {
    this.root = path.resolve(rootDir);
    this.log = (opts.log ?? nullLogger).child({ remote: 'folder' });
  }

  async open(): Promise<void> {
    let st;
    try {
      st = await fs.stat(this.root);
    } catch (e) {
      // A share that is not mounted (yet) must be retried, not treated as fatal.
      throw fsTransportError('unreachable', 'open', '', this.root, e);
    }
    if (!st.isDirectory()) {
      throw new TransportError('unreachable', `folder transport: share '${this.root}' is not a folder`);
    }
  }

  async close(): Promise<void> {
    // Nothing is held open between calls.
  }

  async list(dir: string): Promise<RemoteEntry[]> {
    const abs = this.resolve(dir);
    let names: string[];
    try {
      names = await fs.readdir(abs);
    } catch (e) {
      throw await this.mapError(e, 'list', dir, abs, true);
    }
    const out: RemoteEntry[] = [];
    for (const name of names.sort()) {
      // stat, not the dirent type: CIFS may report DT_UNKNOWN, and we need size and mtime anyway.
      // Missing now: taken away while we listed (not there any more), unless the share dropped away.
      const st = await this.statOrMissing(path.join(abs, name), 'list', joinRel(dir, name));
      if (st?.isFile()) out.push({ name, size: st.size, mtimeMs: st.mtimeMs });
    }
    return out;
  }

  async download(remotePath: string, localPath: string, onProgress?: (bytes: number) => void): Promise<number> {
    const src = this.resolve(remotePath);
    let input: fs.FileHandle;
    try {
      input = await fs.open(src, 'r');
    } catch (e) {
      throw await this.mapError(e, 'download', remotePath, src, false);
    }
    try {
      return await copyDurably(input, localPath, onProgress, (e) => this.mapError(e, 'download', remotePath, src, false));
    } finally {
      await input.close().catch(() => {});
    }
  }

  async upload(localPath: string, remotePath: string): Promise<void> {
    const dst = this.resolve(remotePath);
    let input: fs.FileHandle;
    try {
      input = await fs.open(localPath, 'r');
    } catch (e) {
      throw fsTransportError('server', 'read local file', localPath, this.root, e);
    }
    let copied: number;
    try {
      copied = await copyDurably(input, dst, undefined, (e) => this.mapError(e, 'upload to', remotePath, dst, false));
    } finally {
      await input.close().catch(() => {});
    }
    // Readable by the back office: the service runs with UMask=0077 (its own data stays private),
    // which would leave a report on a local or NFS share readable by the agent's user alone. Best
    // effort: on an SMB mount the permissions come from the mount options and chmod may be refused.
    await fs.chmod(dst, SHARED_FILE_MODE).catch(() => undefined);
    const held = await this.size(remotePath);
    if (held !== copied) throw new TransportError('protocol', `upload to '${remotePath}' in ${this.root}: the share holds ${held ?? 'no'} bytes after copying ${copied}`);
  }

  /** File operations on a share may run side by side: the second session is this one. */
  fork(): RemoteDir {
    return this;
  }

  async size(remotePath: string): Promise<number | undefined> {
    // A vanished share must not look like a free name (or like a temporary file already renamed).
    return (await this.statOrMissing(this.resolve(remotePath), 'size of', remotePath))?.size;
  }

  /**
   * stat, telling a missing file from a share that dropped away (an unmounted
   * share has no files): undefined only when the share is there. The share may
   * also have been away for the first look and be back for the check of it, so
   * "missing" counts only when a second look, made with the share present,
   * finds nothing either. (Found by the reliability harness: a listing that
   * lost an entry this way made a reference part look deleted, and it was
   * fetched and applied twice.)
   */
  private async statOrMissing(abs: string, op: string, rel: string): Promise<Stats | undefined> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await fs.stat(abs);
      } catch (e) {
        if (errnoOf(e) !== 'ENOENT' && errnoOf(e) !== 'ENOTDIR') throw await this.mapError(e, op, rel, abs, false);
        await this.assertRootReachable(op, rel, e);
        if (attempt === 2) return undefined;
      }
    }
  }

  async renameNoReplace(from: string, to: string, before?: () => Promise<void>): Promise<'renamed' | 'exists'> {
    const src = this.resolve(from);
    const dst = this.resolve(to);
    await before?.();
    try {
      await this.link(src, dst);
    } catch (e) {
      const code = errnoOf(e);
      if (code === 'EEXIST') return this.settleExisting(src, dst, from, to);
      if (code !== undefined && NO_HARD_LINKS.has(code)) return this.renameWithoutLinks(src, dst, from, to, code);
      throw await this.mapError(e, `rename to '${to}':`, from, src, false);
    }
    // link(2) succeeded: `to` now holds the data, dropping `from` finishes the move.
    await this.unlinkIgnoringMissing(src, from);
    await fsyncDirs(dst, src);
    return 'renamed';
  }

  async remove(remotePath: string): Promise<void> {
    const abs = this.resolve(remotePath);
    const folderHere = () => fs.stat(path.dirname(abs)).then((st) => st.isDirectory(), () => false);
    // Already gone is fine; but a folder that is gone (the share dropped away) is not a deletion:
    // the caller would forget a part that is still on the share and fetch it again. The share may
    // also have been away for the unlink and be back for the look at the folder, so the unlink is
    // tried once more with the folder present: "gone" only counts when that one finds nothing.
    for (let attempt = 1; ; attempt++) {
      try {
        await fs.unlink(abs);
        break;
      } catch (e) {
        if (errnoOf(e) === 'ENOENT' && (await folderHere())) {
          if (attempt === 2) return;
          continue;
        }
        throw await this.mapError(e, 'remove', remotePath, abs, false);
      }
    }
    await fsyncDirs(abs);
  }

  /** Hard-link `from` to `to`; fails with EEXIST if `to` exists (atomic no-replace). Overridable in tests. */
  protected async link(from: string, to: string): Promise<void> {
    await fs.link(from, to);
  }

  /** `to` exists: either someone else's file, or ours from a crash between link and unlink. */
  private async settleExisting(src: string, dst: string, from: string, to: string): Promise<'renamed' | 'exists'> {
    const [a, b] = await Promise.all([fs.stat(src).catch(() => undefined), fs.stat(dst).catch(() => undefined)]);
    if (a && b && a.dev === b.dev && a.ino === b.ino) {
      this.log.info('folder.rename.finished', { from, to, reason: 'same file already linked under the target name' });
      await this.unlinkIgnoringMissing(src, from);
      await fsyncDirs(dst, src);
      return 'renamed';
    }
    return 'exists';
  }

  /**
   * Shares without hard links (SMB/CIFS without unix extensions, FAT): check, then
   * rename. Not atomic: a file created between the two steps would be replaced.
   * The back office only ever creates files under its own names, so the window
   * only matters when two writers share one name, which the config forbids.
   */
  private async renameWithoutLinks(src: string, dst: string, from: string, to: string, code: string): Promise<'renamed' | 'exists'> {
    this.log.debug('folder.rename.nolink', { from, to, code });
    try {
      await fs.access(dst, fsConstants.F_OK);
      return 'exists';
    } catch (e) {
      if (errnoOf(e) !== 'ENOENT') throw await this.mapError(e, 'check', to, dst, false);
    }
    try {
      await fs.rename(src, dst);
    } catch (e) {
      throw await this.mapError(e, `rename to '${to}':`, from, src, false);
    }
    await fsyncDirs(dst, src);
    return 'renamed';
  }

  private async unlinkIgnoringMissing(abs: string, rel: string): Promise<void> {
    try {
      await fs.unlink(abs);
    } catch (e) {
      if (errnoOf(e) !== 'ENOENT') throw await this.mapError(e, 'remove', rel, abs, false);
    }
  }

  /** Share-relative `/` path to an absolute path inside the root; refuses to escape it. */
  private resolve(rel: string): string {
    return sharePath(this.root, rel);
  }

  private async assertRootReachable(op: string, rel: string, cause: unknown): Promise<void> {
    const st = await fs.stat(this.root).catch(() => undefined);
    if (!st?.isDirectory()) throw fsTransportError('unreachable', op, rel, this.root, cause);
  }

  /**
   * ENOENT needs a look at the disk: the share itself gone (unmounted: retry),
   * a configured folder missing (`config`, naming it), or just the file missing.
   */
  private async mapError(e: unknown, op: string, rel: string, abs: string, isFolder: boolean): Promise<TransportError> {
    const code = errnoOf(e);
    if (code !== 'ENOENT') return fsTransportError(kindForErrno(code), op, rel, this.root, e);
    await this.assertRootReachable(op, rel, e);
    const folderAbs = isFolder ? abs : path.dirname(abs);
    const folderSt = await fs.stat(folderAbs).catch(() => undefined);
    if (!folderSt?.isDirectory()) {
      const folderRel = path.relative(this.root, folderAbs).split(path.sep).join('/');
      return new TransportError('config', `folder transport: folder '${folderRel}' does not exist in share '${this.root}' (${op} '${rel}')`, { code, cause: e });
    }
    return fsTransportError('server', op, rel, this.root, e);
  }
}

/**
 * A share-relative `/` path (what the sequenced layer names) as an absolute path inside `root`, joined
 * with the platform's separators: on Windows a UNC root `\\server\share\POS1` gives
 * `\\server\share\POS1\out\POS1.rep.$1`. Refuses a path that would leave the share. `p` is node:path
 * (path.win32 in a test of the Windows rules on any platform).
 */
export function sharePath(root: string, rel: string, p: path.PlatformPath = path): string {
  const parts = rel.split('/').filter((x) => x !== '' && x !== '.');
  if (p.isAbsolute(rel) || parts.includes('..') || rel.includes('\\') || rel.includes('\0')) {
    throw new TransportError('config', `folder transport: path '${rel}' must be relative to the share '${root}' (no leading '/', '..' or '\\')`);
  }
  return p.join(root, ...parts);
}

/**
 * Copy an open file to `dstPath` (created or replaced) and fsync it, reporting
 * progress per chunk. Only ever used for our own names (temp files, the
 * caller's download target), so replacing is fine.
 */
async function copyDurably(
  input: fs.FileHandle,
  dstPath: string,
  onProgress: ((bytes: number) => void) | undefined,
  mapWriteError: (e: unknown) => Promise<TransportError>,
): Promise<number> {
  let out: fs.FileHandle;
  try {
    out = await fs.open(dstPath, 'w');
  } catch (e) {
    throw await mapWriteError(e);
  }
  let bytes = 0;
  try {
    const buf = Buffer.allocUnsafe(1 << 20);
    for (;;) {
      const { bytesRead } = await input.read(buf, 0, buf.length, null);
      if (bytesRead === 0) break;
      let off = 0;
      while (off < bytesRead) {
        const { bytesWritten } = await out.write(buf, off, bytesRead - off);
        off += bytesWritten;
      }
      bytes += bytesRead;
      onProgress?.(bytes);
    }
    await out.sync();
  } catch (e) {
    await out.close().catch(() => {});
    throw e instanceof TransportError ? e : await mapWriteError(e);
  }
  try {
    await out.close();
  } catch (e) {
    throw await mapWriteError(e);
  }
  if (bytes === 0) onProgress?.(0);
  return bytes;
}

/** fsync the folders holding `files`, so renames and unlinks survive a power cut. Best effort: SMB may refuse. */
async function fsyncDirs(...files: string[]): Promise<void> {
  const dirs = [...new Set(files.map((f) => path.dirname(f)))];
  for (const dir of dirs) {
    let h: fs.FileHandle | undefined;
    try {
      h = await fs.open(dir, 'r');
      await h.sync();
    } catch {
      // Directories cannot be fsynced on every filesystem (CIFS, Windows); the data itself was synced.
    } finally {
      await h?.close().catch(() => {});
    }
  }
}

function joinRel(dir: string, name: string): string {
  return dir === '' ? name : `${dir.replace(/\/+$/, '')}/${name}`;
}
