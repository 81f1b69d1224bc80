/** How basic-ftp's failures become TransportError kinds (the table the retry policy depends on). */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FTPError } from 'basic-ftp';
import { TransportError } from '../../src/transports/errors.js';
import { isConnectionLevel, toTransportError, type FtpErrorContext } from '../../src/transports/ftp/ftp-errors.js';

const ctx: FtpErrorContext = { op: 'list', path: 'Files', server: 'ftp.example:21', phase: 'command' };
const reply = (code: number, text: string) => new FTPError({ code, message: `${code} ${text}` });
const errno = (code: string, message = code) => Object.assign(new Error(message), { code });

describe('FTP error mapping', () => {
  it('maps reply codes', () => {
    assert.equal(toTransportError(reply(530, 'Login incorrect.'), { ...ctx, phase: 'login' }).kind, 'auth');
    assert.equal(toTransportError(reply(550, 'SSL/TLS required on the control channel'), { ...ctx, phase: 'login' }).kind, 'auth');
    assert.equal(toTransportError(reply(500, 'AUTH not understood'), { ...ctx, phase: 'tls' }).kind, 'tls');
    assert.equal(toTransportError(reply(452, 'Insufficient storage'), ctx).kind, 'full');
    assert.equal(toTransportError(reply(552, 'Transfer aborted. File too large'), ctx).kind, 'full');
    assert.equal(toTransportError(reply(421, 'Idle timeout (2 seconds): closing control connection'), ctx).kind, 'unreachable');
    assert.equal(toTransportError(reply(550, 'Files: No such file or directory'), { ...ctx, folder: true }).kind, 'config');
    const e = toTransportError(reply(550, 'x.rep: Permission denied'), { ...ctx, op: 'download', path: 'x.rep' });
    assert.equal(e.kind, 'server');
    assert.equal(e.details.code, 550);
    assert.equal(e.details.serverAnswer, '550 x.rep: Permission denied');
    assert.ok(e.message.includes("'x.rep'") && e.message.includes('ftp.example:21'), e.message);
  });

  it('maps socket failures, timeouts and TLS errors', () => {
    assert.equal(toTransportError(errno('ECONNREFUSED'), { ...ctx, phase: 'connect' }).kind, 'unreachable');
    assert.equal(toTransportError(errno('ECONNRESET', 'read ECONNRESET (control socket)'), ctx).kind, 'unreachable');
    assert.equal(toTransportError(errno('EPIPE'), ctx).kind, 'unreachable');
    assert.equal(toTransportError(new Error('Server sent FIN packet unexpectedly, closing connection.'), ctx).kind, 'unreachable');
    assert.equal(toTransportError(new Error('Timeout (control socket)'), ctx).kind, 'timeout');
    assert.equal(toTransportError(errno('0', 'Client is closed because Timeout (data socket)'), ctx).kind, 'timeout');
    assert.equal(toTransportError(errno('SELF_SIGNED_CERT_IN_CHAIN', 'self-signed certificate in certificate chain'), { ...ctx, phase: 'tls' }).kind, 'tls');
    assert.equal(toTransportError(errno('UNABLE_TO_VERIFY_LEAF_SIGNATURE'), { ...ctx, phase: 'connect' }).kind, 'tls');
    assert.equal(toTransportError(errno('ERR_TLS_CERT_ALTNAME_INVALID'), ctx).kind, 'tls');
    assert.equal(toTransportError(errno('ECONNRESET', 'socket disconnected before secure TLS connection was established'), { ...ctx, phase: 'tls' }).kind, 'tls');
    assert.equal(toTransportError(new Error('Timeout (control socket)'), { ...ctx, phase: 'tls' }).kind, 'timeout', 'a black hole during the handshake is a timeout');
  });

  it('passes TransportErrors through unchanged', () => {
    const original = new TransportError('protocol', 'size mismatch');
    assert.equal(toTransportError(original, ctx), original);
  });

  it('tells connection-level failures (worth a reconnect) from answers', () => {
    assert.equal(isConnectionLevel(reply(421, 'bye'), true), true);
    assert.equal(isConnectionLevel(reply(550, 'no'), true), false, 'a reply is an answer even if the session dropped after it');
    assert.equal(isConnectionLevel(reply(450, 'busy'), false), false);
    assert.equal(isConnectionLevel(errno('ECONNRESET'), false), true);
    assert.equal(isConnectionLevel(new Error('Timeout (control socket)'), false), true);
    assert.equal(isConnectionLevel(new Error('anything'), true), true, 'a closed client needs a new session');
    assert.equal(isConnectionLevel(new Error('local trouble'), false), false);
    assert.equal(isConnectionLevel(new TransportError('protocol', 'x'), true), false);
  });
});
