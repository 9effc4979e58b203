import type { AuditRecorder } from '../audit/index.js';
import { type Clock, domainOf, normaliseDomain } from '../core/index.js';
import type { Resolver } from '../dns/index.js';
import type { DkimAlgorithm, MessageRow, RecipientRow, Store } from '../store/index.js';
import { domainCandidates, type Tenants } from '../tenants/index.js';
import { computeAlignment } from './alignment.js';
import type { PlatformIdentity } from './domain-records.js';
import { createDomains, type Domains } from './domains.js';
import { lookupDmarc, organizationalDomainByPsl, treeWalkNames } from './org-domain.js';
import { bounceDomainFor, deriveVerpKey, encodeVerp } from './verp.js';

/**
 * A message's sending identity, wired for the rest of the platform:
 *
 * - `describe` (accept): the return-path domain (`<bounceLabel>.<registered domain>`) and the
 *   *expected* alignment (RFC 7489 §3.1) of the VERP envelope domain and of the DKIM d= that will
 *   sign, against the header From, with the modes of the From domain's published DMARC record
 *   (looked up through the configured resolver, cached; none published: relaxed). Sandbox mail never
 *   leaves, so no DNS is asked for it and the defaults apply.
 * - `returnPath` (delivery): the VERP envelope sender per recipient, HMAC-keyed from the master key.
 * - `monitor`: the verification and rotation schedule, driven by `tick()` (a scheduled job on one
 *   node of the cluster in production, by hand with a fake clock in tests).
 */
export interface SendingIdentityDeps {
  store: Pick<Store, 'dkimKeys' | 'domains' | 'transaction'>;
  tenants: Parameters<typeof createDomains>[0]['tenants'] & Pick<Tenants, 'getDomain'>;
  clock: Clock;
  masterKey: Buffer;
  /** Cached resolver for DMARC lookups at accept. */
  resolver: Resolver;
  /** Uncached resolver for verification: someone who just published a record wants it seen now. */
  liveResolver?: Resolver;
  sandbox: boolean;
  dkim: { algorithms: readonly DkimAlgorithm[]; rotationDays: number; overlapDays: number };
  verifyIntervalMs: number;
  platform: PlatformIdentity;
  /** How long a From domain's DMARC modes and signing domain are trusted (default 60 s, as the signer's key cache). */
  cacheTtlMs?: number;
  log?: { warn(obj: object, msg: string): void; info?(obj: object, msg: string): void };
  /** Records domain and DKIM key changes (docs/governance.md). */
  audit?: AuditRecorder;
}

/** What accept stores on the message and puts on message.accepted (snake_case: it is wire data). */
export interface MessageIdentity {
  return_path_domain: string;
  alignment: {
    spf: { aligned: boolean; mode: 'r' | 's'; envelope_domain: string; header_from: string };
    dkim: { aligned: boolean; mode: 'r' | 's'; signing_domains: string[] };
    dmarc_would_pass: boolean;
  };
  /** Where the modes came from: the From domain's DMARC record, none published, or not looked up. */
  dmarc: { source: 'record' | 'none' | 'unavailable' | 'sandbox'; domain?: string; policy?: string; record?: string };
  /** Human sentences for each misalignment; empty when both align. */
  problems: string[];
}

export interface IdentityMonitor {
  /** One pass: verify due domains, activate published keys, rotate, retire. */
  tick(): ReturnType<Domains['runSchedule']>;
}

interface FromFacts {
  expiresAt: number;
  registered: string | null;
  dkimDomains: string[];
  dmarc: MessageIdentity['dmarc'] & { aspf: 'r' | 's'; adkim: 'r' | 's' };
}

const MAX_CACHED = 10_000;

export function createSendingIdentity(deps: SendingIdentityDeps) {
  const { store, clock, resolver } = deps;
  const ttl = deps.cacheTtlMs ?? 60_000;
  const domains = createDomains({
    store,
    tenants: deps.tenants,
    clock,
    masterKey: deps.masterKey,
    dkim: deps.dkim,
    resolver: deps.liveResolver ?? resolver,
    platform: deps.platform,
    sandbox: deps.sandbox,
    log: deps.log,
    ...(deps.audit ? { audit: deps.audit } : {}),
  });
  const verpKey = deriveVerpKey(deps.masterKey);
  const facts = new Map<string, FromFacts>();

  /** RFC 7489 §6.6.3: the From domain's record, else the organizational domain's. */
  async function dmarcOf(fromDomain: string): Promise<FromFacts['dmarc']> {
    const names = [fromDomain, organizationalDomainByPsl(fromDomain)].filter((n, i, a) => a.indexOf(n) === i);
    for (const name of names.length ? names : treeWalkNames(fromDomain)) {
      const found = await lookupDmarc(resolver, name);
      if (found.outcome === 'error') return { source: 'unavailable', domain: name, aspf: 'r', adkim: 'r' };
      if (found.outcome !== 'record' || !found.record) continue;
      const r = found.record;
      return { source: 'record', domain: name, policy: r.p, record: found.text ?? '', aspf: r.aspf, adkim: r.adkim };
    }
    return { source: 'none', aspf: 'r', adkim: 'r' };
  }

  async function factsFor(fromDomain: string, sandbox: boolean): Promise<FromFacts> {
    const key = `${sandbox ? 's' : 'l'}:${fromDomain}`;
    const hit = facts.get(key);
    if (hit && hit.expiresAt > clock.now()) return hit;
    const candidates = domainCandidates(fromDomain);
    const registeredRows = await store.domains.findByNames(candidates);
    const registered = candidates.find((c) => registeredRows.some((r) => r.name === c)) ?? null;
    // As the signer: only the registered domain's own active keys sign. A registered domain without
    // one signs nothing, never with a parent's key (the parent may be another tenant's).
    const signingNames = registered ? [registered] : [];
    // Live mail signs only with keys whose record was seen in DNS (as the signer does).
    const usable = async () => (await store.dkimKeys.activeFor(signingNames)).filter((k) => sandbox || k.verifiedAt != null);
    let keys = await usable();
    if (registered && !keys.length && !sandbox && (await domains.activatePublished(signingNames)) > 0) {
      keys = await usable();
    }
    const signer = keys.length ? registered : null;
    const dmarc: FromFacts['dmarc'] = sandbox ? { source: 'sandbox', aspf: 'r', adkim: 'r' } : await dmarcOf(fromDomain);
    const out: FromFacts = { expiresAt: clock.now() + ttl, registered, dkimDomains: signer ? [signer] : [], dmarc };
    if (facts.size >= MAX_CACHED) facts.delete(facts.keys().next().value!);
    facts.set(key, out);
    return out;
  }

  const accept = {
    async describe(input: { fromDomain: string; sandbox: boolean }): Promise<MessageIdentity> {
      const from = normaliseDomain(input.fromDomain) ?? input.fromDomain.toLowerCase();
      const f = await factsFor(from, input.sandbox);
      const returnPathDomain = bounceDomainFor(f.registered ?? from, deps.platform.bounceLabel);
      const a = computeAlignment({
        headerFromDomain: from,
        envelopeFromDomain: returnPathDomain,
        dkimDomains: f.dkimDomains,
        policy: { aspf: f.dmarc.aspf, adkim: f.dmarc.adkim },
        orgDomain: organizationalDomainByPsl,
      });
      const problems: string[] = [];
      const mode = (m: 'r' | 's') => (m === 's' ? 'strict' : 'relaxed');
      if (!a.spf.aligned) {
        problems.push(
          `SPF: the return path ${returnPathDomain} does not align with the From domain ${from} (${mode(a.spf.mode)} alignment)`,
        );
      }
      if (!a.dkim.aligned) {
        problems.push(
          f.dkimDomains.length
            ? `DKIM: d=${f.dkimDomains.join(', ')} does not align with the From domain ${from} (${mode(a.dkim.mode)} alignment)`
            : `DKIM: no verified key signs for ${from} yet (publish the domain's DKIM record and verify it)`,
        );
      }
      const { aspf: _s, adkim: _d, ...dmarc } = f.dmarc;
      return {
        return_path_domain: returnPathDomain,
        alignment: {
          spf: { aligned: a.spf.aligned, mode: a.spf.mode, envelope_domain: returnPathDomain, header_from: from },
          dkim: { aligned: a.dkim.aligned, mode: a.dkim.mode, signing_domains: f.dkimDomains },
          dmarc_would_pass: a.dmarcWouldPass,
        },
        dmarc,
        problems,
      };
    },
  };

  /** The VERP envelope sender of one recipient (RFC 5321 §4.1.2 reverse-path). */
  function returnPath(job: { message: Pick<MessageRow, 'id' | 'from' | 'identity'> }, recipient: Pick<RecipientRow, 'id'>): string {
    const stored = job.message.identity?.return_path_domain;
    const bounceDomain = typeof stored === 'string' ? stored : bounceDomainFor(domainOf(job.message.from), deps.platform.bounceLabel);
    return encodeVerp({ messageId: job.message.id, recipientId: recipient.id, bounceDomain }, verpKey);
  }

  const monitor: IdentityMonitor = { tick: () => domains.runSchedule(deps.verifyIntervalMs) };

  return { domains, accept, returnPath, monitor };
}

export type SendingIdentity = ReturnType<typeof createSendingIdentity>;
