import assert from 'node:assert/strict';
import { test } from 'node:test';
import { simpleParser } from 'mailparser';
import { wireForm } from '../../src/delivery/wire-form.js';
import { startDeliveryLab, waitUntil } from '../support/delivery-lab.js';
import { longestLine, publishDkim, submitRaw, verifyDkim } from '../support/interop-mail.js';
import { startPlatform } from '../support/platform.js';

/**
 * The wire form of a message (RFC 6152 8BITMIME, RFC 5322 §2.1.1 line length) through loopback
 * sinks that offer 8BITMIME or not: an 8-bit body goes out as is with BODY=8BITMIME where offered,
 * and converted to 7-bit before signing where not; a 2,100-character body line never goes out.
 * Every copy verifies as DKIM pass with mailauth.
 */
const text = `Grüße aus Köln, ça va? Ünïcödé all the way.\r\n${'ß'.repeat(10)}\r\n`;
const longLine = 'L'.repeat(2100);
const eightBitMessage = Buffer.from(
  [
    'From: Acme <hello@example.com>',
    'To: ann@eight.test, bob@seven.test',
    'Subject: 8-bit body',
    'Message-ID: <8bit-1@example.com>',
    'Date: Sun, 06 Dec 2026 07:00:00 +0000',
    'MIME-Version: 1.0',
    'Content-Type: multipart/mixed; boundary="b1"',
    '',
    '--b1',
    'Content-Type: text/plain; charset=utf-8',
    'Content-Transfer-Encoding: 8bit',
    '',
    text,
    '--b1',
    'Content-Type: text/plain; charset=us-ascii',
    '',
    longLine,
    '--b1',
    'Content-Type: application/octet-stream',
    'Content-Disposition: attachment; filename="a.bin"',
    'Content-Transfer-Encoding: base64',
    '',
    Buffer.from('attachment bytes').toString('base64'),
    '--b1--',
    '',
  ].join('\r\n'),
  'utf8',
);

test('an 8-bit body goes with BODY=8BITMIME where offered and as 7-bit where not, both DKIM pass, no line over 998', {
  timeout: 60_000,
}, async (t) => {
  const lab = await startDeliveryLab(t, { 'eight.test': {}, 'seven.test': { eightBitMime: false } });
  const p = await startPlatform(t, { config: { sandbox: false, ...lab.config } });
  await publishDkim(p, lab.dns);
  const reply = await submitRaw(p, {
    from: 'hello@example.com',
    to: ['ann@eight.test', 'bob@seven.test'],
    raw: eightBitMessage,
    eightBit: true,
  });
  assert.match(reply, /^250/);
  const eight = lab.sinks.get('eight.test')!;
  const seven = lab.sinks.get('seven.test')!;
  await waitUntil('both copies arrived', () => eight.messages.length === 1 && seven.messages.length === 1, 20_000);

  const e = eight.messages[0]!;
  assert.equal(e.body, '8BITMIME');
  assert.ok(e.raw.includes(Buffer.from('Grüße aus Köln')), 'the 8-bit text goes as it was submitted');
  const s = seven.messages[0]!;
  assert.equal(s.body, null);
  assert.ok(!/[\x80-\xff]/.test(s.raw.toString('latin1')), 'no 8-bit byte toward a receiver without 8BITMIME');

  for (const m of [e, s]) {
    assert.ok(longestLine(m.raw) <= 998, `longest line ${longestLine(m.raw)}`);
    assert.deepEqual(await verifyDkim(m.raw, lab.dns), [['example.com', 'pass']]);
    // Whole: the same text and attachment, whatever the encoding.
    const parsed = await simpleParser(m.raw);
    const lf = (x: string | undefined) => x?.replace(/\r\n/g, '\n').trimEnd();
    assert.equal(lf(parsed.text), lf(`${text}\n${longLine}`));
    assert.equal(parsed.attachments[0]?.content.toString(), 'attachment bytes');
  }
});

test('the wire form re-encodes only the parts that need it and leaves a 7-bit message byte for byte', () => {
  const plain = Buffer.from('From: a@example.com\r\nSubject: x\r\n\r\nshort lines only\r\n');
  for (const eightBitMime of [true, false]) {
    const w = wireForm(plain, { eightBitMime });
    assert.equal(w.raw, plain);
    assert.equal(w.reencoded, 0);
    assert.equal(w.eightBit, false);
  }
  const native = wireForm(eightBitMessage, { eightBitMime: true });
  // The long line forces quoted-printable on its part even where 8-bit may pass; the 8-bit part stays.
  assert.equal(native.reencoded, 1);
  assert.equal(native.eightBit, true);
  assert.equal(wireForm(eightBitMessage, { eightBitMime: false }).reencoded, 2);
  assert.ok(native.raw.includes(Buffer.from(Buffer.from('attachment bytes').toString('base64'))), 'the base64 part is untouched');
  const only8bit = Buffer.from('From: a@example.com\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nGrüße\r\n', 'utf8');
  assert.equal(wireForm(only8bit, { eightBitMime: true }).raw, only8bit);
  const seven = wireForm(only8bit, { eightBitMime: false });
  assert.equal(
    seven.raw.toString(),
    'From: a@example.com\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\nMIME-Version: 1.0\r\n\r\nGr=C3=BC=C3=9Fe\r\n',
  );
});
