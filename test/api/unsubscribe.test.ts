import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { test } from 'node:test';
import nodemailer from 'nodemailer';
import { signDkim } from '../../src/identity/index.js';
import { startPlatform, type TestPlatform } from '../support/platform.js';

/**
 * One-click unsubscribe seen from a mailbox provider: it reads List-Unsubscribe from the message
 * it received and POSTs `List-Unsubscribe=One-Click` to that URL, form-encoded, without any
 * credentials (RFC 8058 §3.2). Here the URL's origin is swapped for the loopback listener.
 */
const send = (p: TestPlatform, over: Record<string, unknown> = {}) =>
  p.request('POST', '/v1/messages', {
    from: 'news@example.com',
    to: 'ann@example.net',
    subject: 'Offers',
    text: 'Hello',
    stream: 'marketing',
    ...over,
  });

async function headerOf(p: TestPlatform, messageId: string, name: string): Promise<string | undefined> {
  const raw = (await p.platform.store.messages.body(messageId))!.toString('utf8');
  const head = raw.slice(0, raw.indexOf('\r\n\r\n')).replace(/\r\n[ \t]+/g, ' ');
  return head
    .split('\r\n')
    .find((l) => l.toLowerCase().startsWith(`${name.toLowerCase()}:`))
    ?.replace(/^[^:]+:\s*/, '');
}

/** The provider's POST: no Authorization header, form body. */
const providerPost = (p: TestPlatform, path: string, body = 'List-Unsubscribe=One-Click', type = 'application/x-www-form-urlencoded') =>
  fetch(p.url + path, { method: 'POST', headers: { 'content-type': type }, body });

async function unsubscribePath(p: TestPlatform, messageId: string): Promise<string> {
  const header = await headerOf(p, messageId, 'List-Unsubscribe');
  const m = /^<(https?:\/\/[^>]+)>$/.exec(header ?? '');
  assert.ok(m, `List-Unsubscribe is ${header}`);
  const url = new URL(m[1]!);
  assert.equal(url.origin, 'http://pw.test:0', 'the link uses the configured public URL');
  return url.pathname;
}

test('a one-click POST suppresses the address for that domain and stream only, once, and says so on the spine', async (t) => {
  const p = await startPlatform(t);
  await p.platform.domains.addDomain(p.tenantId, 'other.org');
  const sent = await send(p);
  assert.equal(sent.status, 202, JSON.stringify(sent.body));
  assert.equal(await headerOf(p, sent.body.id, 'List-Unsubscribe-Post'), 'List-Unsubscribe=One-Click');
  const path = await unsubscribePath(p, sent.body.id);

  const res = await providerPost(p, path);
  assert.equal(res.status, 200, await res.clone().text());
  assert.match(res.headers.get('content-type') ?? '', /text\/html/);
  const repeat = await providerPost(p, path);
  assert.equal(repeat.status, 200, 'a repeat is answered the same');

  const view = await p.request('GET', `/v1/messages/${sent.body.id}`);
  const events = view.body.events.filter((e: any) => e.type === 'recipient.unsubscribed');
  assert.equal(events.length, 1, 'one event however often the link is used');
  assert.deepEqual(
    [events[0].data.email, events[0].data.domain, events[0].data.stream, events[0].recipient_id],
    ['ann@example.net', 'example.com', 'marketing', sent.body.recipients[0].id],
  );

  const again = await send(p);
  assert.equal(again.body.recipients[0].state, 'suppressed');
  assert.deepEqual([again.body.recipients[0].suppression.scope, again.body.recipients[0].suppression.reason], ['identity', 'unsubscribe']);
  assert.equal((await send(p, { stream: 'transactional' })).body.recipients[0].state, 'queued', 'transactional mail still goes');
  assert.equal((await send(p, { stream: 'cold' })).body.recipients[0].state, 'queued', 'another stream still goes');
  assert.equal((await send(p, { from: 'news@other.org' })).body.recipients[0].state, 'queued', 'another domain still goes');

  const history = (await p.request('GET', '/v1/suppressions/history')).body.data;
  assert.deepEqual(
    history.map((c: any) => [c.action, c.actor, c.reason]),
    [
      ['add', 'unsubscribe', 'unsubscribe'],
      ['repeat', 'unsubscribe', 'unsubscribe'],
    ],
  );
});

test('forged, altered or malformed tokens are refused and suppress nothing', async (t) => {
  const p = await startPlatform(t);
  const sent = await send(p);
  const path = await unsubscribePath(p, sent.body.id);
  const [, , , token] = path.split('/');
  const [v, payload, mac] = token!.split('.');
  // Another address in the payload, with the original MAC.
  const otherPayload = Buffer.from(
    Buffer.from(payload!, 'base64url').toString('utf8').replace('ann@example.net', 'bob@example.net'),
  ).toString('base64url');
  const flipped = mac!.startsWith('A') ? `B${mac!.slice(1)}` : `A${mac!.slice(1)}`;
  for (const forged of [`${v}.${otherPayload}.${mac}`, `${v}.${payload}.${flipped}`]) {
    const r = await providerPost(p, `/v1/unsubscribe/${forged}`);
    assert.equal(r.status, 404);
    assert.match(r.headers.get('content-type') ?? '', /application\/problem\+json/);
  }
  assert.equal((await providerPost(p, '/v1/unsubscribe/not-a-token')).status, 400);
  assert.equal((await fetch(`${p.url}/v1/unsubscribe/not-a-token`)).status, 400);
  const noBody = await providerPost(p, path, 'something=else');
  assert.equal(noBody.status, 400, 'RFC 8058 asks for List-Unsubscribe=One-Click in the body');
  assert.deepEqual((await p.request('GET', '/v1/suppressions')).body.data, []);
});

test('GET shows a page whose form POSTs the one-click body; multipart bodies work too', async (t) => {
  const p = await startPlatform(t);
  const sent = await send(p);
  const path = await unsubscribePath(p, sent.body.id);
  const page = await fetch(p.url + path);
  assert.equal(page.status, 200);
  const html = await page.text();
  assert.match(html, /<form method="post">/);
  assert.match(html, /name="List-Unsubscribe" value="One-Click"/);
  assert.deepEqual((await p.request('GET', '/v1/suppressions')).body.data, [], 'opening the link unsubscribes nobody');

  const form = new FormData();
  form.set('List-Unsubscribe', 'One-Click');
  const r = await fetch(p.url + path, { method: 'POST', body: form });
  assert.equal(r.status, 200, await r.clone().text());
  assert.equal((await p.request('GET', '/v1/suppressions')).body.data[0].reason, 'unsubscribe');
});

test('transactional mail carries no unsubscribe link; a marketing message must have one recipient', async (t) => {
  const p = await startPlatform(t);
  const tx = await send(p, { stream: 'transactional' });
  assert.equal(await headerOf(p, tx.body.id, 'List-Unsubscribe'), undefined);
  const caller = await send(p, { headers: { 'List-Unsubscribe': '<https://evil.example/x>' } });
  assert.match(
    (await headerOf(p, caller.body.id, 'List-Unsubscribe'))!,
    /^<http:\/\/pw\.test:0\/v1\/unsubscribe\//,
    'ours replaces the caller’s',
  );
  const many = await send(p, { to: ['a@example.net', 'b@example.net'] });
  assert.equal(many.status, 422);
  assert.equal(many.body.errors[0].path, '/to');
});

test('SMTP submissions choose the stream with X-Postwarden-Stream and get the same headers', async (t) => {
  const p = await startPlatform(t);
  const transport = nodemailer.createTransport({
    host: '127.0.0.1',
    port: p.smtpPort,
    secure: false,
    requireTLS: true,
    auth: { user: 'any', pass: p.key },
    tls: { rejectUnauthorized: false },
    connectionTimeout: 5000,
    greetingTimeout: 5000,
    socketTimeout: 5000,
  });
  t.after(() => transport.close());
  const raw = ['From: news@example.com', 'To: ann@example.net', 'Subject: Offers', 'X-Postwarden-Stream: marketing', '', 'Hello.', ''].join(
    '\r\n',
  );
  const info = await transport.sendMail({ envelope: { from: 'news@example.com', to: ['ann@example.net'] }, raw });
  const id = /msg_[0-9A-Z]{26}/.exec(info.response)?.[0];
  assert.ok(id, info.response);
  const path = await unsubscribePath(p, id);
  assert.equal(await headerOf(p, id, 'X-Postwarden-Stream'), undefined, 'the stream header is not sent on');
  assert.equal((await providerPost(p, path)).status, 200);
  assert.equal((await send(p)).body.recipients[0].state, 'suppressed');
});

test('the DKIM signature of a marketing message covers both unsubscribe fields (RFC 8058 §4)', async (t) => {
  const p = await startPlatform(t);
  const sent = await send(p);
  const raw = (await p.platform.store.messages.body(sent.body.id))!;
  const key = generateKeyPairSync('ed25519').privateKey;
  const { headers } = signDkim(raw, [{ domain: 'example.com', selector: 's1', algorithm: 'ed25519', key }], Date.now());
  const h = /\bh=([^;]+);/.exec(headers.replace(/\r\n[ \t]+/g, ''))?.[1]?.split(':') ?? [];
  assert.ok(h.includes('list-unsubscribe') && h.includes('list-unsubscribe-post'), h.join(':'));
});
