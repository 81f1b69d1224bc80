/**
 * The deterministic ZIP writer behind `makeZip` (zip.ts), in one synchronous
 * call: each entry deflated with `zlib.deflateRawSync` (level 6), a local
 * header, and a central directory and end record after the data.
 *
 * Why not yazl, which wrote these archives before: for a SendData package of a
 * few KB, yazl's asynchronous deflate (a trip through libuv's thread pool,
 * queued behind the store's fsyncs during a drain) and its output stream cost
 * about 0.7-0.9 ms per package; this costs a few dozen microseconds.
 *
 * The bytes are the ones yazl 3 writes for `addBuffer(data, name, { mtime:
 * 1980-01-01 00:00 local, mode: 0o100644, forceDosTimestamp: true, compress:
 * true })` (test/formats/zip-writer.test.ts compares them with yazl's output,
 * and reads them back with yauzl): UTF-8 names (flag bit 11), sizes and CRC-32
 * in the local header (no data descriptor), version made by Unix/6.3, version
 * needed 2.0, no extra fields, no comments, no ZIP64 (a package is far below
 * its 4 GiB and 65,535-entry limits; larger input is refused).
 */
import { crc32, deflateRawSync } from 'node:zlib';

export interface ZipEntry {
  /** The entry's path inside the archive, `/`-separated, already checked to be relative and without `..`. */
  name: string;
  data: Buffer;
}

const LOCAL_HEADER = 30;
const CENTRAL_HEADER = 46;
const END_RECORD = 22;
const VERSION_MADE_BY = (3 << 8) | 63; // Unix, spec 6.3
const VERSION_NEEDED = 20;
const FLAG_UTF8 = 1 << 11;
const METHOD_DEFLATE = 8;
/** 1980-01-01 00:00:00 in DOS date/time form: the fixed timestamp of every entry. */
const DOS_TIME = 0;
const DOS_DATE = (1 << 5) | 1;
/** A regular file, rw-r--r--, in the Unix half of the external attributes. */
const EXTERNAL_ATTRIBUTES = (0o100644 << 16) >>> 0;
const MAX_U32 = 0xffffffff;

interface Written {
  name: Buffer;
  crc: number;
  size: number;
  compressed: number;
  offset: number;
}

/** A ZIP of `entries` (deflated, in order), the same bytes for the same entries every time. */
export function writeZip(entries: readonly ZipEntry[]): Buffer {
  if (entries.length >= 0xffff) throw new Error(`ZIP: ${entries.length} entries, more than this writer supports (65,534)`);
  const parts: Buffer[] = [];
  const written: Written[] = [];
  let offset = 0;
  for (const e of entries) {
    const name = Buffer.from(entryPath(e.name), 'utf8');
    if (e.data.length > MAX_U32 - 1) throw new Error(`ZIP: entry "${e.name}" is ${e.data.length} bytes, more than this writer supports (4 GiB)`);
    const data = deflateRawSync(e.data, { level: 6 });
    const w: Written = { name, crc: crc32(e.data), size: e.data.length, compressed: data.length, offset };
    const header = Buffer.alloc(LOCAL_HEADER);
    header.writeUInt32LE(0x04034b50, 0);
    writeSharedFields(header, 4, w);
    // extra field length 0 (bytes 28-29)
    parts.push(header, name, data);
    offset += LOCAL_HEADER + name.length + data.length;
    if (offset > MAX_U32 - 1) throw new Error('ZIP: the archive would pass 4 GiB, more than this writer supports');
    written.push(w);
  }
  const directoryAt = offset;
  for (const w of written) {
    const record = Buffer.alloc(CENTRAL_HEADER);
    record.writeUInt32LE(0x02014b50, 0);
    record.writeUInt16LE(VERSION_MADE_BY, 4);
    writeSharedFields(record, 6, w);
    // extra field, comment, disk number, internal attributes: all 0 (bytes 30-37)
    record.writeUInt32LE(EXTERNAL_ATTRIBUTES, 38);
    record.writeUInt32LE(w.offset, 42);
    parts.push(record, w.name);
    offset += CENTRAL_HEADER + w.name.length;
  }
  const end = Buffer.alloc(END_RECORD);
  end.writeUInt32LE(0x06054b50, 0);
  // this disk and the directory's disk: 0 (bytes 4-7)
  end.writeUInt16LE(written.length, 8);
  end.writeUInt16LE(written.length, 10);
  end.writeUInt32LE(offset - directoryAt, 12);
  end.writeUInt32LE(directoryAt, 16);
  // comment length 0 (bytes 20-21)
  parts.push(end);
  return Buffer.concat(parts);
}

/** The fields a local header and a central directory record share, in the same order: version needed to file name length. */
function writeSharedFields(b: Buffer, at: number, w: Written): void {
  b.writeUInt16LE(VERSION_NEEDED, at);
  b.writeUInt16LE(FLAG_UTF8, at + 2);
  b.writeUInt16LE(METHOD_DEFLATE, at + 4);
  b.writeUInt16LE(DOS_TIME, at + 6);
  b.writeUInt16LE(DOS_DATE, at + 8);
  b.writeUInt32LE(w.crc, at + 10);
  b.writeUInt32LE(w.compressed, at + 14);
  b.writeUInt32LE(w.size, at + 18);
  b.writeUInt16LE(w.name.length, at + 22);
}

/** The entry's path as stored: `/`-separated, relative, no `..` (the rules yazl applied). */
function entryPath(name: string): string {
  if (name === '') throw new Error('ZIP: an entry with an empty name');
  const path = name.replace(/\\/g, '/');
  if (/^[a-zA-Z]:/.test(path) || path.startsWith('/')) throw new Error(`ZIP: entry "${name}" is an absolute path`);
  if (path.split('/').includes('..')) throw new Error(`ZIP: entry "${name}" has a ".." segment`);
  if (path.endsWith('/')) throw new Error(`ZIP: entry "${name}" ends with "/" (a folder, not a file)`);
  if (name.length > 0xffff) throw new Error(`ZIP: entry name "${name.slice(0, 40)}..." is too long`);
  return path;
}
