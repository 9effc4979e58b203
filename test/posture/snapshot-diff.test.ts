import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type AuditResult, diffRecords, riskyChanges } from '../../src/posture/index.js';
import { mxMatches } from '../../src/transport-policy/index.js';
import type { Zone } from '../support/dns-server.js';
import { goodPolicy, goodZone, type Lab, startLab } from './posture-lab.js';

/**
 * Risky changes between two audits of good.example, one kind per case, judged the way the monitor
 * judges them (the monitor test covers MX, DMARC and DKIM end to end with the store).
 */
const view = (a: AuditResult) => ({
  id: a.auditedAt,
  records: a.queries,
  facts: a.facts as Record<string, Record<string, unknown>>,
  findings: a.findings.map((f) => ({ id: f.id, severity: f.severity, subject: f.subject })),
});

async function alertsBetween(
  t: import('node:test').TestContext,
  change: (zone: Zone, lab: Lab) => void,
  opts: { certDays?: number; advanceMs?: number } = {},
) {
  const lab = await startLab(t, {
    zone: goodZone(),
    dnsOptions: { authenticated: Object.keys(goodZone()) },
    now: Date.now(),
    ...(opts.certDays ? { certDays: opts.certDays } : {}),
  });
  const before = await lab.audit('good.example', { selectors: ['sel1', 'sel2'] });
  const zone = goodZone();
  change(zone, lab);
  lab.dns.setZone(zone);
  lab.clock.advance(opts.advanceMs ?? 60_000);
  const after = await lab.audit('good.example', { selectors: ['sel1', 'sel2'] });
  return { alerts: riskyChanges(view(before), view(after), { matches: mxMatches }), changes: diffRecords(before.queries, after.queries) };
}

test('an SPF record that authorizes more is spf-broadened', async (t) => {
  const { alerts, changes } = await alertsBetween(
    t,
    (z) => (z['good.example']!.TXT = ['v=spf1 mx include:_spf.google.com ip4:0.0.0.0/0 ?all']),
  );
  assert.deepEqual(
    alerts.map((a) => a.kind),
    ['spf-broadened'],
  );
  assert.equal(alerts[0]!.before, 'v=spf1 mx include:_spf.google.com -all');
  assert.ok(changes.some((c) => c.name === 'good.example' && c.type === 'TXT'));
});

test('an MTA-STS policy moved from enforce to testing under a new id is downgraded and re-identified', async (t) => {
  const { alerts } = await alertsBetween(t, (z, lab) => {
    z['_mta-sts.good.example'] = { TXT: ['v=STSv1; id=20261201'] };
    lab.policies.set('good.example', { body: goodPolicy.replace('enforce', 'testing') });
  });
  assert.deepEqual(
    alerts.map((a) => [a.kind, a.before, a.after]),
    [
      ['mta-sts-downgraded', 'enforce', 'testing'],
      ['mta-sts-id-changed', '20261101', '20261201'],
    ],
  );
});

test('TLSA records replaced without overlap no longer match, and a rollover that keeps one does', async (t) => {
  const replaced = await alertsBetween(
    t,
    (z) => (z['_25._tcp.mx1.good.example'] = { TLSA: [{ usage: 3, selector: 1, matchingType: 1, data: Buffer.alloc(32, 9) }] }),
  );
  assert.deepEqual(
    replaced.alerts.map((a) => a.kind),
    ['tlsa-not-matching'],
  );
  const rolled = await alertsBetween(t, (z) =>
    z['_25._tcp.mx1.good.example']!.TLSA!.splice(1, 1, { usage: 3, selector: 1, matchingType: 1, data: Buffer.alloc(32, 9) }),
  );
  assert.deepEqual(rolled.alerts, []);
});

test('a policy host certificate entering its last 14 days raises certificate-expiring once', async (t) => {
  const { alerts } = await alertsBetween(t, () => undefined, { certDays: 30, advanceMs: 20 * 86_400_000 });
  assert.deepEqual(
    alerts.map((a) => a.kind),
    ['certificate-expiring'],
  );
});

test('an unchanged zone has no changes and no alerts', async (t) => {
  const { alerts, changes } = await alertsBetween(t, () => undefined);
  assert.deepEqual([alerts, changes], [[], []]);
});
