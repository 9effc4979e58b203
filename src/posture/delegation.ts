import type { CheckContext, CheckOutcome } from './check-context.js';
import { type RawFinding, raw } from './finding.js';
import { isMailboxHost } from './known-senders.js';

/**
 * Subdomain delegation proposals. A third party of the tenant's register that sends as the
 * organisational domain itself (its SPF include is in the domain's own SPF record, or it signs with
 * d=<the domain>) shares the domain's reputation and its budget of 10 SPF lookups (RFC 7208 §4.6.4),
 * and cannot be revoked without touching the records the organisation's own mail rests on. On a
 * subdomain of its own (`news.example.com`) the service's mail still aligns with DMARC (RFC 7489 §3.1
 * relaxed alignment, or its own From: domain), its reports arrive apart, and removing it is removing
 * its records. For each such entry the audit reports `third-party.on-apex` with the exact records to
 * publish, the apex SPF record without the service's include, and the lookup count before and after.
 *
 * It runs only when the tenant has register entries (the audit of a domain without them asks nothing
 * more), after the SPF check whose analysis it reuses; its only own queries are the DKIM selectors
 * the entry lists, at the apex, to copy their CNAME or key to the subdomain.
 */
export interface RegisteredSender {
  /** The register entry (tp_…) and its name; the finding names both. */
  id: string;
  name: string;
  status: string;
  /** A configured subdomain (a label, or a name under the domain); absent: a slug of the name. */
  subdomain?: string;
  spfIncludes: string[];
  dkimDomains: string[];
  dkimSelectors: string[];
  ips: string[];
}

/** Source addresses DMARC aggregate reports saw sending as the domain for an entry, with message counts. */
export type SeenSources = (senderIds: string[]) => Promise<Record<string, { ip: string; count: number }[]>>;

export interface DelegationInput {
  senders: RegisteredSender[];
  /** Read only when at least one entry is on the apex (a store query the other audits never make). */
  seenSources?: SeenSources;
}

interface SpfFacts {
  record: string | null;
  lookups: number;
  perTerm: { term: string; lookups: number }[];
}

interface Proposal {
  sender: RegisteredSender;
  subdomain: string;
  includesOnApex: string[];
  dkimOnApex: boolean;
}

const INCLUDE = /^[+\-~?]?include:(.+)$/i;

/** A DNS label from an entry name: lower-case ASCII letters, digits and hyphens, at most 63. */
export function subdomainLabel(name: string): string {
  return name
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 63)
    .replace(/-+$/, '');
}

function subdomainFor(sender: RegisteredSender, domain: string, taken: Set<string>): string {
  const given = sender.subdomain?.toLowerCase().replace(/\.$/, '');
  let name: string;
  if (given) name = given === domain || given.endsWith(`.${domain}`) ? given : `${given}.${domain}`;
  else name = `${subdomainLabel(sender.name) || `sender-${sender.id.slice(-6).toLowerCase()}`}.${domain}`;
  // Two entries whose names slug alike get -2, -3, … (a configured name is kept as given).
  const base = name.slice(0, name.length - domain.length - 1);
  for (let n = 2; !given && taken.has(name); n += 1) name = `${base}-${n}.${domain}`;
  taken.add(name);
  return name;
}

/** Which entries send as the domain itself, and under which subdomain each is proposed. */
function onApex(domain: string, spf: SpfFacts, senders: RegisteredSender[]): Proposal[] {
  const apexIncludes = new Set(
    spf.perTerm.flatMap((t) => {
      const m = INCLUDE.exec(t.term);
      return m ? [m[1]!.toLowerCase().replace(/\.$/, '')] : [];
    }),
  );
  const taken = new Set<string>();
  const out: Proposal[] = [];
  for (const sender of [...senders].sort((a, b) => a.id.localeCompare(b.id))) {
    // A mailbox host (Google Workspace, Microsoft 365) is where people's own mail comes from: it sends
    // as the organisational domain by design, and moving it is not what this finding advises.
    const includesOnApex = sender.spfIncludes.filter((i) => apexIncludes.has(i) && !isMailboxHost(i));
    const dkimOnApex = sender.dkimDomains.includes(domain);
    if (includesOnApex.length === 0 && !dkimOnApex) continue;
    out.push({ sender, subdomain: subdomainFor(sender, domain, taken), includesOnApex, dkimOnApex });
  }
  return out;
}

const ipTerm = (ip: string) => (ip.includes(':') ? `ip6:${ip}` : `ip4:${ip}`);

/** The apex record without the moved includes, and its lookups (each term's count covers its subtree). */
function apexWithout(spf: SpfFacts, includes: string[]): { record: string; lookups: number } {
  const moved = new Set(includes);
  const gone = (term: string) => {
    const m = INCLUDE.exec(term);
    return m !== null && moved.has(m[1]!.toLowerCase().replace(/\.$/, ''));
  };
  const removed = spf.perTerm.filter((t) => gone(t.term)).reduce((n, t) => n + t.lookups, 0);
  const record = (spf.record ?? '')
    .split(/\s+/)
    .filter((t) => t && !gone(t))
    .join(' ');
  return { record, lookups: spf.lookups - removed };
}

interface DkimRecord {
  name: string;
  type: 'CNAME' | 'TXT';
  value: string;
  note: string;
}

/** A selector's record under the subdomain: the apex's CNAME target or key, or a placeholder. */
async function selectorRecord(ctx: CheckContext, selector: string, subdomain: string): Promise<DkimRecord> {
  const at = `${selector}._domainkey.${ctx.domain}`;
  const name = `${selector}._domainkey.${subdomain}`;
  const [cname, txt] = await Promise.all([ctx.resolver.lookup(at, 'CNAME'), ctx.resolver.lookup(at, 'TXT')]);
  if (cname.kind === 'answer' && cname.records[0]) {
    const target = cname.records[0].replace(/\.$/, '');
    return { name, type: 'CNAME', value: `${target}.`, note: `as ${at} today; the provider may issue another target for ${subdomain}` };
  }
  const key = txt.kind === 'answer' ? txt.records.find((t) => /(^|;)\s*p\s*=/i.test(t)) : undefined;
  if (key) return { name, type: 'TXT', value: key, note: `the key of ${at}; the provider must sign with d=${subdomain}` };
  return { name, type: 'TXT', value: 'v=DKIM1; k=rsa; p=<the public key the provider gives>', note: `${at} has no key to copy` };
}

const quoteTxt = (s: string) => `"${s.replace(/"/g, '\\"')}"`;

export async function proposeDelegations(
  ctx: CheckContext,
  input: DelegationInput,
  spfOutcome: Promise<CheckOutcome>,
): Promise<RawFinding[]> {
  const { domain } = ctx;
  const [spfDone, dmarc] = await Promise.all([spfOutcome, ctx.dmarc()]);
  // Only the organisational domain (RFC 7489 §3.2) is "the apex"; a subdomain is already delegated.
  if (dmarc.orgDomain !== domain) return [];
  const spf = spfDone.facts as unknown as SpfFacts;
  const proposals = onApex(domain, spf, input.senders);
  if (proposals.length === 0) return [];
  // The addresses are evidence, not the proposal: a failed read leaves them out.
  const seen: Awaited<ReturnType<SeenSources>> = input.seenSources
    ? await input.seenSources(proposals.map((p) => p.sender.id)).catch(() => ({}))
    : {};
  const apexDmarc = dmarc.inForce?.record;
  // RFC 7489 §6.3: sp= applies to subdomains, p= when sp is absent.
  const subPolicy = apexDmarc ? (apexDmarc.sp ?? apexDmarc.effectivePolicy) : undefined;
  const rua = apexDmarc?.rua.map((u) => u.uri).join(',') || `mailto:dmarc-reports@${domain}`;

  return Promise.all(
    proposals.map(async ({ sender, subdomain, includesOnApex, dkimOnApex }) => {
      const records: { name: string; type: string; value: string; note?: string }[] = [];
      const includes = sender.spfIncludes.filter((i) => !isMailboxHost(i));
      const terms = includes.length ? includes.map((i) => `include:${i}`) : sender.ips.map(ipTerm);
      if (terms.length) records.push({ name: subdomain, type: 'TXT', value: `v=spf1 ${terms.join(' ')} -all` });
      const dkim = await Promise.all(sender.dkimSelectors.map((s) => selectorRecord(ctx, s, subdomain)));
      records.push(...dkim);
      const dmarcCovered = subPolicy === 'reject' || subPolicy === 'quarantine';
      if (!dmarcCovered) {
        records.push({
          name: `_dmarc.${subdomain}`,
          type: 'TXT',
          value: `v=DMARC1; p=quarantine; rua=${rua}`,
          note: 'p=reject once its reports are clean',
        });
      }
      const after = apexWithout(spf, includesOnApex);
      const why = [
        ...(includesOnApex.length ? [`the SPF record of ${domain} includes ${includesOnApex.join(', ')}`] : []),
        ...(dkimOnApex ? [`it signs with d=${domain}`] : []),
      ].join(' and ');
      const ips = seen[sender.id] ?? [];
      const found =
        `Register entry "${sender.name}" (${sender.id}${sender.status === 'active' ? '' : `, ${sender.status}`}) sends as ${domain}: ${why}. ` +
        `Proposed: its own subdomain ${subdomain}.` +
        (includesOnApex.length ? ` SPF lookups of ${domain}: ${spf.lookups} now, ${after.lookups} once moved (limit 10).` : '') +
        (ips.length ? ` DMARC reports saw it send from ${ips.map((s) => s.ip).join(', ')}.` : '');
      const fix = [
        ...records.map((r) => `${r.name}. IN ${r.type} ${r.type === 'TXT' ? quoteTxt(r.value) : r.value}${r.note ? `  (${r.note})` : ''}`),
        ...(dmarcCovered
          ? [`DMARC: _dmarc.${domain} sp=${subPolicy} covers ${subdomain}; publish _dmarc.${subdomain} only for its own policy or reports`]
          : []),
        `Set the service to send From: …@${subdomain}${sender.dkimSelectors.length || dkimOnApex ? ` and sign with d=${subdomain}` : ''}.`,
        ...(includesOnApex.length && spf.record
          ? [`Then, once it sends from ${subdomain}: ${domain}. IN TXT ${quoteTxt(after.record)}`]
          : []),
      ].join('\n');
      return raw('third-party.on-apex', subdomain, found, fix, {
        third_party_id: sender.id,
        third_party: sender.name,
        subdomain,
        spf_includes_on_apex: includesOnApex,
        dkim_on_apex: dkimOnApex,
        records,
        dmarc: dmarcCovered ? { covered_by: `_dmarc.${domain}`, sp: subPolicy } : { covered_by: null, sp: subPolicy ?? null },
        apex_spf: {
          before: spf.record,
          after: includesOnApex.length ? after.record : spf.record,
          lookups_before: spf.lookups,
          lookups_after: after.lookups,
        },
        register_ips: sender.ips,
        dmarc_seen_sources: ips,
      });
    }),
  );
}
