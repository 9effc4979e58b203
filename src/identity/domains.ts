import { type Clock, newId, validationError } from '../core/index.js';
import { sealSecret } from '../governance/index.js';
import type { DkimAlgorithm, DkimKeyRow, DkimKeyStatus, DomainRow, Store } from '../store/index.js';
import type { Tenants } from '../tenants/index.js';
import { dkimDnsName, dkimKeyAad, dkimTxtValue, generateDkimKey, isDkimAlgorithm, nextSelector } from './dkim-keys.js';

/**
 * Sending domains with their DKIM keys. Adding a domain generates its first key(s), sealed with the
 * master key and active at once, and returns the TXT records to publish. Verification-gated activation
 * and rotation build on these rows later (the identity issue); nothing here rotates.
 */

export interface DomainsDeps {
  store: Pick<Store, 'dkimKeys' | 'transaction'>;
  tenants: Pick<Tenants, 'addDomain' | 'getDomain' | 'removeDomain'>;
  clock: Clock;
  masterKey: Buffer;
  /** Keys made for a new domain: RSA-2048, optionally with Ed25519 for RFC 8463 dual signing. */
  dkim: { algorithms: readonly DkimAlgorithm[] };
}

export interface DkimRecordInfo {
  selector: string;
  algorithm: DkimAlgorithm;
  /** Owner name of the TXT record, `<selector>._domainkey.<domain>`. */
  dnsName: string;
  /** The TXT value (longer than 255 bytes for RSA: DNS consoles split it into strings themselves). */
  dnsValue: string;
}

export interface DnsRecord {
  type: 'TXT';
  name: string;
  value: string;
  /** Why it must be published, in a sentence. */
  why: string;
  selector: string;
  algorithm: DkimAlgorithm;
  status: DkimKeyStatus;
}

export interface AddedDomain {
  domain: DomainRow;
  dkim: DkimRecordInfo[];
}

const recordInfo = (k: Pick<DkimKeyRow, 'selector' | 'algorithm' | 'domain' | 'publicKey'>): DkimRecordInfo => ({
  selector: k.selector,
  algorithm: k.algorithm,
  dnsName: dkimDnsName(k.selector, k.domain),
  dnsValue: dkimTxtValue(k.algorithm, k.publicKey),
});

export function createDomains(deps: DomainsDeps) {
  const { store, tenants, clock, masterKey } = deps;
  const algorithms = [...new Set(deps.dkim.algorithms)];
  const bad = algorithms.find((a) => !isDkimAlgorithm(a));
  if (bad !== undefined || !algorithms.length || !algorithms.includes('rsa-2048')) {
    // RSA stays: RFC 8463 §5 advises dual signing because many verifiers do not know Ed25519 yet.
    throw validationError([{ path: '/dkim/algorithms', message: "must be ['rsa-2048'] or ['rsa-2048', 'ed25519']" }]);
  }

  return {
    async addDomain(tenantId: string, name: string): Promise<AddedDomain> {
      // Keys first: RSA generation takes ~100 ms (off the event loop), and no transaction waits on it.
      const materials = await Promise.all(algorithms.map((a) => generateDkimKey(a)));
      const domain = await tenants.addDomain(tenantId, name);
      const now = clock.now();
      const taken: string[] = [];
      // Ids sort by time, then at random within a millisecond: sorted, the keys list in creation order.
      const ids = materials.map(() => newId('dk', now)).sort();
      const rows: DkimKeyRow[] = materials.map((m, i) => {
        const id = ids[i]!;
        const selector = nextSelector(taken, now);
        taken.push(selector);
        return {
          id,
          tenantId,
          domainId: domain.id,
          domain: domain.name,
          selector,
          algorithm: m.algorithm,
          privateKey: sealSecret(Buffer.from(m.privateKeyPem, 'utf8'), masterKey, dkimKeyAad(id)),
          publicKey: m.publicKey,
          status: 'active',
          createdAt: now,
          activatedAt: now,
          retiredAt: null,
        };
      });
      try {
        await store.transaction(async (tx) => {
          for (const row of rows) await tx.dkimKeys.insert(row);
        });
      } catch (e) {
        // A domain without its keys would send unsigned; take it back so adding it again works.
        await tenants.removeDomain(tenantId, domain.id).catch(() => undefined);
        throw e;
      }
      return { domain, dkim: rows.map(recordInfo) };
    },

    /** The DKIM TXT records a tenant's domain must publish: every key that is not retired. */
    async dnsRecords(tenantId: string, domainId: string): Promise<DnsRecord[]> {
      const domain = await tenants.getDomain(tenantId, domainId);
      const keys = (await store.dkimKeys.listByDomain(domain.id)).filter((k) => k.status !== 'retired');
      return keys.map((k) => {
        const info = recordInfo(k);
        return {
          type: 'TXT',
          name: info.dnsName,
          value: info.dnsValue,
          selector: k.selector,
          algorithm: k.algorithm,
          status: k.status,
          why: `DKIM public key (${k.algorithm}) for selector ${k.selector}: receivers fetch it to verify signatures with d=${k.domain} (RFC 6376 §3.6.2)`,
        };
      });
    },
  };
}

export type Domains = ReturnType<typeof createDomains>;
