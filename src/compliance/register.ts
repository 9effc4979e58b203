import { BlockList, isIP } from 'node:net';
import { type Actor, type AuditInput, type AuditRecorder, auditedChange, unattributed } from '../audit/index.js';
import { type Clock, isoTime, newId, PostwardenError, validationError } from '../core/index.js';
import type { DmarcSourceRow, Repositories, Store, ThirdPartyRow } from '../store/index.js';
import { type Alert, raiseAlerts } from './alerts.js';

/**
 * The third-party register: per tenant, every service authorized to send for its domains or to
 * process its data, with owner, purpose, data categories, the DPA, certifications and a review date.
 * Each entry lists the identifiers by which mail it sends is recognised (SPF includes, DKIM domains
 * and selectors, source addresses or networks), so what DMARC aggregate reports (RFC 7489 §7.2) and
 * the domains' SPF records show can be held against it:
 *
 * - a report row whose source address no entry lists (and whose DKIM domain no entry lists) raises
 *   `dmarc-new-source`, naming the source and the entry it lacks;
 * - an SPF include of a tenant domain no entry lists raises `spf-include-unregistered`;
 * - a certification past its expiry, or an entry past its review date, raises `certification-lapsed`
 *   or `review-lapsed`.
 * The posture audit reads the entries too (`senders`, `seenSources`): one that sends as a tenant's
 * organisational domain gets a subdomain delegation proposal (`third-party.on-apex`, docs/posture.md).
 * `seed` proposes entries (status `proposed`) from what the platform already sees, so the register
 * starts from the truth and people fill in the contract side. Creating, changing and removing an
 * entry is audited (`third_party.*`) in the change's transaction.
 */
export interface Certification {
  name: string;
  issuer: string;
  expires_at: string;
}

export interface ThirdPartyDoc {
  name: string;
  status: 'active' | 'proposed';
  owner: string | null;
  purpose: string | null;
  data_categories: string[];
  dpa: { signed_at: string; reference: string } | null;
  certifications: Certification[];
  review_due_at: string | null;
  identifiers: { spf_includes: string[]; dkim_domains: string[]; dkim_selectors: string[]; ips: string[] };
  /**
   * The subdomain the service should send from (`news`, or `news.example.com`), used by the posture
   * audit's delegation proposal (`third-party.on-apex`); null: a slug of the name.
   */
  delegation_subdomain: string | null;
  /** Where a proposed entry came from (spf, dmarc, manual). */
  source: string;
}

export interface ThirdParty extends ThirdPartyDoc {
  id: string;
  tenantId: string;
  createdAt: number;
  updatedAt: number;
}

export type ThirdPartyInput = Partial<Omit<ThirdPartyDoc, 'identifiers'>> & {
  name: string;
  identifiers?: Partial<ThirdPartyDoc['identifiers']>;
};

export interface RegisterDeps {
  store: Pick<Store, 'compliance' | 'events' | 'domains' | 'dkimKeys' | 'transaction'>;
  clock: Clock;
  /** The `include:` domains of a domain's SPF record (resolver injected by the platform). */
  spfIncludes?: (domain: string) => Promise<string[]>;
  /** Entry changes are recorded in the audit log in their transaction (docs/governance.md). */
  audit?: AuditRecorder;
}

const emptyIdentifiers = (): ThirdPartyDoc['identifiers'] => ({ spf_includes: [], dkim_domains: [], dkim_selectors: [], ips: [] });
const lower = (xs: string[] = []) => [...new Set(xs.map((x) => x.trim().toLowerCase()).filter(Boolean))];

/** A date or date-time as the ISO instant the register stores; a field error naming `path` otherwise. */
function instant(value: string, path: string): string {
  const ms = Date.parse(value);
  if (Number.isNaN(ms)) throw validationError([{ path, message: `"${value}" is not a date (YYYY-MM-DD) or an ISO date-time` }]);
  return new Date(ms).toISOString();
}

function datesOf(input: ThirdPartyInput): Pick<ThirdPartyInput, 'dpa' | 'certifications' | 'review_due_at'> {
  return {
    ...(input.dpa ? { dpa: { ...input.dpa, signed_at: instant(input.dpa.signed_at, '/dpa/signed_at') } } : {}),
    ...(input.certifications
      ? {
          certifications: input.certifications.map((c, i) => ({
            ...c,
            expires_at: instant(c.expires_at, `/certifications/${i}/expires_at`),
          })),
        }
      : {}),
    ...(input.review_due_at ? { review_due_at: instant(input.review_due_at, '/review_due_at') } : {}),
  };
}

function docOf(given: ThirdPartyInput, base?: ThirdPartyDoc): ThirdPartyDoc {
  const input = { ...given, ...datesOf(given) };
  const ids = { ...(base?.identifiers ?? emptyIdentifiers()), ...input.identifiers };
  for (const ip of ids.ips ?? []) {
    const [addr, bits] = ip.split('/');
    if (!addr || !isIP(addr) || (bits !== undefined && !/^\d{1,3}$/.test(bits))) {
      throw new PostwardenError('VALIDATION_FAILED', `"${ip}" is not an IP address or network`, {
        errors: [{ path: '/identifiers/ips', message: `"${ip}" is not an IP address or CIDR network` }],
      });
    }
  }
  const sub = input.delegation_subdomain !== undefined ? input.delegation_subdomain : (base?.delegation_subdomain ?? null);
  const subdomain = sub ? sub.trim().toLowerCase().replace(/\.$/, '') : null;
  if (subdomain !== null && !/^(?!-)[a-z0-9-]{1,63}(?<!-)(\.(?!-)[a-z0-9-]{1,63}(?<!-))*$/.test(subdomain)) {
    throw validationError([{ path: '/delegation_subdomain', message: `"${sub}" is not a DNS label or name (news, news.example.com)` }]);
  }
  return {
    name: input.name ?? base?.name,
    status: input.status ?? base?.status ?? 'active',
    owner: input.owner !== undefined ? input.owner : (base?.owner ?? null),
    purpose: input.purpose !== undefined ? input.purpose : (base?.purpose ?? null),
    data_categories: input.data_categories ?? base?.data_categories ?? [],
    dpa: input.dpa !== undefined ? input.dpa : (base?.dpa ?? null),
    certifications: input.certifications ?? base?.certifications ?? [],
    review_due_at: input.review_due_at !== undefined ? input.review_due_at : (base?.review_due_at ?? null),
    identifiers: {
      spf_includes: lower(ids.spf_includes),
      dkim_domains: lower(ids.dkim_domains),
      dkim_selectors: lower(ids.dkim_selectors),
      ips: lower(ids.ips),
    },
    delegation_subdomain: subdomain,
    source: input.source ?? base?.source ?? 'manual',
  };
}

const fromRow = (r: ThirdPartyRow): ThirdParty => ({
  ...(r.doc as unknown as ThirdPartyDoc),
  // Entries stored before delegation_subdomain existed have none.
  delegation_subdomain: (r.doc.delegation_subdomain as string | null | undefined) ?? null,
  id: r.id,
  tenantId: r.tenantId,
  createdAt: r.createdAt,
  updatedAt: r.updatedAt,
});

/** Does an entry list this address (exactly or within one of its networks)? */
function networksOf(entries: ThirdParty[]): BlockList {
  const list = new BlockList();
  for (const e of entries) {
    for (const ip of e.identifiers.ips) {
      const [addr, bits] = ip.split('/') as [string, string | undefined];
      const family = isIP(addr) === 6 ? 'ipv6' : 'ipv4';
      if (bits === undefined) list.addAddress(addr, family);
      else list.addSubnet(addr, Number(bits), family);
    }
  }
  return list;
}
const covers = (list: BlockList, ip: string) => {
  const family = isIP(ip);
  return family !== 0 && list.check(ip, family === 6 ? 'ipv6' : 'ipv4');
};

/** The DKIM domains and selectors that passed in a report row's auth_results. */
function dkimOf(row: DmarcSourceRow): { domain: string; selector: string | null }[] {
  const auth = row.authResults as { dkim?: { domain?: string; selector?: string; result?: string }[] } | null;
  return (auth?.dkim ?? [])
    .filter((d) => d.domain && (d.result ?? '').toLowerCase() === 'pass')
    .map((d) => ({ domain: d.domain!.toLowerCase(), selector: d.selector?.toLowerCase() ?? null }));
}

export function createRegister(deps: RegisterDeps) {
  const { store, clock } = deps;

  const changed = <T>(fn: (tx: Repositories) => Promise<T>, entry: (result: T) => AuditInput): Promise<T> =>
    auditedChange(deps.audit, store, fn, entry);
  const facts = ({ id: _i, tenantId: _t, createdAt: _c, updatedAt: _u, ...doc }: ThirdParty): ThirdPartyDoc => doc;

  async function list(tenantId: string): Promise<ThirdParty[]> {
    return (await store.compliance.thirdParties(tenantId)).map(fromRow);
  }
  /** A page of entries in creation order; `next` is the cursor of the following page (null: the last). */
  async function page(
    tenantId: string,
    p: { after?: string | undefined; limit: number },
  ): Promise<{ data: ThirdParty[]; next: string | null }> {
    const rows = (await store.compliance.thirdPartyPage(tenantId, { after: p.after, limit: p.limit + 1 })).map(fromRow);
    const data = rows.slice(0, p.limit);
    return { data, next: rows.length > p.limit ? data[data.length - 1]!.id : null };
  }
  async function get(tenantId: string, id: string): Promise<ThirdParty> {
    const row = await store.compliance.thirdParty(tenantId, id);
    if (!row) throw new PostwardenError('NOT_FOUND', `third party ${id} does not exist`, { id });
    return fromRow(row);
  }
  const nameTaken = (name: string) =>
    new PostwardenError('CONFLICT', `the register already has an entry named "${name}"`, {
      name,
      errors: [{ path: '/name', message: 'is already the name of another entry' }],
    });
  async function create(tenantId: string, input: ThirdPartyInput, actor: Actor = unattributed): Promise<ThirdParty> {
    const now = clock.now();
    const doc = docOf(input);
    const row: ThirdPartyRow = { id: newId('tp', now), tenantId, name: doc.name, doc: { ...doc }, createdAt: now, updatedAt: now };
    await changed(
      async (tx) => {
        if (!(await tx.compliance.insertThirdParty(row))) throw nameTaken(doc.name);
      },
      () => ({ actor, tenantId, action: 'third_party.created', resource: { type: 'third_party', id: row.id }, after: doc }),
    );
    return fromRow(row);
  }
  async function update(tenantId: string, id: string, patch: Partial<ThirdPartyInput>, actor: Actor = unattributed): Promise<ThirdParty> {
    const current = await get(tenantId, id);
    const doc = docOf({ ...patch, name: patch.name ?? current.name }, current);
    if (doc.name !== current.name && (await list(tenantId)).some((e) => e.name === doc.name)) throw nameTaken(doc.name);
    const row: ThirdPartyRow = { id, tenantId, name: doc.name, doc: { ...doc }, createdAt: current.createdAt, updatedAt: clock.now() };
    await changed(
      (tx) => tx.compliance.updateThirdParty(row),
      () => ({ actor, tenantId, action: 'third_party.updated', resource: { type: 'third_party', id }, before: facts(current), after: doc }),
    );
    return fromRow(row);
  }
  async function remove(tenantId: string, id: string, actor: Actor = unattributed): Promise<void> {
    const current = await get(tenantId, id);
    await changed(
      async (tx) => {
        if (!(await tx.compliance.deleteThirdParty(tenantId, id)))
          throw new PostwardenError('NOT_FOUND', `third party ${id} does not exist`, { id });
      },
      () => ({ actor, tenantId, action: 'third_party.deleted', resource: { type: 'third_party', id }, before: facts(current) }),
    );
  }

  /** Alerts for the rows of one stored DMARC aggregate report whose source no entry knows. */
  async function dmarcAlerts(tenantId: string, feedbackId: string): Promise<Alert[]> {
    const rows = await store.compliance.dmarcSources(feedbackId, tenantId);
    if (!rows.length) return [];
    const entries = await list(tenantId);
    const nets = networksOf(entries);
    const dkimKnown = new Set(entries.flatMap((e) => e.identifiers.dkim_domains));
    // Mail the platform signed itself (a selector of the tenant's own DKIM keys) is not a third party.
    const ownSelectors = new Set<string>();
    for (const d of await store.domains.list(tenantId)) {
      for (const k of await store.dkimKeys.listByDomain(d.id)) ownSelectors.add(`${k.domain.toLowerCase()}/${k.selector.toLowerCase()}`);
    }
    // One alert per source address, summed over its rows in the report.
    const unknown = new Map<string, { domain: string; count: number; dkim: Set<string> }>();
    for (const r of rows) {
      const passing = dkimOf(r);
      if (passing.some((d) => ownSelectors.has(`${d.domain}/${d.selector}`))) continue;
      const dkim = passing.map((d) => d.domain);
      if (covers(nets, r.sourceIp) || dkim.some((d) => dkimKnown.has(d))) continue;
      const u = unknown.get(r.sourceIp) ?? { domain: r.headerFrom ?? r.policyDomain, count: 0, dkim: new Set<string>() };
      u.count += r.count;
      for (const d of dkim) u.dkim.add(d);
      unknown.set(r.sourceIp, u);
    }
    const at = isoTime(clock.now());
    return [...unknown].map(([ip, u]) => {
      const dkim = [...u.dkim];
      const via = dkim.length ? ` (DKIM d=${dkim.join(', d=')})` : '';
      const lacks = `a register entry whose ips include ${ip}${dkim.length ? ` or whose dkim_domains include ${dkim.join(', ')}` : ''}`;
      return {
        tenantId,
        mark: `dmarc-source:${ip}`,
        data: {
          kind: 'dmarc-new-source',
          severity: 'warning',
          message: `${ip} sent ${u.count} message(s) as ${u.domain}${via} and no third-party register entry lists it`,
          subject: { source_ip: ip, domain: u.domain, dkim_domains: dkim, feedback_id: feedbackId },
          lacks,
          rule: null,
          ruleset_version: null,
          value: u.count,
          at,
        },
      } satisfies Alert;
    });
  }

  /** Certifications past expiry and entries past their review date, across every tenant. */
  async function lapseAlerts(): Promise<Alert[]> {
    const now = clock.now();
    const at = isoTime(now);
    const out: Alert[] = [];
    for (const e of (await store.compliance.thirdParties(undefined, 10_000)).map(fromRow)) {
      for (const c of e.certifications) {
        if (Date.parse(c.expires_at) <= now) {
          out.push({
            tenantId: e.tenantId,
            mark: `cert:${e.id}:${c.name}:${c.expires_at}`,
            data: {
              kind: 'certification-lapsed',
              severity: 'warning',
              message: `${e.name}: ${c.name} (issued by ${c.issuer}) expired on ${c.expires_at.slice(0, 10)}`,
              subject: { third_party_id: e.id, third_party: e.name, certification: c.name, issuer: c.issuer, expires_at: c.expires_at },
              lacks: `a current ${c.name} certification for ${e.name}`,
              rule: null,
              ruleset_version: null,
              at,
            },
          });
        }
      }
      if (e.review_due_at && Date.parse(e.review_due_at) <= now) {
        out.push({
          tenantId: e.tenantId,
          mark: `review:${e.id}:${e.review_due_at}`,
          data: {
            kind: 'review-lapsed',
            severity: 'info',
            message: `${e.name}: the review due on ${e.review_due_at.slice(0, 10)} has not been recorded`,
            subject: { third_party_id: e.id, third_party: e.name, review_due_at: e.review_due_at },
            lacks: `a review of ${e.name} (set review_due_at to the next date once done)`,
            rule: null,
            ruleset_version: null,
            at,
          },
        });
      }
    }
    return out;
  }

  /** SPF includes of a tenant's domains that no entry lists. */
  async function spfAlerts(tenantId: string): Promise<Alert[]> {
    if (!deps.spfIncludes) return [];
    const known = new Set((await list(tenantId)).flatMap((e) => e.identifiers.spf_includes));
    const at = isoTime(clock.now());
    const out: Alert[] = [];
    for (const d of await store.domains.list(tenantId)) {
      for (const inc of await deps.spfIncludes(d.name).catch(() => [] as string[])) {
        if (known.has(inc.toLowerCase())) continue;
        out.push({
          tenantId,
          mark: `spf-include:${d.name}:${inc.toLowerCase()}`,
          data: {
            kind: 'spf-include-unregistered',
            severity: 'warning',
            message: `the SPF record of ${d.name} includes ${inc}, which no third-party register entry lists`,
            subject: { domain: d.name, include: inc },
            lacks: `a register entry whose spf_includes include ${inc}`,
            rule: null,
            ruleset_version: null,
            at,
          },
        });
      }
    }
    return out;
  }

  /**
   * Proposes entries from what the platform sees: one per SPF include of the tenant's domains, one
   * per passing DKIM domain in the last 30 days of DMARC reports (with its selectors and addresses),
   * one per remaining source address. Existing names are kept as they are; answers what was added.
   */
  async function seed(tenantId: string, actor: Actor = unattributed): Promise<ThirdParty[]> {
    const now = clock.now();
    const proposals = new Map<string, ThirdPartyInput>();
    const propose = (name: string, source: string, ids: Partial<ThirdPartyDoc['identifiers']>) => {
      const p = proposals.get(name) ?? { name, status: 'proposed' as const, source, identifiers: emptyIdentifiers() };
      const cur = p.identifiers as ThirdPartyDoc['identifiers'];
      for (const k of Object.keys(ids) as (keyof ThirdPartyDoc['identifiers'])[]) cur[k] = lower([...cur[k], ...(ids[k] ?? [])]);
      proposals.set(name, p);
    };
    const domains = await store.domains.list(tenantId);
    const own = new Set(domains.map((d) => d.name.toLowerCase()));
    if (deps.spfIncludes) {
      for (const d of domains)
        for (const inc of await deps.spfIncludes(d.name).catch(() => [] as string[])) propose(inc, 'spf', { spf_includes: [inc] });
    }
    for (const r of await store.compliance.dmarcSourcesSince(tenantId, now - 30 * 86_400_000)) {
      const dkim = dkimOf(r).filter((d) => !own.has(d.domain));
      if (dkim.length)
        for (const d of dkim)
          propose(d.domain, 'dmarc', { dkim_domains: [d.domain], dkim_selectors: d.selector ? [d.selector] : [], ips: [r.sourceIp] });
      else if (!dkimOf(r).length) propose(`source ${r.sourceIp}`, 'dmarc', { ips: [r.sourceIp] });
    }
    const existing = new Set((await list(tenantId)).map((e) => e.name));
    const added: ThirdParty[] = [];
    for (const p of proposals.values()) {
      if (existing.has(p.name)) continue;
      added.push(await create(tenantId, p, actor));
    }
    return added;
  }

  /**
   * The entries as the posture audit reads them for subdomain delegation proposals (the shape of
   * posture's RegisteredSender, which compliance does not import).
   */
  async function senders(tenantId: string) {
    return (await list(tenantId)).map((e) => ({
      id: e.id,
      name: e.name,
      status: e.status,
      ...(e.delegation_subdomain ? { subdomain: e.delegation_subdomain } : {}),
      spfIncludes: e.identifiers.spf_includes,
      dkimDomains: e.identifiers.dkim_domains,
      dkimSelectors: e.identifiers.dkim_selectors,
      ips: e.identifiers.ips,
    }));
  }

  /**
   * The source addresses DMARC aggregate reports of the last 30 days saw sending as `domain` for
   * each of these entries (an address within the entry's networks, or a passing DKIM d= it lists),
   * with their message counts, most first: evidence for the posture audit's delegation proposals.
   */
  async function seenSources(tenantId: string, domain: string, ids: string[]): Promise<Record<string, { ip: string; count: number }[]>> {
    const entries = (await list(tenantId)).filter((e) => ids.includes(e.id));
    if (!entries.length) return {};
    const rows = (await store.compliance.dmarcSourcesSince(tenantId, clock.now() - 30 * 86_400_000)).filter(
      (r) => (r.headerFrom ?? r.policyDomain).toLowerCase() === domain,
    );
    const out: Record<string, { ip: string; count: number }[]> = {};
    for (const e of entries) {
      const nets = networksOf([e]);
      const counts = new Map<string, number>();
      for (const r of rows) {
        if (!covers(nets, r.sourceIp) && !dkimOf(r).some((d) => e.identifiers.dkim_domains.includes(d.domain))) continue;
        counts.set(r.sourceIp, (counts.get(r.sourceIp) ?? 0) + r.count);
      }
      out[e.id] = [...counts].map(([ip, count]) => ({ ip, count })).sort((a, b) => b.count - a.count || a.ip.localeCompare(b.ip));
    }
    return out;
  }

  /** Looks at the SPF records and the lapses now; raises what it finds. */
  async function check(tenantIds: string[]): Promise<number> {
    const alerts = [...(await lapseAlerts())];
    for (const t of tenantIds) alerts.push(...(await spfAlerts(t)));
    return (await raiseAlerts(store, alerts, clock.now())).length;
  }

  return { list, page, get, create, update, remove, seed, dmarcAlerts, lapseAlerts, spfAlerts, check, senders, seenSources };
}

export type Register = ReturnType<typeof createRegister>;
