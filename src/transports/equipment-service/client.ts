/**
 * One SOAP call to the EquipmentService over undici (kkmtransfer/http.ts does
 * the wire and its error kinds), and the start-up check an operator needs:
 * `Connect` (is this device known in 1C?) and `GetVersion` (a format this
 * agent reads?). Every failure becomes one TransportError whose message says
 * what to fix: the password (HTTP 401), the base name in the URL (HTTP 404:
 * 1C publication names are case-sensitive), the device identifier, the format
 * version in the device card. A SOAP Fault (HTTP 500) is an operation error:
 * its 1C text is kept and the error is marked with code `soap-fault`.
 */
import type { Dispatcher } from 'undici';
import { TransportError } from '../errors.js';
import { httpCall } from '../kkmtransfer/http.js';
import { snippet } from '../kkmtransfer/answers.js';
import type { ServiceRoot } from '../kkmtransfer/urls.js';
import { buildRequest, readAnswer, SoapFormatError, type Operation, type SoapVersion } from './soap.js';
import { SUPPORTED_VERSIONS, type FormatVersion } from './messages.js';

export const SOAP_FAULT = 'soap-fault';
/** The error code of a device 1C does not know, or whose format this agent does not read: fixed in the device card or transport.deviceId. */
export const DEVICE_PROBLEM = 'device';

export interface EsClientOptions {
  root: ServiceRoot;
  user?: string;
  password?: string;
  soapVersion: SoapVersion;
  timeoutMs: number;
  /** The largest answer accepted (a price-list package). */
  maxAnswerBytes: number;
  dispatcher: Dispatcher;
}

export class EsClient {
  constructor(private readonly o: EsClientOptions) {}

  /** Calls `op`; resolves with the text of `return`. Throws TransportError (a Fault: kind `server`, code `soap-fault`). */
  async call(op: Operation, params: [string, string | boolean][], signal: AbortSignal): Promise<string> {
    const what = op;
    const req = buildRequest(this.o.soapVersion, op, params);
    const headers: Record<string, string> = { ...req.headers, accept: 'text/xml, application/soap+xml' };
    const cred = this.credentials();
    if (cred) headers['authorization'] = `Basic ${Buffer.from(`${cred.user}:${cred.password}`, 'utf8').toString('base64')}`;
    const { text } = await httpCall({
      method: 'POST',
      url: this.o.root.url,
      headers,
      body: req.body,
      dispatcher: this.o.dispatcher,
      signal,
      timeoutMs: this.o.timeoutMs,
      maxAnswerBytes: this.o.maxAnswerBytes,
      what,
      secrets: this.secrets(),
      user: cred?.user,
      answerStatuses: [500],
      notFoundHint:
        'no EquipmentService there: check transport.url; the base (publication) name in it is case-sensitive in 1C, and the path ends in /ws/EquipmentService.1cws',
    });
    let answer;
    try {
      answer = readAnswer(text, op, what);
    } catch (e) {
      if (!(e instanceof SoapFormatError)) throw e;
      throw new TransportError('protocol', `${e.message}: ${snippet(text, this.secrets())}`, { serverAnswer: snippet(text, this.secrets()) });
    }
    if (answer.kind === 'fault') {
      const t = snippet(answer.text, this.secrets());
      throw new TransportError('server', `${what}: 1C answered with an error: ${t}`, { code: SOAP_FAULT, serverAnswer: t });
    }
    return answer.value;
  }

  /**
   * `Connect` then `GetVersion`: the device must be known in 1C and its
   * format one of 3001-3003. Resolves with the format version.
   */
  async connect(deviceId: string, signal: AbortSignal): Promise<FormatVersion> {
    const connected = (await this.call('Connect', [['DeviceID', deviceId]], signal)).trim();
    if (connected !== 'true') {
      throw new TransportError(
        'config',
        `Connect: 1C does not know the device "${deviceId}" (answer ${connected || 'empty'}): in 1C, open the offline cash register's card, set its exchange to the web service and its web-service identifier to exactly "${deviceId}" (transport.deviceId), or fix transport.deviceId`,
        { code: DEVICE_PROBLEM },
      );
    }
    const raw = (await this.call('GetVersion', [['DeviceID', deviceId]], signal)).trim();
    const v = Number(raw);
    if (!SUPPORTED_VERSIONS.includes(v as FormatVersion)) {
      throw new TransportError(
        'config',
        `GetVersion: 1C answered format version ${raw || 'empty'} for device "${deviceId}"; this agent reads formats 3001, 3002 and 3003 only: choose one of them in the device card in 1C`,
        { code: DEVICE_PROBLEM },
      );
    }
    return v as FormatVersion;
  }

  private credentials(): { user: string; password: string } | undefined {
    const user = this.o.user ?? this.o.root.user;
    if (user === undefined || user === '') return undefined;
    return { user, password: (this.o.user !== undefined ? this.o.password : this.o.root.password) ?? '' };
  }

  secrets(): string[] {
    const cred = this.credentials();
    return cred && cred.password ? [cred.password, Buffer.from(`${cred.user}:${cred.password}`, 'utf8').toString('base64')] : [];
  }
}
