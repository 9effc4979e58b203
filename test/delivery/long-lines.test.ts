import assert from 'node:assert/strict';
import { test } from 'node:test';
import { simpleParser } from 'mailparser';
import { startDeliveryLab, waitUntil } from '../support/delivery-lab.js';
import { longestLine, publishDkim, submitRaw, verifyDkim } from '../support/interop-mail.js';
import { startPlatform } from '../support/platform.js';

/**
 * RFC 5322 §2.1.1: no line over 998 characters leaves the platform. A header value without spaces
 * from the API is written as RFC 2047 encoded-words (it reads the same once decoded); a structured
 * field that cannot be folded is refused with its field path; a long body line from submission is
 * re-encoded before signing. Every copy verifies as DKIM pass (mailauth).
 */
test('API header values of 1,201 and 3,001 characters without spaces arrive folded, whole and DKIM pass', {
  timeout: 60_000,
}, async (t) => {
  const lab = await startDeliveryLab(t, { 'dest.test': {} });
  const p = await startPlatform(t, { config: { sandbox: false, ...lab.config } });
  await publishDkim(p, lab.dns);
  const long1 = 'a'.repeat(1201);
  const long3 = `${'b'.repeat(1500)}€${'c'.repeat(1500)}`;
  const subject = 's'.repeat(995); // the API caps a subject at 998; with 'Subject: ' it is too long for a line
  const res = await p.request('POST', '/v1/messages?mode=sync&wait_ms=10000', {
    from: 'hello@example.com',
    to: 'ann@dest.test',
    subject,
    text: 'Hello',
    headers: { 'X-Long-One': long1, 'X-Long-Three': long3, 'X-Short': 'fine as it is' },
  });
  assert.equal(res.body.recipients?.[0]?.state, 'delivered', JSON.stringify(res.body));
  const sink = lab.sinks.get('dest.test')!;
  await waitUntil('the copy arrived', () => sink.messages.length === 1, 10_000);
  const raw = sink.messages[0]!.raw;
  assert.ok(longestLine(raw) <= 998, `longest line ${longestLine(raw)}`);
  assert.deepEqual(await verifyDkim(raw, lab.dns), [['example.com', 'pass']]);
  const parsed = await simpleParser(raw);
  // mailparser leaves extension fields as they are: decode the encoded-words here (RFC 2047 §6).
  assert.equal(decodeWords(String(parsed.headers.get('x-long-one'))), long1);
  assert.equal(decodeWords(String(parsed.headers.get('x-long-three'))), long3);
  assert.equal(parsed.subject, subject);
  assert.match(raw.toString('latin1'), /^X-Short: fine as it is\r$/m, 'a header that fits is not encoded');
});

/** UTF-8 Q encoded-words, adjacent ones joined (the whitespace between them is not part of the text). */
function decodeWords(value: string): string {
  const joined = value.replace(/\?=\s+=\?/g, '?==?');
  return joined.replace(/=\?UTF-8\?Q\?([^?]*)\?=/gi, (_, q: string) =>
    Buffer.from(
      q.replace(/_/g, ' ').replace(/=([0-9A-F]{2})/gi, (_m, h: string) => String.fromCharCode(Number.parseInt(h, 16))),
      'latin1',
    ).toString('utf8'),
  );
}

test('a structured header too long to fold is refused with its field path, and nothing is stored', async (t) => {
  const p = await startPlatform(t);
  const res = await p.request('POST', '/v1/messages', {
    from: 'hello@example.com',
    to: 'ann@example.net',
    subject: 's',
    text: 't',
    headers: { References: `<${'r'.repeat(1201)}@example.com>` },
  });
  assert.equal(res.status, 422, JSON.stringify(res.body));
  assert.equal(res.body.code, 'VALIDATION_FAILED');
  assert.equal(res.body.errors[0].path, '/headers/References');
  assert.match(res.body.errors[0].message, /cannot be folded/);
  assert.equal((await p.request('GET', '/v1/messages')).body.data.length, 0);
});

test('a 2,100-character body line from submission is re-encoded before signing and arrives whole', { timeout: 60_000 }, async (t) => {
  const lab = await startDeliveryLab(t, { 'dest.test': {} });
  const p = await startPlatform(t, { config: { sandbox: false, ...lab.config } });
  await publishDkim(p, lab.dns);
  const line = 'x'.repeat(2100);
  const raw = Buffer.from(
    [
      'From: hello@example.com',
      'To: ann@dest.test',
      'Subject: long line',
      'Message-ID: <long-1@example.com>',
      '',
      'before',
      line,
      'after',
      '',
    ].join('\r\n'),
  );
  assert.match(await submitRaw(p, { from: 'hello@example.com', to: ['ann@dest.test'], raw }), /^250/);
  const sink = lab.sinks.get('dest.test')!;
  await waitUntil('the copy arrived', () => sink.messages.length === 1, 20_000);
  const got = sink.messages[0]!.raw;
  assert.ok(longestLine(got) <= 998, `longest line ${longestLine(got)}`);
  assert.match(got.toString('latin1'), /^Content-Transfer-Encoding: quoted-printable\r$/m);
  assert.deepEqual(await verifyDkim(got, lab.dns), [['example.com', 'pass']]);
  assert.equal((await simpleParser(got)).text?.replace(/\r\n/g, '\n').trimEnd(), `before\n${line}\nafter`);
});
