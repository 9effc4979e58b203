import assert from 'node:assert/strict';
import { type Contract, holdIdempotencyKey } from './harness.js';

/**
 * The drop-in endpoints answer in their providers' shapes and present keys their providers' way,
 * so the shared loops (problem+json, Bearer) pass them by: each status is driven here, and 429, 500
 * and 503 in the failing-services runs with the inputs registered below.
 */
export async function driveCompat(c: Contract): Promise<void> {
  const { expect, p } = c;
  const unknownKey = `pw_${'0'.repeat(40)}`;

  const postmark = { From: 'sender@example.com', To: 'receiver@example.net', Subject: 'Hi', TextBody: 'Hello' };
  const token = (key: string) => ({ 'x-postmark-server-token': key });
  for (const [path, body] of [
    ['/compat/postmark/email', postmark],
    ['/compat/postmark/email/batch', [postmark]],
  ] as const) {
    await expect(200, 'POST', path, { body, key: null, headers: token(p.key) });
    const missing = await expect(401, 'POST', path, { body, key: null });
    assert.equal(missing.json().ErrorCode, 10);
    c.input(`POST ${path}`, { body, key: null, headers: token });
  }
  const noFrom = await expect(422, 'POST', '/compat/postmark/email', {
    body: { ...postmark, From: undefined },
    key: null,
    headers: token(p.key),
  });
  assert.equal(noFrom.json().ErrorCode, 300);
  const tooMany = await expect(422, 'POST', '/compat/postmark/email/batch', {
    body: Array.from({ length: 501 }, () => postmark),
    key: null,
    headers: token(p.key),
  });
  assert.equal(tooMany.json().ErrorCode, 410);

  const resend = { from: 'onboarding@example.com', to: 'delivered@example.net', subject: 'hello world', text: 'it works!' };
  await expect(200, 'POST', '/compat/resend/emails', { body: resend });
  await expect(400, 'POST', '/compat/resend/emails', { raw: { type: 'application/json', data: '{"unfinished' } });
  assert.equal((await expect(401, 'POST', '/compat/resend/emails', { body: resend, key: null })).json().name, 'missing_api_key');
  assert.equal((await expect(403, 'POST', '/compat/resend/emails', { body: resend, key: unknownKey })).json().name, 'invalid_api_key');
  const resendHeld = await holdIdempotencyKey(p, '/compat/resend/emails', resend);
  await expect(409, 'POST', '/compat/resend/emails', { body: resend, headers: { 'idempotency-key': resendHeld } });
  const noSubject = await expect(422, 'POST', '/compat/resend/emails', { body: { ...resend, subject: undefined } });
  assert.equal(noSubject.json().name, 'missing_required_field');
  c.input('POST /compat/resend/emails', { body: resend });

  const ses = {
    FromEmailAddress: 'sender@example.com',
    Destination: { ToAddresses: ['recipient@example.net'] },
    Content: { Simple: { Subject: { Data: 'Test email' }, Body: { Text: { Data: 'Hello from SES v2' } } } },
  };
  const sesPath = '/compat/ses/v2/email/outbound-emails';
  await expect(200, 'POST', sesPath, { body: ses });
  const noDestination = await expect(400, 'POST', sesPath, { body: { ...ses, Destination: undefined } });
  assert.equal(noDestination.json().__type, 'BadRequestException');
  assert.equal((await expect(403, 'POST', sesPath, { body: ses, key: null })).json().__type, 'MissingAuthenticationTokenException');
  const sesHeld = await holdIdempotencyKey(p, sesPath, ses);
  assert.equal(
    (await expect(409, 'POST', sesPath, { body: ses, headers: { 'idempotency-key': sesHeld } })).json().__type,
    'ConflictException',
  );
  c.input(`POST ${sesPath}`, { body: ses });
}
