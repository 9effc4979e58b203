import assert from 'node:assert/strict';
import { test } from 'node:test';
import { simpleParser } from 'mailparser';
import { startDnsServer } from '../support/dns-server.js';
import { longestLine, publishDkim, submitRaw } from '../support/interop-mail.js';
import { startPlatform } from '../support/platform.js';
import { POSTFIX_ADDRESS, postfixUnavailable, reservePostfixPort, startPostfixPeer } from '../support/postfix-peer.js';
import { startSmtpSink } from '../support/smtp-sink.js';

/**
 * Interop with a real receiving MTA: Postwarden delivers to a private Postfix on 127.0.0.9 with
 * OpenDKIM verifying as a milter (test/support/postfix-peer.ts); Postfix relays what it accepts to a
 * loopback sink, where each copy is read back. Plain, HTML with an attachment, UTF-8, 8-bit
 * (submitted with BODY=8BITMIME) and a long header: each arrives whole, over TLS 1.3, with
 * OpenDKIM's `dkim=pass`. Postfix's own `550 5.1.1` for an unknown recipient suppresses the address,
 * and the next send to it answers `suppressed`.
 */
const unavailable = await postfixUnavailable();

test('mail delivered to a real Postfix arrives whole with OpenDKIM dkim=pass; its 550 5.1.1 suppresses', {
  timeout: 120_000,
  skip: unavailable ? `real Postfix interop skipped: ${unavailable}` : false,
}, async (t) => {
  const sink = await startSmtpSink(t);
  const dns = await startDnsServer(t, {
    'dest.test': { MX: [{ priority: 10, exchange: 'mx.dest.test' }] },
    'mx.dest.test': { A: [POSTFIX_ADDRESS] },
  });
  // The platform first (its DKIM key is made with the harness domain), then Postfix knowing the key.
  const port = await reservePostfixPort();
  const p = await startPlatform(t, {
    config: { sandbox: false, dns: { servers: [dns.address] }, delivery: { portMap: { 'mx.dest.test': port } } },
  });
  // Published in DNS too: the platform signs only with a key it sees published.
  const records = await publishDkim(p, dns);
  assert.ok(records.length >= 1);
  const postfix = await startPostfixPeer(t, {
    domain: 'dest.test',
    recipients: ['ann@dest.test'],
    port,
    relayPort: sink.port,
    dkimRecords: records,
  });

  const send = async (body: Record<string, unknown>) => {
    const res = await p.request('POST', '/v1/messages?mode=sync&wait_ms=30000', {
      from: 'Acme <hello@example.com>',
      to: 'ann@dest.test',
      ...body,
    });
    assert.equal(res.body.status, 'completed', `${JSON.stringify(res.body)}\n${postfix.log()}`);
    return res;
  };
  const pdf = Buffer.from('%PDF-1.4\n% not a real pdf, but bytes that must survive\n\x00\x01\x02\xff', 'latin1');
  const longHeader = 'z'.repeat(1201);
  const cases: { name: string; send: () => Promise<void>; check: (m: Awaited<ReturnType<typeof simpleParser>>) => void }[] = [
    {
      name: 'plain',
      send: async () => void (await send({ subject: 'plain', text: 'Just text.\n', headers: { 'X-Case': 'plain' } })),
      check: (m) => assert.equal(m.text?.trim(), 'Just text.'),
    },
    {
      name: 'html+attachment',
      send: async () =>
        void (await send({
          subject: 'html+attachment',
          headers: { 'X-Case': 'html+attachment' },
          html: '<p>Hello <b>there</b></p>',
          text: 'Hello there',
          attachments: [{ filename: 'doc.pdf', content: pdf.toString('base64'), content_type: 'application/pdf' }],
        })),
      check: (m) => {
        assert.match(String(m.html), /<p>Hello <b>there<\/b><\/p>/);
        assert.equal(m.attachments.length, 1);
        assert.deepEqual(m.attachments[0]!.content, pdf);
      },
    },
    {
      name: 'utf-8',
      send: async () => void (await send({ subject: 'utf-8 Grüße ✓', text: 'Привет, 世界, emoji 📬\n', headers: { 'X-Case': 'utf-8' } })),
      check: (m) => {
        assert.equal(m.subject, 'utf-8 Grüße ✓');
        assert.equal(m.text?.trim(), 'Привет, 世界, emoji 📬');
      },
    },
    {
      name: '8-bit',
      send: async () => {
        const raw = Buffer.from(
          [
            'From: hello@example.com',
            'To: ann@dest.test',
            'Subject: 8-bit',
            'X-Case: 8-bit',
            'Message-ID: <pf-8bit@example.com>',
            'MIME-Version: 1.0',
            'Content-Type: text/plain; charset=utf-8',
            'Content-Transfer-Encoding: 8bit',
            '',
            'Grüße aus Köln, 8-bit on the wire.',
            '',
          ].join('\r\n'),
          'utf8',
        );
        assert.match(await submitRaw(p, { from: 'hello@example.com', to: ['ann@dest.test'], raw, eightBit: true }), /^250/);
      },
      check: (m) => assert.equal(m.text?.trim(), 'Grüße aus Köln, 8-bit on the wire.'),
    },
    {
      name: 'long header',
      send: async () =>
        void (await send({ subject: 'long header', text: 'x', headers: { 'X-Case': 'long header', 'X-Long': longHeader } })),
      check: (m) => assert.match(String(m.headers.get('x-long')), /^=\?UTF-8\?Q\?z+\?=/),
    },
  ];
  for (const c of cases) await c.send();
  const arrived = await sink.waitFor(cases.length, 60_000).catch((e) => {
    throw new Error(`${(e as Error).message}\n--- postfix/opendkim log ---\n${postfix.log()}`);
  });
  for (const c of cases) {
    const copy = arrived.find((m) => m.raw.toString('latin1').includes(`\r\nX-Case: ${c.name}\r\n`));
    assert.ok(copy, `${c.name}: no copy arrived`);
    const text = copy.raw.toString('latin1');
    const ar = text.match(/^Authentication-Results: mx\.dest\.test;.*(?:\r?\n[ \t].*)*/m)?.[0] ?? '';
    assert.match(ar, /dkim=pass/, `${c.name}: OpenDKIM says ${ar || 'nothing'}\n${postfix.log()}`);
    assert.doesNotMatch(ar, /dkim=(fail|neutral|permerror|temperror)/, `${c.name}: ${ar}`);
    assert.match(text, /using TLSv1\.3/, `${c.name}: not received over TLS 1.3`);
    assert.ok(longestLine(copy.raw) <= 998, `${c.name}: a line of ${longestLine(copy.raw)} characters`);
    if (c.name === '8-bit') assert.equal(copy.body, '8BITMIME', 'Postfix offered 8BITMIME: the 8-bit body is declared and relayed as such');
    c.check(await simpleParser(copy.raw));
  }

  // Postfix's own refusal of an unknown recipient, at RCPT.
  const gone = await send({ to: 'gone@dest.test', subject: 'unknown', text: 'x' });
  assert.equal(gone.body.recipients[0].state, 'bounced', JSON.stringify(gone.body));
  const view = await p.request('GET', `/v1/messages/${gone.body.id}`);
  const bounced = view.body.events.find((e: { type: string }) => e.type === 'recipient.bounced');
  assert.match(bounced.data.reply, /^550 5\.1\.1 /);
  assert.equal(bounced.data.category, 'bad_mailbox');
  const again = await send({ to: 'gone@dest.test', subject: 'unknown again', text: 'x' });
  assert.equal(again.body.recipients[0].state, 'suppressed', JSON.stringify(again.body));
});
