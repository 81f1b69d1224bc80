/**
 * The allow-list of the metrics listener: addresses and CIDR ranges
 * (`10.0.5.10`, `10.0.0.0/16`, `fd00::/8`) the monitoring server connects from.
 */
import { BlockList, isIP } from 'node:net';

/** undefined when `entry` is an address or a CIDR range, else why not. */
export function allowEntryProblem(entry: string): string | undefined {
  const [addr, prefix, ...rest] = entry.split('/');
  const family = isIP(addr ?? '');
  if (family === 0 || rest.length > 0) return 'not an IP address or CIDR range (e.g. 10.0.5.10 or 10.0.0.0/16)';
  if (prefix !== undefined) {
    const n = Number(prefix);
    if (!/^\d+$/.test(prefix) || n > (family === 4 ? 32 : 128)) return `bad prefix length /${prefix}`;
  }
  return undefined;
}

export class AllowList {
  private readonly list = new BlockList();

  constructor(entries: string[]) {
    for (const entry of entries) {
      const [addr, prefix] = entry.split('/') as [string, string | undefined];
      const type = isIP(addr) === 6 ? 'ipv6' : 'ipv4';
      if (prefix === undefined) this.list.addAddress(addr, type);
      else this.list.addSubnet(addr, Number(prefix), type);
    }
  }

  allows(remote: string | undefined): boolean {
    if (!remote) return false;
    // A dual-stack listener reports IPv4 clients as IPv4-mapped IPv6 addresses.
    const plain = remote.replace(/^::ffff:(?=\d+\.\d+\.\d+\.\d+$)/i, '');
    return this.list.check(plain, isIP(plain) === 6 ? 'ipv6' : 'ipv4');
  }
}
