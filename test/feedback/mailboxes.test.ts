import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decideMailbox, type MailboxPolicy } from '../../src/feedback/index.js';
import { encodeVerp } from '../../src/identity/index.js';

/** RCPT-time decisions of the inbound MX (feedback/mailboxes.ts), table-driven, no I/O. */
const key = 'k'.repeat(32);
const oldKey = 'o'.repeat(32);
const ids = { messageId: 'msg_01JC0K7Q9V3R6ZP8M2N4T5W7XY', recipientId: 'rcp_01JC0K7Q9V3R6ZP8M2N4T5W7XZ' };
const policy: MailboxPolicy = {
  reportDomain: 'mx.platform.test',
  bounceLabel: 'bounces',
  verpKeys: [key, oldKey],
  findRegisteredDomain: async (names) => names.find((n) => n === 'example.com'),
};
const verp = (domain: string, k = key) => encodeVerp({ ...ids, bounceDomain: domain }, k);

test('a VERP address under a registered domain (or its subdomain) is accepted with the ids it names', async () => {
  for (const domain of ['bounces.example.com', 'bounces.mail.example.com']) {
    const d = await decideMailbox(verp(domain), policy);
    assert.deepEqual(d, { accept: true, mailbox: 'verp', ...ids, domain });
  }
});

test('an address signed with the previous key still verifies (rotation), case folded by a provider too', async () => {
  assert.equal((await decideMailbox(verp('bounces.example.com', oldKey), policy)).accept, true);
  assert.equal((await decideMailbox(verp('bounces.example.com').toUpperCase(), policy)).accept, true);
});

test('forged, malformed or foreign-keyed VERP at our bounce domain is an unknown mailbox, never relay', async () => {
  const good = verp('bounces.example.com');
  const at = good.indexOf('@');
  const cases = [
    `${good.slice(0, at - 1)}${good[at - 1] === '0' ? '1' : '0'}${good.slice(at)}`,
    'b-short@bounces.example.com',
    'alice@bounces.example.com',
    verp('bounces.example.com', 'x'.repeat(32)),
    // Signed for another domain: the MAC covers the bounce domain.
    `${verp('bounces.other.example').split('@')[0]}@bounces.example.com`,
  ];
  for (const address of cases) {
    const d = await decideMailbox(address, policy);
    assert.equal(d.accept, false, address);
    assert.equal(!d.accept && d.reason, 'unknown_mailbox', address);
  }
});

test('report mailboxes and postmaster are accepted; other domains are relay denied', async () => {
  const accepted = await Promise.all(
    [
      'dmarc@mx.platform.test',
      'TLS-RPT@MX.Platform.Test',
      'fbl@mx.platform.test',
      'postmaster@mx.platform.test',
      'Postmaster@bounces.example.com',
    ].map(async (a) => [a, (await decideMailbox(a, policy)).accept]),
  );
  assert.deepEqual(
    accepted.filter(([, ok]) => !ok),
    [],
  );
  for (const [address, reason] of [
    ['abuse@mx.platform.test', 'unknown_mailbox'],
    ['alice@example.com', 'relay'],
    [verp('bounces.not-ours.example'), 'relay'],
    ['dmarc@example.com', 'relay'],
    ['bounces.example.com', 'relay'],
  ] as const) {
    const d = await decideMailbox(address, policy);
    assert.deepEqual([d.accept, !d.accept && d.reason], [false, reason], address);
  }
});
