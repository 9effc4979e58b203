import assert from 'node:assert/strict';
import { test } from 'node:test';
import { newId, SETTINGS_CACHE_MS } from '../../src/core/index.js';
import type { TlsAttemptRow } from '../../src/store/index.js';
import { createTenants } from '../../src/tenants/index.js';
import { forEachDialect, openStore } from '../support/dialects.js';
import { tlsAttemptRow } from '../support/tls-attempts.js';

/**
 * The storage of migration 006 on both dialects: TLS attempt counts (statistics and TLS-RPT
 * aggregation are SQL aggregates, where SQLite and PostgreSQL differ in result types), the MTA-STS
 * policy upsert, and the tenant TLS policy column.
 */
const T0 = Date.UTC(2026, 10, 22, 0, 0, 0);

const attempt = (over: Partial<TlsAttemptRow>): TlsAttemptRow => tlsAttemptRow(T0 + 1000, over);

forEachDialect(
  'TLS attempts are counted per tenant, domain and period, and per session for TLS-RPT',
  async (t, dialect) => {
    const store = await openStore(t, dialect);
    const shared = newId('att');
    const sts = { rptPolicyType: 'sts' as const, rptPolicyString: ['version: STSv1', 'mode: enforce'], rptMxPatterns: ['mx.a.test'] };
    await store.tlsAttempts.insert([
      attempt({ ...sts, sessionId: shared, enforcedBy: 'mta-sts' }),
      attempt({ ...sts, sessionId: shared, enforcedBy: 'mta-sts' }),
      attempt({
        ...sts,
        outcome: 'deferred',
        verified: false,
        verification: 'pkix-invalid: X',
        rptResult: 'certificate-not-trusted',
        rptReason: 'X',
      }),
      attempt({ domain: 'b.test', tls: false, verified: false, verification: 'none' }),
      attempt({ domain: 'b.test', enforcedBy: 'dane', dane: 'usable' }),
      attempt({ tenantId: 'ten_other' }),
      attempt({ at: T0 - 1 }),
    ]);
    const stats = await store.tlsAttempts.stats({ tenantId: 'ten_a', from: T0, to: T0 + 86_400_000 });
    assert.deepEqual(stats, [
      { domain: 'a.test', attempts: 3, delivered: 2, overTls: 2, verified: 2, mtaSts: 2, dane: 0, policyFailures: 1 },
      { domain: 'b.test', attempts: 2, delivered: 2, overTls: 1, verified: 1, mtaSts: 0, dane: 1, policyFailures: 0 },
    ]);
    const one = await store.tlsAttempts.stats({ tenantId: 'ten_a', from: T0, to: T0 + 86_400_000, domain: 'b.test' });
    assert.equal(one.length, 1);

    const agg = await store.tlsAttempts.rptAggregates({ from: T0, to: T0 + 86_400_000, domain: 'a.test' });
    const ok = agg.find((a) => a.result === null && a.policyType === 'sts');
    const failed = agg.find((a) => a.result === 'certificate-not-trusted');
    assert.equal(ok?.sessions, 1, 'two recipients over one session count once');
    assert.deepEqual(ok?.policyString, ['version: STSv1', 'mode: enforce']);
    assert.equal(failed?.sessions, 1);
    assert.equal(failed?.reason, 'X');

    assert.equal(await store.tlsAttempts.reportSent('a.test', '2026-11-22'), false);
    const mark = { policyDomain: 'a.test', day: '2026-11-22', reportId: 'r1', destinations: ['mailto:x@y'], sentAt: T0 };
    await store.tlsAttempts.markReportSent(mark);
    await store.tlsAttempts.markReportSent(mark);
    assert.equal(await store.tlsAttempts.reportSent('a.test', '2026-11-22'), true);
  },
  test,
);

forEachDialect(
  'MTA-STS policies are upserted by domain and tenant TLS policies are kept as documents',
  async (t, dialect) => {
    const store = await openStore(t, dialect);
    const row = {
      domain: 'a.test',
      policyId: 'v1',
      policyText: 'version: STSv1\nmode: enforce\nmx: mx.a.test\nmax_age: 600\n',
      fetchedAt: T0,
      expiresAt: T0 + 600_000,
    };
    await store.mtaStsPolicies.put(row);
    await store.mtaStsPolicies.put({ ...row, policyId: 'v2', fetchedAt: T0 + 1 });
    assert.deepEqual(await store.mtaStsPolicies.get('a.test'), { ...row, policyId: 'v2', fetchedAt: T0 + 1 });
    await store.mtaStsPolicies.delete('a.test');
    assert.equal(await store.mtaStsPolicies.get('a.test'), undefined);

    const tenants = createTenants({ store, clock: { now: () => T0 } });
    const tenant = await tenants.createTenant({ name: 'x' });
    assert.deepEqual(await tenants.getTlsPolicy(tenant.id), { default: 'opportunistic', streams: {} });
    await tenants.setTlsPolicy(tenant.id, { default: 'verified', streams: { marketing: 'opportunistic' } });
    assert.deepEqual(await tenants.getTlsPolicy(tenant.id), { default: 'verified', streams: { marketing: 'opportunistic' } });
    await assert.rejects(tenants.setTlsPolicy(tenant.id, { default: 'verified', streams: { marketing: 'nope' } }), (e: any) => {
      assert.equal(e.code, 'VALIDATION_FAILED');
      assert.deepEqual(e.details.errors, [{ path: '/streams/marketing', message: 'must be one of opportunistic, required, verified' }]);
      return true;
    });
    await assert.rejects(tenants.getTlsPolicy('ten_missing'), (e: any) => e.code === 'NOT_FOUND');
  },
  test,
);

forEachDialect(
  'the delivery read of a TLS policy is cached, dropped when this process sets it, and re-read after the cache time',
  async (t, dialect) => {
    const store = await openStore(t, dialect);
    let now = T0;
    const tenants = createTenants({ store, clock: { now: () => now } });
    const tenant = await tenants.createTenant({ name: 'x' });
    assert.equal((await tenants.deliveryTlsPolicy(tenant.id)).default, 'opportunistic');
    // Set here: the cached answer is dropped at once.
    await tenants.setTlsPolicy(tenant.id, { default: 'verified', streams: {} });
    assert.equal((await tenants.deliveryTlsPolicy(tenant.id)).default, 'verified');
    // Set by another process (the CLI writes the store directly): seen once the cache time is over.
    await store.tenants.setTlsPolicy(tenant.id, JSON.stringify({ default: 'required', streams: {} }));
    assert.equal((await tenants.deliveryTlsPolicy(tenant.id)).default, 'verified');
    now += SETTINGS_CACHE_MS;
    assert.equal((await tenants.deliveryTlsPolicy(tenant.id)).default, 'required');
    await assert.rejects(tenants.deliveryTlsPolicy('ten_missing'), (e: any) => e.code === 'NOT_FOUND');
  },
  test,
);
