import type { AlignmentMode } from './dmarc-record.js';

/**
 * Identifier alignment (RFC 7489 §3.1): the domain SPF authenticates (the envelope sender) and the
 * DKIM `d=` domains are compared with the header From domain. Strict mode wants the same name;
 * relaxed mode wants the same organizational domain. At send time this is the *expected*
 * alignment: it assumes SPF will pass and the signatures will verify, and says whether DMARC would
 * pass on that basis. Pure: the organizational-domain function is passed in.
 */
export interface AlignmentInput {
  headerFromDomain: string;
  /** MAIL FROM domain; empty for the null reverse-path (then SPF cannot align). */
  envelopeFromDomain: string;
  dkimDomains: string[];
  /** The domain's published modes; null (no DMARC record) means the defaults, relaxed. */
  policy: { aspf: AlignmentMode; adkim: AlignmentMode } | null;
  orgDomain: (domain: string) => string;
}

export interface AlignmentResult {
  spf: { aligned: boolean; mode: AlignmentMode; envelopeFrom: string; headerFrom: string };
  dkim: { aligned: boolean; mode: AlignmentMode; domains: string[]; alignedDomain?: string };
  dmarcWouldPass: boolean;
}

function clean(domain: string): string {
  return domain.trim().toLowerCase().replace(/\.$/, '');
}

/** RFC 7489 §3.1.1/§3.1.2: strict = identical names; relaxed = same organizational domain. */
export function domainsAlign(a: string, b: string, mode: AlignmentMode, orgDomain: (d: string) => string): boolean {
  const x = clean(a);
  const y = clean(b);
  if (!x || !y) return false;
  if (x === y) return true;
  return mode === 'r' && clean(orgDomain(x)) === clean(orgDomain(y));
}

export function computeAlignment(input: AlignmentInput): AlignmentResult {
  const aspf = input.policy?.aspf ?? 'r';
  const adkim = input.policy?.adkim ?? 'r';
  const headerFrom = clean(input.headerFromDomain);
  const envelopeFrom = clean(input.envelopeFromDomain);
  const spfAligned = domainsAlign(envelopeFrom, headerFrom, aspf, input.orgDomain);
  const domains = input.dkimDomains.map(clean);
  // Prefer an exact match when several signatures align, as it survives a switch to strict.
  const alignedDomain = domains.find((d) => d === headerFrom) ?? domains.find((d) => domainsAlign(d, headerFrom, adkim, input.orgDomain));
  return {
    spf: { aligned: spfAligned, mode: aspf, envelopeFrom, headerFrom },
    dkim: { aligned: alignedDomain !== undefined, mode: adkim, domains, ...(alignedDomain ? { alignedDomain } : {}) },
    dmarcWouldPass: spfAligned || alignedDomain !== undefined,
  };
}
