import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LEDGER_NAME } from '../../src/reputation/index.js';
import { arf, rcpt, type Sent, verpOf } from '../feedback/documents.js';
import { startDeliveryLab, waitUntil } from '../support/delivery-lab.js';
import { deliverToMx } from '../support/mx-client.js';
import { startPlatform, type TestPlatform } from '../support/platform.js';

/**
 * Done-means 5 of issue #16: the ledger is rebuilt exactly by replaying the spine. Real traffic over
 * loopback (sinks that accept, defer once, refuse a mailbox, block the sender) and a complaint (ARF)
 * through the inbound MX feed the live ledger; then the ledger is emptied and the spine replayed,
 * once in pages as large as the live consumer's and once in pages of 7 events, and every row must
 * come back equal.
 */

async function settle(p: TestPlatform): Promise<void> {
  await waitUntil('every recipient is final', async () => (await p.platform.store.recipients.countOpen()) === 0, 30_000);
}

async function ledgerCaughtUp(p: TestPlatform): Promise<void> {
  const store = p.platform.store;
  await waitUntil(
    'the ledger consumer reached the end of the spine',
    async () => (await store.consumerCursors.get(LEDGER_NAME)) === (await store.events.lastCursor()),
    10_000,
  );
}

test('replaying the events spine into an empty ledger reproduces the live ledger exactly', { timeout: 90_000 }, async (t) => {
  const lab = await startDeliveryLab(t, {
    'ok.test': {},
    'slow.test': { default: { deferTimes: 1 } },
    'gone.test': { default: { reply: { code: 550, enhanced: '5.1.1', text: 'no such user' } } },
    'block.test': {
      default: {
        reply: { code: 554, enhanced: '5.7.1', text: 'Service unavailable; client host [127.0.0.1] blocked using zen.spamhaus.org' },
      },
    },
  });
  const p = await startPlatform(t, {
    config: {
      sandbox: false,
      ...lab.config,
      delivery: { ...lab.config.delivery, retryMinutes: [0.001], commandTimeoutMs: 5000, dataTimeoutMs: 5000 },
      // Small numbers, so this run crosses lines and the ledger announces state changes.
      reputation: { pollMs: 50, minVolume: 1, warmupDeliveries: 10 },
    },
  });
  const to = ['a@ok.test', 'b@ok.test', 'c@ok.test', 'd@slow.test', 'e@gone.test', 'f@block.test'];
  const send = async (stream: string, rcpts: string[]): Promise<Sent> => {
    const res = await p.request('POST', '/v1/messages', {
      from: 'news@example.com',
      to: rcpts,
      subject: 'November update',
      text: 'Hello',
      stream,
    });
    assert.equal(res.status, 202, JSON.stringify(res.body));
    const view = (await p.request('GET', `/v1/messages/${res.body.id}`)).body;
    return { id: res.body.id, messageIdHeader: view.message_id_header, recipients: view.recipients };
  };
  // Distinct addresses per stream: the sink defers each address once, and a hard bounce suppresses it.
  await send(
    'transactional',
    to.map((a) => `t-${a}`),
  );
  // Marketing mail carries a one-click unsubscribe link per recipient: one message each.
  const marketingSends: Sent[] = [];
  for (const address of to) marketingSends.push(await send('marketing', [`m-${address}`]));
  await settle(p);
  const marketing = marketingSends[0]!;
  const complaint = await deliverToMx(
    p.mxPort,
    'fbl@pw.test',
    arf(marketing, verpOf(p, marketing, 'm-a@ok.test'), 'm-a@ok.test'),
    'feedback@fbl.example.net',
  );
  assert.ok(complaint.ok, complaint.response);
  await ledgerCaughtUp(p);
  await p.platform.ledger.consumer.stop();

  const store = p.platform.store;
  const live = await store.reputation.dump();
  const totals = new Map<string, number>();
  for (const c of live.counts as { res: string; metric: string; n: number }[]) {
    if (c.res === '1h') totals.set(c.metric, (totals.get(c.metric) ?? 0) + c.n);
  }
  // What the traffic was: 2 messages × 6 recipients; one deferral each for slow.test.
  assert.deepEqual(
    {
      attempts: totals.get('attempts'),
      delivered: totals.get('delivered'),
      deferred: totals.get('deferred'),
      hard: totals.get('hard_bounces'),
      blocked: totals.get('block:reputation_block'),
      complaints: totals.get('complaints'),
    },
    { attempts: 14, delivered: 8, deferred: 2, hard: 2, blocked: 2, complaints: 1 },
  );
  assert.equal(live.keys.length, 2, 'one key per stream: the identity and provider are the same');
  const changed = (await store.events.page({ after: 0, limit: 1000, types: ['reputation.changed'] })).map((e) => e.data);
  assert.ok(
    changed.some((d) => d.stream === 'marketing' && d.state === 'paused' && d.rule === 'complaint-rate-pause'),
    JSON.stringify(changed),
  );
  const complaintRecipient = rcpt(marketing, 'm-a@ok.test');
  assert.ok(
    (live.context as { subject: string }[]).some((c) => c.subject === `r:${complaintRecipient}`),
    'the complaint found its recipient',
  );

  const eventsBefore = await store.events.lastCursor();
  assert.ok((await p.platform.ledger.rebuild()).events > 0);
  assert.deepEqual(await store.reputation.dump(), live);
  await p.platform.ledger.rebuild(7);
  assert.deepEqual(await store.reputation.dump(), live);
  assert.equal(await store.events.lastCursor(), eventsBefore, 'a rebuild announces nothing again');
});
