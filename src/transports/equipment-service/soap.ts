/**
 * SOAP 1.1 and 1.2 envelopes of the EquipmentService (document/literal
 * wrapped): the body element is named after the operation, one child per
 * parameter, all in the service namespace; the answer is `{Operation}Response`
 * holding `return`. Every payload travels as escaped text, so the envelopes are
 * small and fixed: built and read through xml.ts, with no SOAP library.
 * The agent uses the request builders and the answer reader; the emulator the
 * other two, so both sides of the tests speak through the same code.
 */
import { child, parseXml, qname, type XmlElement, type XmlNode, buildXml } from './xml.js';

export const SERVICE_NS = 'http://www.1c.ru/EquipmentService';
export const SOAP11_NS = 'http://schemas.xmlsoap.org/soap/envelope/';
export const SOAP12_NS = 'http://www.w3.org/2003/05/soap-envelope';

export type SoapVersion = '1.1' | '1.2';

export type Operation =
  | 'Connect'
  | 'GetVersion'
  | 'GetSettings'
  | 'GetPriceList'
  | 'PreparePriceList'
  | 'PrepareFullPriceList'
  | 'GetPriceListPackage'
  | 'GetGood'
  | 'GetDocTypes'
  | 'GetDocs'
  | 'PostDocs';

/** The action 1C publishes: `{namespace}#{service}:{operation}`. */
export function soapAction(op: string): string {
  return `${SERVICE_NS}#EquipmentService:${op}`;
}

export interface SoapRequest {
  body: string;
  headers: Record<string, string>;
}

/** A request: every parameter is sent, qualified, in the given order (no parameter of this service is nillable). */
export function buildRequest(version: SoapVersion, op: Operation, params: [string, string | boolean][]): SoapRequest {
  const body = envelope(version, { name: op, ns: SERVICE_NS, prefix: 'es', children: params.map(([name, v]) => ({ name, text: String(v) })) });
  const action = soapAction(op);
  const headers: Record<string, string> =
    version === '1.1'
      ? { 'content-type': 'text/xml; charset=utf-8', soapaction: `"${action}"` }
      : { 'content-type': `application/soap+xml; charset=utf-8; action="${action}"` };
  return { body, headers };
}

/** An answer: `{op}Response` with `return` (the emulator's side). */
export function buildResponse(version: SoapVersion, op: string, value: string | number | boolean): string {
  return envelope(version, { name: `${op}Response`, ns: SERVICE_NS, prefix: 'm', children: [{ name: 'return', text: String(value) }] });
}

/** A Fault carrying `text`, as the 1C platform turns an exception into one (the emulator's side; HTTP 500). */
export function buildFault(version: SoapVersion, text: string): string {
  const fault: XmlNode =
    version === '1.1'
      ? { name: 'Fault', children: [{ name: 'faultcode', ns: '', text: 'soap:Server' }, { name: 'faultstring', ns: '', text }] }
      : {
          name: 'Fault',
          children: [
            { name: 'Code', children: [{ name: 'Value', text: 'soap:Receiver' }] },
            { name: 'Reason', children: [{ name: 'Text', attrs: { 'xml:lang': 'ru' }, text }] },
          ],
        };
  return envelope(version, fault);
}

function envelope(version: SoapVersion, payload: XmlNode): string {
  const ns = version === '1.1' ? SOAP11_NS : SOAP12_NS;
  return buildXml({ name: 'Envelope', ns, prefix: 'soap', children: [{ name: 'Body', children: [payload] }] });
}

/** The answer could not be read as this service's SOAP answer: a proxy's page, another service. */
export class SoapFormatError extends Error {
  override readonly name = 'SoapFormatError';
}

export type SoapAnswer = { kind: 'return'; value: string } | { kind: 'fault'; text: string };

/** Reads `{op}Response/return` or a Fault's text from an answer body. */
export function readAnswer(text: string, op: string, what: string): SoapAnswer {
  const body = bodyOf(text, what);
  const first = body.children[0];
  if (!first) throw new SoapFormatError(`${what}: the SOAP Body is empty`);
  if (first.name === 'Fault' && (first.ns === SOAP11_NS || first.ns === SOAP12_NS)) return { kind: 'fault', text: faultText(first) };
  if (first.ns !== SERVICE_NS || first.name !== `${op}Response`) {
    throw new SoapFormatError(`${what}: expected {${SERVICE_NS}}${op}Response in the SOAP Body, got ${qname(first)}`);
  }
  const ret = child(first, SERVICE_NS, 'return') ?? first.children.find((c) => c.name === 'return');
  if (!ret) throw new SoapFormatError(`${what}: ${op}Response has no return element`);
  return { kind: 'return', value: ret.text };
}

/** A request as the emulator reads it: the SOAP version, the operation and its parameters by local name. */
export interface ReadRequest {
  version: SoapVersion;
  op: string;
  params: Map<string, string>;
}

export function readRequest(text: string): ReadRequest {
  const env = parseXml(text, 'SOAP request');
  const version = env.ns === SOAP12_NS ? '1.2' : '1.1';
  const body = bodyOf(text, 'SOAP request', env);
  const op = body.children[0];
  if (!op) throw new SoapFormatError('SOAP request: the Body is empty');
  if (op.ns !== SERVICE_NS) throw new SoapFormatError(`SOAP request: ${qname(op)} is not in the service namespace ${SERVICE_NS}`);
  const params = new Map<string, string>();
  for (const p of op.children) params.set(p.name, p.text);
  return { version, op: op.name, params };
}

function bodyOf(text: string, what: string, parsed?: XmlElement): XmlElement {
  let env: XmlElement;
  try {
    env = parsed ?? parseXml(text, what);
  } catch (e) {
    throw new SoapFormatError((e as Error).message);
  }
  if (env.name !== 'Envelope' || (env.ns !== SOAP11_NS && env.ns !== SOAP12_NS)) {
    throw new SoapFormatError(`${what}: not a SOAP envelope (root ${qname(env)})`);
  }
  const body = child(env, env.ns, 'Body');
  if (!body) throw new SoapFormatError(`${what}: the SOAP envelope has no Body`);
  return body;
}

function faultText(fault: XmlElement): string {
  if (fault.ns === SOAP11_NS) {
    const s = fault.children.find((c) => c.name === 'faultstring');
    return (s?.text ?? '').trim();
  }
  const reason = child(fault, SOAP12_NS, 'Reason');
  const t = reason ? child(reason, SOAP12_NS, 'Text') : undefined;
  return (t?.text ?? '').trim();
}
