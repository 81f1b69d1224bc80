/**
 * The small remote-directory interface over which the folder and FTP
 * transports share their sequenced-files logic (`.$n` numbering,
 * temp-then-rename, no-suffix variant). Only these operations differ between a
 * network share and an FTP server.
 *
 * Paths are relative to the remote root, with `/` separators
 * (e.g. `Files/POS1.spr.$3`). All methods throw TransportError.
 */
export interface RemoteEntry {
  /** The bare file name (no folder). */
  name: string;
  size: number;
  /** Modification time in ms since the epoch, when the remote tells it (FTP MDTM/MLSD, fs stat). */
  mtimeMs?: number;
}

export interface RemoteDir {
  /** Connect (FTP) or check the share is reachable. Idempotent. */
  open(): Promise<void>;
  close(): Promise<void>;
  /** Plain files directly in `dir` (`''` = the root). A missing folder is a TransportError of kind `config`. */
  list(dir: string): Promise<RemoteEntry[]>;
  /** Download `path` to the local file `localPath` (created or replaced). Returns the bytes written. */
  download(path: string, localPath: string, onProgress?: (bytes: number) => void): Promise<number>;
  /**
   * Upload the local file to `path`, replacing it if it exists (used for our own
   * temporary names only), and verify that the remote side then holds as many
   * bytes as the local file (a TransportError of kind `protocol` if not).
   */
  upload(localPath: string, path: string): Promise<void>;
  /** Size of `path`, or undefined if it does not exist. */
  size(path: string): Promise<number | undefined>;
  /**
   * Rename `from` to `to` without ever replacing an existing `to`.
   * Resolves `'exists'` (and leaves `from` in place) if `to` is already taken.
   * `before`, when given, is awaited before the rename is made (and may run
   * alongside a look for an existing `to`); if it throws, nothing is renamed.
   */
  renameNoReplace(from: string, to: string, before?: () => Promise<void>): Promise<'renamed' | 'exists'>;
  /** Delete `path`; resolves without error if it is already gone. */
  remove(path: string): Promise<void>;
  /**
   * A second, independent session to the same remote (FTP: another connection),
   * on which the next package is uploaded to its temporary name while this one
   * is renamed. A RemoteDir whose operations may simply run side by side (a
   * folder) returns itself. Without it, packages are sent one after another.
   */
  fork?(): RemoteDir;
}
