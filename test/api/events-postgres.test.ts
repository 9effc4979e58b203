import assert from 'node:assert/strict';
import { test } from 'node:test';
import { announcePostgresSkip, postgresUrl } from '../support/dialects.js';
import { startPlatform } from '../support/platform.js';

announcePostgresSkip();

// Done-means 5 of the spine, end to end: GET /v1/events on PostgreSQL while 8 writers send
// concurrently; a reader holding a cursor never skips an event.
test('GET /v1/events on PostgreSQL never skips an event while 8 writers send concurrently', {
  skip: !postgresUrl && 'needs POSTWARDEN_TEST_DATABASE_URL',
}, async (t) => {
  const p = await startPlatform(t, { dialect: 'postgres' });
  const writers = 8;
  const perWriter = 25;
  let done = false;
  const seen: number[] = [];
  const reader = (async () => {
    let after = '0';
    for (let i = 0; i < 100_000; i++) {
      const finished = done;
      const page = await p.request('GET', `/v1/events?after=${after}&limit=200`);
      assert.equal(page.status, 200);
      for (const e of page.body.data) seen.push(Number(e.cursor));
      after = page.body.next_cursor;
      if (!page.body.data.length && finished) return;
    }
    throw new Error('reader did not finish within its loop bound');
  })();
  await Promise.all(
    Array.from({ length: writers }, async (_, w) => {
      for (let i = 0; i < perWriter; i++) {
        const res = await p.request('POST', '/v1/messages', {
          from: 'a@example.com',
          to: [`w${w}-${i}@example.net`],
          subject: `w${w} ${i}`,
          text: 'x',
        });
        assert.equal(res.status, 202);
      }
    }),
  );
  // Let the sandbox deliveries land too, then stop the reader after it has drained.
  for (let i = 0; i < 500; i++) {
    if ((await p.platform.store.recipients.countOpen()) === 0) break;
    await new Promise((r) => setTimeout(r, 20));
  }
  done = true;
  await reader;
  const events = await p.platform.store.events.page({ limit: 100_000 });
  const all = events.map((e) => Number(e.cursor));
  // 200 messages in an hour can also trip the volume-spike alerts (tenant, key, stream), events of no
  // message, when the alert consumer runs before the end of the test.
  assert.equal(events.filter((e) => e.messageId).length, writers * perWriter * 3, 'accepted, queued and delivered for each message');
  assert.deepEqual(seen, all, 'the reader saw every event once, in cursor order');
});
