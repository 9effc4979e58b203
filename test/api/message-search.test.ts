import assert from 'node:assert/strict';
import { test } from 'node:test';
import { forEachDialect } from '../support/dialects.js';
import { startPlatform } from '../support/platform.js';

/** GET /v1/messages with search filters and the cursor, on SQLite and on PostgreSQL. */
forEachDialect(
  'message search filters by recipient, sender, subject words, tag, metadata, state and time, and pages',
  async (t, dialect) => {
    const p = await startPlatform(t, { dialect });
    await p.request('POST', '/v1/suppressions', { address: 'blocked@example.net', reason: 'manual' });
    const send = async (body: Record<string, unknown>) => {
      const res = await p.request('POST', '/v1/messages?mode=sync&wait_ms=5000', { from: 'hello@example.com', text: 't', ...body });
      assert.equal(res.status, 200, JSON.stringify(res.body));
      return res.body.id as string;
    };
    const a = await send({ to: 'Ann@Example.net', subject: 'Invoice for March', tags: ['billing'], metadata: { account: 'a-1' } });
    const b = await send({ from: 'News <news@example.com>', to: 'bob@example.org', subject: 'March news 100%_off', tags: ['news'] });
    const c = await send({ to: ['blocked@example.net', 'cy@example.org'], subject: 'Invoice for April', tags: ['billing'] });
    const ids = async (q: string) => {
      const res = await p.request('GET', `/v1/messages${q}`);
      assert.equal(res.status, 200, JSON.stringify(res.body));
      return (res.body.data as { id: string }[]).map((m) => m.id);
    };
    assert.deepEqual(await ids(''), [c, b, a]);
    assert.deepEqual(await ids('?to=ann%40example'), [a], 'recipient, case-insensitive');
    assert.deepEqual(await ids('?to=example.org'), [c, b]);
    assert.deepEqual(await ids('?from=NEWS@'), [b]);
    assert.deepEqual(await ids('?q=invoice'), [c, a]);
    assert.deepEqual(await ids('?q=march%20INVOICE'), [a], 'every word must appear');
    assert.deepEqual(await ids('?q=100%25_off'), [b], 'LIKE wildcards in the query are literal');
    assert.deepEqual(await ids('?q=100%25Xoff'), []);
    assert.deepEqual(await ids('?tag=billing'), [c, a]);
    assert.deepEqual(await ids('?tag=bill'), [], 'a tag matches whole');
    assert.deepEqual(await ids('?metadata=account%3Da-1'), [a]);
    assert.deepEqual(await ids('?state=suppressed'), [c]);
    assert.deepEqual(await ids('?state=delivered&tag=billing'), [c, a]);
    const now = Date.now();
    assert.deepEqual(await ids(`?since=${new Date(now + 60_000).toISOString()}`), []);
    assert.deepEqual(await ids(`?until=${new Date(now + 60_000).toISOString()}&since=${new Date(now - 600_000).toISOString()}`), [c, b, a]);

    const first = await p.request('GET', '/v1/messages?limit=2');
    assert.deepEqual(
      first.body.data.map((m: { id: string }) => m.id),
      [c, b],
    );
    assert.equal(first.body.next_before, b);
    const second = await p.request('GET', `/v1/messages?limit=2&before=${first.body.next_before}`);
    assert.deepEqual(
      second.body.data.map((m: { id: string }) => m.id),
      [a],
    );
    assert.equal(second.body.next_before, null);

    const bad = await p.request('GET', '/v1/messages?state=nope&metadata=x');
    assert.equal(bad.status, 422);
    assert.equal((await p.request('GET', '/v1/messages?metadata=novalue')).status, 422);
  },
  test,
);
