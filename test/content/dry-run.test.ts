import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startDnsServer } from '../support/dns-server.js';
import { startPlatform } from '../support/platform.js';
import { startSmtpSink } from '../support/smtp-sink.js';

/**
 * Done-means 2 of issue 20, second half: the MIME a dry run answers is what the receiving server
 * then gets for the same request, byte for byte, apart from what differs by run:
 * - `Date` (the clock at accept) and `Message-ID` (a new message id per accept, `<msg_…@host>`):
 *   both values are masked on both sides;
 * - in DKIM-Signature, `t=` (signing time) and `b=` (the dry run leaves the signature out):
 *   masked; everything else of the field (d=, s=, a=, c=, h=, bh=) must match.
 * Multipart boundaries are not random (a digest of the content, compose.ts), so they match as they
 * are. The message is a template send with HTML, a generated text part and an attachment, signed
 * with a published DKIM key, delivered to a loopback sink found through the loopback DNS.
 */
function masked(mime: string): string {
  return mime
    .replace(/^(Date|Message-ID): .*$/gim, '$1: <masked>')
    .replace(/^DKIM-Signature:.*(?:\r\n[ \t].*)*/gim, (field) =>
      field.replace(/([;\s]t=)\d+/, '$1<masked>').replace(/([;\s]b=)[\s\S]*$/, '$1<masked>'),
    );
}

test('the dry run shows the MIME the sink then receives, apart from Date, Message-ID and the signature', { timeout: 60_000 }, async (t) => {
  const sink = await startSmtpSink(t);
  const dns = await startDnsServer(t, {
    'dest.test': { MX: [{ priority: 10, exchange: 'mx.dest.test' }] },
    'mx.dest.test': { A: ['127.0.0.1'] },
  });
  const p = await startPlatform(t, {
    config: { sandbox: false, dns: { servers: [dns.address] }, delivery: { portMap: { 'mx.dest.test': sink.port } } },
  });
  // Publish the domain's DKIM record and activate the key, as a verified domain would have it.
  const domainId = (await p.request('GET', '/v1/domains')).body.data[0].id;
  const records = (await p.request('GET', `/v1/domains/${domainId}`)).body.dns_records.filter((r: { kind: string }) => r.kind === 'dkim');
  dns.setZone({ ...dns.zone, ...Object.fromEntries(records.map((r: { name: string; value: string }) => [r.name, { TXT: [r.value] }])) });
  const keys = await p.platform.domains.activatePublished(['example.com']);
  assert.ok(keys >= 1);

  const tpl = await p.request('POST', '/v1/templates', {
    name: 'receipt',
    subject: 'Receipt {{ n }} for {{ name }}',
    html: `<style>td { padding: 4px }</style><table><tr><td>Hello {{ name }}, thank you for order {{ n }}.</td></tr></table>${'<p>Line of the receipt with enough words to wrap and encode. Ünïcödé too.</p>'.repeat(20)}`,
  });
  assert.equal((await p.request('POST', `/v1/templates/${tpl.body.id}/publish`, {})).status, 200);
  const request = {
    from: 'Acme <hello@example.com>',
    to: 'Ann <ann@dest.test>',
    cc: 'bob@dest.test',
    reply_to: 'support@example.com',
    headers: { 'X-Order': '1234' },
    template: { id: 'receipt', data: { name: 'Ann', n: 1234 } },
    attachments: [{ filename: 'receipt.txt', content: Buffer.from('total: 12.00 EUR\n').toString('base64'), content_type: 'text/plain' }],
  };

  const dry = await p.request('POST', '/v1/messages/dry-run', request);
  assert.equal(dry.status, 200, JSON.stringify(dry.body));
  assert.equal(dry.body.dkim.length, keys, 'every active key would sign');
  assert.match(
    dry.body.mime,
    /^DKIM-Signature: v=1; a=rsa-sha256;[\s\S]*?[;\s]b=\r\n(?![ \t])/,
    'signed fields shown, the signature left out',
  );
  assert.deepEqual(dry.body.template, { id: tpl.body.id, name: 'receipt', version: 1, locale: 'en' });
  assert.equal(await p.platform.store.messages.count(), 0, 'the dry run stored nothing');
  assert.equal(sink.messages.length, 0, 'and sent nothing');

  const sent = await p.request('POST', '/v1/messages?mode=sync', request);
  assert.deepEqual(
    sent.body.recipients.map((r: { state: string }) => r.state),
    ['delivered', 'delivered'],
    JSON.stringify(sent.body),
  );
  // Each recipient's copy is the same stored message, signed once per wire form.
  assert.equal(sink.messages.length, 2);
  for (const m of sink.messages) {
    const received = m.raw.toString('utf8');
    assert.match(received, /^DKIM-Signature: v=1; a=rsa-sha256;[\s\S]*?[;\s]b=[A-Za-z0-9+/]/, 'what was delivered is signed');
    assert.equal(masked(dry.body.mime), masked(received));
  }
  // The masks hide only what they say: the two differ in those values and nowhere else.
  assert.notEqual(dry.body.mime, sink.messages[0]!.raw.toString('utf8'));
});
