/**
 * File-name encoding on the FTP control connection, wrapped once.
 *
 * basic-ftp decodes/encodes the control connection (commands, replies) and
 * directory listings with one Node encoding (`client.ftp.encoding`, UTF-8 by
 * default); Node has no Windows-1251. So for `cp1251` the socket runs in
 * `latin1`, where a JS string carries the raw bytes one char per byte, and we
 * transcode names at the boundary with iconv-lite: `toWire` before a name goes
 * into a command, `fromWire` on names and replies coming back.
 *
 * basic-ftp also sends `OPTS UTF8 ON` during login; a server that converts
 * names (ProFTPD `UseEncoding UTF-8 CP1251`) would then switch to UTF-8, so in
 * cp1251 mode we send `OPTS UTF8 OFF` after login (a 5xx answer is ignored:
 * a server without RFC 2640 support is already byte-transparent).
 */
import iconv from 'iconv-lite';
import type { Client } from 'basic-ftp';
import { TransportError } from '../errors.js';

export type NameEncoding = 'utf8' | 'cp1251';

export interface NameCodec {
  readonly encoding: NameEncoding;
  /** Turn a file name (or path, user name) into the string basic-ftp writes to the socket. */
  toWire(name: string): string;
  /** Turn a name or server reply read from the socket back into a proper string. */
  fromWire(wire: string): string;
  /** Set the control connection up for this encoding; call once on a new Client. */
  attach(client: Client): void;
  /** Run after login (basic-ftp has just sent `OPTS UTF8 ON`). */
  afterLogin(client: Client): Promise<void>;
}

const utf8Codec: NameCodec = {
  encoding: 'utf8',
  toWire: (name) => name,
  fromWire: (wire) => wire,
  attach: (client) => {
    client.ftp.encoding = 'utf8';
  },
  afterLogin: async () => {},
};

const cp1251Codec: NameCodec = {
  encoding: 'cp1251',
  toWire(name) {
    const bytes = iconv.encode(name, 'win1251');
    // iconv-lite replaces what the code page lacks with '?': refuse instead of writing a different name.
    if (iconv.decode(bytes, 'win1251') !== name) {
      const bad = [...name].find((ch) => iconv.decode(iconv.encode(ch, 'win1251'), 'win1251') !== ch);
      throw new TransportError('config', `FTP name '${name}' cannot be written in Windows-1251 (character '${bad ?? '?'}' has no cp1251 code); rename it or use encoding utf8`);
    }
    return bytes.toString('latin1');
  },
  fromWire: (wire) => iconv.decode(Buffer.from(wire, 'latin1'), 'win1251'),
  attach: (client) => {
    client.ftp.encoding = 'latin1';
  },
  afterLogin: async (client) => {
    await client.sendIgnoringError('OPTS UTF8 OFF');
  },
};

export function nameCodec(encoding: NameEncoding): NameCodec {
  return encoding === 'cp1251' ? cp1251Codec : utf8Codec;
}
