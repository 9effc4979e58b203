import assert from 'node:assert/strict';
import { test } from 'node:test';
import { twoProportionTest, wilson } from '../../src/content/experiment-stats.js';
import { fakeClock } from '../support/clock.js';
import { forEachDialect } from '../support/dialects.js';
import { exampleEvent } from '../support/events.js';
import { startPlatform, type TestPlatform } from '../support/platform.js';

/**
 * A/B experiments end to end: sends join an experiment through the API, the sandbox delivers
 * them, outcomes arrive on the spine as the feedback code writes them (complaints, clicks), and the
 * results, computed from the spine, flag a variant whose complaint rate is worse at one provider.
 */
async function createExperiment(p: TestPlatform, variants: unknown[]) {
  const r = await p.request('POST', '/v1/experiments', { name: 'subject test', variants });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  return r.body.id as string;
}

async function sendBatch(p: TestPlatform, experimentId: string, recipients: string[]): Promise<string[]> {
  // 100 per request, as a client would page a large send.
  if (recipients.length > 100) {
    const ids: string[] = [];
    for (let i = 0; i < recipients.length; i += 100) ids.push(...(await sendBatch(p, experimentId, recipients.slice(i, i + 100))));
    return ids;
  }
  const r = await p.request('POST', '/v1/messages/batch', {
    messages: recipients.map((to) => ({
      from: 'news@example.com',
      to,
      subject: 'Base subject',
      text: 'Hello',
      stream: 'marketing',
      experiment: { id: experimentId },
    })),
  });
  assert.equal(r.status, 202, JSON.stringify(r.body).slice(0, 500));
  assert.equal(r.body.rejected, 0, JSON.stringify(r.body.messages.find((m: any) => m.error)));
  return r.body.messages.map((m: any) => m.id as string);
}

/** Each message's recipient, recipient id and variant, as the spine recorded them. */
async function assignments(p: TestPlatform, messageIds: string[]) {
  const out = [];
  for (const id of messageIds) {
    const events = await p.platform.store.events.forMessage(id);
    const accepted = events.find((e) => e.type === 'message.accepted')!;
    const queued = events.find((e) => e.type === 'recipient.queued')!;
    const experiment = accepted.data.experiment as { variant: string; in_sample: boolean };
    out.push({ messageId: id, recipientId: queued.recipientId!, email: String(queued.data.email), ...experiment });
  }
  return out;
}

async function allDelivered(p: TestPlatform, messageIds: string[]) {
  for (let i = 0; i < 800; i++) {
    const rows = await p.platform.store.recipients.listByMessages(messageIds);
    if (rows.length === messageIds.length && rows.every((r) => r.state === 'delivered')) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  assert.fail('the sandbox did not deliver every message within 20 s');
}

forEachDialect(
  'a complaint regression at one provider is flagged, with a rollback suggestion, even when the variant wins on clicks',
  async (t, dialect) => {
    const clock = fakeClock();
    const p = await startPlatform(t, { clock, dialect, config: { limits: { ratePerMinute: 0 } } });
    const id = await createExperiment(p, [
      { key: 'A', subject: 'Our December offers' },
      { key: 'B', subject: 'LAST CHANCE!!! 40% off' },
    ]);
    const gmail = Array.from({ length: 150 }, (_, i) => `g${i}@gmail.com`);
    const outlook = Array.from({ length: 150 }, (_, i) => `o${i}@outlook.com`);
    const ids = await sendBatch(p, id, [...gmail, ...outlook]);
    await allDelivered(p, ids);
    const sent = await assignments(p, ids);
    const stored = (await p.platform.store.messages.body(sent.find((s) => s.variant === 'B')!.messageId))!.toString('utf8');
    assert.match(stored, /^Subject: LAST CHANCE!!! 40% off\r$/m, "the variant's subject is what was stored and sent");

    // Outcomes as the feedback code appends them: complaints (ARF) and clicks (the redirector).
    clock.advance(3_600_000);
    const at = (variant: string, domain: string) => sent.filter((s) => s.variant === variant && s.email.endsWith(`@${domain}`));
    const complain = at('B', 'gmail.com').slice(0, 10);
    const complainA = [...at('A', 'gmail.com').slice(0, 1), ...at('A', 'outlook.com').slice(0, 1), ...at('B', 'outlook.com').slice(0, 1)];
    const clickers = [...at('B', 'gmail.com').slice(10, 50), ...at('B', 'outlook.com').slice(0, 40), ...at('A', 'gmail.com').slice(0, 5)];
    await p.platform.store.events.append(
      [
        ...[...complain, ...complainA].map((s) =>
          exampleEvent(
            'recipient.complained',
            { tenantId: p.tenantId, messageId: s.messageId, recipientId: s.recipientId },
            { email: s.email, feedback_type: 'abuse' },
          ),
        ),
        ...clickers.map((s) =>
          exampleEvent(
            'recipient.clicked',
            { tenantId: p.tenantId, messageId: s.messageId, recipientId: s.recipientId },
            { email: s.email, url: 'https://shop.example.org/', machine: false, machine_reason: null },
          ),
        ),
      ],
      clock.now(),
    );

    const r = await p.request('GET', `/v1/experiments/${id}/results`);
    assert.equal(r.status, 200, JSON.stringify(r.body));
    const arm = (variant: string, provider: string) => r.body.arms.find((a: any) => a.variant === variant && a.provider === provider);
    assert.equal(arm('A', 'all').sent + arm('B', 'all').sent, 300);
    assert.equal(arm('B', 'gmail').complaints, 10);
    assert.equal(arm('B', 'microsoft').complaints, 1, 'outlook.com is counted under its provider key');
    const clicks = r.body.comparisons.find((c: any) => c.variant === 'B' && c.provider === 'all' && c.metric === 'clicks');
    assert.ok(clicks.significant && clicks.difference > 0, 'B wins on clicks');

    assert.deepEqual(
      r.body.regressions.map((x: any) => [x.variant, x.provider, x.metric]),
      [
        ['B', 'all', 'complaints'],
        ['B', 'gmail', 'complaints'],
      ],
      'flagged at gmail (and so overall), not at microsoft, whose rates are alike',
    );
    const reg = r.body.regressions.find((x: any) => x.provider === 'gmail');
    assert.ok(reg.p_value < 0.05 && reg.z > 1.645);
    assert.match(reg.suggestion, /Roll back variant B/);
    assert.match(reg.suggestion, /\/stop/);
    const gmailB = arm('B', 'gmail').metrics.find((m: any) => m.metric === 'complaints');
    assert.ok(
      gmailB.interval[0] > 0 && gmailB.interval[0] < gmailB.rate && gmailB.rate < gmailB.interval[1],
      'the rate sits in its interval',
    );

    await p.request('GET', `/v1/experiments/${id}/results`);
    const announced = await p.platform.store.events.page({ tenantId: p.tenantId, types: ['experiment.regressed'], limit: 10 });
    assert.deepEqual(
      announced.map((e) => [e.data.variant, e.data.provider, e.data.metric]),
      [
        ['B', 'all', 'complaints'],
        ['B', 'gmail', 'complaints'],
      ],
      'each regression is announced once, however often results are read',
    );
    assert.deepEqual(announced[0]!.data.rollback, { variant: 'A' });

    // Rolling back: every later send gets the control, outside the sample.
    const stop = await p.request('POST', `/v1/experiments/${id}/stop`, {});
    assert.equal(stop.status, 200);
    const [later] = await assignments(p, await sendBatch(p, id, [complain[0]!.email]));
    assert.deepEqual([later!.variant, later!.in_sample], ['A', false]);
  },
  test,
);

test('assignment is deterministic per recipient and respects explicit sample sizes', async (t) => {
  const p = await startPlatform(t, { config: { limits: { ratePerMinute: 0 } } });
  const id = await createExperiment(p, [
    { key: 'A', sample_size: 3 },
    { key: 'B', sample_size: 3, html: '<p>B</p>' },
  ]);
  const first = await assignments(p, await sendBatch(p, id, ['r0@example.net', 'r1@example.net']));
  const again = await assignments(p, await sendBatch(p, id, ['r1@example.net', 'r0@example.net']));
  assert.deepEqual(
    again.map((a) => [a.email, a.variant]),
    [...first].reverse().map((a) => [a.email, a.variant]),
    'a recipient keeps its variant',
  );
  for (let i = 2; i < 12; i++) await sendBatch(p, id, [`r${i}@example.net`]);
  const rows = await p.platform.store.experiments.sampleCounts(id);
  assert.deepEqual([rows.get('A'), rows.get('B')], [3, 3], 'each arm stops at its sample size');

  const multi = await p.request('POST', '/v1/messages', {
    from: 'news@example.com',
    to: ['a@example.net', 'b@example.net'],
    subject: 'x',
    text: 'x',
    experiment: { id },
  });
  assert.equal(multi.status, 422, 'a variant is per recipient: one recipient per experiment send');
  const unknown = await p.request('POST', '/v1/messages', {
    from: 'news@example.com',
    to: 'a@example.net',
    subject: 'x',
    text: 'x',
    experiment: { id: 'exp_nope' },
  });
  assert.equal(unknown.status, 422);
  assert.equal(unknown.body.errors[0].path, '/experiment/id');
  const bad = await p.request('POST', '/v1/experiments', { name: 'x', variants: [{ key: 'A', share: 1 }, { key: 'A' }] });
  assert.equal(bad.status, 422);
});

test('the two-proportion test and Wilson interval match hand-computed values', () => {
  // 10/75 vs 1/75: pooled p = 11/150, se = sqrt(p(1-p)(2/75)) = 0.042569, z = (0.13333 - 0.01333) / 0.042569 = 2.8189
  const c = twoProportionTest({ x: 10, n: 75 }, { x: 1, n: 75 })!;
  assert.ok(Math.abs(c.z - 2.8189) < 1e-3, String(c.z));
  assert.ok(Math.abs(c.pHigher - 0.00242) < 1e-4, String(c.pHigher));
  // Wilson 95% for 0/50: [0, z²/(n+z²)] = [0, 0.0714]
  const [lo, hi] = wilson({ x: 0, n: 50 });
  assert.equal(lo, 0);
  assert.ok(Math.abs(hi - 0.0714) < 1e-3, String(hi));
  assert.equal(twoProportionTest({ x: 0, n: 0 }, { x: 1, n: 5 }), undefined);
});
