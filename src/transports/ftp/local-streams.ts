/**
 * Local files for basic-ftp's transfers, opened and closed here rather than by
 * basic-ftp. Given a path, basic-ftp opens the file descriptor itself, wraps it
 * in a stream with `autoClose: false` and closes it in a `finally`; but when
 * the transfer fails mid-way, `stream.pipeline` destroys that stream, and Node
 * closes a destroyed file stream's descriptor whatever `autoClose` says. The
 * `finally` then closes the same number a second time, by which time it may
 * belong to a new socket (a reconnect, a data connection of an upload running
 * ahead): libuv later finds its socket gone and aborts the process (SIGABRT in
 * `uv__epoll_ctl_prep`; found by the reliability harness's FTP faults under
 * load, core dump and all). A stream that owns its descriptor closes it once.
 * A small upload is sent from memory (localUpload): no descriptor is left open
 * during the transfer at all.
 */
import { closeSync, createReadStream, createWriteStream, fstatSync, openSync, readSync, type ReadStream, type WriteStream } from 'node:fs';
import { once } from 'node:events';
import { Readable, type Writable } from 'node:stream';

/**
 * Files up to this size are uploaded from memory. A till's package is a few KB: read in one
 * synchronous call from the page cache it takes microseconds, where a file stream costs an
 * open, reads and a close, each a trip through libuv's thread pool (busy with a drain's
 * fsyncs), and a stream's machinery on top, for every package of a backlog.
 */
export const IN_MEMORY_UPLOAD_BYTES = 256 * 1024;

export interface LocalUpload {
  /** The file's size (what the server must hold afterwards). */
  bytes: number;
  /** A fresh stream of the file's bytes, for one transfer attempt. */
  stream(): Promise<Readable>;
}

/** The local file of an upload: read whole when small (IN_MEMORY_UPLOAD_BYTES), else streamed by localSource per attempt. */
export function localUpload(path: string): LocalUpload {
  const fd = openSync(path, 'r');
  try {
    const size = fstatSync(fd).size;
    if (size > IN_MEMORY_UPLOAD_BYTES) return { bytes: size, stream: () => localSource(path) };
    const data = Buffer.allocUnsafe(size);
    let got = 0;
    for (let n = 1; got < size && n > 0; got += n) n = readSync(fd, data, got, size - got, got);
    const whole = data.subarray(0, got);
    return { bytes: got, stream: async () => Readable.from([whole]) };
  } finally {
    closeSync(fd);
  }
}

/** A stream of the local file for an upload; its descriptor is closed once, by the stream. */
export async function localSource(path: string): Promise<ReadStream> {
  const stream = createReadStream(path);
  await once(stream, 'open'); // a missing file fails here, before any FTP command is sent
  return stream;
}

/** A stream writing (creating or replacing) the local file of a download. */
export async function localDestination(path: string): Promise<WriteStream> {
  const stream = createWriteStream(path);
  await once(stream, 'open');
  return stream;
}

/**
 * Closes the stream (if the transfer has not already) and waits until its
 * descriptor is released. Called after every transfer, whether it succeeded
 * (the data is then all written: basic-ftp resolves after its pipeline
 * finished) or not.
 */
export async function released(stream: Readable | Writable): Promise<void> {
  if (stream.closed) return;
  const closed = once(stream, 'close');
  stream.destroy();
  await closed.catch(() => undefined);
}
