import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startPlatform, type TestPlatform } from '../support/platform.js';

/**
 * Done-means 5 of issue 24 (Resend): request bodies written from Resend's public API reference
 * ("Send Email", "Errors"), sent as the official Node SDK sends them (it turns `replyTo` into
 * `reply_to` and posts JSON with a Bearer key): only the base URL and the key differ.
 */
async function resendClient(baseUrl: string, key: string, body: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(`${baseUrl}/emails`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${key}`, 'User-Agent': 'resend-node:4.0.0', 'Content-Type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
  return { status: res.status, headers: res.headers, body: (await res.json()) as any };
}

const base = (p: TestPlatform) => `${p.url}/compat/resend`;

const email = {
  from: 'Acme <onboarding@example.com>',
  to: ['delivered@example.net', 'Second <second@example.net>'],
  subject: 'hello world',
  html: '<p>it works!</p>',
  text: 'it works!',
  cc: 'copy@example.net',
  bcc: ['blind@example.net'],
  reply_to: 'support@example.com',
  headers: { 'X-Entity-Ref-ID': '123456789' },
  attachments: [{ filename: 'invoice.txt', content: Buffer.from('invoice 42').toString('base64'), content_type: 'text/plain' }],
  tags: [{ name: 'category', value: 'confirm_email' }],
};

test('a Resend client sends unchanged but for base URL and key, and gets {id}', async (t) => {
  const p = await startPlatform(t);
  const res = await resendClient(base(p), p.key, email, { 'Idempotency-Key': 'welcome-user/123' });
  assert.equal(res.status, 200, JSON.stringify(res.body));
  assert.match(res.body.id, /^msg_/);
  assert.deepEqual(Object.keys(res.body), ['id']);

  const view = await p.request('GET', `/v1/messages/${res.body.id}`);
  assert.deepEqual(view.body.metadata, { category: 'confirm_email' });
  assert.deepEqual(view.body.recipients.map((r: { email: string }) => r.email).sort(), [
    'blind@example.net',
    'copy@example.net',
    'delivered@example.net',
    'second@example.net',
  ]);
  const raw = (await p.platform.store.messages.body(res.body.id))!.toString();
  assert.match(raw, /^Reply-To: support@example.com\r$/m);
  assert.match(raw, /^X-Entity-Ref-ID: 123456789\r$/im);
  assert.ok(raw.includes(Buffer.from('invoice 42').toString('base64')));

  // The same Idempotency-Key and body: the first answer again, nothing sent twice.
  const again = await resendClient(base(p), p.key, email, { 'Idempotency-Key': 'welcome-user/123' });
  assert.equal(again.body.id, res.body.id);
  assert.equal(again.headers.get('idempotent-replayed'), 'true');
});

test('scheduled_at schedules the send: the recipient waits queued until then', async (t) => {
  const p = await startPlatform(t);
  const at = new Date(Date.now() + 3_600_000).toISOString();
  const res = await resendClient(base(p), p.key, { ...email, to: 'later@example.net', cc: undefined, bcc: undefined, scheduled_at: at });
  assert.equal(res.status, 200, JSON.stringify(res.body));
  const view = await p.request('GET', `/v1/messages/${res.body.id}`);
  assert.deepEqual(
    view.body.recipients.map((r: { state: string; next_attempt_at: string }) => [r.state, r.next_attempt_at]),
    [['queued', at]],
  );
});

test('an attachment sent as a Node Buffer (JSON) is read, with a warning', async (t) => {
  const p = await startPlatform(t);
  const buffer = JSON.parse(JSON.stringify(Buffer.from('raw bytes')));
  const res = await resendClient(base(p), p.key, {
    from: 'onboarding@example.com',
    to: 'delivered@example.net',
    subject: 'hi',
    text: 'x',
    attachments: [{ filename: 'a.bin', content: buffer }],
  });
  assert.equal(res.status, 200, JSON.stringify(res.body));
  assert.deepEqual(res.body.postwarden_warnings, [
    { path: '/attachments/0/content', message: 'read a Buffer as JSON; base64 is the usual form' },
  ]);
});

test('Resend error shapes: missing and invalid key, missing field, invalid field, unverified domain, what we do not do', async (t) => {
  const p = await startPlatform(t);
  const missing = await fetch(`${base(p)}/emails`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(email),
  });
  assert.equal(missing.status, 401);
  assert.deepEqual(Object.keys((await missing.json()) as object).sort(), ['message', 'name', 'statusCode']);

  const invalid = await resendClient(base(p), 're_123456789', email);
  assert.equal(invalid.status, 403);
  assert.equal(invalid.body.name, 'invalid_api_key');
  assert.equal(invalid.body.statusCode, 403);

  const { subject: _s, ...noSubject } = email;
  const required = await resendClient(base(p), p.key, noSubject);
  assert.equal(required.status, 422);
  assert.deepEqual(required.body, { statusCode: 422, name: 'missing_required_field', message: 'subject: is required' });

  const wrong = await resendClient(base(p), p.key, { ...email, to: 'not-an-address' });
  assert.equal(wrong.status, 422);
  assert.equal(wrong.body.name, 'validation_error');
  assert.match(wrong.body.message, /^to: /);

  const domain = await resendClient(base(p), p.key, { ...email, from: 'Acme <onboarding@resend.dev>' });
  assert.equal(domain.status, 403);
  assert.equal(domain.body.name, 'validation_error');
  assert.match(domain.body.message, /resend\.dev/);

  const words = await resendClient(base(p), p.key, { ...email, scheduled_at: 'in 1 min' });
  assert.equal(words.status, 422);
  assert.match(words.body.message, /^scheduled_at: must be an RFC 3339 time/);
  const template = await resendClient(base(p), p.key, { ...email, template: { id: 'tmpl_1', variables: {} } });
  assert.equal(template.status, 422);
  assert.match(template.body.message, /^template: /);
  const list = await p.request('GET', '/v1/messages');
  assert.equal(list.body.data.length, 0, 'nothing was accepted by the refused calls');
});
