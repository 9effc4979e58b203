import assert from 'node:assert/strict';
import { test } from 'node:test';
import { newId } from '../../src/core/index.js';
import { createPostureMonitor } from '../../src/posture/index.js';
import { forEachDialect, openStore } from '../support/dialects.js';
import { brokenZone, goodZone, startLab } from './posture-lab.js';

/**
 * The monitor against a real store (SQLite, and PostgreSQL when configured) and the loopback DNS:
 * a watched domain is audited on schedule (fake clock), changes between runs become one
 * dns.changed event and risky ones dns.alert events with before/after, and history lists every
 * snapshot with what changed.
 */
const HOUR = 3_600_000;

forEachDialect(
  'a watched domain moved to an unapproved MX with a weaker DMARC raises alerts with before and after',
  async (t, dialect) => {
    const store = await openStore(t, dialect);
    const lab = await startLab(t, { zone: { ...goodZone(), ...brokenZone() } });
    const tenantId = newId('ten');
    await store.tenants.insert({ id: tenantId, name: 't', sandbox: false, maxMessageBytes: null, ratePerMinute: null, createdAt: 1 });
    const monitor = createPostureMonitor({ ...lab.deps(), store, clock: lab.clock, intervalMs: 6 * HOUR });
    await monitor.setApprovedMx(tenantId, ['*.good.example']);
    await monitor.watch(tenantId, 'good.example');
    assert.equal(await monitor.runDue(), 1, 'first run audits the watched domain');
    assert.equal(await monitor.runDue(), 0, 'nothing is due before the interval has passed');

    const zone = goodZone();
    zone['good.example']!.MX = [{ priority: 10, exchange: 'mx.attacker.example' }];
    zone['mx.attacker.example'] = { A: ['203.0.113.66'] };
    zone['_dmarc.good.example'] = { TXT: ['v=DMARC1; p=none; rua=mailto:dmarc@good.example'] };
    lab.dns.setZone(zone);
    lab.clock.advance(6 * HOUR);
    assert.equal(await monitor.runDue(), 1);

    const page = await store.events.page({ tenantId, limit: 50 });
    const alerts = page.filter((e) => e.type === 'dns.alert').map((e) => e.data);
    assert.deepEqual(alerts.map((a) => a.kind).sort(), ['dmarc-weakened', 'mx-unapproved']);
    const mx = alerts.find((a) => a.kind === 'mx-unapproved')!;
    assert.deepEqual(mx.before, ['mx1.good.example', 'mx2.good.example']);
    assert.deepEqual(mx.after, ['mx.attacker.example']);
    const dmarc = alerts.find((a) => a.kind === 'dmarc-weakened')!;
    assert.equal(dmarc.before, 'v=DMARC1; p=reject; adkim=s; rua=mailto:dmarc@good.example');
    assert.equal(dmarc.after, 'v=DMARC1; p=none; rua=mailto:dmarc@good.example');
    const changed = page.filter((e) => e.type === 'dns.changed');
    assert.equal(changed.length, 1);
    assert.equal(changed[0]!.messageId, null);
    const changes = changed[0]!.data.changes as { name: string; type: string; before: { answers: string[] } | null }[];
    assert.ok(changes.some((c) => c.name === 'good.example' && c.type === 'MX' && c.before?.answers.includes('10 mx1.good.example')));
    assert.ok(changes.some((c) => c.name === '_dmarc.good.example' && c.type === 'TXT'));
    const history = await monitor.history(tenantId, 'good.example');
    assert.equal(history.length, 2);
  },
  test,
);

forEachDialect(
  'changing MX, weakening DMARC and dropping a DKIM key between runs raise three alerts; history shows all snapshots',
  async (t, dialect) => {
    const store = await openStore(t, dialect);
    const lab = await startLab(t, { zone: goodZone() });
    const tenantId = newId('ten');
    await store.tenants.insert({ id: tenantId, name: 't', sandbox: false, maxMessageBytes: null, ratePerMinute: null, createdAt: 1 });
    const domainId = newId('dom');
    await store.domains.insert({ id: domainId, tenantId, name: 'good.example', createdAt: 1 });
    for (const selector of ['sel1', 'sel2']) {
      await store.dkimKeys.insert({
        id: newId('dk'),
        tenantId,
        domainId,
        domain: 'good.example',
        selector,
        algorithm: 'rsa-2048',
        privateKey: 'sealed',
        publicKey: 'x',
        status: 'active',
        createdAt: 1,
        activatedAt: 1,
        retiredAt: null,
      });
    }
    const monitor = createPostureMonitor({ ...lab.deps(), store, clock: lab.clock, intervalMs: HOUR });
    await monitor.setApprovedMx(tenantId, ['*.good.example']);
    assert.equal(await monitor.runDue(), 1, 'managed domains are audited without being watched');
    lab.clock.advance(HOUR);
    assert.equal(await monitor.runDue(), 1, 'an unchanged zone still gets a snapshot');

    const zone = goodZone();
    zone['good.example']!.MX = [{ priority: 10, exchange: 'mx9.evil.example' }];
    zone['mx9.evil.example'] = { A: ['203.0.113.9'] };
    zone['_dmarc.good.example'] = { TXT: ['v=DMARC1; p=quarantine; rua=mailto:dmarc@good.example'] };
    delete zone['sel2._domainkey.good.example'];
    lab.dns.setZone(zone);
    lab.clock.advance(HOUR);
    const run = await monitor.auditAndRecord(tenantId, 'good.example');
    assert.deepEqual(run.alerts.map((a) => a.kind).sort(), ['dkim-key-removed', 'dmarc-weakened', 'mx-unapproved']);
    const dkim = run.alerts.find((a) => a.kind === 'dkim-key-removed')!;
    assert.equal((dkim.before as { state: string }).state, 'present');
    assert.equal((dkim.after as { state: string }).state, 'missing');

    const history = await monitor.history(tenantId, 'good.example');
    assert.equal(history.length, 3, 'every run is a snapshot');
    assert.deepEqual(history[1]!.changes, [], 'the unchanged run shows no changes');
    assert.deepEqual(history[2]!.alerts.map((a) => a.kind).sort(), ['dkim-key-removed', 'dmarc-weakened', 'mx-unapproved']);
    const events = await store.events.page({ tenantId, limit: 50 });
    assert.equal(events.filter((e) => e.type === 'dns.alert').length, 3);
  },
  test,
);
