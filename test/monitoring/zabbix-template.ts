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
      discovery_rules: { uuid: string; key: string; item_prototypes: ZabbixItem[]; trigger_prototypes: { uuid: string; expression: string }[] }[];
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
