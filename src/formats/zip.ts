/**
 * Safe ZIP reading (yauzl) and deterministic ZIP writing (zip-writer.ts).
 *
 * What yauzl leaves to its callers, and this file adds in one place:
 * - entry names: no UTF-8 flag (general purpose bit 11) means the archiver's
 *   OEM code page, which on Russian Windows is cp866, not the CP437 yauzl
 *   assumes; so names are decoded here (`decodeStrings: false`) and then
 *   checked for zip-slip (`..`, absolute, drive letters, backslashes);
 * - zip bombs: the inflated bytes are counted as they stream and the read is
 *   stopped as soon as a limit is passed (header sizes are only a first,
 *   cheap check; yauzl's `validateEntrySizes` also catches headers that lie);
 * - every yauzl/zlib failure becomes a FormatError naming the archive.
 */
import { createWriteStream } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { dirname, join, relative, isAbsolute } from 'node:path';
import { Transform, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { crc32 } from 'node:zlib';
import iconv from 'iconv-lite';
import yauzl from 'yauzl';
import { FormatError } from './errors.js';
import { writeZip, type ZipEntry } from './zip-writer.js';

export interface ZipLimits {
  /** Cap on the bytes actually inflated, all entries together. Default 1 GiB. */
  maxTotalBytes?: number;
  /** Cap on inflated/compressed per entry, applied once an entry passes 1 MiB. Default 200. */
  maxRatio?: number;
  /** Cap on the number of entries (directories included). Default 1000. */
  maxEntries?: number;
}

// A ZIP entry is defined where archives are written; readers return the same shape.
export type { ZipEntry } from './zip-writer.js';

export interface ExtractedEntry {
  name: string;
  /** Where the entry was written. */
  path: string;
  bytes: number;
}

const DEFAULTS = { maxTotalBytes: 1024 ** 3, maxRatio: 200, maxEntries: 1000 } as const;
/** Small entries may legitimately compress very well (a few KB of spaces); the ratio only means something for big ones. */
const RATIO_GRACE_BYTES = 1024 * 1024;
const UTF8_FLAG = 0x800;
const INFO_ZIP_UNICODE_PATH = 0x7075;

/** True when `data` starts like a ZIP archive (a local file header, or the end record of an empty archive). */
export function isZip(data: Buffer): boolean {
  return data.length >= 4 && data[0] === 0x50 && data[1] === 0x4b && ((data[2] === 3 && data[3] === 4) || (data[2] === 5 && data[3] === 6));
}

/** Read every file entry into memory, in archive order (directory entries are skipped). For small archives. */
export async function readZipEntries(zip: Buffer, name: string, limits: ZipLimits = {}): Promise<ZipEntry[]> {
  const out: ZipEntry[] = [];
  await walkZip(() => yauzl.fromBufferPromise(zip, YAUZL_OPTIONS), name, limits, async (entryName) => {
    const chunks: Buffer[] = [];
    return { dest: collectInto(chunks), finish: () => out.push({ name: entryName, data: Buffer.concat(chunks) }) };
  });
  return out;
}

/**
 * Stream every file entry to disk, in archive order: for big archives (a first
 * catalogue load). `zip` is the archive itself or its path. By default an entry
 * lands at `destDir/<its name>` (sub-folders created); `pathFor` chooses another
 * local path (e.g. a name the caller controls). On any failure the files
 * written so far are removed and the error is thrown.
 */
export async function extractZipTo(
  zip: Buffer | string,
  name: string,
  destDir: string,
  limits: ZipLimits = {},
  pathFor: (entryName: string, index: number) => string = (entryName) => join(destDir, ...entryName.split('/')),
): Promise<ExtractedEntry[]> {
  const out: ExtractedEntry[] = [];
  const written: string[] = [];
  const open = () => (typeof zip === 'string' ? yauzl.openPromise(zip, YAUZL_OPTIONS) : yauzl.fromBufferPromise(zip, YAUZL_OPTIONS));
  try {
    await walkZip(open, name, limits, async (entryName, index) => {
      const path = pathFor(entryName, index);
      const rel = relative(destDir, path);
      if (rel.startsWith('..') || isAbsolute(rel)) throw new FormatError(name, undefined, `entry "${entryName}" would be written outside ${destDir}`);
      await mkdir(dirname(path), { recursive: true });
      written.push(path);
      const file = createWriteStream(path);
      return { dest: file, finish: () => out.push({ name: entryName, path, bytes: file.bytesWritten }) };
    });
  } catch (e) {
    await Promise.all(written.map((p) => rm(p, { force: true })));
    throw e;
  }
  return out;
}

/**
 * Build a ZIP (deflated, UTF-8 names) that is byte-for-byte the same every
 * time for the same entries: a fixed DOS timestamp (1980-01-01 00:00) and no
 * extended-timestamp field; the layout yazl writes (zip-writer.ts). A SendData
 * package must not change between attempts. Synchronous work; a promise for
 * the callers that await it.
 */
export async function makeZip(entries: ZipEntry[]): Promise<Buffer> {
  return writeZip(entries);
}

// ---- internals -------------------------------------------------------------

const YAUZL_OPTIONS: yauzl.Options = { lazyEntries: true, decodeStrings: false, autoClose: false, validateEntrySizes: true };

/** Where one entry goes: `dest` receives the inflated bytes; `finish` runs once they are all written. */
type EntrySink = (entryName: string, index: number) => Promise<{ dest: Writable; finish(): void }>;

async function walkZip(open: () => Promise<yauzl.ZipFile>, name: string, limits: ZipLimits, sink: EntrySink): Promise<void> {
  const maxTotal = limits.maxTotalBytes ?? DEFAULTS.maxTotalBytes;
  const maxRatio = limits.maxRatio ?? DEFAULTS.maxRatio;
  const maxEntries = limits.maxEntries ?? DEFAULTS.maxEntries;
  let zipfile: yauzl.ZipFile;
  try {
    zipfile = await open();
  } catch (e) {
    throw asFormatError(e, name, undefined, 0);
  }
  let total = 0;
  let count = 0;
  let current: string | undefined;
  try {
    for await (const entry of zipfile.eachEntry()) {
      count++;
      if (count > maxEntries) throw new FormatError(name, undefined, `more than ${maxEntries} entries in the archive`);
      const entryName = checkEntryName(decodeEntryName(entry), name);
      current = entryName;
      if (entryName.endsWith('/')) continue; // a directory entry: nothing to extract
      if (entry.isEncrypted()) throw new FormatError(name, undefined, `entry "${entryName}" is encrypted`);
      // Cheap first checks on what the headers declare; the counter below checks what really comes out.
      if (total + entry.uncompressedSize > maxTotal) {
        throw new FormatError(name, undefined, `entry "${entryName}" declares ${entry.uncompressedSize} bytes, which with the ${total} bytes before it exceeds the limit of ${maxTotal} bytes (zip bomb?)`);
      }
      if (entry.uncompressedSize > RATIO_GRACE_BYTES && entry.uncompressedSize / Math.max(1, entry.compressedSize) > maxRatio) {
        throw new FormatError(name, undefined, `entry "${entryName}" declares a compression ratio above ${maxRatio} (zip bomb?)`);
      }
      let inflated = 0;
      let crc = 0;
      const compressed = Math.max(1, entry.compressedSize);
      const counter = new Transform({
        transform(chunk: Buffer, _enc, done) {
          inflated += chunk.length;
          total += chunk.length;
          if (total > maxTotal) {
            done(new FormatError(name, undefined, `entry "${entryName}": more than ${maxTotal} bytes inflated (stopped after ${total} bytes; zip bomb?)`));
          } else if (inflated > RATIO_GRACE_BYTES && inflated / compressed > maxRatio) {
            done(new FormatError(name, undefined, `entry "${entryName}": compression ratio above ${maxRatio} (stopped after ${inflated} bytes; zip bomb?)`));
          } else {
            crc = crc32(chunk, crc);
            done(null, chunk);
          }
        },
        // yauzl does not check CRC-32; a damaged stored entry would otherwise pass silently.
        flush(done) {
          if (crc !== entry.crc32) done(new FormatError(name, undefined, `entry "${entryName}": CRC-32 mismatch, the data is damaged`));
          else done();
        },
      });
      const { dest, finish } = await sink(entryName, count - 1);
      const raw = await zipfile.openReadStreamPromise(entry);
      await pipeline(raw, counter, dest);
      finish();
    }
  } catch (e) {
    throw asFormatError(e, name, current, total);
  } finally {
    zipfile.close();
  }
}

/** yauzl and zlib errors are about the archive: name it. Local I/O errors (they carry `syscall`) pass through. */
function asFormatError(e: unknown, archive: string, entry: string | undefined, inflated: number): unknown {
  if (e instanceof FormatError) return e;
  if (e instanceof Error && 'syscall' in e) return e;
  const what = e instanceof Error ? e.message : String(e);
  const where = entry === undefined ? '' : ` (entry "${entry}", ${inflated} bytes inflated)`;
  return new FormatError(archive, undefined, `corrupt or truncated ZIP archive${where}: ${what}`);
}

/**
 * The entry name as the archiver meant it: the Info-ZIP Unicode Path field if
 * present and matching, else UTF-8 when bit 11 says so, else cp866.
 */
function decodeEntryName(entry: yauzl.Entry): string {
  const raw = entry.fileNameRaw;
  for (const f of entry.extraFields) {
    if (f.id === INFO_ZIP_UNICODE_PATH && f.data.length > 5 && f.data[0] === 1 && f.data.readUInt32LE(1) === crc32(raw)) {
      return f.data.subarray(5).toString('utf8');
    }
  }
  if (entry.generalPurposeBitFlag & UTF8_FLAG) {
    try {
      return new TextDecoder('utf-8', { fatal: true }).decode(raw);
    } catch {
      // Flagged UTF-8 but is not: some archivers set the flag blindly. Fall through to cp866.
    }
  }
  return iconv.decode(raw, 'cp866');
}

/** Reject names that would escape the destination; returns the name with `\` turned into `/`. */
function checkEntryName(entryName: string, archive: string): string {
  const bad = (why: string) => new FormatError(archive, undefined, `entry name "${entryName}" ${why}`);
  if (entryName === '') throw bad('is empty');
  if (entryName.includes('\0')) throw bad('contains a NUL character');
  // Windows archivers (and .NET 4.5) write `\` separators; treat them as separators so `..\x` is caught too.
  const n = entryName.replace(/\\/g, '/');
  if (n.startsWith('/')) throw bad('is an absolute path');
  if (/^[A-Za-z]:/.test(n)) throw bad('starts with a drive letter');
  if (n.split('/').includes('..')) throw bad('contains a ".." segment');
  return n;
}

function collectInto(chunks: Buffer[]): Writable {
  return new Writable({
    write(chunk: Buffer, _enc, done) {
      chunks.push(chunk);
      done();
    },
  });
}
