import {
  checkReportDestinations,
  type DmarcPolicy,
  type DmarcRecord,
  formatDmarcRecord,
  isDmarcRecord,
  lookupDmarc,
  organizationalDomainByPsl,
  parseDmarcRecord,
} from '../../identity/index.js';
import type { CheckContext, CheckOutcome, DmarcView } from '../check-context.js';
import { type RawFinding, raw } from '../finding.js';

/**
 * DMARC at `_dmarc.<domain>`, falling back to the organizational domain (RFC 7489 §6.6.3), through
 * identity's parser (DMARCbis tags, removed tags) and its external-destination check (§7.1).
 */
export const policyRank: Record<DmarcPolicy, number> = { none: 0, quarantine: 1, reject: 2 };

export async function readDmarc(ctx: Pick<CheckContext, 'domain' | 'resolver'>): Promise<DmarcView> {
  const own = await lookupDmarc(ctx.resolver, ctx.domain);
  const orgDomain = organizationalDomainByPsl(ctx.domain);
  if (own.outcome === 'record') return { own, inForce: own, orgDomain };
  if (own.outcome === 'error' || orgDomain === ctx.domain) return { own, orgDomain };
  const org = await lookupDmarc(ctx.resolver, orgDomain);
  return { own, orgDomain, ...(org.outcome === 'record' ? { inForce: org } : {}) };
}

/** The record with the weak parts made strong: what the fix line proposes. */
function strengthened(r: DmarcRecord, domain: string): string {
  const tags: Record<string, string | undefined> = {};
  for (const t of r.tags) if (!['v', 'pct', 'rf', 'ri', 't'].includes(t.name)) tags[t.name] = t.value;
  tags.p = 'reject';
  if (r.sp && r.sp !== 'reject') tags.sp = 'reject';
  if (r.np && r.np !== 'reject') tags.np = 'reject';
  if (!tags.rua) tags.rua = `mailto:dmarc-reports@${domain}`;
  return formatDmarcRecord(tags);
}

export async function checkDmarc(ctx: CheckContext): Promise<CheckOutcome> {
  const { domain } = ctx;
  const out: RawFinding[] = [];
  const name = `_dmarc.${domain}`;
  const [view, apex] = await Promise.all([ctx.dmarc(), ctx.resolver.lookup(domain, 'TXT')]);
  const misplaced = apex.kind === 'answer' ? apex.records.filter(isDmarcRecord) : [];
  if (misplaced.length > 0) {
    out.push(
      raw(
        'dmarc.wrong-location',
        domain,
        `${domain} publishes "${misplaced[0]}" at the domain itself, where receivers never look.`,
        `${name}. IN TXT "${misplaced[0]}"  (and remove it from ${domain})`,
      ),
    );
  }
  const facts: Record<string, unknown> = { own: view.own.outcome, orgDomain: view.orgDomain };
  if (view.own.outcome === 'error') {
    out.push(raw('dmarc.lookup-failed', name, `The DMARC lookup failed (${view.own.detail}).`));
    return { findings: out, facts };
  }
  if (view.own.outcome === 'multiple') {
    out.push(
      raw(
        'dmarc.multiple-records',
        name,
        `${name} has several v=DMARC1 records (${view.own.detail}).`,
        `Keep one: ${name}. IN TXT "v=DMARC1; p=reject; rua=mailto:dmarc-reports@${domain}"`,
      ),
    );
  }
  const found = view.inForce;
  if (!found?.record) {
    if (view.own.outcome !== 'multiple') {
      out.push(
        raw(
          'dmarc.missing',
          name,
          `No DMARC record at ${name}${view.orgDomain !== domain ? ` nor at _dmarc.${view.orgDomain}` : ''}.`,
          `${name}. IN TXT "v=DMARC1; p=quarantine; rua=mailto:dmarc-reports@${domain}"  (move to p=reject once reports are clean)`,
        ),
      );
    }
    return { findings: out, facts };
  }
  const record = found.record;
  const at = `_dmarc.${found.domain}`;
  const inherited = found.domain !== domain;
  if (inherited)
    out.push(
      raw(
        'dmarc.inherited',
        name,
        `${domain} has no record; ${at} applies (sp=${record.sp ?? record.effectivePolicy}).`,
        `${name}. IN TXT "${strengthened(record, domain)}"  (to set its own policy)`,
      ),
    );
  // The policy that applies to this domain: sp= when inherited (RFC 7489 §6.6.3), else p=.
  const applied = inherited ? (record.sp ?? record.effectivePolicy) : record.effectivePolicy;
  const fix = `${at}. IN TXT "${strengthened(record, found.domain)}"`;
  facts.record = found.text;
  facts.at = at;
  facts.p = record.effectivePolicy;
  facts.sp = record.sp ?? record.effectivePolicy;
  facts.np = record.np ?? record.sp ?? record.effectivePolicy;
  facts.applied = applied;
  facts.testing = record.testing;
  facts.pct = record.pct ?? 100;
  if (applied === 'none') out.push(raw('dmarc.policy-none', at, `The policy in force for ${domain} is none ("${found.text}").`, fix));
  else if (applied === 'quarantine') out.push(raw('dmarc.policy-quarantine', at, `The policy in force for ${domain} is quarantine.`, fix));
  if (record.sp && policyRank[record.sp] < policyRank[record.effectivePolicy]) {
    out.push(raw('dmarc.subdomain-weaker', at, `sp=${record.sp} is weaker than p=${record.effectivePolicy}.`, fix));
  }
  if (record.np && policyRank[record.np] < policyRank[record.sp ?? record.effectivePolicy]) {
    out.push(raw('dmarc.np-weaker', at, `np=${record.np} is weaker than the subdomain policy.`, fix));
  }
  if (record.testing) out.push(raw('dmarc.testing', at, `${at} carries t=y: receivers apply one level less.`, fix));
  if (record.pct !== undefined && record.pct < 100)
    out.push(raw('dmarc.pct-partial', at, `pct=${record.pct}: the policy applies to ${record.pct}% of failing mail.`, fix));
  const parsed = parseDmarcRecord(found.text ?? '');
  for (const issue of parsed.issues) {
    if (issue.severity === 'removed')
      out.push(
        raw('dmarc.removed-tag', at, `${issue.message} (offset ${issue.position}).`, fix, { tag: issue.tag, position: issue.position }),
      );
    else if (issue.severity === 'error' && (issue.tag === 'rua' || issue.tag === 'ruf')) {
      out.push(raw('dmarc.invalid-uri', at, `${issue.tag}: ${issue.message}.`, fix, { tag: issue.tag, position: issue.position }));
    } else if (issue.severity === 'error')
      out.push(raw('dmarc.syntax', at, `${issue.message} (offset ${issue.position}).`, fix, { tag: issue.tag, position: issue.position }));
  }
  if (record.rua.length === 0) out.push(raw('dmarc.no-rua', at, `${at} names no rua address: no aggregate reports.`, fix));
  const destinations = await checkReportDestinations(found.domain, record, { resolver: ctx.resolver });
  for (const d of destinations) {
    if (d.external && d.authorized === false) {
      out.push(
        raw(
          'dmarc.external-unauthorized',
          at,
          `${d.tag} ${d.uri} is outside ${found.domain} and ${d.queried} authorizes nothing.`,
          `${d.queried}. IN TXT "v=DMARC1"`,
          { uri: d.uri, queried: d.queried },
        ),
      );
    }
  }
  facts.reportDestinations = destinations.map((d) => ({ tag: d.tag, uri: d.uri, external: d.external, authorized: d.authorized }));
  return { findings: out, facts };
}
