/**
 * Name-based UUIDs (RFC 9562 version 5: SHA-1 of a fixed namespace and a
 * name), so that the same shift or receipt always gets the same UUID: 1C
 * replaces the documents of a SaleReport posted again with the same UUID
 * instead of creating them twice. The namespace is this project's and must
 * never change, or every re-post after an upgrade would duplicate.
 */
import { createHash } from 'node:crypto';

/** The project's namespace for EquipmentService documents (fixed forever). */
const NAMESPACE = Buffer.from('8c2f4a1e6b3d4f0a9e57c1d2b3a4f5e6', 'hex');

export function nameUuid(name: string): string {
  const h = createHash('sha1').update(NAMESPACE).update(name, 'utf8').digest();
  h[6] = (h[6]! & 0x0f) | 0x50;
  h[8] = (h[8]! & 0x3f) | 0x80;
  const x = h.subarray(0, 16).toString('hex');
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20)}`;
}
