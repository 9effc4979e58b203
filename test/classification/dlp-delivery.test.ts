import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startTlsLab } from '../transport-security/tls-lab.js';

/**
 * Issue 21, Done 4: a message carrying a valid card number is classified `pci` by the Luhn-checked
 * DLP detector at accept time, and a `pci` policy of "verified TLS only" holds it: deferred (not
 * bounced) when the sink offers no STARTTLS, delivered over verified TLS to a sink with a test-CA
 * certificate. The stored record names the rules, never the number; an invalid Luhn number does not
 * trip the check. One lab (platform, DNS server, two sinks) for the file.
 */
const CARD = '4111 1111 1111 1111'; // the classic test Visa number: passes Luhn
const NOT_A_CARD = '4111 1111 1111 1112'; // one digit off: fails Luhn

test('a pci policy of verified TLS holds card numbers to verified TLS', { timeout: 60_000 }, async (t) => {
  const lab = await startTlsLab(t, { 'plain.test': { sink: 'none' }, 'secure.test': { sink: 'ca' } });
  const p = lab.p;
  const put = await p.request('PUT', '/v1/classification/rules', {
    policies: [{ id: 'pci-verified-tls', classification: 'pci', require_tls: 'verified' }],
  });
  assert.equal(put.status, 200, JSON.stringify(put.body));
  const send = async (to: string, text: string) => {
    const res = await p.request('POST', '/v1/messages', { from: 'sender@example.com', to, subject: 'invoice', text });
    assert.equal(res.status, 202, JSON.stringify(res.body));
    return res.body.id as string;
  };

  await t.test('deferred when the sink offers no TLS', async () => {
    const id = await send('ada@plain.test', `Your card ${CARD} was charged.`);
    const outcome = await lab.outcome(id);
    assert.equal(outcome.type, 'recipient.deferred');
    assert.match(JSON.stringify(outcome.data), /4\.7\.5|TLS/);
    assert.equal(lab.sinks.get('plain.test')!.messages.length, 0, 'the sink received nothing in clear');
  });

  await t.test('delivered over verified TLS otherwise', async () => {
    const id = await send('ada@secure.test', `Your card ${CARD} was charged.`);
    const outcome = await lab.outcome(id);
    assert.equal(outcome.type, 'recipient.delivered', JSON.stringify(outcome.data));
    const attempts = await lab.attempts(id);
    assert.ok(
      attempts.some((a) => a.verification === 'pkix-valid'),
      JSON.stringify(attempts),
    );
  });

  await t.test('the stored record names the rule, not the number', async () => {
    const id = await send('bob@secure.test', `Card: ${CARD}`);
    const res = await p.request('GET', `/v1/messages/${id}`);
    assert.equal(res.status, 200);
    const c = res.body.classification;
    assert.equal(c.classification, 'pci');
    assert.deepEqual(c.policies, ['pci-verified-tls']);
    assert.equal(c.required_tls, 'verified');
    assert.deepEqual(
      c.raised_by.map((r: { rule: string }) => r.rule),
      ['dlp:card_number'],
    );
    const events = await p.platform.store.events.page({ messageId: id, limit: 20 });
    const stored = JSON.stringify({ c, events: events.map((e) => e.data), row: await p.platform.store.messages.get(id) });
    assert.doesNotMatch(stored, /4111/, 'the number is in no record');
    assert.match(JSON.stringify(events.find((e) => e.type === 'message.accepted')?.data), /pci-verified-tls/);
  });

  await t.test('an invalid Luhn number does not trip the check', async () => {
    const id = await send('cy@plain.test', `Reference ${NOT_A_CARD}`);
    const res = await p.request('GET', `/v1/messages/${id}`);
    assert.equal(res.body.classification, null);
    const outcome = await lab.outcome(id);
    assert.equal(outcome.type, 'recipient.delivered', 'opportunistic delivery in clear, as without a classification');
  });
});
