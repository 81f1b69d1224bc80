/**
 * The Zabbix template checked without a Zabbix server: what a 6.0 import
 * would refuse, and the JSONPaths its dependent items read.
 */
import assert from 'node:assert/strict';

export interface ZabbixItem {
  uuid: string;
  key: string;
  type?: string;
  value_type?: string;
  valuemap?: { name: string };
  master_item?: { key: string };
  preprocessing?: { type: string; parameters: string[] }[];
  triggers?: { uuid: string; name: string; expression: string }[];
}
export interface ZabbixExport {
  zabbix_export: {
    version: string;
    groups: { uuid: string }[];
    templates: {
      uuid: string;
      template: string;
      items: ZabbixItem[];
      valuemaps: { uuid: string; name: string }[];
      macros: { macro: string; value: string }[];
      discovery_rules: { uuid: string; key: string; item_prototypes: ZabbixItem[]; trigger_prototypes: { uuid: string; name: string; expression: string }[] }[];
    }[];
  };
}

/**
 * What a Zabbix 6.0 import would refuse, checked without a Zabbix server:
 * the version, UUIDv4s unique, masters, value maps and trigger item references
 * that exist. Returns the JSONPath of every dependent item.
 */
export function checkTemplate(doc: ZabbixExport) {
  const x = doc.zabbix_export;
  assert.equal(x.version, '6.0');
  const t = x.templates[0]!;
  const rule = t.discovery_rules[0]!;
  const items = [...t.items, ...rule.item_prototypes];
  const uuids = [x.groups[0]!.uuid, t.uuid, rule.uuid, ...t.valuemaps.map((v) => v.uuid), ...items.map((i) => i.uuid), ...items.flatMap((i) => (i.triggers ?? []).map((tr) => tr.uuid)), ...rule.trigger_prototypes.map((tr) => tr.uuid)];
  for (const u of uuids) assert.match(u, /^[0-9a-f]{12}4[0-9a-f]{3}[89ab][0-9a-f]{15}$/, `UUIDv4 without dashes: ${u}`);
  assert.equal(new Set(uuids).size, uuids.length, 'UUIDs are unique');
  const keys = new Set(items.map((i) => i.key));
  const maps = new Set(t.valuemaps.map((v) => v.name));
  const triggers = [...items.flatMap((i) => i.triggers ?? []), ...rule.trigger_prototypes];
  for (const tr of triggers) {
    const refs = [...tr.expression.matchAll(/\(\/([^/]+)\/([^,)]+(?:\[[^\]]*\])?)/g)];
    assert.ok(refs.length > 0, tr.expression);
    for (const [, host, key] of refs) {
      assert.equal(host, t.template, tr.expression);
      assert.ok(keys.has(key!), `trigger refers to an unknown item ${key}: ${tr.expression}`);
    }
  }
  const paths: { key: string; path: string; prototype: boolean; valueType?: string; boolean: boolean }[] = [];
  for (const i of items) {
    if (i.valuemap) assert.ok(maps.has(i.valuemap.name), `value map ${i.valuemap.name}`);
    if (i.type !== 'DEPENDENT') continue;
    assert.ok(keys.has(i.master_item!.key), `master of ${i.key}`);
    const jp = i.preprocessing!.find((p) => p.type === 'JSONPATH')!;
    paths.push({ key: i.key, path: jp.parameters[0]!, prototype: rule.item_prototypes.includes(i), valueType: i.value_type, boolean: i.preprocessing!.some((p) => p.type === 'BOOL_TO_DECIMAL') });
  }
  return paths;
}

/** Definite JSONPaths only ($.a.b, $.a['k'].b): the template keeps to them, so Zabbix returns a value, not an array. */
export function jsonPath(doc: unknown, path: string): unknown {
  assert.match(path, /^\$(\.[A-Za-z_]\w*|\['[^']+'\])+$/, `not a definite JSONPath: ${path}`);
  let v: unknown = doc;
  for (const m of path.slice(1).matchAll(/\.([A-Za-z_]\w*)|\['([^']+)'\]/g)) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<string, unknown>)[m[1] ?? m[2]!];
  }
  return v;
}

/** A status document the Zabbix agent returned at `at` (Unix seconds): one value of every item. */
export interface Polled {
  at: number;
  doc: unknown;
}

const SUFFIX: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400, w: 604800 };
const seconds = (v: string) => v.replace(/\b(\d+(?:\.\d+)?)([smhdw])\b/g, (_, n: string, u: string) => String(Number(n) * SUFFIX[u]!));

/**
 * Whether a trigger prototype of the template is in problem for till `pos` after the polls in `history`
 * (oldest first; the last one is now), evaluated as Zabbix 6.0 does for the functions the shift triggers
 * use: last(), min(item,period), change(), now(); the template's own macros, and time suffixes.
 * Item values are read from the documents through the items' JSONPaths, as the dependent items do.
 */
export function triggerFires(doc: ZabbixExport, name: string, pos: string, history: Polled[]): boolean {
  const t = doc.zabbix_export.templates[0]!;
  const rule = t.discovery_rules[0]!;
  const trigger = rule.trigger_prototypes.find((x) => x.name === name);
  assert.ok(trigger, `the template has the trigger prototype "${name}"`);
  const paths = new Map(checkTemplate(doc).map((p) => [p.key.replaceAll('{#POS}', pos), p.path.replaceAll('{#POS}', pos)]));
  const value = (key: string, poll: Polled) => {
    const path = paths.get(key);
    assert.ok(path, `${name}: no item ${key}`);
    const v = jsonPath(poll.doc, path);
    assert.equal(typeof v, 'number', `${key}: ${path} is ${JSON.stringify(v)}`);
    return v as number;
  };
  const now = history[history.length - 1]!;
  let expr = trigger.expression.replaceAll('{#POS}', pos);
  for (const m of t.macros) expr = expr.replaceAll(m.macro, m.value);
  expr = expr.replace(/(\w+)\(\/[^/]+\/([^,)]+)(?:,([^)]*))?\)/g, (_, fn: string, key: string, arg?: string) => {
    if (fn === 'last') return String(value(key, now));
    if (fn === 'change') return String(value(key, now) - value(key, history[history.length - 2]!));
    if (fn === 'min') return String(Math.min(...history.filter((p) => p.at > now.at - Number(seconds(arg!))).map((p) => value(key, p))));
    throw new Error(`${name}: ${fn}() is not modelled here`);
  });
  expr = seconds(expr.replaceAll('now()', String(now.at)));
  const js = expr.replace(/\band\b/g, '&&').replace(/\bor\b/g, '||').replace(/<>/g, '!=').replace(/(?<![<>!=])=(?!=)/g, '==');
  assert.match(js, /^[\d.\s()+\-*/<>=!&|]+$/, `${name}: not reduced to numbers: ${expr}`);
  return Boolean(new Function(`return (${js});`)());
}
