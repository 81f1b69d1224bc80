/**
 * The XML door of the EquipmentService transport (saxes to read, xmlbuilder2
 * to write) and the SOAP 1.1 / 1.2 envelopes built and read through it.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { buildXml, child, parseXml, XmlSyntaxError } from '../../src/transports/equipment-service/xml.js';
import { buildFault, buildRequest, buildResponse, readAnswer, readRequest, SERVICE_NS, SoapFormatError, soapAction } from '../../src/transports/equipment-service/soap.js';

describe('equipment-service XML', () => {
  it('elements are matched by namespace and local name, whatever the prefix', () => {
    const a = parseXml('<x:Settings xmlns:x="urn:v"><x:INN>77</x:INN></x:Settings>', 't');
    const b = parseXml('<Settings xmlns="urn:v"><INN>77</INN></Settings>', 't');
    for (const r of [a, b]) {
      assert.equal(r.ns, 'urn:v');
      assert.equal(r.name, 'Settings');
      assert.equal(child(r, 'urn:v', 'INN')?.text, '77');
      assert.equal(child(r, '', 'INN'), undefined, 'an element in another namespace is not found');
    }
  });

  it('entities, character references and CDATA come back as text; attributes unqualified by local name', () => {
    const r = parseXml('<a Name="&quot;Ромашка&quot; &amp; Co;#"><![CDATA[x<y]]>&#x41;</a>', 't');
    assert.equal(r.attrs.Name, '"Ромашка" & Co;#');
    assert.equal(r.text, 'x<yA');
  });

  it('a document that is not well-formed is refused with the source and the line', () => {
    assert.throws(() => parseXml('<a>\n<b>\n</a>', 'package 3'), (e: Error) => e instanceof XmlSyntaxError && /package 3/.test(e.message) && /3/.test(e.message));
    // XML 1.0 forbids U+001D even as a character reference.
    assert.throws(() => parseXml('<a>&#x1D;</a>', 'marking'), XmlSyntaxError);
    assert.throws(() => parseXml('', 'empty'), XmlSyntaxError);
  });

  it('building escapes text and attributes, drops what XML 1.0 forbids, and the result reads back the same', () => {
    const xml = buildXml({ name: 'Good', ns: 'urn:v', attrs: { Name: 'a<b & "c"', Skip: undefined }, children: [{ name: 'Code', text: 'x\u001dy]]>' }] });
    assert.match(xml, /^<\?xml version="1.0" encoding="UTF-8"\?>/);
    const r = parseXml(xml, 't');
    assert.equal(r.attrs.Name, 'a<b & "c"');
    assert.equal('Skip' in r.attrs, false);
    assert.equal(child(r, 'urn:v', 'Code')?.text, 'xy]]>');
  });
});

describe('equipment-service SOAP envelopes', () => {
  for (const version of ['1.1', '1.2'] as const) {
    it(`SOAP ${version}: a request carries every parameter qualified, and the XML payload as escaped text`, () => {
      const doc = '<?xml version="1.0" encoding="UTF-8"?><SaleReports xmlns="urn:v"><x a="1&amp;2"/></SaleReports>';
      const r = buildRequest(version, 'PostDocs', [['DeviceID', 'КАССА-01'], ['DocType', 'SaleReports'], ['Document', doc]]);
      const read = readRequest(r.body);
      assert.equal(read.version, version);
      assert.equal(read.op, 'PostDocs');
      assert.equal(read.params.get('Document'), doc);
      assert.equal(read.params.get('DeviceID'), 'КАССА-01');
      const op = parseXml(r.body, 't').children[0]!.children[0]!;
      assert.ok(op.children.every((c) => c.ns === SERVICE_NS), 'parameters are qualified');
      if (version === '1.1') {
        assert.equal(r.headers['soapaction'], `"${soapAction('PostDocs')}"`);
        assert.match(r.headers['content-type']!, /^text\/xml; charset=utf-8$/);
      } else {
        assert.equal(r.headers['content-type'], `application/soap+xml; charset=utf-8; action="${soapAction('PostDocs')}"`);
      }
    });

    it(`SOAP ${version}: an answer's return and a Fault's text are read`, () => {
      assert.deepEqual(readAnswer(buildResponse(version, 'GetVersion', 3003), 'GetVersion', 't'), { kind: 'return', value: '3003' });
      assert.deepEqual(readAnswer(buildFault(version, 'Не заполнено поле <Код>'), 'GetPriceListPackage', 't'), { kind: 'fault', text: 'Не заполнено поле <Код>' });
    });
  }

  it('an answer for another operation, a page that is not SOAP, or broken XML is a format error', () => {
    assert.throws(() => readAnswer(buildResponse('1.1', 'Connect', true), 'GetVersion', 'GetVersion'), SoapFormatError);
    assert.throws(() => readAnswer('<html><body>502</body></html>', 'Connect', 'Connect'), /not a SOAP envelope/);
    assert.throws(() => readAnswer('<soap:Envelope', 'Connect', 'Connect'), SoapFormatError);
  });
});
