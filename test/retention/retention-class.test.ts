import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fakeClock } from '../support/clock.js';
import { startPlatform, type TestPlatform } from '../support/platform.js';

/**
 * Issue 21, retention class per classification: a classification policy names one of the tenant's
 * retention classes; the message records the class and the rule that set it (the longest-kept class
 * wins when several apply), and the purge keeps its body by that class instead of the tenant's
 * `bodies` policy (7 days by default). The purge's audit entries count per class. One platform and
 * a fake clock for the file.
 */
const DAY = 86_400_000;

async function send(p: TestPlatform, extra: Record<string, unknown>): Promise<string> {
  const res = await p.request('POST', '/v1/messages', {
    from: 'News <news@example.com>',
    to: 'ann@example.org',
    subject: 'Update',
    text: 'Hello',
    ...extra,
  });
  assert.equal(res.status, 202, JSON.stringify(res.body));
  for (let i = 0; i < 200; i++) {
    const view = (await p.request('GET', `/v1/messages/${res.body.id}`)).body;
    if (view.recipients.every((r: { state: string }) => r.state === 'delivered')) return res.body.id as string;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error('message was not delivered to the sandbox in time');
}

test('retention classes chosen by classification policies decide when a body is purged', async (t) => {
  const clock = fakeClock();
  const p = await startPlatform(t, { clock });
  const { retention, store } = p.platform;
  const rules = {
    classifications: ['marketing'],
    tags: { promo: 'marketing' },
    policies: [
      { id: 'marketing-short', classification: 'marketing', retention_class: 'marketing-2d' },
      { id: 'phi-records', classification: 'phi', retention_class: 'phi-6y' },
    ],
  };

  await t.test('a policy naming an unknown retention class is refused with its field path', async () => {
    const res = await p.request('PUT', '/v1/classification/rules', rules);
    assert.equal(res.status, 422, JSON.stringify(res.body));
    assert.deepEqual(
      res.body.errors.map((e: { path: string }) => e.path),
      ['/policies/0/retention_class', '/policies/1/retention_class'],
    );
    assert.match(res.body.errors[0].message, /not a retention class/);
  });

  await t.test('the tenant defines its classes; a class named like a data class is refused', async () => {
    const bad = await p.request('PUT', '/v1/retention', { classes: [{ name: 'bodies', max_days: 1, min_days: null }] });
    assert.equal(bad.status, 422);
    assert.equal(bad.body.errors[0].path, '/body/classes/0/name');
    const set = await p.request('PUT', '/v1/retention', {
      classes: [
        { name: 'phi-6y', max_days: 2190, min_days: 2190 },
        { name: 'marketing-2d', max_days: 2, min_days: null },
      ],
    });
    assert.equal(set.status, 200, JSON.stringify(set.body));
    // null means "never" (and no minimum): it must not arrive as 0 (Ajv's coercion of an anyOf would make it so).
    const never = await p.request('PUT', '/v1/retention', { policies: [{ data_class: 'metadata', max_days: null, min_days: null }] });
    assert.equal(never.status, 200, JSON.stringify(never.body));
    const read = await p.request('GET', '/v1/retention');
    assert.deepEqual(
      read.body.policies.find((x: { data_class: string }) => x.data_class === 'metadata'),
      { data_class: 'metadata', max_days: null, min_days: null, custom: true },
    );
    assert.deepEqual(read.body.classes, [
      { name: 'marketing-2d', max_days: 2, min_days: null },
      { name: 'phi-6y', max_days: 2190, min_days: 2190 },
    ]);
    const put = await p.request('PUT', '/v1/classification/rules', rules);
    assert.equal(put.status, 200, JSON.stringify(put.body));
    assert.equal(put.body.policies[1].retention_class, 'phi-6y');
    const records = await p.request('GET', '/v1/compliance/records-of-processing');
    assert.equal(records.status, 200, JSON.stringify(records.body));
    assert.deepEqual(records.body.retention_classes, [
      { name: 'marketing-2d', max_days: 2, min_days: null, policies: [{ rule: 'marketing-short', classification: 'marketing' }] },
      { name: 'phi-6y', max_days: 2190, min_days: 2190, policies: [{ rule: 'phi-records', classification: 'phi' }] },
    ]);
  });

  let phi = '';
  let both = '';
  let marketing = '';
  let plain = '';
  await t.test('the message records its class and the rule; the longest-kept class wins', async () => {
    phi = await send(p, { classification: 'phi' });
    both = await send(p, { classification: 'phi', tags: ['promo'] });
    marketing = await send(p, { tags: ['promo'] });
    plain = await send(p, {});
    const decision = async (id: string) => (await p.request('GET', `/v1/messages/${id}`)).body.classification;
    const d = await decision(both);
    assert.deepEqual(d.classifications, ['phi', 'marketing']);
    assert.deepEqual(d.policies, ['marketing-short', 'phi-records']);
    assert.equal(d.retention_class, 'phi-6y', 'six years beat two days');
    assert.equal(d.retention_class_rule, 'phi-records');
    assert.equal((await decision(marketing)).retention_class, 'marketing-2d');
    assert.equal((await decision(marketing)).retention_class_rule, 'marketing-short');
    assert.equal(await decision(plain), null);
  });

  const body = (id: string) => store.messages.body(id);
  await t.test('a short class is purged before the bodies default', async () => {
    clock.advance(3 * DAY);
    const run = await retention.purgeDue();
    assert.equal(run.purged, 1);
    assert.deepEqual(Object.keys(run.tenants[p.tenantId]!.classes), ['marketing-2d']);
    assert.equal(run.tenants[p.tenantId]!.classes['marketing-2d']!.purged, 1);
    assert.equal(await body(marketing), undefined);
    for (const id of [phi, both, plain]) assert.ok(await body(id), 'not due yet');
  });

  await t.test('a phi message survives the purge that removes an unclassified one of the same age', async () => {
    clock.advance(5 * DAY);
    const run = await retention.purgeDue();
    assert.equal(run.purged, 1);
    assert.deepEqual(run.tenants[p.tenantId]!.classes, {
      bodies: { purged: 1, held: 0, cutoff: new Date(clock.now() - 7 * DAY).toISOString() },
    });
    assert.equal(await body(plain), undefined);
    assert.ok(await body(phi), 'phi-6y keeps it');
    assert.ok(await body(both), 'phi-6y keeps it');
  });

  await t.test('the long class is purged after its own days; every run is audited with per-class counts', async () => {
    clock.advance(2190 * DAY);
    const run = await retention.purgeDue();
    assert.equal(run.tenants[p.tenantId]!.classes['phi-6y']!.purged, 2);
    assert.equal(await body(phi), undefined);
    assert.equal(await body(both), undefined);

    const runs = await store.audit.page({ chain: 'platform', action: 'retention.purge_run', limit: 100 });
    const classCounts = runs.map((r) => {
      const classes = JSON.parse(r.afterJson!).tenants[p.tenantId].classes as Record<string, { purged: number }>;
      return Object.fromEntries(Object.entries(classes).map(([k, v]) => [k, v.purged]));
    });
    assert.deepEqual(classCounts, [{ 'marketing-2d': 1 }, { bodies: 1 }, { 'phi-6y': 2 }]);
    const batches = await store.audit.page({ chain: p.tenantId, action: 'retention.bodies_purged', limit: 100 });
    assert.deepEqual(
      batches.map((b) => {
        const a = JSON.parse(b.afterJson!);
        return [a.retention_class, a.max_days, a.message_ids.length];
      }),
      [
        ['marketing-2d', 2, 1],
        [null, 7, 1],
        ['phi-6y', 2190, 2],
      ],
    );
  });
});
