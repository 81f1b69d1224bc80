/**
 * The one door to XML for the EquipmentService transport and its emulator.
 * Parsing is saxes (a streaming, namespace-aware parser that enforces XML 1.0
 * well-formedness and character rules); building is fast-xml-builder (the
 * builder of fast-xml-parser: names, escaping), with xmlchars (saxes's table
 * of XML 1.0 characters) dropping what XML 1.0 forbids. Nothing here escapes
 * or reads markup by hand. (xmlbuilder2 was tried and dropped: it leaves a
 * text's `&amp;` unescaped, which corrupts an XML payload carried as text.)
 *
 * The parsed form is a small tree keyed by namespace URI and local name, never
 * by prefix: 1C may pick any prefix, and the service's payloads use a default
 * namespace that differs per format version.
 */
import { SaxesParser } from 'saxes';
import XMLBuilder from 'fast-xml-builder';
import { isChar } from 'xmlchars/xml/1.0/ed5.js';

export interface XmlElement {
  /** Namespace URI ('' when unqualified). */
  ns: string;
  /** Local name, without prefix. */
  name: string;
  /** Unqualified attributes by local name (attributes are unqualified in this service's schemas). */
  attrs: Record<string, string>;
  children: XmlElement[];
  /** The element's own text (character data directly inside it, CDATA included). */
  text: string;
  /** 1-based line of the start tag, for error messages. */
  line: number;
}

/** A document that is not well-formed XML: names the source and the line. */
export class XmlSyntaxError extends Error {
  override readonly name = 'XmlSyntaxError';
}

/**
 * Parses `text` (or chunks, for a large document) into a tree. Throws
 * XmlSyntaxError naming `what` and the line when it is not well-formed.
 */
export function parseXml(text: string | Iterable<string>, what: string): XmlElement {
  const parser = new SaxesParser({ xmlns: true, position: true });
  const stack: XmlElement[] = [];
  let root: XmlElement | undefined;
  let error: Error | undefined;
  parser.on('error', (e) => {
    error ??= e;
  });
  parser.on('opentag', (tag) => {
    const attrs: Record<string, string> = {};
    for (const a of Object.values(tag.attributes)) {
      if (a.prefix === 'xmlns' || a.name === 'xmlns') continue;
      // Qualified attributes (xsi:type, xsi:nil) are kept under their local name only when nothing unqualified has it.
      if (a.uri === '' || !(a.local in attrs)) attrs[a.local] = a.value;
    }
    const el: XmlElement = { ns: tag.uri ?? '', name: tag.local ?? tag.name, attrs, children: [], text: '', line: parser.line };
    const parent = stack[stack.length - 1];
    if (parent) parent.children.push(el);
    else root ??= el;
    stack.push(el);
  });
  const addText = (t: string) => {
    const top = stack[stack.length - 1];
    if (top) top.text += t;
  };
  parser.on('text', addText);
  parser.on('cdata', addText);
  parser.on('closetag', () => {
    stack.pop();
  });
  try {
    if (typeof text === 'string') parser.write(text);
    else for (const chunk of text) if (!error) parser.write(chunk);
    if (!error) parser.close();
  } catch (e) {
    error ??= e as Error;
  }
  if (error) throw new XmlSyntaxError(`${what}: not well-formed XML: ${error.message.replace(/^undefined:/, 'line ')}`);
  if (!root) throw new XmlSyntaxError(`${what}: no XML element in it`);
  return root;
}

/** The first child with this namespace and local name. */
export function child(el: XmlElement, ns: string, name: string): XmlElement | undefined {
  return el.children.find((c) => c.ns === ns && c.name === name);
}

/** Every child with this namespace and local name, in document order. */
export function childrenNamed(el: XmlElement, ns: string, name: string): XmlElement[] {
  return el.children.filter((c) => c.ns === ns && c.name === name);
}

/** `{ns}name` for messages. */
export function qname(el: { ns: string; name: string }): string {
  return el.ns ? `{${el.ns}}${el.name}` : el.name;
}

/** A tree to build: attributes are unqualified, children inherit the namespace unless they give their own. */
export interface XmlNode {
  name: string;
  ns?: string;
  /** Extra namespace declarations on this element (`xs`, `xsi` as 1C writes them). */
  declare?: Record<string, string>;
  attrs?: Record<string, string | number | boolean | undefined>;
  /** Prefix to use for this element and the children that inherit its namespace ('' = default namespace). */
  prefix?: string;
  children?: XmlNode[];
  text?: string;
}

/** Builds a whole document (`<?xml version="1.0" encoding="UTF-8"?>` and the tree), without indentation. */
export function buildXml(root: XmlNode): string {
  return '<?xml version="1.0" encoding="UTF-8"?>' + BUILDER.build([toOrdered(root, { ns: '', prefix: '', defaultNs: '', prefixes: new Map() })]);
}

/**
 * fast-xml-builder writes names and escapes every `&`, `<`, `>` and quote;
 * it knows nothing of namespaces, so each element declares the namespace it
 * brings (`xmlns` or `xmlns:p`) the way 1C's writer does.
 */
const BUILDER = new XMLBuilder({
  preserveOrder: true,
  ignoreAttributes: false,
  attributeNamePrefix: '@',
  textNodeName: '#text',
  processEntities: true,
  suppressEmptyNode: true,
  suppressBooleanAttributes: false,
});

interface Scope {
  /** The parent's namespace and prefix (children inherit both). */
  ns: string;
  prefix: string;
  /** The default namespace and the prefixes in scope. */
  defaultNs: string;
  prefixes: Map<string, string>;
}

type Ordered = Record<string, unknown>;

function toOrdered(node: XmlNode, scope: Scope): Ordered {
  const ns = node.ns ?? scope.ns;
  const prefix = node.prefix ?? (node.ns !== undefined && node.ns !== scope.ns ? '' : scope.prefix);
  const attrs: Record<string, string> = {};
  const inner: Scope = { ns, prefix, defaultNs: scope.defaultNs, prefixes: scope.prefixes };
  if (prefix !== '') {
    if (scope.prefixes.get(prefix) !== ns) {
      attrs[`@xmlns:${prefix}`] = ns;
      inner.prefixes = new Map(scope.prefixes).set(prefix, ns);
    }
  } else if (ns !== scope.defaultNs) {
    attrs['@xmlns'] = ns;
    inner.defaultNs = ns;
  }
  for (const [p, uri] of Object.entries(node.declare ?? {})) attrs[`@xmlns:${p}`] = uri;
  for (const [k, v] of Object.entries(node.attrs ?? {})) if (v !== undefined) attrs[`@${k}`] = xmlText(String(v));
  const children: Ordered[] = [];
  if (node.text !== undefined) children.push({ '#text': xmlText(node.text) });
  for (const c of node.children ?? []) children.push(toOrdered(c, inner));
  const name = prefix ? `${prefix}:${node.name}` : node.name;
  return Object.keys(attrs).length > 0 ? { [name]: children, ':@': attrs } : { [name]: children };
}

/** Drops the characters XML 1.0 does not allow at all (even as references), e.g. U+001D in marking codes; by xmlchars, saxes's own table. */
export function xmlText(s: string): string {
  let out = '';
  for (const ch of s) if (isChar(ch.codePointAt(0)!)) out += ch;
  return out;
}
