import { type Actor, type AuditInput, type AuditRecorder, systemActor, unattributed } from '../audit/index.js';
import { type Clock, streams as knownStreams, newId, PostwardenError, validationError } from '../core/index.js';
import type { Resolver } from '../dns/index.js';
import { sealSecret } from '../governance/index.js';
import type { DkimAlgorithm, DkimKeyRow, DomainRow, Repositories, Store } from '../store/index.js';
import type { Tenants } from '../tenants/index.js';
import { dkimDnsName, dkimKeyAad, dkimTxtValue, generateDkimKey, isDkimAlgorithm, nextSelector } from './dkim-keys.js';
import { type DomainRecord, domainRecords, type PlatformIdentity, unpublishableProblem } from './domain-records.js';
import { checkRecord, type DomainVerification, verifyDomainRecords } from './domain-verification.js';

/**
 * Sending domains with their DKIM keys and the DNS records they publish.
 *
 * Key lifecycle (docs/identity.md has the timeline):
 *   pending ──(its TXT record is found in DNS)──► active ──(a newer key of its algorithm has been
 *   active for the overlap window)──► retired
 * A key signs only when active, so no message is signed with a key receivers cannot fetch. In
 * sandbox (node-wide, or the tenant) nothing leaves the machine, so keys are active at once.
 * Rotation creates the next selector as pending; the signer switches to it (newest active key of
 * each algorithm signs) only once verification activates it; the old key stays published and
 * active-but-unused for the overlap window, so mail signed just before the switch still verifies
 * while in flight, and is then retired with a recommendation to remove its record.
 */

export interface DomainsDeps {
  store: Pick<Store, 'dkimKeys' | 'domains' | 'transaction'>;
  tenants: Pick<Tenants, 'addDomain' | 'getDomain' | 'removeDomain'> & { getTenant(id: string): Promise<{ sandbox: boolean }> };
  clock: Clock;
  masterKey: Buffer;
  /** Keys made for a new domain: RSA-2048, optionally with Ed25519 for RFC 8463 dual signing. */
  dkim: { algorithms: readonly DkimAlgorithm[]; rotationDays?: number; overlapDays?: number };
  /** Where verification looks; absent: verification is refused (CLI commands that never need it). */
  resolver?: Resolver;
  platform?: PlatformIdentity;
  /** Node-wide sandbox: keys are active at once. */
  sandbox?: boolean;
  /** Where the schedule reports a domain it could not process (the pass goes on with the rest). */
  log?: { warn(obj: object, msg: string): void };
  /** Records domain and DKIM key changes (docs/governance.md). */
  audit?: AuditRecorder;
}

/** What the audit log keeps of a DKIM key: never the private key. */
const keyFacts = (k: DkimKeyRow) => ({ id: k.id, selector: k.selector, algorithm: k.algorithm, status: k.status });

export interface DkimRecordInfo {
  selector: string;
  algorithm: DkimAlgorithm;
  /** Owner name of the TXT record, `<selector>._domainkey.<domain>`. */
  dnsName: string;
  /** The TXT value (longer than 255 bytes for RSA: DNS consoles split it into strings themselves). */
  dnsValue: string;
}

export type DnsRecord = DomainRecord;

export interface AddedDomain {
  domain: DomainRow;
  dkim: DkimRecordInfo[];
}

export interface ScheduleReport {
  verified: string[];
  activated: string[];
  created: string[];
  retired: string[];
  /** Domains whose verification or rotation failed in this pass (logged; retried next pass). */
  failed: string[];
}

const emptyReport = (): ScheduleReport => ({ verified: [], activated: [], created: [], retired: [], failed: [] });

const DAY = 86_400_000;

const recordInfo = (k: Pick<DkimKeyRow, 'selector' | 'algorithm' | 'domain' | 'publicKey'>): DkimRecordInfo => ({
  selector: k.selector,
  algorithm: k.algorithm,
  dnsName: dkimDnsName(k.selector, k.domain),
  dnsValue: dkimTxtValue(k.algorithm, k.publicKey),
});

export function parseStreams(value: unknown, path = '/streams'): string[] | null {
  if (value === undefined || value === null) return null;
  const list = Array.isArray(value) ? value : typeof value === 'string' ? value.split(',').map((s) => s.trim()) : null;
  const bad = list?.find((s) => !(knownStreams as readonly string[]).includes(s));
  if (!list || bad !== undefined) {
    throw validationError([{ path, message: `must be a list of ${knownStreams.join(', ')}${bad ? ` (not ${String(bad)})` : ''}` }]);
  }
  return list.length ? [...new Set(list as string[])] : null;
}

/** The same set of streams (null and [] both mean all), whatever the order. */
const sameStreams = (a: readonly string[] | null, b: readonly string[] | null) =>
  JSON.stringify([...(a ?? [])].sort()) === JSON.stringify([...(b ?? [])].sort());

export function createDomains(deps: DomainsDeps) {
  const { store, tenants, clock, masterKey } = deps;
  const algorithms = [...new Set(deps.dkim.algorithms)];
  const bad = algorithms.find((a) => !isDkimAlgorithm(a));
  if (bad !== undefined || !algorithms.length || !algorithms.includes('rsa-2048')) {
    // RSA stays: RFC 8463 §5 advises dual signing because many verifiers do not know Ed25519 yet.
    throw validationError([{ path: '/dkim/algorithms', message: "must be ['rsa-2048'] or ['rsa-2048', 'ed25519']" }]);
  }
  const rotationMs = (deps.dkim.rotationDays ?? 180) * DAY;
  const overlapMs = (deps.dkim.overlapDays ?? 7) * DAY;

  async function newKeys(domain: DomainRow, algs: readonly DkimAlgorithm[], status: 'pending' | 'active'): Promise<DkimKeyRow[]> {
    // Keys first: RSA generation takes ~100 ms (off the event loop), and no transaction waits on it.
    const materials = await Promise.all(algs.map((a) => generateDkimKey(a)));
    const now = clock.now();
    const taken = (await store.dkimKeys.listByDomain(domain.id)).map((k) => k.selector);
    // Ids sort by time, then at random within a millisecond: sorted, the keys list in creation order.
    const ids = materials.map(() => newId('dk', now)).sort();
    return materials.map((m, i) => {
      const id = ids[i]!;
      const selector = nextSelector(taken, now);
      taken.push(selector);
      return {
        id,
        tenantId: domain.tenantId,
        domainId: domain.id,
        domain: domain.name,
        selector,
        algorithm: m.algorithm,
        privateKey: sealSecret(Buffer.from(m.privateKeyPem, 'utf8'), masterKey, dkimKeyAad(id)),
        publicKey: m.publicKey,
        status,
        createdAt: now,
        activatedAt: status === 'active' ? now : null,
        retiredAt: null,
        purpose: 'all',
        verifiedAt: null,
      };
    });
  }

  async function insertKeys(rows: DkimKeyRow[], entry?: AuditInput): Promise<void> {
    const insert = async (tx: Pick<Repositories, 'dkimKeys'>) => {
      for (const row of rows) await tx.dkimKeys.insert(row);
    };
    try {
      if (deps.audit && entry) await deps.audit.change(insert, () => entry);
      else await store.transaction(insert);
    } catch (e) {
      // Two nodes rotating the same domain at once pick the same next selector, and the (domain,
      // selector) unique index refuses the second. Asking the store which selector is now held by
      // another key tells that race from other failures on every dialect.
      const domainId = rows[0]?.domainId;
      const held = domainId ? await store.dkimKeys.listByDomain(domainId).catch(() => []) : [];
      const taken = rows.find((r) => held.some((k) => k.selector === r.selector && k.id !== r.id));
      if (!taken) throw e;
      throw new PostwardenError(
        'CONFLICT',
        `DKIM selector ${taken.selector} of ${taken.domain} was just created by another request; list the domain's keys and retry if needed`,
        { selector: taken.selector, domain: taken.domain },
        { cause: e },
      );
    }
  }

  function platformOf(): PlatformIdentity {
    if (!deps.platform) throw new PostwardenError('INTERNAL', 'the platform identity (report domain, inbound MX) is not configured here');
    return deps.platform;
  }

  function resolverOf(): Resolver {
    if (!deps.resolver) throw new PostwardenError('INTERNAL', 'no DNS resolver is configured for verification');
    return deps.resolver;
  }

  async function recordsOf(domain: DomainRow): Promise<DomainRecord[]> {
    const problem = unpublishableProblem(platformOf());
    if (problem) throw problem;
    return domainRecords(domain.name, await store.dkimKeys.listByDomain(domain.id), platformOf());
  }

  /** Verifies a domain's records, stores the report, and activates pending keys whose record is there. */
  async function verifyRow(domain: DomainRow, activated: string[] = []): Promise<DomainVerification> {
    const keys = await store.dkimKeys.listByDomain(domain.id);
    const report = await verifyDomainRecords(resolverOf(), domain.name, domainRecords(domain.name, keys, platformOf()), clock.now());
    const now = clock.now();
    for (const check of report.records) {
      if (check.kind !== 'dkim' || check.status !== 'ok') continue;
      const key = keys.find((k) => k.selector === check.selector);
      if (!key) continue;
      await store.dkimKeys.markVerified(key.id, now);
      if (key.status === 'pending') {
        await store.dkimKeys.setStatus(key.id, 'active', now);
        activated.push(`${key.selector}._domainkey.${key.domain}`);
      }
    }
    // The key statuses may have changed: report them as they are now.
    const after = await store.dkimKeys.listByDomain(domain.id);
    for (const check of report.records) {
      const key = after.find((k) => k.selector === check.selector);
      if (key) check.keyStatus = key.status;
    }
    await store.domains.setVerification(domain.id, report, now, report.verified ? now : (domain.verifiedAt ?? null));
    return report;
  }

  /** Rotation and retirement for one domain; returns what changed. */
  async function rotateRow(domain: DomainRow, report: ScheduleReport, force = false, actor?: Actor): Promise<DkimKeyRow[]> {
    const now = clock.now();
    const keys = await store.dkimKeys.listByDomain(domain.id);
    const due: DkimAlgorithm[] = [];
    for (const alg of algorithms) {
      const active = keys
        .filter((k) => k.algorithm === alg && k.status === 'active')
        .sort((a, b) => (b.activatedAt ?? 0) - (a.activatedAt ?? 0));
      const pending = keys.some((k) => k.algorithm === alg && k.status === 'pending');
      const newest = active[0];
      // Retire older active keys once the newest has signed for the overlap window.
      if (newest) {
        for (const old of active.slice(1)) {
          if ((newest.activatedAt ?? now) + overlapMs <= now) {
            const retire = (tx: Pick<Repositories, 'dkimKeys'>) => tx.dkimKeys.setStatus(old.id, 'retired', now);
            if (deps.audit) {
              await deps.audit.change(retire, () => ({
                actor: systemActor('dkim-rotation'),
                tenantId: old.tenantId,
                action: 'dkim_key.retired',
                resource: { type: 'dkim_key', id: old.id },
                before: keyFacts(old),
                after: { ...keyFacts(old), status: 'retired', replaced_by: newest.id },
              }));
            } else await retire(store);
            report.retired.push(`${old.selector}._domainkey.${old.domain}`);
          }
        }
      }
      if (pending) continue;
      if (force || (rotationMs > 0 && newest && (newest.activatedAt ?? newest.createdAt) + rotationMs <= now)) due.push(alg);
    }
    if (!due.length) return [];
    const rows = await newKeys(domain, due, 'pending');
    await insertKeys(rows, {
      actor: actor ?? systemActor('dkim-rotation'),
      tenantId: domain.tenantId,
      action: 'dkim_key.rotated',
      resource: { type: 'domain', id: domain.id },
      before: { keys: keys.map(keyFacts) },
      after: { created: rows.map(keyFacts) },
    });
    for (const r of rows) report.created.push(`${r.selector}._domainkey.${r.domain}`);
    return rows;
  }

  return {
    async addDomain(tenantId: string, name: string, opts: { streams?: unknown } = {}, actor: Actor = unattributed): Promise<AddedDomain> {
      const streams = parseStreams(opts.streams);
      const tenant = await tenants.getTenant(tenantId);
      // Refused before anything is stored: a domain whose records cannot work is not onboarded. In
      // sandbox nothing leaves the machine and no record is needed, so the domain is added anyway.
      const problem = deps.platform && !deps.sandbox && !tenant.sandbox ? unpublishableProblem(deps.platform) : undefined;
      if (problem) throw problem;
      const domain = await tenants.addDomain(tenantId, name, streams);
      let rows: DkimKeyRow[];
      try {
        rows = await newKeys(domain, algorithms, deps.sandbox || tenant.sandbox ? 'active' : 'pending');
        // The domain is recorded with its keys: an entry that fails takes the keys back, and the
        // catch below the domain, so nothing stays unrecorded.
        await insertKeys(rows, {
          actor,
          tenantId,
          action: 'domain.created',
          resource: { type: 'domain', id: domain.id },
          after: { name: domain.name, streams: domain.streams, dkim_keys: rows.map(keyFacts) },
        });
      } catch (e) {
        // A domain without its keys would send unsigned; take it back so adding it again works.
        await tenants.removeDomain(tenantId, domain.id).catch(() => undefined);
        throw e;
      }
      return { domain, dkim: rows.map(recordInfo) };
    },

    /** Every record the domain should publish (and retired DKIM records to remove), with why. */
    async dnsRecords(tenantId: string, domainId: string): Promise<DnsRecord[]> {
      return recordsOf(await tenants.getDomain(tenantId, domainId));
    },

    /**
     * Restricts the domain to these streams (null: all), recorded as `domain.updated` in the same
     * transaction. The same set in another order is no change: nothing is written or recorded.
     */
    async setStreams(tenantId: string, domainId: string, value: unknown, actor: Actor = unattributed): Promise<DomainRow> {
      const streams = parseStreams(value);
      const domain = await tenants.getDomain(tenantId, domainId);
      // Read again inside the transaction, so `before` is what this change replaced.
      const change = async (tx: Pick<Repositories, 'domains'>) => {
        const current = (await tx.domains.get(domain.id)) ?? domain;
        const before = current.streams?.length ? current.streams : null;
        if (sameStreams(before, streams)) return { before, changed: false };
        await tx.domains.setStreams(domain.id, streams);
        return { before, changed: true };
      };
      const result = deps.audit
        ? await deps.audit.change(change, (r) =>
            r.changed
              ? {
                  actor,
                  tenantId,
                  action: 'domain.updated',
                  resource: { type: 'domain', id: domain.id },
                  before: { streams: r.before },
                  after: { streams },
                }
              : undefined,
          )
        : await store.transaction(change);
      return { ...domain, streams: result.changed ? streams : result.before };
    },

    /** Checks every record in live DNS now; pending DKIM keys whose record is found start signing. */
    async verify(tenantId: string, domainId: string, actor: Actor = unattributed): Promise<DomainVerification> {
      const domain = await tenants.getDomain(tenantId, domainId);
      const activated: string[] = [];
      const report = await verifyRow(domain, activated);
      // The writes of a verification re-derive state from DNS (idempotent), so the entry follows
      // them in a transaction of its own rather than holding a transaction open across DNS lookups.
      await deps.audit?.record({
        actor,
        tenantId,
        action: 'domain.verified',
        resource: { type: 'domain', id: domain.id },
        before: { verified_at: domain.verifiedAt ? new Date(domain.verifiedAt).toISOString() : null },
        after: { verified: report.verified, activated_dkim: activated },
      });
      return report;
    },

    async listKeys(tenantId: string, domainId: string): Promise<DkimKeyRow[]> {
      const domain = await tenants.getDomain(tenantId, domainId);
      return store.dkimKeys.listByDomain(domain.id);
    },

    /**
     * Starts a rotation now: a new pending selector per algorithm (unless one is already pending).
     * Nothing switches until its record verifies.
     */
    async rotate(tenantId: string, domainId: string, actor: Actor = unattributed): Promise<DkimKeyRow[]> {
      const domain = await tenants.getDomain(tenantId, domainId);
      const rows = await rotateRow(domain, emptyReport(), true, actor);
      if (!rows.length) {
        throw new PostwardenError('CONFLICT', `a new DKIM key of ${domain.name} is already waiting for its DNS record`, {
          errors: [{ path: '/domain', message: 'publish the pending selector (see the domain records) and verify' }],
        });
      }
      return rows;
    },

    /**
     * Activates pending keys of these domains whose record is already in DNS. The signer and accept
     * call it when a domain has no active key, so mail sent right after publishing is signed.
     */
    async activatePublished(domainNames: readonly string[]): Promise<number> {
      if (!deps.resolver) return 0;
      // Pending keys, and active keys never seen in DNS (made active in sandbox).
      const pending = await store.dkimKeys.withStatus(domainNames, 'pending');
      const unseen = (await store.dkimKeys.withStatus(domainNames, 'active')).filter((k) => k.verifiedAt == null);
      let n = 0;
      const now = clock.now();
      for (const key of [...pending, ...unseen]) {
        const [record] = domainRecords(key.domain, [key], platformOf());
        if (!record || (await checkRecord(deps.resolver, record)).status !== 'ok') continue;
        await store.dkimKeys.markVerified(key.id, now);
        if (key.status === 'pending') await store.dkimKeys.setStatus(key.id, 'active', now);
        n++;
      }
      return n;
    },

    /**
     * The scheduled pass: verify domains whose last check is older than `intervalMs` (or that have a
     * pending key), then rotate keys older than the rotation age and retire keys past the overlap.
     */
    async runSchedule(intervalMs: number): Promise<ScheduleReport> {
      const report = emptyReport();
      const now = clock.now();
      for (const domain of await store.domains.listAll()) {
        // One domain's failure (its DNS, a selector race with another node) must not stop the pass
        // for every domain after it; the next pass retries it.
        try {
          const keys = await store.dkimKeys.listByDomain(domain.id);
          const stale = (domain.checkedAt ?? 0) + intervalMs <= now;
          if (deps.resolver && (stale || keys.some((k) => k.status === 'pending'))) {
            await verifyRow(domain, report.activated);
            report.verified.push(domain.name);
          }
          await rotateRow(domain, report);
        } catch (e) {
          report.failed.push(domain.name);
          deps.log?.warn({ domain: domain.name, error: (e as Error).message }, 'identity schedule failed for a domain');
        }
      }
      return report;
    },
  };
}

export type Domains = ReturnType<typeof createDomains>;
