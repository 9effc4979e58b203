import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startPlatform, type TestPlatform } from '../support/platform.js';

/**
 * Done-means 4 of issue 24: each field variant people bring from other providers is read as ours and
 * named in `warnings`; two spellings of one field with different values are refused with the path.
 */
const base = { from: 'Sender <hello@example.com>', subject: 'Hi', text: 'Hello' };

async function stored(p: TestPlatform, id: string): Promise<string> {
  const raw = await p.platform.store.messages.body(id);
  assert.ok(raw, `message ${id} has a body`);
  return raw.toString('utf8');
}

test('recipients as a string, a comma list, a list, "Name <a@b>" and {email, name} are all accepted without warnings', async (t) => {
  const p = await startPlatform(t);
  const shapes: [unknown, string[]][] = [
    ['ann@example.net', ['ann@example.net']],
    ['ann@example.net, Bob <bob@example.org>', ['ann@example.net', 'bob@example.org']],
    [
      ['ann@example.net', { email: 'bob@example.org', name: 'Bob' }],
      ['ann@example.net', 'bob@example.org'],
    ],
    ['Ann Example <ann@example.net>', ['ann@example.net']],
    [{ email: 'ann@example.net', name: 'Ann' }, ['ann@example.net']],
  ];
  for (const [to, emails] of shapes) {
    const res = await p.request('POST', '/v1/messages', { ...base, to, cc: to, bcc: to });
    assert.equal(res.status, 202, JSON.stringify(res.body));
    assert.deepEqual(
      res.body.recipients.map((r: { email: string }) => r.email),
      emails,
      `to ${JSON.stringify(to)}`,
    );
    assert.deepEqual(res.body.warnings, []);
  }
  const named = await p.request('POST', '/v1/messages', { ...base, to: { email: 'ann@example.net', name: 'Ann Example' } });
  assert.match(await stored(p, named.body.id), /^To: Ann Example <ann@example.net>\r$/m);
});

test('replyTo, html_body and text_body are read as reply_to, html and text, each with a warning', async (t) => {
  const p = await startPlatform(t);
  const { text: _t, ...noText } = base;
  const res = await p.request('POST', '/v1/messages', {
    ...noText,
    to: 'ann@example.net',
    replyTo: 'Help <help@example.com>',
    html_body: '<p>Hello html</p>',
    text_body: 'Hello text',
  });
  assert.equal(res.status, 202, JSON.stringify(res.body));
  assert.deepEqual(res.body.warnings, [
    { path: '/replyTo', message: 'read as reply_to' },
    { path: '/html_body', message: 'read as html' },
    { path: '/text_body', message: 'read as text' },
  ]);
  const raw = await stored(p, res.body.id);
  assert.match(raw, /^Reply-To: Help <help@example.com>\r$/m);
  assert.match(raw, /<p>Hello html<\/p>/);
  assert.match(raw, /Hello text/);
});

test('headers as a list of {name, value} become an object, with a warning', async (t) => {
  const p = await startPlatform(t);
  const res = await p.request('POST', '/v1/messages', {
    ...base,
    to: 'ann@example.net',
    headers: [
      { name: 'X-Campaign', value: 'spring' },
      { name: 'X-Entity-Ref-ID', value: '42' },
    ],
  });
  assert.equal(res.status, 202, JSON.stringify(res.body));
  assert.deepEqual(res.body.warnings, [{ path: '/headers', message: 'read a list of 2 {name, value} pairs as an object of header names' }]);
  const raw = await stored(p, res.body.id);
  assert.match(raw, /^X-Campaign: spring\r$/m);
  assert.match(raw, /^X-Entity-Ref-ID: 42\r$/m);
});

test('an attachment with content_base64 and contentType is read as content and content_type, with warnings', async (t) => {
  const p = await startPlatform(t);
  const res = await p.request('POST', '/v1/messages', {
    ...base,
    to: 'ann@example.net',
    attachments: [
      { filename: 'a.txt', content_base64: Buffer.from('first file').toString('base64'), contentType: 'text/plain' },
      { filename: 'b.csv', content: Buffer.from('x,y').toString('base64'), content_type: 'text/csv' },
    ],
  });
  assert.equal(res.status, 202, JSON.stringify(res.body));
  assert.deepEqual(res.body.warnings, [
    { path: '/attachments/0/content_base64', message: 'read as content' },
    { path: '/attachments/0/contentType', message: 'read as content_type' },
  ]);
  const raw = await stored(p, res.body.id);
  assert.match(raw, /Content-Type: text\/plain; name=a\.txt/);
  assert.ok(raw.includes(Buffer.from('first file').toString('base64')));
  assert.match(raw, /Content-Type: text\/csv; name=b\.csv/);
});

test('two spellings of one field with different values are refused with the path; the same value twice is read once', async (t) => {
  const p = await startPlatform(t);
  const html = await p.request('POST', '/v1/messages', { ...base, to: 'ann@example.net', html: '<p>a</p>', html_body: '<p>b</p>' });
  assert.equal(html.status, 422);
  assert.equal(html.body.code, 'VALIDATION_FAILED');
  assert.deepEqual(html.body.errors, [
    { path: '/html_body', message: 'conflicts with html, which has another value; send one of the two' },
  ]);

  const reply = await p.request('POST', '/v1/messages', {
    ...base,
    to: 'ann@example.net',
    reply_to: 'a@example.com',
    replyTo: ['b@example.com'],
  });
  assert.equal(reply.status, 422);
  assert.deepEqual(
    reply.body.errors.map((e: { path: string }) => e.path),
    ['/replyTo'],
  );

  const attachment = await p.request('POST', '/v1/messages', {
    ...base,
    to: 'ann@example.net',
    attachments: [{ filename: 'a.txt', content: 'YQ==', content_base64: 'Yg==' }],
  });
  assert.equal(attachment.status, 422);
  assert.deepEqual(
    attachment.body.errors.map((e: { path: string }) => e.path),
    ['/attachments/0/content_base64'],
  );

  const headers = await p.request('POST', '/v1/messages', {
    ...base,
    to: 'ann@example.net',
    headers: [
      { name: 'X-A', value: '1' },
      { name: 'x-a', value: '2' },
    ],
  });
  assert.equal(headers.status, 422);
  assert.deepEqual(headers.body.errors, [
    { path: '/headers/1/name', message: 'repeats the header of /headers/0; each header may be given once' },
  ]);

  const same = await p.request('POST', '/v1/messages', { ...base, to: 'ann@example.net', text_body: 'Hello' });
  assert.equal(same.status, 202, JSON.stringify(same.body));
  assert.deepEqual(same.body.warnings, [{ path: '/text_body', message: 'repeats text with the same value; read once as text' }]);
});

test('a batch names each warning with the path of its message', async (t) => {
  const p = await startPlatform(t);
  const res = await p.request('POST', '/v1/messages/batch', {
    messages: [
      { ...base, to: 'ann@example.net' },
      { ...base, to: 'bob@example.net', replyTo: 'help@example.com' },
      { ...base, to: 'cy@example.net', html: '<p>a</p>', html_body: '<p>b</p>' },
    ],
  });
  assert.equal(res.status, 202);
  assert.equal(res.body.accepted, 2);
  assert.deepEqual(res.body.messages[0].warnings, []);
  assert.deepEqual(res.body.messages[1].warnings, [{ path: '/messages/1/replyTo', message: 'read as reply_to' }]);
  assert.deepEqual(
    res.body.messages[2].error.errors.map((e: { path: string }) => e.path),
    ['/messages/2/html_body'],
  );
});
