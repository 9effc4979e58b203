import { BlockList, isIP } from 'node:net';

/**
 * Whether an IP address is on the public internet. Fetches a remote party can point us at
 * (MTA-STS policy hosts, BIMI logos, TLS-RPT https endpoints) connect only to public addresses,
 * so a hostile DNS record cannot make the platform probe its own network (SSRF).
 */
const nonPublic = new BlockList();
for (const [net, bits] of [
  ['0.0.0.0', 8], // "this network"
  ['10.0.0.0', 8], // RFC 1918
  ['100.64.0.0', 10], // RFC 6598 carrier-grade NAT
  ['127.0.0.0', 8], // loopback
  ['169.254.0.0', 16], // link-local (cloud metadata services live here)
  ['172.16.0.0', 12], // RFC 1918
  ['192.0.0.0', 24], // IETF protocol assignments
  ['192.168.0.0', 16], // RFC 1918
  ['198.18.0.0', 15], // benchmarking
  ['224.0.0.0', 4], // multicast
  ['240.0.0.0', 4], // reserved, broadcast
] as const)
  nonPublic.addSubnet(net, bits, 'ipv4');
for (const [net, bits] of [
  ['::', 128], // unspecified
  ['::1', 128], // loopback
  ['fc00::', 7], // unique local
  ['fe80::', 10], // link-local
  ['ff00::', 8], // multicast
] as const)
  nonPublic.addSubnet(net, bits, 'ipv6');

export function isPublicAddress(ip: string): boolean {
  const v = isIP(ip);
  if (v === 4) return !nonPublic.check(ip, 'ipv4');
  if (v !== 6) return false;
  // An IPv4-mapped IPv6 address (::ffff:10.0.0.1) is judged as the IPv4 address it carries.
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  if (mapped) return isPublicAddress(mapped[1]!);
  return !nonPublic.check(ip, 'ipv6');
}

/**
 * A peer's address as we record and compare it: an IPv4 peer on a dual-stack socket
 * (`::ffff:192.0.2.1`) is `192.0.2.1`, IPv6 is lower-cased; '' when the socket gave none.
 */
export function peerAddress(address: string | undefined): string {
  const a = address ?? '';
  return /^::ffff:\d+\.\d+\.\d+\.\d+$/i.test(a) ? a.slice(7) : a.toLowerCase();
}
