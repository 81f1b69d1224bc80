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
 */
import { createReadStream, createWriteStream, type ReadStream, type WriteStream } from 'node:fs';
import { once } from 'node:events';

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
export async function released(stream: ReadStream | WriteStream): Promise<void> {
  if (stream.closed) return;
  const closed = once(stream, 'close');
  stream.destroy();
  await closed.catch(() => undefined);
}
