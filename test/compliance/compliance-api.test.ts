import assert from 'node:assert/strict';
import { after, before, type TestContext, test } from 'node:test';
import { startPlatform, type TestPlatform } from '../support/platform.js';

/**
 * The third-party register and incidents over /v1 (issue #21): pages, tenant scoping (another
 * tenant's key sees nothing of these), and an audit entry for every change, by the key that made
 * it. Statuses and schemas are driven by test/api/contract/compliance.ts. One platform for the
 * file, not started: requests go through the API in process.
 */
let p: TestPlatform;
let otherKey: string;
const teardown: (() => unknown)[] = [];
before(async () => {
  const ctx = { after: (fn: () => unknown) => teardown.push(fn) } as unknown as TestContext;
  p = await startPlatform(ctx, { start: false, config: { compliance: { enabled: false } } });
  const other = await p.platform.tenants.createTenant({ name: 'Other tenant' });
  otherKey = (await p.platform.tenants.createKey({ tenantId: other.id, scopes: ['admin'] })).secret;
});
after(async () => {
  for (const fn of teardown.reverse()) await fn();
});

async function call(method: string, url: string, body?: unknown, key = p.key) {
  const res = await p.platform.api.inject({
    method: method as 'GET',
    url,
    headers: { authorization: `Bearer ${key}` },
    ...(body !== undefined ? { payload: body as object } : {}),
  });
  return { status: res.statusCode, body: res.body ? res.json() : null };
}

async function actions(resourceId: string): Promise<string[]> {
  const res = await call('GET', `/v1/audit?limit=1000`);
  return (res.body.data as { action: string; resource: { id: string }; actor: { kind: string } }[])
    .filter((e) => e.resource.id === resourceId)
    .map((e) => `${e.action} by ${e.actor.kind}`);
}

test('register entries page in creation order, stay in their tenant, and every change is audited', async () => {
  const ids: string[] = [];
  for (const name of ['Vendor A', 'Vendor B', 'Vendor C']) {
    const res = await call('POST', '/v1/third-parties', { name, data_categories: ['email address'], review_due_at: '2027-01-31' });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    ids.push(res.body.id);
  }
  const first = await call('GET', '/v1/third-parties?limit=2');
  assert.deepEqual(
    first.body.data.map((e: { name: string }) => e.name),
    ['Vendor A', 'Vendor B'],
  );
  const second = await call('GET', `/v1/third-parties?limit=2&after=${first.body.next_cursor}`);
  assert.deepEqual(
    second.body.data.map((e: { name: string }) => e.name),
    ['Vendor C'],
  );
  assert.equal(second.body.next_cursor, null);

  const [a] = ids as [string];
  assert.equal((await call('GET', `/v1/third-parties/${a}`, undefined, otherKey)).status, 404, "another tenant's key cannot see it");
  assert.equal((await call('DELETE', `/v1/third-parties/${a}`, undefined, otherKey)).status, 404);
  assert.deepEqual((await call('GET', '/v1/third-parties', undefined, otherKey)).body.data, []);

  const patched = await call('PATCH', `/v1/third-parties/${a}`, {
    review_due_at: '2028-01-31',
    dpa: { signed_at: '2026-05-01', reference: 'dpa-a.pdf' },
  });
  assert.equal(patched.status, 200, JSON.stringify(patched.body));
  assert.equal(patched.body.review_due_at, '2028-01-31T00:00:00.000Z');
  assert.equal(patched.body.data_categories[0], 'email address', 'fields not given are kept');
  assert.equal((await call('DELETE', `/v1/third-parties/${a}`)).status, 204);
  assert.deepEqual(await actions(a), [
    'third_party.created by api_key',
    'third_party.updated by api_key',
    'third_party.deleted by api_key',
  ]);
});

test('an incident is opened, noted and closed over /v1, with its reminders, in its tenant only, each step audited', async () => {
  const opened = await call('POST', '/v1/incidents', {
    kind: 'misdelivery',
    severity: 'medium',
    title: 'Statement sent to a former address',
    clocks: [{ regime: 'contract-acme', hours: 48, remind_before_hours: [12] }],
  });
  assert.equal(opened.status, 201, JSON.stringify(opened.body));
  const id = opened.body.id as string;
  assert.deepEqual(
    opened.body.reminders.map((r: { kind: string; sent_at: null }) => [r.kind, r.sent_at]),
    [
      ['reminder', null],
      ['deadline', null],
    ],
  );
  assert.equal((await call('GET', `/v1/incidents/${id}`, undefined, otherKey)).status, 404);
  assert.equal((await call('POST', `/v1/incidents/${id}/close`, { reason: 'x' }, otherKey)).status, 404);

  const noted = await call('POST', `/v1/incidents/${id}/notes`, { entry: 'Recipient confirmed deletion.' });
  assert.equal(noted.body.timeline.at(-1).entry, 'Recipient confirmed deletion.');
  const closed = await call('POST', `/v1/incidents/${id}/close`, { reason: 'Resolved with the customer.' });
  assert.equal(closed.body.status, 'closed');
  assert.deepEqual(closed.body.reminders, [], 'pending reminders are cancelled');

  const list = await call('GET', '/v1/incidents?limit=1');
  assert.equal(list.body.data[0].id, id, 'newest first');
  assert.deepEqual(await actions(id), ['incident.opened by api_key', 'incident.noted by api_key', 'incident.closed by api_key']);
});
