import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startDeliveryLab } from '../support/delivery-lab.js';
import { forEachDialect } from '../support/dialects.js';
import { startPlatform } from '../support/platform.js';

/**
 * A hard bounce the receiving MX gives during our own SMTP transaction suppresses the address by
 * the same rule as an asynchronous DSN (docs/suppression.md): the bounce event and the suppression
 * citing it are stored together, and the next send to the address answers `suppressed`.
 */
const unknownUser = { reply: { code: 550, enhanced: '5.1.1', text: 'User unknown' } };
const full = { reply: { code: 552, enhanced: '5.2.2', text: 'Mailbox full' } };

async function lab(t: Parameters<typeof startDeliveryLab>[0]) {
  return startDeliveryLab(t, {
    'dest.test': {
      recipients: [
        { match: 'gone@dest.test', ...unknownUser },
        { match: 'full@dest.test', ...full },
      ],
    },
  });
}

forEachDialect(
  'a 550 5.1.1 at RCPT suppresses the address in the same transaction as its bounce, and the next send answers suppressed',
  async (t, dialect) => {
    const l = await lab(t);
    const p = await startPlatform(t, { dialect, config: { sandbox: false, ...l.config } });
    const first = await p.request('POST', '/v1/messages?mode=sync&wait_ms=10000', {
      from: 'a@example.com',
      to: ['gone@dest.test', 'ok@dest.test'],
      subject: 's',
      text: 't',
    });
    const byEmail = new Map(first.body.recipients.map((r: { email: string; state: string }) => [r.email, r.state]));
    assert.equal(byEmail.get('gone@dest.test'), 'bounced', JSON.stringify(first.body));
    assert.equal(byEmail.get('ok@dest.test'), 'delivered');

    const view = await p.request('GET', `/v1/messages/${first.body.id}`);
    const bounced = view.body.events.find((e: { type: string }) => e.type === 'recipient.bounced');
    assert.equal(bounced.data.category, 'bad_mailbox');
    assert.equal(bounced.data.hard, true);

    const list = await p.request('GET', '/v1/suppressions');
    assert.equal(list.status, 200);
    assert.deepEqual(
      list.body.data.map((s: { address: string; reason: string; scope: string }) => [s.address, s.reason, s.scope]),
      [['gone@dest.test', 'hard_bounce', 'tenant']],
    );
    // The entry cites the bounce event that caused it, as an asynchronous bounce's does.
    assert.equal(list.body.data[0].source, bounced.id);

    const again = await p.request('POST', '/v1/messages?mode=sync&wait_ms=10000', {
      from: 'a@example.com',
      to: 'gone@dest.test',
      subject: 's',
      text: 't',
    });
    assert.equal(again.body.recipients[0].state, 'suppressed', JSON.stringify(again.body));
    assert.equal(l.sinks.get('dest.test')!.attemptsByRecipient.get('gone@dest.test'), 1);
  },
  test,
);

test('a soft bounce during the transaction does not suppress, and a tenant that turned hard-bounce suppression off is obeyed', async (t) => {
  const l = await lab(t);
  const p = await startPlatform(t, { config: { sandbox: false, ...l.config } });
  const send = (to: string) =>
    p.request('POST', '/v1/messages?mode=sync&wait_ms=10000', { from: 'a@example.com', to, subject: 's', text: 't' });
  assert.equal((await send('full@dest.test')).body.recipients[0].state, 'bounced');
  const policy = await p.request('PUT', '/v1/suppressions/policy', { suppress_on: { hard_bounce: false, complaint: true } });
  assert.equal(policy.status, 200, JSON.stringify(policy.body));
  assert.equal((await send('gone@dest.test')).body.recipients[0].state, 'bounced');
  assert.deepEqual((await p.request('GET', '/v1/suppressions')).body.data, []);
  assert.equal((await send('gone@dest.test')).body.recipients[0].state, 'bounced');
});
