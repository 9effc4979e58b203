import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startPlatform, type TestPlatform } from '../support/platform.js';

/**
 * Done-means 5 of issue 24 (Postmark): request bodies written from Postmark's public API reference
 * ("Email API": send a single email, send batch emails; "Overview": error codes), sent the way
 * Postmark's official client sends them: only the base URL and the token differ.
 */

/** What a Postmark client does for `sendEmail`: POST {base}/email with these headers and a JSON body. */
async function postmarkClient(baseUrl: string, token: string, path: string, body: unknown) {
  const res = await fetch(`${baseUrl}${path}`, {
    method: 'POST',
    headers: {
      Accept: 'application/json',
      'Content-Type': 'application/json',
      'X-Postmark-Server-Token': token,
      'User-Agent': 'Postmark.JS - 4.0.5',
    },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as any };
}

const single = {
  From: 'Sender Name <sender@example.com>',
  To: 'receiver@example.net, Second <second@example.net>',
  Cc: 'copied@example.net',
  Bcc: 'blind-copied@example.net',
  Subject: 'Test',
  Tag: 'Invitation',
  HtmlBody: '<b>Hello</b> <img src="cid:image.jpg"/>',
  TextBody: 'Hello',
  ReplyTo: 'reply@example.com',
  Metadata: { color: 'blue', 'client-id': '12345' },
  Headers: [{ Name: 'CUSTOM-HEADER', Value: 'value' }],
  Attachments: [
    { Name: 'readme.txt', Content: 'dGVzdCBjb250ZW50', ContentType: 'text/plain' },
    { Name: 'image.jpg', ContentID: 'cid:image.jpg', Content: 'dGVzdCBjb250ZW50', ContentType: 'image/jpeg' },
  ],
  TrackOpens: true,
  TrackLinks: 'None',
  MessageStream: 'outbound',
};

const base = (p: TestPlatform) => `${p.url}/compat/postmark`;

test("a Postmark client sends unchanged but for base URL and token, and gets Postmark's answer", async (t) => {
  const p = await startPlatform(t);
  const res = await postmarkClient(base(p), p.key, '/email', single);
  assert.equal(res.status, 200, JSON.stringify(res.body));
  assert.equal(res.body.ErrorCode, 0);
  assert.equal(res.body.Message, 'OK');
  assert.equal(res.body.To, single.To);
  assert.match(res.body.MessageID, /^msg_/);
  assert.ok(!Number.isNaN(Date.parse(res.body.SubmittedAt)));
  assert.deepEqual(
    res.body.PostwardenWarnings.map((w: { path: string }) => w.path),
    ['/TrackOpens', '/TrackLinks'],
  );

  const view = await p.request('GET', `/v1/messages/${res.body.MessageID}`);
  assert.deepEqual(view.body.tags, ['Invitation']);
  assert.deepEqual(view.body.metadata, { color: 'blue', 'client-id': '12345' });
  assert.equal(view.body.stream, 'transactional');
  assert.deepEqual(view.body.recipients.map((r: { email: string; kind: string }) => [r.email, r.kind]).sort(), [
    ['blind-copied@example.net', 'bcc'],
    ['copied@example.net', 'cc'],
    ['receiver@example.net', 'to'],
    ['second@example.net', 'to'],
  ]);
  const raw = (await p.platform.store.messages.body(res.body.MessageID))!.toString();
  assert.match(raw, /^Reply-To: reply@example.com\r$/m);
  assert.match(raw, /^custom-header: value\r$/im);
  assert.match(raw, /^Content-ID: <image\.jpg>\r$/m);
  assert.match(raw, /name=readme\.txt/);
});

test('the batch endpoint answers one Postmark result per message, errors in place', async (t) => {
  const p = await startPlatform(t);
  const res = await postmarkClient(base(p), p.key, '/email/batch', [
    { From: 'sender@example.com', To: 'receiver@example.net', Subject: 'Postmark test #1', TextBody: 'Hello', MessageStream: 'outbound' },
    { From: 'sender@example.com', To: 'not an address', Subject: 'Postmark test #2', HtmlBody: '<b>Hello</b>', MessageStream: 'outbound' },
    { From: 'sender@example.com', To: 'receiver@example.net', Subject: 'Broadcast', HtmlBody: '<b>Hi</b>', MessageStream: 'broadcast' },
  ]);
  assert.equal(res.status, 200);
  assert.equal(res.body.length, 3);
  assert.equal(res.body[0].ErrorCode, 0);
  assert.equal(res.body[1].ErrorCode, 300);
  assert.match(res.body[1].Message, /^Invalid email request: 1\/To: /);
  assert.equal(res.body[2].ErrorCode, 0);
  const view = await p.request('GET', `/v1/messages/${res.body[2].MessageID}`);
  assert.equal(view.body.stream, 'marketing');

  const many = await postmarkClient(
    base(p),
    p.key,
    '/email/batch',
    Array.from({ length: 501 }, () => ({ From: 'sender@example.com' })),
  );
  assert.equal(many.status, 422);
  assert.equal(many.body.ErrorCode, 410);
});

test('Postmark error shapes: bad token 401/10, invalid request 422/300, inactive recipient 422/406', async (t) => {
  const p = await startPlatform(t);
  const bad = await postmarkClient(base(p), 'not-a-key', '/email', single);
  assert.equal(bad.status, 401);
  assert.equal(bad.body.ErrorCode, 10);
  assert.equal(typeof bad.body.Message, 'string');
  const missing = await fetch(`${base(p)}/email`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
  assert.equal(missing.status, 401);
  assert.equal(((await missing.json()) as any).ErrorCode, 10);

  const invalid = await postmarkClient(base(p), p.key, '/email', {
    From: 'sender@example.com',
    To: 'receiver@example.net',
    TextBody: 'no subject',
  });
  assert.equal(invalid.status, 422);
  assert.deepEqual(invalid.body, { ErrorCode: 300, Message: 'Invalid email request: Subject: is required (or give template)' });

  const json = await fetch(`${base(p)}/email`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-postmark-server-token': p.key },
    body: '{"From": ',
  });
  assert.equal(json.status, 422);
  assert.equal(((await json.json()) as any).ErrorCode, 402);

  const notOurs = await postmarkClient(base(p), p.key, '/email', { ...single, From: 'someone@elsewhere.example' });
  assert.equal(notOurs.status, 422);
  assert.equal(notOurs.body.ErrorCode, 400);

  await p.request('POST', '/v1/suppressions', { address: 'gone@example.net', reason: 'hard_bounce' });
  const inactive = await postmarkClient(base(p), p.key, '/email', {
    From: 'sender@example.com',
    To: 'gone@example.net',
    Subject: 'Hi',
    TextBody: 'x',
  });
  assert.equal(inactive.status, 422);
  assert.equal(inactive.body.ErrorCode, 406);
  assert.match(inactive.body.Message, /gone@example\.net/);
});
