import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Clock } from '../../src/core/index.js';
import { createResolver } from '../../src/dns/index.js';
import {
  createHttpsPolicyFetcher,
  createInMemoryMtaStsStore,
  createMtaStsCache,
  type FetchResult,
  type MtaStsLookup,
} from '../../src/transport-policy/index.js';
import { createTestCa } from '../support/certs.js';
import { startDnsServer } from '../support/dns-server.js';
import { startPolicyHost } from './policy-host.js';
import { createZoneResolver } from './zone-resolver.js';

const DOMAIN = 'example.com';
const TXT_NAME = `_mta-sts.${DOMAIN}`;
const DAY = 86_400_000;
const policyText = (mode: string, mx: string, maxAge = 86400) => `version: STSv1\r\nmode: ${mode}\r\nmx: ${mx}\r\nmax_age: ${maxAge}\r\n`;

function fakeClock(start = Date.UTC(2026, 0, 1)): Clock & { advance(ms: number): void } {
  let t = start;
  return {
    now: () => t,
    advance: (ms) => {
      t += ms;
    },
  };
}

/** A fetcher that serves `body` (or fails when `down`) and counts calls. */
function fakeFetcher() {
  const f = {
    body: policyText('enforce', 'mx1.example.com'),
    down: false,
    calls: 0,
    fetch: async (domain: string): Promise<FetchResult> => {
      f.calls++;
      const url = `https://mta-sts.${domain}/.well-known/mta-sts.txt`;
      if (f.down) return { ok: false, url, failure: 'connect', message: 'ECONNREFUSED (test outage)' };
      return { ok: true, url, body: f.body, contentType: 'text/plain' };
    },
  };
  return f;
}

function setup() {
  const clock = fakeClock();
  const resolver = createZoneResolver({ [TXT_NAME]: { TXT: ['v=STSv1; id=one'] } });
  const fetcher = fakeFetcher();
  const store = createInMemoryMtaStsStore();
  const cache = createMtaStsCache({ resolver, fetcher: fetcher.fetch, clock, store });
  const setId = (id: string) => {
    resolver.zone[TXT_NAME] = { TXT: [`v=STSv1; id=${id}`] };
  };
  return { clock, resolver, fetcher, store, cache, setId };
}

function policyOf(r: MtaStsLookup) {
  assert.equal(r.kind, 'policy', JSON.stringify(r));
  return r as Extract<MtaStsLookup, { kind: 'policy' }>;
}

describe('MTA-STS policy cache (RFC 8461 §3.3, §5.1)', () => {
  test('fetches a policy once and serves it from the cache while the id is unchanged', async () => {
    const { cache, fetcher, clock } = setup();
    const first = policyOf(await cache.getPolicy(DOMAIN));
    assert.equal(first.source, 'fetched');
    assert.equal(first.id, 'one');
    assert.equal(first.policy.mode, 'enforce');
    assert.equal(first.expiresAt, first.fetchedAt + DAY);
    clock.advance(DAY / 2);
    const second = policyOf(await cache.getPolicy(DOMAIN));
    assert.equal(second.source, 'cache');
    assert.equal(fetcher.calls, 1);
  });

  test('refetches when the TXT id changes', async () => {
    const { cache, fetcher, setId, clock } = setup();
    await cache.getPolicy(DOMAIN);
    fetcher.body = policyText('enforce', 'mx2.example.com');
    setId('two');
    clock.advance(60_000);
    const r = policyOf(await cache.getPolicy(DOMAIN));
    assert.equal(r.source, 'fetched');
    assert.equal(r.id, 'two');
    assert.deepEqual(r.policy.mx, ['mx2.example.com']);
    assert.match(r.notes.join(), /changed from one to two/);
    assert.equal(fetcher.calls, 2);
  });

  test('keeps enforcing the cached policy when the policy host is down after an id change', async () => {
    const { cache, fetcher, setId, clock } = setup();
    await cache.getPolicy(DOMAIN);
    fetcher.down = true;
    setId('two');
    clock.advance(60_000);
    const r = policyOf(await cache.getPolicy(DOMAIN));
    assert.equal(r.source, 'cache');
    assert.equal(r.id, 'one');
    assert.equal(r.policy.mode, 'enforce');
    assert.match(r.notes.join(), /ECONNREFUSED/);
  });

  test('keeps the cached policy when the TXT record disappears or its lookup fails', async () => {
    const { cache, resolver, fetcher } = setup();
    await cache.getPolicy(DOMAIN);
    delete resolver.zone[TXT_NAME];
    assert.equal(policyOf(await cache.getPolicy(DOMAIN)).id, 'one');
    resolver.failing.set(TXT_NAME, 'servfail');
    const r = policyOf(await cache.getPolicy(DOMAIN));
    assert.match(r.notes.join(), /servfail/);
    assert.equal(fetcher.calls, 1);
  });

  test('refetches after max_age and drops the policy when that refetch fails', async () => {
    const { cache, fetcher, clock } = setup();
    await cache.getPolicy(DOMAIN);
    clock.advance(DAY + 1);
    assert.equal(policyOf(await cache.getPolicy(DOMAIN)).source, 'fetched');
    assert.equal(fetcher.calls, 2);
    clock.advance(DAY + 1);
    fetcher.down = true;
    const r = await cache.getPolicy(DOMAIN);
    assert.equal(r.kind, 'none');
    assert.equal(r.kind === 'none' && r.resultType, 'sts-policy-fetch-error');
  });

  test('has no policy without a TXT record, and does not fetch', async () => {
    const { cache, resolver, fetcher } = setup();
    delete resolver.zone[TXT_NAME];
    const r = await cache.getPolicy(DOMAIN);
    assert.equal(r.kind, 'none');
    assert.equal(fetcher.calls, 0);
  });

  test('reports a temporary failure when the TXT lookup fails and nothing is cached', async () => {
    const { cache, resolver } = setup();
    resolver.failing.set(TXT_NAME, 'timeout');
    const r = await cache.getPolicy(DOMAIN);
    assert.equal(r.kind, 'temporary-failure');
  });

  test('does not retry a failed fetch of the same id for five minutes', async () => {
    const { cache, fetcher, clock } = setup();
    fetcher.down = true;
    assert.equal((await cache.getPolicy(DOMAIN)).kind, 'none');
    clock.advance(4 * 60_000);
    assert.equal((await cache.getPolicy(DOMAIN)).kind, 'none');
    assert.equal(fetcher.calls, 1);
    fetcher.down = false;
    clock.advance(60_000);
    assert.equal(policyOf(await cache.getPolicy(DOMAIN)).source, 'fetched');
    assert.equal(fetcher.calls, 2);
  });

  test('treats an invalid policy as none, but never replaces a valid cached one with it', async () => {
    const { cache, fetcher, setId } = setup();
    fetcher.body = 'version: STSv1\r\nmode: strict\r\n';
    const none = await cache.getPolicy(DOMAIN);
    assert.equal(none.kind, 'none');
    assert.equal(none.kind === 'none' && none.resultType, 'sts-policy-invalid');
    assert.match(none.kind === 'none' ? none.reason : '', /line 2/);

    setId('two');
    fetcher.body = policyText('testing', 'mx1.example.com');
    assert.equal(policyOf(await cache.getPolicy(DOMAIN)).id, 'two');
    setId('three');
    fetcher.body = 'garbage';
    const kept = policyOf(await cache.getPolicy(DOMAIN));
    assert.equal(kept.id, 'two');
    assert.equal(kept.policy.mode, 'testing');
  });

  test('refreshes a long-lived policy once a day and keeps it when the refresh fails', async () => {
    const { cache, fetcher, clock } = setup();
    fetcher.body = policyText('enforce', 'mx1.example.com', 30 * 86400);
    const first = policyOf(await cache.getPolicy(DOMAIN));
    clock.advance(DAY + 1);
    const refreshed = policyOf(await cache.getPolicy(DOMAIN));
    assert.equal(refreshed.source, 'fetched');
    assert.ok(refreshed.expiresAt > first.expiresAt);
    clock.advance(DAY + 1);
    fetcher.down = true;
    const kept = policyOf(await cache.getPolicy(DOMAIN));
    assert.equal(kept.source, 'cache');
    assert.equal(kept.expiresAt, refreshed.expiresAt);
    assert.equal(fetcher.calls, 3);
  });

  test('serves a policy from the injected store without fetching', async () => {
    const { clock, resolver, fetcher, store } = setup();
    const now = clock.now();
    await store.put({
      domain: DOMAIN,
      id: 'one',
      policy: { version: 'STSv1', mode: 'enforce', mx: ['mx9.example.com'], maxAge: 86400 },
      policyText: policyText('enforce', 'mx9.example.com'),
      fetchedAt: now - 1000,
      expiresAt: now + DAY,
    });
    const restarted = createMtaStsCache({ resolver, fetcher: fetcher.fetch, clock, store });
    const r = policyOf(await restarted.getPolicy('Example.COM.'));
    assert.equal(r.source, 'cache');
    assert.deepEqual(r.policy.mx, ['mx9.example.com']);
    assert.equal(fetcher.calls, 0);
  });

  test('shares one discovery between concurrent lookups of a domain', async () => {
    const { cache, fetcher, resolver } = setup();
    const results = await Promise.all([cache.getPolicy(DOMAIN), cache.getPolicy(DOMAIN), cache.getPolicy(DOMAIN)]);
    assert.deepEqual(
      results.map((r) => r.kind),
      ['policy', 'policy', 'policy'],
    );
    assert.equal(fetcher.calls, 1);
    assert.equal(resolver.lookups.length, 1);
  });
});

describe('MTA-STS cache over loopback DNS and HTTPS', () => {
  test('follows an id change and survives a policy host outage', async (t) => {
    const ca = createTestCa('MTA-STS Test CA');
    const host = await startPolicyHost(t, ca.issue({ hostnames: [`mta-sts.${DOMAIN}`] }));
    host.servePolicy(policyText('enforce', '*.example.com', 604800));
    const dns = await startDnsServer(t, { [TXT_NAME]: { TXT: ['v=STSv1; id=20260101'] } });
    const clock = fakeClock();
    const resolver = createResolver({ servers: [dns.address], clock, cache: false, timeoutMs: 1000 });
    const fetcher = createHttpsPolicyFetcher({ ca: ca.cert, timeoutMs: 2000, portMap: () => ({ host: '127.0.0.1', port: host.port }) });
    const cache = createMtaStsCache({ resolver, fetcher, clock });

    const first = policyOf(await cache.getPolicy(DOMAIN));
    assert.deepEqual([first.id, first.source, first.policy.mx], ['20260101', 'fetched', ['*.example.com']]);

    dns.setZone({ [TXT_NAME]: { TXT: ['v=STSv1; id=20260102'] } });
    host.servePolicy(policyText('testing', 'mx.example.com', 604800));
    const second = policyOf(await cache.getPolicy(DOMAIN));
    assert.deepEqual([second.id, second.source, second.policy.mode], ['20260102', 'fetched', 'testing']);

    dns.setZone({ [TXT_NAME]: { TXT: ['v=STSv1; id=20260103'] } });
    host.respond = (_req, res) => void res.writeHead(503).end();
    const third = policyOf(await cache.getPolicy(DOMAIN));
    assert.deepEqual([third.id, third.source, third.policy.mode], ['20260102', 'cache', 'testing']);
    assert.match(third.notes.join(), /HTTP 503/);
    assert.equal(host.requests.length, 3);
  });
});
