import assert from 'node:assert/strict';
import { test } from 'node:test';
import { nextOpening, type SendingWindow } from '../../src/tenants/index.js';
import { fakeClock } from '../support/clock.js';
import { startPlatform } from '../support/platform.js';

/** Quotas, sending windows, send_at edges and recipient risk at accept (issue #16, Done-means 6). */

const send = (to: string, extra: Record<string, unknown> = {}) => ({
  from: 'shop@example.com',
  to,
  subject: 'Receipt',
  text: 'Thanks',
  ...extra,
});

test('a daily cap reached mid-batch answers per message: 429 with the cap, the count and the reset time', async (t) => {
  const clock = fakeClock(Date.UTC(2026, 11, 6, 15, 0));
  const p = await startPlatform(t, { clock });
  const set = await p.request('PATCH', '/v1/tenant', { quotas: { daily: 5 } });
  assert.equal(set.status, 200, JSON.stringify(set.body));
  assert.deepEqual(set.body.sending_limits.quotas, { daily: 5, weekly: null });

  const batch = await p.request('POST', '/v1/messages/batch', {
    messages: Array.from({ length: 7 }, (_, i) => send(`r${i}@example.org`)),
  });
  assert.equal(batch.status, 202);
  assert.deepEqual([batch.body.accepted, batch.body.rejected], [5, 2]);
  const refused = batch.body.messages.filter((m: { error?: unknown }) => m.error).map((m: { error: Record<string, unknown> }) => m.error);
  for (const e of refused) {
    assert.equal(e.status, 429);
    assert.equal(e.code, 'QUOTA_EXCEEDED');
    assert.deepEqual([e.cap, e.count, e.reset_at, e.period], [5, 5, '2026-12-07T00:00:00.000Z', 'daily']);
  }
  const warned = batch.body.messages.filter((m: { warnings?: { message: string }[] }) =>
    m.warnings?.some((w) => /of the daily cap used/.test(w.message)),
  );
  assert.equal(warned.length, 2, 'the 4th and 5th recipients are at 80 % and above');
  const events = await p.platform.store.events.page({ after: 0, limit: 100, types: ['quota.warning'] });
  assert.deepEqual(
    events.map((e) => [e.data.period, e.data.count, e.data.cap]),
    [['daily', 4, 5]],
  );

  const single = await p.request('POST', '/v1/messages', send('late@example.org'));
  assert.equal(single.status, 429);
  assert.equal(single.body.code, 'QUOTA_EXCEEDED');
  // The next UTC day the count starts again.
  clock.set(Date.UTC(2026, 11, 7, 0, 0, 1));
  assert.equal((await p.request('POST', '/v1/messages', send('next@example.org'))).status, 202);
});

test('a weekly cap counts from Monday 00:00 UTC', async (t) => {
  const clock = fakeClock(Date.UTC(2026, 11, 6, 23, 0)); // a Sunday
  const p = await startPlatform(t, { clock });
  await p.request('PATCH', '/v1/tenant', { quotas: { weekly: 2 } });
  assert.equal((await p.request('POST', '/v1/messages', send('a@example.org', { cc: 'b@example.org' }))).status, 202);
  const over = await p.request('POST', '/v1/messages', send('c@example.org'));
  assert.equal(over.status, 429);
  assert.equal(over.body.reset_at, '2026-12-07T00:00:00.000Z');
});

test('disposable-address domains are refused with a 422 naming the setting; role accounts are flagged', async (t) => {
  const p = await startPlatform(t);
  assert.equal((await p.request('POST', '/v1/messages', send('someone@mailinator.com'))).status, 202, 'allowed by default');
  const bad = await p.request('PATCH', '/v1/tenant', { recipient_risk: { disposable: 'block' } });
  assert.equal(bad.status, 422);
  assert.equal(bad.body.errors[0].path, '/recipient_risk/disposable');
  await p.request('PATCH', '/v1/tenant', { recipient_risk: { disposable: 'refuse', role_accounts: 'flag' } });
  const refused = await p.request('POST', '/v1/messages', send('ada@example.org', { cc: 'someone@mailinator.com' }));
  assert.equal(refused.status, 422);
  assert.equal(refused.body.code, 'RECIPIENT_DISPOSABLE');
  assert.match(refused.body.detail, /recipient_risk\.disposable/);
  assert.deepEqual(
    refused.body.errors.map((e: { path: string }) => e.path),
    ['/to/1'],
  );
  const role = await p.request('POST', '/v1/messages', send('info@example.org'));
  assert.equal(role.status, 202);
  assert.ok(role.body.warnings.some((w: { message: string }) => /info@ is a role account/.test(w.message)));
});

test('sending windows: mail outside waits for the next opening in the window’s time zone, across DST changes', async (t) => {
  const berlin: SendingWindow = {
    timezone: 'Europe/Berlin',
    days: ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'],
    start: '08:00',
    end: '18:00',
  };
  // Spring forward (29 March 2026, 02:00 CET → 03:00 CEST): 08:00 on the Sunday is 06:00 UTC.
  assert.equal(new Date(nextOpening(berlin, Date.UTC(2026, 2, 28, 18, 30))).toISOString(), '2026-03-29T06:00:00.000Z');
  // Fall back (25 October 2026, 03:00 CEST → 02:00 CET): 08:00 on the Sunday is 07:00 UTC.
  assert.equal(new Date(nextOpening(berlin, Date.UTC(2026, 9, 24, 17, 0))).toISOString(), '2026-10-25T07:00:00.000Z');
  // Inside the window: now.
  assert.equal(nextOpening(berlin, Date.UTC(2026, 9, 26, 9, 0)), Date.UTC(2026, 9, 26, 9, 0));
  // Weekdays only, Friday evening in New York → Monday 09:00 EST.
  const ny: SendingWindow = { timezone: 'America/New_York', days: ['mon', 'tue', 'wed', 'thu', 'fri'], start: '09:00', end: '17:00' };
  assert.equal(new Date(nextOpening(ny, Date.UTC(2026, 10, 6, 23, 0))).toISOString(), '2026-11-09T14:00:00.000Z');

  const clock = fakeClock(Date.UTC(2026, 2, 28, 18, 30));
  const p = await startPlatform(t, { clock });
  const set = await p.request('PATCH', '/v1/tenant', { sending_windows: { transactional: berlin } });
  assert.equal(set.status, 200, JSON.stringify(set.body));
  const res = await p.request('POST', '/v1/messages', send('ada@example.org'));
  assert.equal(res.status, 202, 'scheduled, not refused');
  assert.ok(
    res.body.warnings.some((w: { path: string; message: string }) => w.path === '/send_at' && /2026-03-29T06:00:00.000Z/.test(w.message)),
  );
  const accepted = (await p.platform.store.events.forMessage(res.body.id)).find((e) => e.type === 'message.accepted')!;
  assert.equal(accepted.data.send_at, '2026-03-29T06:00:00.000Z');
  const badZone = await p.request('PATCH', '/v1/tenant', { sending_windows: { marketing: { ...berlin, timezone: 'Mars/Olympus' } } });
  assert.equal(badZone.status, 422);
  assert.equal(badZone.body.errors[0].path, '/sending_windows/marketing/timezone');
});

test('send_at edges: past times send now, offsets are honoured, and the limit is limits.maxScheduleDays', async (t) => {
  const clock = fakeClock(Date.UTC(2026, 11, 6, 12, 0));
  const p = await startPlatform(t, { clock, config: { limits: { maxScheduleDays: 30 } } });
  const sendAtOf = async (id: string) =>
    (await p.platform.store.events.forMessage(id)).find((e) => e.type === 'message.accepted')!.data.send_at;

  const past = await p.request('POST', '/v1/messages', send('a@example.org', { send_at: '2026-12-06T11:00:00Z' }));
  assert.equal(past.status, 202);
  assert.equal(await sendAtOf(past.body.id), undefined, 'a time in the past is sent now');

  const offset = await p.request('POST', '/v1/messages', send('b@example.org', { send_at: '2026-12-06T16:00:00+02:00' }));
  assert.equal(offset.status, 202);
  assert.equal(await sendAtOf(offset.body.id), '2026-12-06T14:00:00.000Z');

  const edge = await p.request('POST', '/v1/messages', send('c@example.org', { send_at: '2027-01-05T12:00:00Z' }));
  assert.equal(edge.status, 202, 'exactly 30 days ahead is allowed');
  const beyond = await p.request('POST', '/v1/messages', send('d@example.org', { send_at: '2027-01-05T12:00:01Z' }));
  assert.equal(beyond.status, 422);
  assert.deepEqual(beyond.body.errors, [{ path: '/send_at', message: 'must be at most 30 days ahead (limits.maxScheduleDays)' }]);
  const noOffset = await p.request('POST', '/v1/messages', send('e@example.org', { send_at: '2026-12-06T16:00:00' }));
  assert.equal(noOffset.status, 422);
  assert.equal(noOffset.body.errors[0].path, '/send_at');
});
