import type { CheckContext, CheckOutcome } from '../check-context.js';
import { type RawFinding, raw } from '../finding.js';

/**
 * SMTP TLS Reporting (RFC 8460 §3): one TXT record at `_smtp._tls.<domain>` starting `v=TLSRPTv1;`
 * with `rua=` a comma-separated list of mailto: or https: URIs.
 */
export async function checkTlsRpt(ctx: CheckContext): Promise<CheckOutcome> {
  const name = `_smtp._tls.${ctx.domain}`;
  const out: RawFinding[] = [];
  const fix = `${name}. IN TXT "v=TLSRPTv1; rua=mailto:tls-reports@${ctx.domain}"`;
  const r = await ctx.resolver.lookup(name, 'TXT');
  if (r.kind === 'error') return { findings: [raw('tls-rpt.invalid', name, `The ${name} lookup failed (${r.failure}).`)], facts: {} };
  const records = r.kind === 'answer' ? r.records.filter((t) => /^v=TLSRPTv1\s*(;|$)/.test(t)) : [];
  if (records.length === 0) return { findings: [raw('tls-rpt.missing', name, `No v=TLSRPTv1 record at ${name}.`, fix)], facts: {} };
  if (records.length > 1)
    return { findings: [raw('tls-rpt.multiple-records', name, `${records.length} TLS-RPT records at ${name}.`, fix)], facts: {} };
  const record = records[0]!;
  const rua = /(?:^|;)\s*rua\s*=\s*([^;]*)/.exec(record)?.[1]?.trim();
  if (!rua) {
    out.push(raw('tls-rpt.invalid', name, `"${record}" has no rua= tag.`, fix));
    return { findings: out, facts: { record } };
  }
  const uris = rua.split(',').map((u) => u.trim());
  for (const uri of uris) {
    const ok = /^mailto:[^@\s]+@[^@\s]+$/i.test(uri) || /^https:\/\/[^\s]+$/i.test(uri);
    if (!ok) out.push(raw('tls-rpt.bad-rua', name, `rua "${uri}" is not a mailto: address or an https: URL.`, fix, { uri }));
  }
  return { findings: out, facts: { record, rua: uris } };
}
