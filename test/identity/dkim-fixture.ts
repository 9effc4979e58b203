/**
 * A DKIM test world: a fresh store of one dialect, a tenant, the domains service with its DKIM keys, a
 * loopback DNS server that publishes exactly what `dnsRecords` says to publish, and mailauth's
 * `dkimVerify` (the independent verifier) resolving through that server.
 */
import { randomBytes } from 'node:crypto';
import { Resolver } from 'node:dns/promises';
import type { TestContext } from 'node:test';
import { dkimVerify } from 'mailauth';
import { createResolver } from '../../src/dns/index.js';
import { createDomains, type DkimAlgorithm, type PlatformIdentity } from '../../src/identity/index.js';
import type { DialectName } from '../../src/store/index.js';
import { createTenants } from '../../src/tenants/index.js';
import { fakeClock } from '../support/clock.js';
import { openStore } from '../support/dialects.js';
import { startDnsServer } from '../support/dns-server.js';

/** The platform names the record tests expect (what startPlatform's config yields). */
export const testPlatformIdentity: PlatformIdentity = {
  bounceLabel: 'bounces',
  reportDomain: 'pw.test',
  inboundMxHost: 'mx.pw.test',
  spfInclude: '',
  sendingIps: ['192.0.2.25'],
  hostname: 'pw.test',
  trackingHost: '',
  trackingLabel: 'track',
};

export interface DkimWorldOptions {
  dialect?: DialectName;
  algorithms?: DkimAlgorithm[];
}

export async function dkimWorld(t: TestContext, opts: DkimWorldOptions = {}) {
  const store = await openStore(t, opts.dialect ?? 'sqlite');
  const clock = fakeClock();
  const masterKey = randomBytes(32);
  const tenants = createTenants({ store, clock });
  const tenant = await tenants.createTenant({ name: 'acme' });
  const dns = await startDnsServer(t, {});
  // Sandbox: keys sign at once, as these tests exercise signing rather than activation (that is
  // test/identity/dkim-lifecycle.test.ts).
  const domains = createDomains({
    store,
    tenants,
    clock,
    masterKey,
    dkim: { algorithms: opts.algorithms ?? ['rsa-2048'] },
    sandbox: true,
    resolver: createResolver({ servers: [dns.address], timeoutMs: 2000, clock }),
    platform: testPlatformIdentity,
  });
  const resolver = new Resolver({ timeout: 2000, tries: 2 });
  resolver.setServers([dns.address]);

  /** Adds the domain and publishes its DKIM records in the loopback DNS. */
  async function addDomain(name: string, tenantId = tenant.id) {
    const added = await domains.addDomain(tenantId, name);
    const zone = { ...dns.zone };
    for (const r of await domains.dnsRecords(tenantId, added.domain.id)) if (r.kind === 'dkim') zone[r.name] = { TXT: [r.value] };
    dns.setZone(zone);
    return added;
  }

  /** mailauth's verdict on every signature of `raw`, as `selector d=domain result`. */
  async function verify(raw: Buffer) {
    const out = await dkimVerify(raw, {
      // DKIM needs TXT only; anything else would be a surprise worth failing on.
      resolver: (name: string, type: string) =>
        type === 'TXT'
          ? resolver.resolveTxt(name)
          : Promise.reject(Object.assign(new Error(`unexpected ${type} query`), { code: 'ENOTFOUND' })),
      curTime: new Date(clock.now()),
      minBitLength: 2048,
    });
    return out.results.map((r) => ({
      domain: r.signingDomain,
      selector: r.selector,
      // mailauth 4.13.3 reports the a= tag as `algo` (its typings say `algorithm`).
      algorithm: (r as { algo?: string }).algo,
      result: r.status.result,
      comment: r.status.comment,
    }));
  }

  return { store, clock, masterKey, tenants, tenant, domains, dns, addDomain, verify };
}

/** A 4 KB-ish message as a sender would compose it. */
export function sampleMessage(from = 'Alerts <alerts@example.com>', body = 'Your report is ready.\r\n'.repeat(150)): Buffer {
  return Buffer.from(
    [
      `From: ${from}`,
      'To: Ada <ada@example.net>',
      'Subject: Monthly report',
      'Date: Mon, 23 Nov 2026 09:00:00 +0000',
      'Message-ID: <report-1@example.com>',
      'MIME-Version: 1.0',
      'Content-Type: text/plain; charset=utf-8',
      'Content-Transfer-Encoding: 7bit',
      'List-Unsubscribe: <https://example.com/u/1>',
      'List-Unsubscribe-Post: List-Unsubscribe=One-Click',
      '',
      body,
    ].join('\r\n'),
  );
}
