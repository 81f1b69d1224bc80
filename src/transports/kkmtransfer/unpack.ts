/**
 * Turning a ReceiveData package's `data` (base64, normally of a ZIP) into
 * files in the store's tmp folder, under names we choose (never the
 * archive's). Anything wrong with the bytes themselves (bad base64, a broken
 * or hostile ZIP, more than `maxPackageBytes`) is an UnreadablePackage that
 * carries the raw bytes worth keeping, so the caller can quarantine them and
 * move on; asking the server again would only return the same bytes.
 * Local failures (disk full, permissions) are thrown as they are: those are
 * ours, and the package is fetched again once they are fixed.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { decodeBase64 } from '../../formats/base64.js';
import { FormatError } from '../../formats/errors.js';
import { extractZipTo, isZip } from '../../formats/zip.js';
import type { IncomingKind, IncomingPart } from '../transport.js';

export class UnreadablePackage extends Error {
  override readonly name = 'UnreadablePackage';
  constructor(
    /** What to keep in quarantine: the decoded bytes when base64 was fine, else the base64 text. */
    readonly raw: Buffer,
    /** A file-name suffix saying what `raw` is, so an operator can open it: `.zip`, `.bin`, `.base64`. */
    readonly rawExtension: string,
    reason: string,
  ) {
    super(reason);
  }
}

export interface UnpackRequest {
  /** The base64 text as received (line breaks allowed). */
  data: string;
  /** The package number, for names and messages. */
  number: number;
  pos: number;
  kind: IncomingKind;
  uid: string | undefined;
  tmpDir: string;
  maxPackageBytes: number;
}

export interface Unpacked {
  parts: IncomingPart[];
  /** Bytes of the files staged (after unzipping). */
  bytes: number;
}

export async function unpackPackage(r: UnpackRequest): Promise<Unpacked> {
  const name = `package ${r.number}`;
  let raw: Buffer;
  try {
    raw = decodeBase64(r.data, name);
  } catch (e) {
    if (e instanceof FormatError) throw new UnreadablePackage(Buffer.from(r.data, 'utf8'), '.base64', e.message);
    throw e;
  }
  const localName = (i: number) => join(r.tmpDir, `kkm-pos${r.pos}-${r.number}-${i}.${r.kind}`);
  const extra = r.uid ? { uid: r.uid } : {};
  if (!isZip(raw)) {
    // Not a ZIP: the decoded bytes are the file itself.
    if (raw.length > r.maxPackageBytes) {
      throw new UnreadablePackage(raw, '.bin', `${name}: ${raw.length} bytes, more than transport.maxPackageBytes (${r.maxPackageBytes})`);
    }
    const localPath = localName(0);
    await writeFile(localPath, raw);
    return { parts: [{ localPath, remoteName: name, kind: r.kind, ...extra }], bytes: raw.length };
  }
  let entries;
  try {
    // extractZipTo removes what it wrote when it fails.
    entries = await extractZipTo(raw, name, r.tmpDir, { maxTotalBytes: r.maxPackageBytes }, (_e, i) => localName(i));
  } catch (e) {
    if (e instanceof FormatError) throw new UnreadablePackage(raw, '.zip', e.message);
    throw e;
  }
  if (entries.length === 0) throw new UnreadablePackage(raw, '.zip', `${name}: the ZIP archive holds no file`);
  const parts = entries.map((e) => ({
    localPath: e.path,
    remoteName: entries.length === 1 ? name : `${name} ${e.name}`,
    kind: r.kind,
    ...extra,
  }));
  return { parts, bytes: entries.reduce((s, e) => s + e.bytes, 0) };
}
