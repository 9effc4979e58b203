import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Value } from 'typebox/value';
import { eventDefinitions, eventEnvelope, eventWire, type SpineEvent } from '../../src/core/index.js';
import { dsn, sendAndDeliver, verpOf } from '../feedback/documents.js';
import { startDnsServer } from '../support/dns-server.js';
import { startPlatform, type TestPlatform } from '../support/platform.js';
import { startSmtpSink } from '../support/smtp-sink.js';

/**
 * The event contract holds for what the writers really append: every event the platform wrote in a
 * run through accept, delivery (accepted, deferred, refused) and feedback validates against its
 * type's schema, and the two writers of recipient.bounced give it one shape.
 */

function violations(events: SpineEvent[]): string[] {
  return events.flatMap((e) => {
    const schema = eventEnvelope(e.type, eventDefinitions[e.type].payload);
    return [...Value.Errors(schema, eventWire(e))].map((x) => `${e.type} ${x.instancePath} ${x.message}`);
  });
}

async function waitUntilSettled(p: TestPlatform): Promise<void> {
  for (let i = 0; i < 300 && (await p.platform.store.recipients.countOpen()) > 0; i++) await new Promise((r) => setTimeout(r, 50));
  assert.equal(await p.platform.store.recipients.countOpen(), 0, 'every recipient reached a terminal state');
}

test('every event written by accept, delivery and feedback satisfies its schema; bounced has one shape', { timeout: 60_000 }, async (t) => {
  const sink = await startSmtpSink(t, {
    recipients: [
      { match: (a) => a.startsWith('bad'), reply: { code: 550, enhanced: '5.1.1', text: 'no such user' } },
      { match: (a) => a.startsWith('slow'), deferTimes: 1 },
    ],
  });
  const dns = await startDnsServer(t, {
    'a.test': { MX: [{ priority: 10, exchange: 'mx.a.test' }] },
    'mx.a.test': { A: ['127.0.0.1'] },
  });
  const p = await startPlatform(t, {
    config: {
      sandbox: false,
      dns: { servers: [dns.address], timeoutMs: 1000 },
      delivery: { portMap: { 'mx.a.test': sink.port }, retryMinutes: [0.001], commandTimeoutMs: 5000, dataTimeoutMs: 5000 },
    },
  });
  const res = await p.request('POST', '/v1/messages', {
    from: 'sender@example.com',
    to: ['ok@a.test', 'bad@a.test', 'slow@a.test'],
    subject: 'contract',
    text: 'hello',
  });
  assert.equal(res.status, 202, JSON.stringify(res.body));
  await waitUntilSettled(p);

  const events = await p.platform.store.events.page({ limit: 1000 });
  const types = new Set(events.map((e) => e.type));
  for (const t of ['message.accepted', 'recipient.queued', 'recipient.delivered', 'recipient.deferred', 'recipient.bounced'] as const)
    assert.ok(types.has(t), `the run wrote ${t}`);
  assert.deepEqual(violations(events), []);
  const bounced = events.find((e) => e.type === 'recipient.bounced')!;
  assert.equal(bounced.data.async, false);
  assert.equal(bounced.data.remote_mta, 'mx.a.test');
  assert.equal(bounced.schemaVersion, eventDefinitions['recipient.bounced'].version);
});

test('a DSN bounce and an SMTP bounce carry the same fields', { timeout: 60_000 }, async (t) => {
  const dns = await startDnsServer(t, { 'example.com': { TXT: ['v=spf1 ip4:203.0.113.0/24 -all'] } });
  const p = await startPlatform(t, { config: { dns: { servers: [dns.address] } } });
  const sent = await sendAndDeliver(p, ['bob@example.org']);
  const res = await fetch(`${p.url}/v1/feedback`, {
    method: 'POST',
    headers: { authorization: `Bearer ${p.key}`, 'content-type': 'message/rfc822' },
    body: dsn(sent, verpOf(p, sent, 'bob@example.org'), 'bob@example.org'),
  });
  assert.equal(res.status, 201);
  const events = await p.platform.store.events.page({ limit: 1000 });
  assert.deepEqual(violations(events), []);
  const async = events.find((e) => e.type === 'recipient.bounced')!;
  assert.equal(async.data.async, true);
  const required = (eventDefinitions['recipient.bounced'].payload as { required: string[] }).required;
  assert.deepEqual(
    required.filter((k) => !(k in async.data)),
    [],
  );
  assert.ok(required.includes('dsn_status') && required.includes('attempt'), 'DSN and SMTP fields are both part of the one shape');
});

test('GET /v1/events/schema serves one definition per type that validates the events the API returns', async (t) => {
  const p = await startPlatform(t);
  const res = await fetch(`${p.url}/v1/events/schema`);
  assert.equal(res.status, 200);
  const doc = (await res.json()) as { $defs: Record<string, object>; oneOf: { $ref: string }[] };
  assert.deepEqual(Object.keys(doc.$defs).sort(), Object.keys(eventDefinitions).sort());
  assert.equal(doc.oneOf.length, Object.keys(eventDefinitions).length);
  await sendAndDeliver(p, ['carol@example.org']);
  const page = await p.request('GET', '/v1/events?limit=100');
  assert.ok(page.body.data.length >= 3);
  for (const e of page.body.data) {
    const schema = doc.$defs[e.type];
    assert.ok(schema, e.type);
    assert.deepEqual(
      [...Value.Errors(schema as never, e)].map((x) => `${e.type} ${x.instancePath} ${x.message}`),
      [],
    );
  }
  // A schema that accepted anything would pass the loop above: it must refuse a renamed field.
  const first = page.body.data[0];
  assert.equal(Value.Check(doc.$defs[first.type] as never, { ...first, schema_version: undefined, version: 1 }), false);
});
