import assert from 'node:assert/strict';
import type { TestContext } from 'node:test';
import { test } from 'node:test';
import type { DialectName } from '../../src/store/index.js';
import { arf, dsn, forge, rcpt, recentDmarcXml, sendAndDeliver, suppressionsOf, verpOf } from '../feedback/documents.js';
import { forEachDialect } from '../support/dialects.js';
import { startDnsServer } from '../support/dns-server.js';
import { startPlatform, type TestPlatform } from '../support/platform.js';

/** POST /v1/feedback runs the same ingestion as the inbound MX; GET /v1/domains/{id}/dmarc reads it back. */

async function platform(t: TestContext, dialect: DialectName = 'sqlite'): Promise<TestPlatform> {
  const dns = await startDnsServer(t, { 'example.com': { TXT: ['v=spf1 ip4:203.0.113.0/24 -all'] } });
  return startPlatform(t, { dialect, config: { dns: { servers: [dns.address] } } });
}

async function upload(p: TestPlatform, body: string | Buffer, type = 'message/rfc822', key = p.key) {
  const res = await fetch(`${p.url}/v1/feedback`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': type },
    body,
  });
  return { status: res.status, type: res.headers.get('content-type'), body: (await res.json()) as any };
}

test('a hard bounce the tenant chose not to suppress is recorded but not reported as suppressed', async (t) => {
  const p = await platform(t, 'sqlite');
  const policy = await p.request('PUT', '/v1/suppressions/policy', { suppress_on: { hard_bounce: false, complaint: true } });
  assert.equal(policy.status, 200, JSON.stringify(policy.body));
  const sent = await sendAndDeliver(p, ['bob@example.org']);
  const res = await upload(p, dsn(sent, verpOf(p, sent, 'bob@example.org'), 'bob@example.org'));
  assert.equal(res.status, 201, JSON.stringify(res.body));
  assert.deepEqual(
    res.body.events.map((e: any) => e.type),
    ['recipient.bounced'],
  );
  assert.deepEqual(res.body.suppressed, []);
  assert.equal((await suppressionsOf(p, ['bob@example.org'])).size, 0);
});

forEachDialect(
  'an uploaded DSN does what the MX does: async bounce event, suppression citing it',
  async (t, dialect) => {
    const p = await platform(t, dialect);
    const sent = await sendAndDeliver(p, ['alice@example.org', 'bob@example.org']);
    const verp = verpOf(p, sent, 'bob@example.org');
    const res = await upload(p, dsn(sent, verp, 'bob@example.org'));
    assert.equal(res.status, 201, JSON.stringify(res.body));
    assert.equal(res.body.kind, 'dsn');
    assert.equal(res.body.attributed_via, 'verp');
    assert.equal(res.body.message_id, sent.id);
    assert.deepEqual(
      res.body.recipients.map((r: any) => [r.address, r.status, r.reply_code, r.category, r.hard, r.recipient_id]),
      [['bob@example.org', '5.1.1', 550, 'bad_mailbox', true, rcpt(sent, 'bob@example.org')]],
    );
    assert.deepEqual(
      res.body.events.map((e: any) => e.type),
      ['recipient.bounced'],
    );
    assert.deepEqual(res.body.suppressed, ['bob@example.org']);
    const view = (await p.request('GET', `/v1/messages/${sent.id}`)).body;
    const ev = view.events.find((e: any) => e.type === 'recipient.bounced');
    assert.equal(ev.id, res.body.events[0].id);
    assert.equal(ev.data.async, true);
    const sup = await suppressionsOf(p, ['bob@example.org']);
    assert.equal(sup.get('bob@example.org')?.source, ev.id);
  },
  test,
);

test('an upload without VERP is linked through the returned Message-ID; JSON { raw: base64 } works too', async (t) => {
  const p = await platform(t);
  const sent = await sendAndDeliver(p, ['carol@example.org']);
  // A forged return path proves nothing, so attribution falls back to the Message-ID we wrote.
  const doc = arf(sent, forge(verpOf(p, sent, 'carol@example.org')), 'carol@example.org', 'abuse');
  const res = await p.request('POST', '/v1/feedback', { raw: Buffer.from(doc).toString('base64') });
  assert.equal(res.status, 201, JSON.stringify(res.body));
  assert.deepEqual(
    { kind: res.body.kind, via: res.body.attributed_via, type: res.body.feedback_type, events: res.body.events.map((e: any) => e.type) },
    { kind: 'arf', via: 'message-id', type: 'abuse', events: ['recipient.complained'] },
  );
  assert.deepEqual(res.body.suppressed, ['carol@example.org']);
});

test('a not-spam report is recorded but neither complains nor suppresses', async (t) => {
  const p = await platform(t);
  const sent = await sendAndDeliver(p, ['dan@example.org']);
  const res = await upload(p, arf(sent, verpOf(p, sent, 'dan@example.org'), 'dan@example.org', 'not-spam'));
  assert.equal(res.status, 201);
  assert.deepEqual(res.body.events, []);
  assert.deepEqual(res.body.suppressed, []);
});

test('a bare DMARC XML upload classifies sources as authorized (aligned pass, listed in SPF) or unknown', async (t) => {
  const p = await platform(t);
  const extra = (ip: string, count: number) =>
    `<record><row><source_ip>${ip}</source_ip><count>${count}</count><policy_evaluated><disposition>none</disposition><dkim>fail</dkim><spf>fail</spf></policy_evaluated></row><identifiers><header_from>example.com</header_from></identifiers><auth_results><spf><domain>example.com</domain><result>softfail</result></spf></auth_results></record>`;
  const xml = recentDmarcXml().replace('</feedback>', `${extra('203.0.113.5', 7)}${extra('198.51.100.99', 3)}</feedback>`);
  const res = await upload(p, xml, 'application/octet-stream');
  assert.equal(res.status, 201, JSON.stringify(res.body));
  assert.deepEqual(res.body.reports, { records: 3, new_records: 3, domains: ['example.com'] });
  const domain = (await p.request('GET', '/v1/domains')).body.data[0];
  const sum = (await p.request('GET', `/v1/domains/${domain.id}/dmarc?days=7`)).body;
  assert.deepEqual(
    sum.sources.map((s: any) => [s.ip, s.messages, s.authorized, s.reason]),
    [
      ['2001:db8::25', 42, true, 'dkim-aligned-pass'],
      ['203.0.113.5', 7, true, 'listed-in-spf'],
      ['198.51.100.99', 3, false, 'no-aligned-pass'],
    ],
  );
  assert.deepEqual(sum.totals, { messages: 52, dmarc_pass: 42, pass_rate: 0.8077, authorized_messages: 49, unknown_messages: 3 });
  assert.equal(sum.advice.totals.unknownMessages, 3);
  assert.equal(sum.published_policy.p, 'reject');
});

test('unrecognisable input is a problem+json 422; a read-only key is refused', async (t) => {
  const p = await platform(t);
  const res = await upload(p, 'Subject: hello\r\n\r\nJust a note.\r\n');
  assert.equal(res.status, 422);
  assert.equal(res.type, 'application/problem+json; charset=utf-8');
  assert.equal(res.body.code, 'VALIDATION_FAILED');
  assert.equal(res.body.errors[0].path, '/');
  const bad = await p.request('POST', '/v1/feedback', { raw: '%%%' });
  assert.equal(bad.status, 422);
  assert.deepEqual(bad.body.errors, [{ path: '/raw', message: 'must be base64' }]);
  const { secret } = await p.platform.tenants.createKey({ tenantId: p.tenantId, scopes: ['read'] });
  const forbidden = await upload(p, 'x', 'message/rfc822', secret);
  assert.equal(forbidden.status, 403);
  assert.equal((await p.platform.store.feedback.listDocuments(p.tenantId, { limit: 5 })).length, 0, 'nothing was stored');
});

test('an upload cannot bounce another tenant\u2019s recipients', async (t) => {
  const p = await platform(t);
  const sent = await sendAndDeliver(p, ['erin@example.org']);
  const other = await p.platform.tenants.createTenant({ name: 'Other' });
  const { secret } = await p.platform.tenants.createKey({ tenantId: other.id, scopes: ['send'] });
  const res = await upload(p, dsn(sent, verpOf(p, sent, 'erin@example.org'), 'erin@example.org'), 'message/rfc822', secret);
  assert.equal(res.status, 201);
  assert.equal(res.body.message_id, null);
  assert.deepEqual(res.body.events, []);
  assert.deepEqual(res.body.suppressed, []);
});

test('a delay notice (Action: delayed) is recorded but is neither a bounce nor a suppression', async (t) => {
  const p = await platform(t);
  const sent = await sendAndDeliver(p, ['fay@example.org']);
  const doc = dsn(sent, verpOf(p, sent, 'fay@example.org'), 'fay@example.org', {
    action: 'delayed',
    status: '4.4.1',
    diagnostic: '421 4.4.1 Connection timed out',
  });
  const res = await upload(p, doc);
  assert.equal(res.status, 201, JSON.stringify(res.body));
  assert.deepEqual(
    res.body.recipients.map((r: any) => [r.address, r.action, r.hard]),
    [['fay@example.org', 'delayed', false]],
  );
  assert.deepEqual(res.body.events, []);
  assert.deepEqual(res.body.suppressed, []);
});
