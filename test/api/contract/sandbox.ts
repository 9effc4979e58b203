import assert from 'node:assert/strict';
import type { Contract } from './harness.js';

/** The sandbox: captures, the inbox with parsed content, attachments, the signed preview, delete. */
export async function driveSandbox(c: Contract): Promise<void> {
  const { expect, p } = c;
  const { capture } = c.fixtures;
  await expect(200, 'GET', '/v1/sandbox/messages?limit=1');
  await expect(422, 'GET', '/v1/sandbox/messages?limit=0');
  await expect(200, 'GET', `/v1/sandbox/messages/${capture}`);
  await expect(404, 'GET', '/v1/sandbox/messages/cap_missing');

  const sent = await expect(200, 'POST', '/v1/messages?mode=sync&wait_ms=5000', {
    body: {
      ...c.fixtures.send,
      to: 'eve@example.net',
      subject: 'Inbox',
      html: '<p>Thanks</p>',
      attachments: [{ filename: 'r.txt', content: Buffer.from('receipt 7').toString('base64'), content_type: 'text/plain' }],
    },
  });
  assert.equal(sent.json().status, 'completed');
  const inbox = (await expect(200, 'GET', '/v1/sandbox/inbox?limit=50')).json();
  const id = inbox.data.find((x: { subject: string }) => x.subject === 'Inbox').id as string;
  await expect(422, 'GET', '/v1/sandbox/inbox?limit=0');
  const content = (await expect(200, 'GET', `/v1/sandbox/messages/${id}/content`)).json();
  await expect(404, 'GET', '/v1/sandbox/messages/cap_missing/content');
  await expect(422, 'GET', `/v1/sandbox/messages/${'x'.repeat(65)}/content`);
  await expect(200, 'GET', `/v1/sandbox/messages/${id}/attachments/0`);
  await expect(404, 'GET', `/v1/sandbox/messages/${id}/attachments/1`);
  const index = await expect(422, 'GET', `/v1/sandbox/messages/${id}/attachments/first`);
  assert.equal(index.json().errors[0].path, '/params/index');
  // The preview is public: its signed URL is the credential.
  await expect(200, 'GET', content.preview.url, { key: null });
  await expect(404, 'GET', `${content.preview.url}x`, { key: null });

  await expect(204, 'DELETE', `/v1/sandbox/messages/${id}`);
  await expect(404, 'DELETE', `/v1/sandbox/messages/${id}`);
  await expect(422, 'DELETE', `/v1/sandbox/messages/${'x'.repeat(65)}`);
  assert.ok((await p.platform.store.messages.body(sent.json().id)) !== undefined, 'the message stays: it is the record of the send');
  // Last: it empties the sandbox the other scenarios read.
  await expect(200, 'DELETE', '/v1/sandbox/messages');
}
