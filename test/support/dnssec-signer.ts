/**
 * Signs a test zone for DNSSEC (RFC 4033–4035) so a real validating resolver can be pointed at the
 * loopback DNS server: one ECDSA P-256 / SHA-256 key (algorithm 13, RFC 6605) used as a combined
 * KSK/ZSK (flags 257), an NSEC chain over every name (RFC 4034 §4), and an RRSIG over every RRset,
 * computed over the canonical wire form (RFC 4034 §3.1.8.1, §6) of exactly the records the server
 * sends. The trust anchor to configure is returned (as a DNSKEY and as its DS, RFC 4034 §5).
 */
import { createHash, generateKeyPairSync, sign } from 'node:crypto';
import dnsPacket, { type Answer, type RrsigData } from 'dns-packet';
import { canonicalCompare, type Zone, type ZoneEntry, zoneRecords } from './dns-server.js';

// dns-packet exports its per-type codecs, but its type declarations do not list them.
interface Codec<T> {
  encode(value: T): Buffer;
  encodingLength(value: T): number;
}
const codec = dnsPacket as unknown as {
  dnskey: Codec<{ flags: number; algorithm: number; key: Buffer }>;
  rrsig: Codec<RrsigData>;
  answer: Codec<Answer>;
  name: Codec<string>;
};

const ALGORITHM = 13;
const TYPES = ['A', 'AAAA', 'MX', 'TXT', 'CNAME', 'TLSA', 'NS', 'PTR', 'SOA', 'DNSKEY', 'NSEC'] as const;

export interface SignedZone {
  zone: Zone;
  /** `"<apex>. DNSKEY 257 3 13 <base64>"`, for unbound's `trust-anchor:`. */
  dnskeyAnchor: string;
  /** `"<apex>. DS <tag> 13 2 <hex>"`. */
  dsAnchor: string;
  keyTag: number;
}

/** RFC 4034 Appendix B. */
function keyTag(rdata: Buffer): number {
  let ac = 0;
  for (let i = 0; i < rdata.length; i++) ac += i & 1 ? rdata[i]! : rdata[i]! << 8;
  ac += (ac >> 16) & 0xffff;
  return ac & 0xffff;
}

const lower = (n: string) => n.toLowerCase().replace(/\.$/, '');

export function signZone(input: Zone, apexName: string, opts: { ttl?: number; now?: number } = {}): SignedZone {
  const ttl = opts.ttl ?? 300;
  const apex = lower(apexName);
  const now = Math.floor((opts.now ?? Date.now()) / 1000);
  const zone: Zone = {};
  for (const [name, entry] of Object.entries(input)) zone[lower(name)] = { ...entry };
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  // RFC 6605 §4: the public key is the uncompressed point without its 0x04 prefix (X || Y).
  const jwk = publicKey.export({ format: 'jwk' });
  const key = Buffer.concat([Buffer.from(jwk.x!, 'base64url'), Buffer.from(jwk.y!, 'base64url')]);
  const dnskey = { flags: 257, algorithm: ALGORITHM, key };
  zone[apex] = {
    ...zone[apex],
    DNSKEY: [dnskey],
    SOA: zone[apex]?.SOA ?? { mname: `ns.${apex}`, rname: `hostmaster.${apex}`, serial: 1, minimum: ttl },
  };
  zone[apex]!.SOA = { minimum: ttl, ...zone[apex]!.SOA! };
  const keyRdata = codec.dnskey.encode(dnskey).subarray(2);
  const tag = keyTag(keyRdata);

  // NSEC chain over the names at or below the apex, in canonical order (RFC 4034 §4.1.1).
  const names = Object.keys(zone)
    .filter((n) => n === apex || n.endsWith(`.${apex}`))
    .sort(canonicalCompare);
  names.forEach((name, i) => {
    const entry = zone[name] as ZoneEntry;
    const present = TYPES.filter((t) => t !== 'NSEC' && zoneRecords(entry, name, t, ttl).length > 0);
    entry.NSEC = { nextDomain: names[(i + 1) % names.length]!, rrtypes: [...present, 'RRSIG', 'NSEC'] };
  });

  for (const name of names) {
    const entry = zone[name] as ZoneEntry;
    const sigs: RrsigData[] = [];
    for (const type of TYPES) {
      const rrset = zoneRecords(entry, name, type, ttl);
      if (rrset.length === 0) continue;
      const base: RrsigData = {
        typeCovered: type,
        algorithm: ALGORITHM,
        labels: name.split('.').length,
        originalTTL: ttl,
        expiration: now + 30 * 86_400,
        inception: now - 3600,
        keyTag: tag,
        signersName: apex,
        signature: Buffer.alloc(0),
      };
      // RFC 4034 §3.1.8.1: RRSIG RDATA without the signature, then the RRs in canonical order.
      const rrs = rrset.map((rr) => codec.answer.encode({ ...rr, name, ttl } as Answer));
      const ownerLength = codec.name.encodingLength(name);
      rrs.sort((a, b) => Buffer.compare(a.subarray(ownerLength + 10), b.subarray(ownerLength + 10)));
      const signed = Buffer.concat([codec.rrsig.encode(base).subarray(2), ...rrs]);
      sigs.push({ ...base, signature: sign('sha256', signed, { key: privateKey, dsaEncoding: 'ieee-p1363' }) });
    }
    entry.RRSIG = sigs;
  }
  // RFC 4034 §5.1.4: digest over the owner name (canonical wire form) and the DNSKEY RDATA.
  const ds = createHash('sha256')
    .update(Buffer.concat([codec.name.encode(apex), keyRdata]))
    .digest('hex')
    .toUpperCase();
  return {
    zone,
    keyTag: tag,
    dnskeyAnchor: `${apex}. DNSKEY 257 3 13 ${key.toString('base64')}`,
    dsAnchor: `${apex}. DS ${tag} 13 2 ${ds}`,
  };
}
