import { isIPv4, isIPv6 } from 'node:net';

/**
 * IP addresses and CIDR networks as bigints, shared by the SPF evaluator (matching `<ip>` against
 * ip4/ip6/a/mx), its macros (`%{i}` nibbles, `%{c}`) and the flattener (merging networks).
 *
 * An IPv4-mapped IPv6 address (`::ffff:192.0.2.1`) is reported as IPv4: RFC 7208 §5 asks verifiers
 * on IPv6 servers to handle "A" records for clients on IPv4-mapped addresses, i.e. to treat them as
 * the IPv4 client they are.
 */
export type IpFamily = 4 | 6;

export interface IpAddress {
  family: IpFamily;
  value: bigint;
}

export interface IpNetwork {
  family: IpFamily;
  /** The network address (host bits cleared). */
  value: bigint;
  prefix: number;
}

const BITS: Record<IpFamily, number> = { 4: 32, 6: 128 };

function parseIpv4Value(text: string): bigint | null {
  if (!isIPv4(text)) return null;
  let v = 0n;
  for (const part of text.split('.')) v = (v << 8n) | BigInt(Number(part));
  return v;
}

function parseIpv6Value(text: string): bigint | null {
  if (!isIPv6(text)) return null;
  let s = text.toLowerCase();
  // An embedded dotted quad (`::ffff:1.2.3.4`) becomes two hex groups first.
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(s);
  if (dotted) {
    const v4 = parseIpv4Value(dotted[1]!);
    if (v4 === null) return null;
    s = `${s.slice(0, dotted.index)}${(v4 >> 16n).toString(16)}:${(v4 & 0xffffn).toString(16)}`;
  }
  const [head, tail] = s.includes('::') ? (s.split('::') as [string, string]) : [s, undefined];
  const headGroups = head ? head.split(':') : [];
  const tailGroups = tail ? tail.split(':') : [];
  const missing = 8 - headGroups.length - tailGroups.length;
  const groups = tail === undefined ? headGroups : [...headGroups, ...Array<string>(missing).fill('0'), ...tailGroups];
  if (groups.length !== 8) return null;
  let v = 0n;
  for (const g of groups) v = (v << 16n) | BigInt(parseInt(g, 16));
  return v;
}

/** Parse a textual address; IPv4-mapped IPv6 becomes IPv4 (RFC 7208 §5). */
export function parseIp(text: string): IpAddress | null {
  const v4 = parseIpv4Value(text);
  if (v4 !== null) return { family: 4, value: v4 };
  const v6 = parseIpv6Value(text);
  if (v6 === null) return null;
  if (v6 >> 32n === 0xffffn) return { family: 4, value: v6 & 0xffffffffn };
  return { family: 6, value: v6 };
}

/** Parse an IPv6 address without unmapping (for `ip6:` networks written as `::ffff:…`). */
export function parseIpv6Raw(text: string): bigint | null {
  return parseIpv6Value(text);
}

export function parseIpv4Raw(text: string): bigint | null {
  return parseIpv4Value(text);
}

export function bitsOf(family: IpFamily): number {
  return BITS[family];
}

function mask(family: IpFamily, prefix: number): bigint {
  const bits = BITS[family];
  return prefix === 0 ? 0n : ((1n << BigInt(prefix)) - 1n) << BigInt(bits - prefix);
}

export function network(family: IpFamily, value: bigint, prefix: number): IpNetwork {
  return { family, value: value & mask(family, prefix), prefix };
}

export function networkContains(net: IpNetwork, ip: IpAddress): boolean {
  return net.family === ip.family && (ip.value & mask(net.family, net.prefix)) === net.value;
}

export function formatIp(ip: IpAddress): string {
  if (ip.family === 4) {
    const v = ip.value;
    return [24n, 16n, 8n, 0n].map((s) => ((v >> s) & 0xffn).toString()).join('.');
  }
  return formatIpv6(ip.value);
}

/** RFC 5952 text: lower case, longest run (≥ 2) of zero groups compressed, first on ties. */
function formatIpv6(v: bigint): string {
  const groups: number[] = [];
  for (let i = 7; i >= 0; i--) groups.push(Number((v >> BigInt(i * 16)) & 0xffffn));
  let bestStart = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLen).join(':')}`;
}

export function formatNetwork(net: IpNetwork): string {
  const base = formatIp({ family: net.family, value: net.value });
  return net.prefix === BITS[net.family] ? base : `${base}/${net.prefix}`;
}

/** The SPF term for a network: `ip4:192.0.2.0/24` or `ip6:2001:db8::/32`. */
export function networkTerm(net: IpNetwork): string {
  return `ip${net.family}:${formatNetwork(net)}`;
}

/** `192.0.2.0/24`, `2001:db8::1` or `ip4:…`/`ip6:…` back into a network. */
export function parseNetwork(text: string): IpNetwork | null {
  const body = text.replace(/^ip[46]:/i, '');
  const slash = body.indexOf('/');
  const addr = slash < 0 ? body : body.slice(0, slash);
  const v4 = parseIpv4Value(addr);
  const family: IpFamily | null = v4 !== null ? 4 : parseIpv6Value(addr) !== null ? 6 : null;
  if (family === null) return null;
  const value = family === 4 ? v4! : parseIpv6Value(addr)!;
  const prefix = slash < 0 ? BITS[family] : Number(body.slice(slash + 1));
  if (!Number.isInteger(prefix) || prefix < 0 || prefix > BITS[family]) return null;
  return network(family, value, prefix);
}

/**
 * Nibble form for `%{i}` on IPv6 (RFC 7208 §7.3): 32 lower-case hex digits separated by dots.
 * IPv4 is the dotted quad.
 */
export function dottedForm(ip: IpAddress): string {
  if (ip.family === 4) return formatIp(ip);
  return ip.value.toString(16).padStart(32, '0').split('').join('.');
}

/** Reverse-lookup name: `4.3.2.1.in-addr.arpa` or the ip6.arpa nibbles. */
export function reverseName(ip: IpAddress): string {
  const parts = dottedForm(ip).split('.').reverse().join('.');
  return ip.family === 4 ? `${parts}.in-addr.arpa` : `${parts}.ip6.arpa`;
}

/**
 * Smallest equivalent list: drops networks covered by another and merges sibling halves
 * (two /25s into a /24), repeatedly. Sorted by family then address, so output is stable.
 */
export function aggregateNetworks(nets: readonly IpNetwork[]): IpNetwork[] {
  const out: IpNetwork[] = [];
  for (const family of [4, 6] as const) {
    let list = nets.filter((n) => n.family === family).map((n) => network(family, n.value, n.prefix));
    list.sort((a, b) => (a.value === b.value ? a.prefix - b.prefix : a.value < b.value ? -1 : 1));
    let changed = true;
    while (changed) {
      changed = false;
      const next: IpNetwork[] = [];
      for (const n of list) {
        const last = next[next.length - 1];
        if (last && networkContains(last, { family, value: n.value }) && last.prefix <= n.prefix) continue;
        if (last && last.prefix === n.prefix && last.prefix > 0) {
          const parent = network(family, last.value, last.prefix - 1);
          if (parent.value === last.value && networkContains(parent, { family, value: n.value })) {
            next[next.length - 1] = parent;
            changed = true;
            continue;
          }
        }
        next.push(n);
      }
      list = next;
    }
    out.push(...list);
  }
  return out;
}
