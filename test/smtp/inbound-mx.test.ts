import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { test } from 'node:test';
import {
  arf,
  autoReply,
  dmarcZipEmail,
  dsn,
  forge,
  rcpt,
  recentDmarcXml,
  type Sent,
  sendAndDeliver,
  suppressionsOf,
  verpOf,
} from '../feedback/documents.js';
import { startDnsServer } from '../support/dns-server.js';
import { deliverToMx } from '../support/mx-client.js';
import { startPlatform, type TestPlatform } from '../support/platform.js';

/**
 * The inbound MX end to end over 127.0.0.1: a whole platform (sandbox delivery, so the messages
 * bounced below were really sent and are `delivered`), nodemailer as the remote MTA sending with
 * the null reverse-path as DSNs do, and the API to read what happened.
 */
const fixtures = join(import.meta.dirname, '../fixtures/feedback');

async function platform(t: TestContext, config: Record<string, unknown> = {}): Promise<TestPlatform> {
  const dns = await startDnsServer(t, { 'example.com': { TXT: ['v=spf1 ip4:203.0.113.0/24 -all'] } });
  const p = await startPlatform(t, { config: { dns: { servers: [dns.address] }, ...config } });
  assert.ok(p.mxPort > 0, 'the default roles start the inbound MX');
  return p;
}

/** Sends raw bytes as a remote MTA would (MAIL FROM:<> unless given), over STARTTLS. */
const deliver = (p: TestPlatform, to: string | string[], raw: string | Buffer, from = '') => deliverToMx(p.mxPort, to, raw, from);

async function eventsOf(p: TestPlatform, sent: Sent) {
  return (await p.request('GET', `/v1/messages/${sent.id}`)).body.events as { id: string; type: string; recipient_id: string; data: any }[];
}

test('a DSN to a VERP address becomes an async recipient.bounced and suppresses the address for the next send', async (t) => {
  const p = await platform(t);
  const sent = await sendAndDeliver(p, ['alice@example.org', 'bob@example.org']);
  const verp = verpOf(p, sent, 'alice@example.org');

  const res = await deliver(p, verp, dsn(sent, verp, 'alice@example.org'));
  assert.ok(res.ok, res.response);
  assert.match(res.response ?? '', /^250 2\.0\.0 Ok: received as fb_[0-9A-Z]{26}/);

  const view = (await p.request('GET', `/v1/messages/${sent.id}`)).body;
  const bounced = view.events.filter((e: any) => e.type === 'recipient.bounced');
  assert.equal(bounced.length, 1);
  assert.equal(bounced[0].recipient_id, rcpt(sent, 'alice@example.org'));
  assert.deepEqual(
    {
      async: bounced[0].data.async,
      category: bounced[0].data.category,
      hard: bounced[0].data.hard,
      status: bounced[0].data.dsn_status,
      action: bounced[0].data.dsn_action,
      mta: bounced[0].data.remote_mta,
    },
    { async: true, category: 'bad_mailbox', hard: true, status: '5.1.1', action: 'failed', mta: 'mx.example.org' },
  );
  assert.ok(bounced[0].data.rule, 'the rule id is recorded');
  assert.match(bounced[0].data.ruleset_version, /^\d{4}\.\d+\.\d+$/);
  // The state machine is not rewound: delivered stays delivered, the event tells the rest.
  assert.equal(view.recipients.find((r: any) => r.id === rcpt(sent, 'alice@example.org')).state, 'delivered');

  const sup = await suppressionsOf(p, ['alice@example.org', 'bob@example.org']);
  assert.deepEqual([...sup.keys()], ['alice@example.org']);
  assert.equal(sup.get('alice@example.org')!.reason, 'hard_bounce');
  assert.equal(sup.get('alice@example.org')!.source, bounced[0].id, 'the suppression cites the event');

  const again = await p.request('POST', '/v1/messages', { from: 'news@example.com', to: 'alice@example.org', subject: 'x', text: 'y' });
  assert.equal(again.body.recipients[0].state, 'suppressed');
});

test('a soft async bounce is recorded without suppressing', async (t) => {
  const p = await platform(t);
  const sent = await sendAndDeliver(p, ['carol@example.org']);
  const verp = verpOf(p, sent, 'carol@example.org');
  const res = await deliver(
    p,
    verp,
    dsn(sent, verp, 'carol@example.org', {
      status: '5.2.2',
      diagnostic: '552 5.2.2 The email account that you tried to reach is over quota',
    }),
  );
  assert.ok(res.ok, res.response);
  const bounced = (await eventsOf(p, sent)).filter((e) => e.type === 'recipient.bounced');
  assert.equal(bounced.length, 1);
  assert.equal(bounced[0]!.data.category, 'mailbox_full');
  assert.equal(bounced[0]!.data.hard, false);
  assert.equal((await suppressionsOf(p, ['carol@example.org'])).size, 0);
});

test('an ARF complaint to the fbl@ mailbox becomes recipient.complained and suppresses the complainant', async (t) => {
  const p = await platform(t);
  const sent = await sendAndDeliver(p, ['dave@example.org', 'erin@example.org']);
  const verp = verpOf(p, sent, 'erin@example.org');
  const res = await deliver(p, 'fbl@pw.test', arf(sent, verp, 'erin@example.org'), 'feedback@fbl.example.net');
  assert.ok(res.ok, res.response);
  const complained = (await eventsOf(p, sent)).filter((e) => e.type === 'recipient.complained');
  assert.equal(complained.length, 1);
  assert.equal(complained[0]!.recipient_id, rcpt(sent, 'erin@example.org'));
  assert.deepEqual(
    { type: complained[0]!.data.feedback_type, ua: complained[0]!.data.user_agent, ip: complained[0]!.data.source_ip },
    { type: 'abuse', ua: 'ExampleFBL/1.0', ip: '192.0.2.1' },
  );
  const sup = await suppressionsOf(p, ['dave@example.org', 'erin@example.org']);
  assert.deepEqual([...sup.keys()], ['erin@example.org']);
  assert.equal(sup.get('erin@example.org')!.reason, 'complaint');
  assert.equal(sup.get('erin@example.org')!.source, complained[0]!.id);
});

test('a DSN or complaint that matches only by Message-ID is recorded but suppresses nobody', async (t) => {
  // Anyone who has seen the Message-ID could forge these; only a verified VERP address may suppress.
  const p = await platform(t);
  const sent = await sendAndDeliver(p, ['henry@example.org', 'iris@example.org']);
  const notVerp = 'news@example.com';

  const bounce = await deliver(p, 'postmaster@pw.test', dsn(sent, notVerp, 'henry@example.org'), 'attacker@example.net');
  assert.ok(bounce.ok, bounce.response);
  const complaint = await deliver(p, 'fbl@pw.test', arf(sent, notVerp, 'iris@example.org'), 'attacker@example.net');
  assert.ok(complaint.ok, complaint.response);

  const events = await eventsOf(p, sent);
  const bounced = events.filter((e) => e.type === 'recipient.bounced');
  const complained = events.filter((e) => e.type === 'recipient.complained');
  assert.deepEqual(
    [...bounced, ...complained].map((e) => [e.type, e.recipient_id, e.data.suppressed, e.data.why]),
    [
      ['recipient.bounced', rcpt(sent, 'henry@example.org'), false, 'not attributed by VERP'],
      ['recipient.complained', rcpt(sent, 'iris@example.org'), false, 'not attributed by VERP'],
    ],
  );
  assert.equal((await suppressionsOf(p, ['henry@example.org', 'iris@example.org'])).size, 0);
});

test("a DSN's own In-Reply-To does not attribute it to a message", async (t) => {
  const p = await platform(t);
  const sent = await sendAndDeliver(p, ['jack@example.org']);
  const raw = dsn(sent, 'news@example.com', 'jack@example.org')
    .replace(`Message-ID: ${sent.messageIdHeader}\r\n`, '')
    .replace('Auto-Submitted:', `In-Reply-To: ${sent.messageIdHeader}\r\nAuto-Submitted:`);
  assert.ok(raw.includes(`In-Reply-To: ${sent.messageIdHeader}`) && !raw.includes(`Message-ID: ${sent.messageIdHeader}`));
  const res = await deliver(p, 'postmaster@pw.test', raw, 'attacker@example.net');
  assert.ok(res.ok, res.response);
  assert.equal((await eventsOf(p, sent)).filter((e) => e.type === 'recipient.bounced').length, 0);
  assert.equal((await p.platform.store.feedback.listDocuments(p.tenantId, { limit: 10 })).length, 0);
  assert.equal((await suppressionsOf(p, ['jack@example.org'])).size, 0);
});

test('a DMARC aggregate report (zip attachment) to dmarc@ is stored per domain and summarised by the API', async (t) => {
  const p = await platform(t);
  const report = dmarcZipEmail(recentDmarcXml());
  const res = await deliver(p, 'dmarc@pw.test', report, 'noreply-dmarc@receiver.example.net');
  assert.ok(res.ok, res.response);
  const events = (await p.request('GET', '/v1/events?type=report.received')).body.data;
  assert.equal(events.length, 1);
  assert.deepEqual(
    { kind: events[0].data.kind, domains: events[0].data.domains, records: events[0].data.records },
    { kind: 'dmarc-aggregate', domains: ['example.com'], records: 1 },
  );
  const domain = (await p.request('GET', '/v1/domains')).body.data[0];
  const sum = (await p.request('GET', `/v1/domains/${domain.id}/dmarc?days=30`)).body;
  assert.equal(sum.domain, 'example.com');
  assert.equal(sum.reports, 1);
  assert.deepEqual(
    sum.sources.map((s: any) => [s.ip, s.messages, s.authorized, s.reason, s.dmarc_pass]),
    [['2001:db8::25', 42, true, 'dkim-aligned-pass', 42]],
  );
  assert.equal(sum.totals.pass_rate, 1);
  assert.ok(['advance', 'hold'].includes(sum.advice.action));

  // The same report again (reporters resend after a timeout) does not double the counts.
  assert.ok((await deliver(p, 'dmarc@pw.test', report)).ok);
  const again = (await p.request('GET', `/v1/domains/${domain.id}/dmarc?days=30`)).body;
  assert.equal(again.totals.messages, 42);
});

test('a TLS-RPT report to tls-rpt@ is stored and feeds the transport-security statistics', async (t) => {
  const p = await platform(t);
  const res = await deliver(p, 'tls-rpt@pw.test', readFileSync(join(fixtures, 'tlsrpt/attached-gzip.eml')), 'tlsrpt@receiver.example.net');
  assert.ok(res.ok, res.response);
  const stats = await p.platform.feedback.transportSecurityStats({ sinceMs: Date.parse('2026-11-01T00:00:00Z') });
  const json = JSON.parse(readFileSync(join(fixtures, 'tlsrpt/rfc8460.json'), 'utf8'));
  const policy = json.policies[0];
  const mine = stats.find((s) => s.policyDomain === 'example.com')!;
  assert.ok(mine, JSON.stringify(stats));
  assert.equal(mine.successfulSessions, policy.summary['total-successful-session-count']);
  assert.equal(mine.failedSessions, policy.summary['total-failure-session-count']);
  assert.deepEqual(mine.reporters, ['Receiver Example']);
  const events = (await p.request('GET', '/v1/events?type=report.received')).body.data;
  assert.equal(events.length, 1);
  assert.equal(events[0].data.kind, 'tls-rpt');
});

test('recipients are checked at RCPT: a forged VERP is 5.1.1, a foreign domain is relay denied, postmaster is accepted', async (t) => {
  const p = await platform(t);
  const sent = await sendAndDeliver(p, ['frank@example.org']);
  const verp = verpOf(p, sent, 'frank@example.org');

  const forged = await deliver(p, forge(verp), dsn(sent, forge(verp), 'frank@example.org'));
  assert.equal(forged.ok, false);
  assert.equal(forged.code, 550);
  assert.match(forged.response ?? '', /^550 5\.1\.1 Mailbox unavailable$/);

  const malformed = await deliver(p, 'b-nonsense@bounces.example.com', 'Subject: x\r\n\r\ny');
  assert.match(malformed.response ?? '', /^550 5\.1\.1 /);

  for (const foreign of ['someone@example.org', `${verp.split('@')[0]}@bounces.not-registered.example`, 'dmarc@example.com']) {
    const r = await deliver(p, foreign, 'Subject: x\r\n\r\ny');
    assert.equal(r.ok, false, foreign);
    assert.match(r.response ?? '', /^550 5\.7\.1 Relay access denied$/, foreign);
  }
  assert.match((await deliver(p, 'nobody@pw.test', 'Subject: x\r\n\r\ny')).response ?? '', /^550 5\.1\.1 /);

  const pm = await deliver(p, 'postmaster@pw.test', 'From: someone@example.org\r\nSubject: hello\r\n\r\nhi', 'someone@example.org');
  assert.ok(pm.ok, pm.response);

  // Nothing forged reached the spine or the suppression list.
  assert.equal((await eventsOf(p, sent)).filter((e) => e.type === 'recipient.bounced').length, 0);
  assert.equal((await suppressionsOf(p, ['frank@example.org'])).size, 0);
});

test('an auto-reply to a VERP address is recorded as such and is never a bounce', async (t) => {
  const p = await platform(t);
  const sent = await sendAndDeliver(p, ['grace@example.org']);
  const verp = verpOf(p, sent, 'grace@example.org');
  const res = await deliver(p, verp, autoReply(sent, verp, 'grace@example.org'), 'grace@example.org');
  assert.ok(res.ok, res.response);
  const events = await eventsOf(p, sent);
  assert.deepEqual(
    events.filter((e) => e.type.startsWith('recipient.') && e.type !== 'recipient.queued' && e.type !== 'recipient.delivered'),
    [],
  );
  assert.equal((await suppressionsOf(p, ['grace@example.org'])).size, 0);
  const docs = await p.platform.store.feedback.listDocuments(p.tenantId, { limit: 10 });
  assert.deepEqual(
    docs.map((d) => [d.kind, d.messageId]),
    [['auto-reply', sent.id]],
  );
});

test('a message over feedback.maxMessageBytes is refused with 552 5.3.4', async (t) => {
  const p = await platform(t, { feedback: { maxMessageBytes: 4096 } });
  const r = await deliver(p, 'dmarc@pw.test', `Subject: big\r\n\r\n${'x'.repeat(8000)}\r\n`);
  assert.equal(r.ok, false);
  assert.equal(r.code, 552);
  assert.match(r.response ?? '', /5\.3\.4/);
});
