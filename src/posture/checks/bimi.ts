import type { CheckContext, CheckOutcome } from '../check-context.js';
import { type RawFinding, raw } from '../finding.js';
import { parseTagList } from './dkim.js';
import { policyRank } from './dmarc.js';

/**
 * BIMI (draft-brand-indicators-for-message-identification): `default._bimi.<domain>` TXT with
 * `v=BIMI1`, `l=` an HTTPS URL of an SVG logo, `a=` an HTTPS URL of a PEM mark certificate, and a
 * DMARC policy of quarantine or reject at 100% as the prerequisite (§3.3).
 */
export async function checkBimi(ctx: CheckContext): Promise<CheckOutcome> {
  const name = `default._bimi.${ctx.domain}`;
  const out: RawFinding[] = [];
  const fix = `${name}. IN TXT "v=BIMI1; l=https://<host>/logo.svg; a=https://<host>/vmc.pem"`;
  const [r, dmarc] = await Promise.all([ctx.resolver.lookup(name, 'TXT'), ctx.dmarc()]);
  const records = r.kind === 'answer' ? r.records.filter((t) => /^v\s*=\s*BIMI1\b/i.test(t)) : [];
  if (records.length === 0) return { findings: [raw('bimi.missing', name, `No v=BIMI1 record at ${name}.`, fix)], facts: {} };
  if (records.length > 1) return { findings: [raw('bimi.invalid', name, `${records.length} BIMI records at ${name}.`, fix)], facts: {} };
  const record = records[0]!;
  const tags = parseTagList(record);
  const logo = tags.get('l') ?? '';
  const cert = tags.get('a') ?? '';
  const facts: Record<string, unknown> = { record };
  const policy = dmarc.inForce?.record;
  if (!policy || policyRank[policy.effectivePolicy] < 1 || (policy.pct ?? 100) < 100 || policy.testing) {
    out.push(
      raw(
        'bimi.dmarc-not-enforced',
        name,
        `BIMI is published but DMARC is ${policy ? `p=${policy.effectivePolicy}${policy.pct !== undefined ? ` pct=${policy.pct}` : ''}` : 'absent'}.`,
        `_dmarc.${ctx.domain}. IN TXT "v=DMARC1; p=quarantine; rua=mailto:dmarc-reports@${ctx.domain}"  (or p=reject)`,
      ),
    );
  }
  if (logo === '') out.push(raw('bimi.invalid', name, `"${record}" has no l= logo URL.`, fix));
  else if (!/^https:\/\//i.test(logo)) out.push(raw('bimi.logo-not-https', name, `l=${logo} is not an https URL.`, fix));
  const [logoResult, certResult] = await Promise.all([
    /^https:\/\//i.test(logo) ? ctx.fetchHttps(logo) : undefined,
    /^https:\/\//i.test(cert) ? ctx.fetchHttps(cert) : undefined,
  ]);
  if (logoResult) {
    const svg = logoResult.ok && /image\/svg\+xml/i.test(logoResult.contentType) && /<svg[\s>]/i.test(logoResult.body.toString('utf8'));
    if (!svg)
      out.push(
        raw(
          'bimi.logo-fetch-failed',
          logo,
          logoResult.ok
            ? `${logo} answered ${logoResult.contentType || 'no content type'} without an SVG document.`
            : `${logo}: ${logoResult.message}.`,
          `Serve an SVG Tiny PS logo at ${logo} as image/svg+xml.`,
        ),
      );
  }
  if (cert === '') out.push(raw('bimi.no-certificate', name, `${name} has no a= mark certificate.`, fix));
  else if (!certResult) out.push(raw('bimi.certificate-fetch-failed', name, `a=${cert} is not an https URL.`, fix));
  else if (!certResult.ok || !certResult.body.toString('utf8').includes('-----BEGIN CERTIFICATE-----')) {
    out.push(
      raw(
        'bimi.certificate-fetch-failed',
        cert,
        certResult.ok ? `${cert} holds no PEM certificate.` : `${cert}: ${certResult.message}.`,
        `Serve the PEM mark certificate chain at ${cert}.`,
      ),
    );
  }
  return { findings: out, facts };
}
