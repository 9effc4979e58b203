import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startPlatform, type TestPlatform } from '../support/platform.js';

/**
 * Done-means 5 of issue 24 (SES v2): SendEmail bodies written from the SES API v2 reference
 * ("SendEmail" request syntax, "Common Errors"), with our API key as a Bearer token instead of a
 * Signature V4.
 */
async function sendEmail(p: TestPlatform, body: unknown, key = p.key) {
  const res = await fetch(`${p.url}/compat/ses/v2/email/outbound-emails`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${key}` },
    body: JSON.stringify(body),
  });
  return { status: res.status, headers: res.headers, body: (await res.json()) as any };
}

const simple = {
  FromEmailAddress: 'Sender <sender@example.com>',
  Destination: { ToAddresses: ['recipient@example.net'], CcAddresses: ['cc@example.net'], BccAddresses: ['bcc@example.net'] },
  ReplyToAddresses: ['replies@example.com'],
  Content: {
    Simple: {
      Subject: { Data: 'Test email', Charset: 'UTF-8' },
      Body: { Text: { Data: 'Hello from SES v2', Charset: 'UTF-8' }, Html: { Data: '<p>Hello from SES v2</p>', Charset: 'UTF-8' } },
      Headers: [{ Name: 'X-Custom', Value: 'yes' }],
      Attachments: [{ FileName: 'notes.txt', RawContent: Buffer.from('some notes').toString('base64'), ContentType: 'text/plain' }],
    },
  },
  EmailTags: [{ Name: 'campaign', Value: 'spring' }],
  ConfigurationSetName: 'my-first-configuration-set',
};

test('SendEmail with Simple content is sent as ours and answers {MessageId}; ConfigurationSetName is ignored with a warning', async (t) => {
  const p = await startPlatform(t);
  const res = await sendEmail(p, simple);
  assert.equal(res.status, 200, JSON.stringify(res.body));
  assert.match(res.body.MessageId, /^msg_/);
  assert.deepEqual(
    res.body.PostwardenWarnings.map((w: { path: string }) => w.path),
    ['/ConfigurationSetName'],
  );
  const view = await p.request('GET', `/v1/messages/${res.body.MessageId}`);
  assert.deepEqual(view.body.metadata, { campaign: 'spring' });
  assert.deepEqual(view.body.recipients.map((r: { email: string; kind: string }) => [r.email, r.kind]).sort(), [
    ['bcc@example.net', 'bcc'],
    ['cc@example.net', 'cc'],
    ['recipient@example.net', 'to'],
  ]);
  const raw = (await p.platform.store.messages.body(res.body.MessageId))!.toString();
  assert.match(raw, /^Reply-To: replies@example.com\r$/m);
  assert.match(raw, /^X-Custom: yes\r$/m);
  assert.match(raw, /name=notes\.txt/);
});

test('SendEmail with Raw content goes through the submission accept path to the Destination', async (t) => {
  const p = await startPlatform(t);
  const mime = [
    'From: Sender <sender@example.com>',
    'To: recipient@example.net',
    'Subject: Raw test',
    'MIME-Version: 1.0',
    'Content-Type: text/plain; charset=utf-8',
    '',
    'Hello raw',
    '',
  ].join('\r\n');
  const res = await sendEmail(p, {
    Destination: { ToAddresses: ['recipient@example.net'] },
    Content: { Raw: { Data: Buffer.from(mime).toString('base64') } },
  });
  assert.equal(res.status, 200, JSON.stringify(res.body));
  const view = await p.request('GET', `/v1/messages/${res.body.MessageId}`);
  assert.equal(view.body.subject, 'Raw test');
  assert.deepEqual(
    view.body.recipients.map((r: { email: string }) => r.email),
    ['recipient@example.net'],
  );
  const noDestination = await sendEmail(p, { Content: { Raw: { Data: Buffer.from(mime).toString('base64') } } });
  assert.equal(noDestination.status, 400);
  assert.equal(noDestination.body.__type, 'BadRequestException');
  assert.match(noDestination.body.message, /^Destination: is required with Content\/Raw/);
});

test('SES error shapes: __type, message and x-amzn-ErrorType with SES status codes', async (t) => {
  const p = await startPlatform(t);
  const unsigned = await fetch(`${p.url}/compat/ses/v2/email/outbound-emails`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(simple),
  });
  assert.equal(unsigned.status, 403);
  assert.equal(unsigned.headers.get('x-amzn-errortype'), 'MissingAuthenticationTokenException');
  const wrong = await sendEmail(p, simple, 'AKIAIOSFODNN7EXAMPLE');
  assert.equal(wrong.status, 403);
  assert.equal(wrong.body.__type, 'UnrecognizedClientException');

  const bad = await sendEmail(p, { ...simple, Destination: { ToAddresses: ['not-an-address'] } });
  assert.equal(bad.status, 400);
  assert.equal(bad.headers.get('x-amzn-errortype'), 'BadRequestException');
  assert.deepEqual(Object.keys(bad.body).sort(), ['__type', 'message']);
  assert.match(bad.body.message, /^Destination\/ToAddresses\/0: /);

  const noContent = await sendEmail(p, { FromEmailAddress: 'sender@example.com', Destination: { ToAddresses: ['a@example.net'] } });
  assert.equal(noContent.status, 400);
  assert.match(noContent.body.message, /Content: is required/);

  const unverified = await sendEmail(p, { ...simple, FromEmailAddress: 'sender@unverified.example' });
  assert.equal(unverified.status, 400);
  assert.equal(unverified.body.__type, 'MessageRejected');

  const template = await sendEmail(p, { ...simple, Content: { Template: { TemplateName: 'MyTemplate', TemplateData: '{}' } } });
  assert.equal(template.status, 400);
  assert.match(template.body.message, /^Content\/Template: /);
});
