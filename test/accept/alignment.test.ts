import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decodeVerp, deriveVerpKey } from '../../src/identity/index.js';
import { startDnsServer, type Zone } from '../support/dns-server.js';
import { startPlatform } from '../support/platform.js';
import { startSmtpSink } from '../support/smtp-sink.js';

/**
 * Done-means 4 of the identity issue: every message carries its return path and expected alignment
 * (metadata and message.accepted), the envelope sender is a per-recipient VERP address on the bounce
 * subdomain that decodes back (and a forged one does not), and reject mode refuses a send that would
 * fail DMARC with a field-path error naming the domains. Streams restrict a domain's lanes.
 */
async function world(t: Parameters<typeof startPlatform>[0]) {
  const sink = await startSmtpSink(t);
  const zone: Zone = {
    'dest.test': { MX: [{ priority: 10, exchange: 'mx.dest.test' }] },
    'mx.dest.test': { A: ['127.0.0.1'] },
    // news.example.com asks for strict alignment: bounces.example.com and d=example.com do not match it.
    '_dmarc.news.example.com': { TXT: ['v=DMARC1; p=reject; aspf=s; adkim=s'] },
  };
  const dns = await startDnsServer(t, zone);
  const p = await startPlatform(t, {
    config: { sandbox: false, dns: { servers: [dns.address], timeoutMs: 1000 }, delivery: { portMap: { 'mx.dest.test': sink.port } } },
  });
  const domainId = (await p.request('GET', '/v1/domains')).body.data[0].id as string;
  const records = (await p.request('GET', `/v1/domains/${domainId}`)).body.dns_records as { kind: string; name: string; value: string }[];
  for (const r of records.filter((x) => x.kind === 'dkim')) zone[r.name] = { TXT: [r.value] };
  dns.setZone(zone);
  return { p, sink, dns, domainId };
}

test('every message carries its identity, and its recipients get their own VERP return paths', { timeout: 60_000 }, async (t) => {
  const { p, sink } = await world(t);
  const res = await p.request('POST', '/v1/messages?mode=sync', {
    from: 'Acme <hello@example.com>',
    to: ['ann@dest.test', 'bob@dest.test'],
    subject: 'Hi',
    text: 'Hello',
  });
  assert.equal(res.status, 200, JSON.stringify(res.body));
  const msg = await p.request('GET', `/v1/messages/${res.body.id}`);
  const identity = msg.body.identity;
  assert.equal(identity.return_path_domain, 'bounces.example.com');
  assert.deepEqual(identity.alignment, {
    spf: { aligned: true, mode: 'r', envelope_domain: 'bounces.example.com', header_from: 'example.com' },
    dkim: { aligned: true, mode: 'r', signing_domains: ['example.com'] },
    dmarc_would_pass: true,
  });
  assert.deepEqual(identity.dmarc, { source: 'none' });
  assert.deepEqual(identity.problems, []);
  const accepted = msg.body.events.find((e: { type: string }) => e.type === 'message.accepted');
  assert.deepEqual(accepted.data.identity, identity);

  // One transaction per recipient, each with a return path that decodes to it.
  assert.equal(sink.messages.length, 2);
  const key = deriveVerpKey(p.platform.masterKey);
  const byRecipient = new Map(msg.body.recipients.map((r: { id: string; email: string }) => [r.email, r.id]));
  for (const m of sink.messages) {
    assert.equal(m.to.length, 1);
    assert.match(m.from, /^b-[0-9a-z]{62}@bounces\.example\.com$/);
    const decoded = decodeVerp(m.from, key);
    assert.ok(decoded.ok);
    assert.equal(decoded.messageId, res.body.id);
    assert.equal(decoded.recipientId, byRecipient.get(m.to[0]!));
    // The bounce domain never shows in the visible From.
    const header = m.raw.toString('utf8').split('\r\n\r\n')[0]!;
    assert.match(header, /^From: Acme <hello@example\.com>$/m);
    assert.doesNotMatch(header, /^From:.*bounces\./im);
  }
  // A forged return path (one character of the MAC changed) is refused.
  const real = sink.messages[0]!.from;
  const forged = `${real.slice(0, 63)}${real[63] === 'a' ? 'b' : 'a'}${real.slice(64)}`;
  assert.deepEqual(decodeVerp(forged, key), { ok: false, reason: 'bad_mac' });
});

test('warn records a misaligned send; reject refuses it with a field path naming the domains', { timeout: 60_000 }, async (t) => {
  const { p } = await world(t);
  const send = () => p.request('POST', '/v1/messages', { from: 'news@news.example.com', to: 'ann@dest.test', subject: 'News', text: 'x' });

  const warned = await send();
  assert.equal(warned.status, 202, JSON.stringify(warned.body));
  const msg = await p.request('GET', `/v1/messages/${warned.body.id}`);
  assert.equal(msg.body.identity.alignment.dmarc_would_pass, false);
  assert.deepEqual(msg.body.identity.dmarc, {
    source: 'record',
    domain: 'news.example.com',
    policy: 'reject',
    record: 'v=DMARC1; p=reject; aspf=s; adkim=s',
  });
  assert.equal(msg.body.identity.problems.length, 2);

  const tenant = await p.request('PATCH', '/v1/tenant', { alignment: 'reject' });
  assert.equal(tenant.body.alignment, 'reject');
  const refused = await send();
  assert.equal(refused.status, 422);
  assert.equal(refused.body.code, 'SENDER_MISALIGNED');
  assert.equal(refused.body.errors[0].path, '/from');
  assert.match(refused.body.errors[0].message, /bounces\.example\.com does not align with the From domain news\.example\.com \(strict/);
  assert.match(refused.body.errors[0].message, /d=example\.com does not align/);
  assert.deepEqual(
    [refused.body.header_from, refused.body.return_path_domain, refused.body.dkim_domains],
    ['news.example.com', 'bounces.example.com', ['example.com']],
  );
  // An aligned send still goes through in reject mode.
  const ok = await p.request('POST', '/v1/messages', { from: 'hello@example.com', to: 'ann@dest.test', subject: 'Hi', text: 'x' });
  assert.equal(ok.status, 202, JSON.stringify(ok.body));
  const bad = await p.request('PATCH', '/v1/tenant', { alignment: 'block' });
  assert.equal(bad.status, 422);
});

test('a domain restricted to streams refuses the others with /stream', async (t) => {
  const p = await startPlatform(t);
  const domainId = (await p.request('GET', '/v1/domains')).body.data[0].id as string;
  const patched = await p.request('PATCH', `/v1/domains/${domainId}`, { streams: ['marketing'] });
  assert.deepEqual(patched.body.streams, ['marketing']);
  const refused = await p.request('POST', '/v1/messages', { from: 'a@example.com', to: 'b@dest.test', subject: 's', text: 't' });
  assert.equal(refused.status, 422);
  assert.equal(refused.body.code, 'SENDER_DOMAIN_NOT_ALLOWED');
  assert.deepEqual(refused.body.errors[0], {
    path: '/stream',
    message: 'stream transactional is not allowed for example.com (allowed: marketing)',
  });
  const ok = await p.request('POST', '/v1/messages', {
    from: 'a@example.com',
    to: 'b@dest.test',
    subject: 's',
    text: 't',
    stream: 'marketing',
  });
  assert.equal(ok.status, 202);
  // In sandbox nothing is looked up: the defaults (relaxed) apply and say so.
  const msg = await p.request('GET', `/v1/messages/${ok.body.id}`);
  assert.deepEqual(msg.body.identity.dmarc, { source: 'sandbox' });
});
