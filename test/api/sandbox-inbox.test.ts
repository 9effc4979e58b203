import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fakeClock } from '../support/clock.js';
import { startPlatform } from '../support/platform.js';

/** The sandbox inbox API: parsed content, the signed HTML preview and its CSP, attachments, delete and clear. */
test('a capture is parsed, its HTML served only at a signed URL with a CSP sandbox, then deleted', async (t) => {
  const clock = fakeClock(Date.now());
  const p = await startPlatform(t, { clock });
  const sent = await p.request('POST', '/v1/messages?mode=sync&wait_ms=5000', {
    from: 'Shop <shop@example.com>',
    to: ['eve@example.net', 'fay@example.net'],
    subject: 'Receipt',
    text: 'Thanks',
    html: '<p>Thanks<script>alert(1)</script></p>',
    attachments: [{ filename: 'r.txt', content: Buffer.from('receipt 7').toString('base64'), content_type: 'text/plain' }],
  });
  assert.equal(sent.body.status, 'completed');
  const inbox = await p.request('GET', '/v1/sandbox/inbox');
  assert.equal(inbox.status, 200);
  assert.deepEqual(
    inbox.body.data.map((c: { subject: string; from: string; envelope_to: string }) => [c.subject, c.from, c.envelope_to]).sort(),
    [
      ['Receipt', 'shop@example.com', 'eve@example.net'],
      ['Receipt', 'shop@example.com', 'fay@example.net'],
    ],
  );
  const id = inbox.body.data[0].id as string;

  const content = await p.request('GET', `/v1/sandbox/messages/${id}/content`);
  assert.equal(content.status, 200);
  assert.equal(content.body.subject, 'Receipt');
  assert.equal(content.body.text.trim(), 'Thanks');
  assert.equal(content.body.has_html, true);
  assert.equal(content.body.html, undefined, 'the HTML is not in the JSON');
  assert.ok(content.body.headers.some((h: { name: string }) => h.name === 'subject'));
  assert.deepEqual(content.body.attachments, [{ index: 0, filename: 'r.txt', content_type: 'text/plain', size: 9, content_id: null }]);

  // The preview needs no Bearer (an iframe cannot send one) and carries its own CSP.
  const preview = await fetch(`${p.url}${content.body.preview.url}`);
  assert.equal(preview.status, 200);
  assert.match(await preview.text(), /<script>alert\(1\)<\/script>/);
  const csp = preview.headers.get('content-security-policy') ?? '';
  assert.match(csp, /^sandbox; default-src 'none'/);
  assert.doesNotMatch(csp, /http/);
  assert.match(
    (await fetch(`${p.url}${content.body.preview.remote_url}`)).headers.get('content-security-policy') ?? '',
    /img-src data: https: http:/,
  );
  // A forged or expired token is refused.
  const [body, mac] = content.body.preview.url.split('/').pop().split('.');
  assert.equal((await fetch(`${p.url}/sandbox-preview/${body}.${mac.slice(1)}x`)).status, 404);
  clock.advance(11 * 60_000);
  assert.equal((await fetch(`${p.url}${content.body.preview.url}`)).status, 404);

  const file = await fetch(`${p.url}/v1/sandbox/messages/${id}/attachments/0`, { headers: { authorization: `Bearer ${p.key}` } });
  assert.equal(file.headers.get('content-disposition'), 'attachment; filename="r.txt"');
  assert.equal(await file.text(), 'receipt 7');
  assert.equal((await p.request('GET', `/v1/sandbox/messages/${id}/attachments/1`)).status, 404);

  assert.equal((await p.request('DELETE', `/v1/sandbox/messages/${id}`)).status, 204);
  assert.equal((await p.request('GET', `/v1/sandbox/messages/${id}/content`)).status, 404);
  assert.equal((await p.request('DELETE', `/v1/sandbox/messages/${id}`)).status, 404);
  // The message and its events stay: they are the record of the send.
  assert.equal((await p.request('GET', `/v1/messages/${sent.body.id}`)).status, 200);
  assert.deepEqual((await p.request('DELETE', '/v1/sandbox/messages')).body, { deleted: 1 });
  assert.deepEqual((await p.request('GET', '/v1/sandbox/inbox')).body.data, []);
});

test('without a built dashboard, / says how to build it and the API still works', async (t) => {
  const p = await startPlatform(t, { config: { server: { dashboardDir: '/nonexistent/web' } } });
  const res = await fetch(`${p.url}/`);
  assert.equal(res.status, 503);
  assert.match(await res.text(), /npm run build:web/);
  assert.equal((await p.request('GET', '/v1/tenant')).status, 200);
});
