import { createHash, X509Certificate } from 'node:crypto';
import type { TlsaRecord } from '../dns/index.js';

/**
 * DANE for SMTP (RFC 7672) over TLSA records (RFC 6698, RFC 7671). Pure: the caller supplies the
 * TLSA RRset, whether it was DNSSEC-validated, the certificate chain the server presented and the
 * time. The verdicts follow RFC 7672 §2.2:
 *  - not-applicable: the RRset is not DNSSEC-secure or is empty; DANE says nothing.
 *  - unusable: secure and non-empty, but no record is usable on port 25 (PKIX usages 0/1, unknown
 *    parameters, malformed digests). "A connection to the MTA MUST be made via TLS, but
 *    authentication is not required."
 *  - match / mismatch: at least one usable record; the server is authenticated by one of them, or
 *    the client must not deliver to it.
 */

export type DaneStatus = 'not-applicable' | 'match' | 'mismatch' | 'unusable';

export interface DaneParameters {
  usage: number;
  selector: number;
  matchingType: number;
}

export interface DaneResult {
  status: DaneStatus;
  matched?: DaneParameters;
  /** Reference identifier the certificate matched (DANE-TA only; DANE-EE checks no names). */
  matchedName?: string;
  reasons: string[];
}

export interface DaneInput {
  tlsa: readonly TlsaRecord[];
  /** The TLSA answer was DNSSEC-validated (AD bit from a trusted validating resolver). */
  secure: boolean;
  /** DER certificates as presented, leaf first. */
  chain: readonly Buffer[];
  /** TLSA base domain (the MX host after any secure CNAME expansion): first reference identifier. */
  hostname: string;
  /** More reference identifiers for DANE-TA name checks (the MX name, the next-hop domain). */
  referenceIds?: readonly string[];
  /** Milliseconds since the epoch, for DANE-TA validity periods. */
  now: number;
}

export const DANE_EE = 3;
export const DANE_TA = 2;

const DIGEST_LENGTH: Record<number, number> = { 1: 32, 2: 64 };

/** Why a record cannot be used for SMTP, or null when it can (RFC 7672 §3.1, RFC 7671 §4). */
export function tlsaUnusableReason(r: TlsaRecord): string | null {
  if (r.usage === 0 || r.usage === 1) {
    return `usage ${r.usage} (${r.usage === 0 ? 'PKIX-TA' : 'PKIX-EE'}) is not used for SMTP (RFC 7672 §3.1.3)`;
  }
  if (r.usage !== DANE_TA && r.usage !== DANE_EE) return `unknown certificate usage ${r.usage}`;
  if (r.selector !== 0 && r.selector !== 1) return `unknown selector ${r.selector}`;
  if (r.matchingType !== 0 && r.matchingType !== 1 && r.matchingType !== 2) return `unknown matching type ${r.matchingType}`;
  const want = DIGEST_LENGTH[r.matchingType];
  if (want !== undefined && r.data.length !== want) {
    return `matching type ${r.matchingType} needs ${want} bytes of digest, the record has ${r.data.length}`;
  }
  if (r.data.length === 0) return 'empty certificate association data';
  return null;
}

export function usableTlsaRecords(tlsa: readonly TlsaRecord[]): TlsaRecord[] {
  return tlsa.filter((r) => tlsaUnusableReason(r) === null);
}

export function evaluateDane(input: DaneInput): DaneResult {
  if (!input.secure) {
    return { status: 'not-applicable', reasons: ['TLSA RRset is not DNSSEC-validated; DANE does not apply (RFC 7672 §2.2)'] };
  }
  if (input.tlsa.length === 0) return { status: 'not-applicable', reasons: ['no TLSA records'] };

  const reasons: string[] = [];
  const usable: TlsaRecord[] = [];
  for (const r of input.tlsa) {
    const why = tlsaUnusableReason(r);
    if (why) reasons.push(`${presentTlsa(r, 16)}: unusable, ${why}`);
    else usable.push(r);
  }
  if (usable.length === 0) {
    reasons.push('all TLSA records are unusable: TLS is mandatory but not authenticated (RFC 7672 §2.2)');
    return { status: 'unusable', reasons };
  }
  let certs: X509Certificate[];
  try {
    certs = input.chain.map((der) => new X509Certificate(der));
  } catch (e) {
    return { status: 'mismatch', reasons: [...reasons, `unparseable certificate: ${(e as Error).message}`] };
  }
  const [leaf] = certs;
  if (!leaf) return { status: 'mismatch', reasons: [...reasons, 'the server presented no certificate'] };

  // DANE-EE first: one comparison, no chain or name work (RFC 7672 §3.1.1).
  for (const r of usable.filter((x) => x.usage === DANE_EE)) {
    if (associationMatches(r, leaf)) {
      return { status: 'match', matched: paramsOf(r), reasons: [...reasons, `leaf matches ${presentTlsa(r, 16)} (DANE-EE)`] };
    }
    reasons.push(`${presentTlsa(r, 16)}: leaf certificate does not match`);
  }

  for (const r of usable.filter((x) => x.usage === DANE_TA)) {
    // RFC 7672 §3.1.2: the server must include the TA certificate in its chain, so look there.
    const taIndex = certs.findIndex((c, i) => i > 0 && associationMatches(r, c));
    const anchor = certs[taIndex];
    if (taIndex < 0 || !anchor) {
      reasons.push(`${presentTlsa(r, 16)}: no issuer certificate in the chain matches`);
      continue;
    }
    const path = pathToAnchor(leaf, certs, anchor, input.now);
    if (!path.ok) {
      reasons.push(`${presentTlsa(r, 16)}: trust anchor found but ${path.reason}`);
      continue;
    }
    const names = [input.hostname, ...(input.referenceIds ?? [])];
    const matchedName = names.find((n) => nameMatches(leaf, n));
    if (matchedName === undefined) {
      reasons.push(`${presentTlsa(r, 16)}: chain valid but the leaf names none of ${names.join(', ')} (RFC 7672 §3.2.2)`);
      continue;
    }
    return {
      status: 'match',
      matched: paramsOf(r),
      matchedName,
      reasons: [...reasons, `chain anchored at certificate ${taIndex} by ${presentTlsa(r, 16)} (DANE-TA), name ${matchedName}`],
    };
  }
  return { status: 'mismatch', reasons };
}

/**
 * RFC 5280 path from the leaf up to the DANE-TA certificate using only the presented certificates.
 * The trust anchor's own dates are not checked: in RFC 5280 a trust anchor is a name and a key, here
 * vouched for by DNSSEC. Every other certificate must be within its validity period; intermediates
 * must be CAs. Bounded by the chain length.
 */
function pathToAnchor(
  leaf: X509Certificate,
  certs: readonly X509Certificate[],
  anchor: X509Certificate,
  now: number,
): { ok: true } | { ok: false; reason: string } {
  let current = leaf;
  const used = new Set<X509Certificate>([current]);
  for (let depth = 0; depth < certs.length; depth++) {
    const period = withinValidity(current, now);
    if (period) return { ok: false, reason: `${depth === 0 ? 'the leaf' : `intermediate ${depth}`} ${period}` };
    if (depth > 0 && !current.ca) return { ok: false, reason: `intermediate ${depth} is not a CA certificate` };
    if (current.checkIssued(anchor) && current.verify(anchor.publicKey)) return { ok: true };
    const issuer = certs.find((c) => !used.has(c) && c !== anchor && current.checkIssued(c) && current.verify(c.publicKey));
    if (!issuer) return { ok: false, reason: 'the leaf does not chain to it through the presented certificates' };
    used.add(issuer);
    current = issuer;
  }
  return { ok: false, reason: 'the chain does not reach it' };
}

function withinValidity(c: X509Certificate, now: number): string | null {
  const from = Date.parse(c.validFrom);
  const to = Date.parse(c.validTo);
  if (Number.isFinite(from) && now < from) return `is not valid before ${new Date(from).toISOString()}`;
  if (Number.isFinite(to) && now > to) return `expired at ${new Date(to).toISOString()}`;
  return null;
}

/**
 * RFC 7672 §3.2.3: DNS-ID subjectAltNames, the subject CN only when there are none, and a wildcard
 * only as the whole left-most label matching exactly one label.
 */
function nameMatches(cert: X509Certificate, name: string): boolean {
  const host = name.toLowerCase().replace(/\.$/, '');
  const options = { subject: 'default', wildcards: true, partialWildcards: false, multiLabelWildcards: false } as const;
  return cert.checkHost(host, options) !== undefined;
}

function associationMatches(r: TlsaRecord, cert: X509Certificate): boolean {
  return associationData(cert, r.selector, r.matchingType).equals(r.data);
}

function associationData(cert: X509Certificate, selector: number, matchingType: number): Buffer {
  // RFC 6698 §2.1.2: selector 0 is the full certificate, 1 the DER SubjectPublicKeyInfo.
  const selected = selector === 0 ? cert.raw : cert.publicKey.export({ type: 'spki', format: 'der' });
  // RFC 6698 §2.1.3: matching type 0 is the data itself, 1 SHA-256, 2 SHA-512.
  if (matchingType === 0) return Buffer.from(selected);
  return createHash(matchingType === 1 ? 'sha256' : 'sha512')
    .update(selected)
    .digest();
}

function paramsOf(r: TlsaRecord): DaneParameters {
  return { usage: r.usage, selector: r.selector, matchingType: r.matchingType };
}

/**
 * The TLSA record a certificate needs, e.g. for tests or for a posture finding's "record that fixes
 * it". `cert` is PEM text or DER bytes. RFC 7671 §10.1 recommends `3 1 1` (DANE-EE, SPKI, SHA-256).
 */
export function tlsaRecordFor(cert: string | Buffer, params: DaneParameters): TlsaRecord {
  const parsed = new X509Certificate(cert);
  if (![0, 1].includes(params.selector) || ![0, 1, 2].includes(params.matchingType)) {
    throw new RangeError(`cannot compute selector ${params.selector} / matching type ${params.matchingType}`);
  }
  return { ...params, data: associationData(parsed, params.selector, params.matchingType) };
}

/**
 * Presentation form (`3 1 1 ab12…`), as in a zone file. `hexLimit` shortens the data for messages.
 */
export function presentTlsa(r: TlsaRecord, hexLimit?: number): string {
  const hex = r.data.toString('hex');
  const shown = hexLimit !== undefined && hex.length > hexLimit ? `${hex.slice(0, hexLimit)}…` : hex;
  return `${r.usage} ${r.selector} ${r.matchingType} ${shown}`;
}
