import { presentTlsa, tlsaOwner, tlsaUnusableReason } from '../../transport-policy/index.js';
import type { CheckContext, CheckOutcome } from '../check-context.js';
import { type RawFinding, raw } from '../finding.js';

/**
 * DNSSEC and DANE. Whether a zone validates is read from the AD bit of the configured resolver
 * (RFC 4035 §3.2.3, RFC 6840 §5.8): meaningful only when that resolver validates and is reached over
 * a trusted path (loopback or a protected link); the report names the resolver used. DANE (RFC 7672)
 * needs the MX host's address and TLSA RRsets to be secure; each TLSA record is checked for SMTP
 * usability (no PKIX usages on port 25, known parameters, digest lengths) and the set for rollover
 * readiness (two keys, or a DANE-EE 3 x x beside a DANE-TA 2 x x, RFC 7671 §8.1).
 */
export async function checkDnssecDane(ctx: CheckContext): Promise<CheckOutcome> {
  const { domain } = ctx;
  const out: RawFinding[] = [];
  const [apex, mx] = await Promise.all([ctx.resolver.lookup(domain, 'MX'), ctx.mx()]);
  const domainSecure = apex.kind !== 'error' && apex.authenticated;
  if (!domainSecure) {
    out.push(
      raw(
        'dnssec.unsigned',
        domain,
        `The answer for ${domain} did not carry the AD bit from the configured validating resolver.`,
        `Sign ${domain} at its DNS host and publish the DS record at the registrar.`,
      ),
    );
  }
  const hosts: Record<string, { secure: boolean; tlsa: string[]; tlsaSecure: boolean }> = {};
  await Promise.all(
    mx.hosts.map(async (host) => {
      const owner = tlsaOwner(host);
      const [a, tlsa] = await Promise.all([ctx.resolver.lookup(host, 'A'), ctx.resolver.lookup(owner, 'TLSA')]);
      const secure = a.kind !== 'error' && a.authenticated;
      const records = tlsa.kind === 'answer' ? tlsa.records : [];
      const tlsaSecure = tlsa.kind === 'answer' && tlsa.authenticated;
      hosts[host] = { secure, tlsa: records.map((r) => presentTlsa(r)).sort(), tlsaSecure };
      if (!secure) {
        out.push(
          raw(
            'dnssec.mx-unsigned',
            host,
            `The address of MX ${host} did not validate (no AD bit).`,
            `Sign the zone of ${host} and publish its DS record.`,
          ),
        );
        if (records.length > 0)
          out.push(
            raw(
              'dane.insecure-tlsa',
              owner,
              `${owner} publishes TLSA, but the host's zone does not validate, so senders ignore it.`,
              `Sign the zone of ${host}.`,
            ),
          );
      } else if (tlsa.kind === 'error') {
        out.push(
          raw(
            'dane.lookup-failed',
            owner,
            `The TLSA lookup at ${owner} failed (${tlsa.failure}) for a signed host.`,
            `Fix the authoritative servers so ${owner} TLSA answers (NODATA when there is none).`,
          ),
        );
      } else if (records.length === 0) {
        out.push(
          raw(
            'dane.missing',
            owner,
            `${host} is DNSSEC-signed but publishes no TLSA at ${owner}.`,
            `${owner}. IN TLSA 3 1 1 <sha256 of the server's public key>`,
          ),
        );
      } else if (!tlsaSecure) {
        out.push(raw('dane.insecure-tlsa', owner, `${owner} TLSA did not validate.`, `Sign the zone holding ${owner}.`));
      }
      for (const r of records) {
        const why = tlsaUnusableReason(r);
        if (why === null) continue;
        const id = r.usage === 0 || r.usage === 1 ? 'dane.pkix-usage' : 'dane.unusable-record';
        out.push(
          raw(id, owner, `${owner} TLSA "${presentTlsa(r)}": ${why}.`, `${owner}. IN TLSA 3 1 1 <sha256 of the server's public key>`, {
            record: presentTlsa(r),
          }),
        );
      }
      const usable = records.filter((r) => tlsaUnusableReason(r) === null);
      const hasEeAndTa = usable.some((r) => r.usage === 3) && usable.some((r) => r.usage === 2);
      if (usable.length === 1 && !hasEeAndTa) {
        out.push(
          raw(
            'dane.no-rollover',
            owner,
            `${owner} has a single usable TLSA record ("${presentTlsa(usable[0]!)}").`,
            `Add the next key: ${owner}. IN TLSA 3 1 1 <sha256 of the next key>  (or a 2 1 1 record for the issuing CA)`,
          ),
        );
      }
    }),
  );
  return { findings: out, facts: { domainSecure, resolver: ctx.resolver.describe(), hosts } };
}
