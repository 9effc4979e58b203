import { analyseSpf, type SpfRecordAnalysis } from '../../identity/index.js';
import type { CheckContext, CheckOutcome } from '../check-context.js';
import { type RawFinding, raw } from '../finding.js';
import { senderInventory } from '../sender-inventory.js';

/**
 * SPF through identity's analyser (lookup tree, void lookups, sizes, qualifiers), with the fixes and
 * the posture-only advice added: a domain that takes no mail should lock SPF with "v=spf1 -all".
 */
const fixes: Record<string, (domain: string, record?: string) => string | undefined> = {
  'spf.missing': (d) => `${d}. IN TXT "v=spf1 mx -all"  (list every service that sends as ${d})`,
  'spf.multiple-records': (d) => `Merge the records into one: ${d}. IN TXT "v=spf1 <all mechanisms> -all"`,
  'spf.syntax': (d, r) => `${d}. IN TXT "${r ?? 'v=spf1 … -all'}"  with the term at the reported offset corrected`,
  'spf.plus-all': (d, r) => `${d}. IN TXT "${(r ?? 'v=spf1 +all').replace(/[+]?all\b/, '-all')}"`,
  'spf.neutral-all': (d, r) => `${d}. IN TXT "${(r ?? 'v=spf1 ?all').replace(/\?all\b/, '-all')}"`,
  'spf.missing-all': (d, r) => `${d}. IN TXT "${r ?? 'v=spf1'} -all"`,
  'spf.ptr': (d, r) => `${d}. IN TXT "${(r ?? '').replace(/\s[+\-~?]?ptr(:\S+)?/g, '')}"  (replace ptr by ip4:/ip6: or a)`,
  'spf.lookup-limit': () =>
    'Flatten includes into ip4:/ip6: ranges (postwarden spf flatten) or drop unused providers, to at most 10 lookups.',
  'spf.void-limit': () => 'Remove the terms whose targets do not exist.',
  'spf.loop': () => 'Remove the include that leads back to an earlier record.',
  'spf.target-without-record': () => 'Remove the include or redirect, or publish SPF at its target.',
  'spf.udp-512': () => 'Remove unused TXT records at the domain, or shorten the SPF record with flattening.',
};

function perTermLookups(tree: SpfRecordAnalysis): { term: string; lookups: number; void: boolean }[] {
  return tree.terms.map((t) => ({ term: t.term, lookups: t.lookups, void: t.void }));
}

export async function checkSpf(ctx: CheckContext): Promise<CheckOutcome> {
  const { domain } = ctx;
  const [analysis, mx] = await Promise.all([analyseSpf(domain, { resolver: ctx.resolver }), ctx.mx()]);
  const out: RawFinding[] = [];
  for (const f of analysis.findings) {
    const evidence = {
      ...f.evidence,
      ...(f.id === 'spf.lookup-limit' || f.id === 'spf.lookup-near-limit' ? { perTerm: perTermLookups(analysis.tree) } : {}),
    };
    out.push(raw(f.id, domain, f.message, fixes[f.id]?.(domain, analysis.record), evidence));
  }
  const noMail = mx.kind === 'null' || (mx.kind === 'none' && analysis.record === undefined);
  if (noMail) {
    const locked = analysis.record !== undefined && /^v=spf1\s+-all\s*$/i.test(analysis.record);
    if (!locked) {
      out.push(
        raw(
          'spf.parked-not-locked',
          domain,
          `${domain} takes no mail (${mx.kind === 'null' ? 'Null MX' : 'no MX'}) and its SPF is ${analysis.record ? `"${analysis.record}"` : 'absent'}.`,
          `${domain}. IN TXT "v=spf1 -all"`,
        ),
      );
    }
  }
  return {
    findings: out,
    facts: {
      record: analysis.record ?? null,
      lookups: analysis.totalLookups,
      voidLookups: analysis.voidLookups,
      perTerm: perTermLookups(analysis.tree),
      size: analysis.size,
      senders: senderInventory(analysis.tree),
    },
  };
}
