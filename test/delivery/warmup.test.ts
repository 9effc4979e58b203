import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  createBreaker,
  createDeliveryPolicy,
  createEgressPools,
  createPacingController,
  createShaper,
  createWarmup,
  loadPacingRules,
  loadWarmupRules,
} from '../../src/delivery/index.js';
import { createLedgerReader } from '../../src/reputation/index.js';
import { fakeClock } from '../support/clock.js';
import { exampleEvent } from '../support/events.js';
import { startPlatform } from '../support/platform.js';

/**
 * Done-means 3 of issue #16: warmup over 30 simulated days on the fake clock. The cold lane has a
 * warming pool (`cold-new`) and a warm one (`cold-warm`); transactional has its own pool. The
 * shipped rules/warmup.yaml is scaled by 0.001 (Gmail's 50…40,000 a day become 1…40), so each day
 * asks the delivery policy for a few admissions more than the day's cap, and feeds the ledger the
 * deliveries of the warming pool as spine events, instead of sending real mail. Checked every day:
 * the warming pool never passes the schedule, the excess goes to the warm cold pool only (never to
 * the transactional pool), and transactional mail never leaves from a cold pool. Graduation: a
 * complaint on day 26 keeps the 7-day complaint rate above the 0.1 % line on day 31, so the pool
 * graduates on day 33, once the complaint has left the window, with a `warmup.changed` event.
 */
const DAY = 86_400_000;

test('a warming pool follows its schedule for 30 days, overflows to warm pools of its lane only, and graduates at the thresholds', {
  timeout: 60_000,
}, async (t) => {
  const start = Date.UTC(2026, 10, 1, 8, 0, 0);
  const clock = fakeClock(start);
  const p = await startPlatform(t, { clock, start: false, config: { reputation: { minVolume: 1 } } });
  const store = p.platform.store;
  const rules = loadWarmupRules();
  const emitted: { change: string; day: number; reason: string }[] = [];
  const pools = createEgressPools({
    pools: {
      tx: { sourceAddresses: ['127.0.0.2'], streams: ['transactional'] },
      'cold-new': { sourceAddresses: ['127.0.0.3'], streams: ['cold'], warmup: true },
      'cold-warm': { sourceAddresses: ['127.0.0.4'], streams: ['cold'] },
    },
    defaultSourceAddresses: [],
    ehloName: 'pw.test',
  });
  const reader = createLedgerReader({ store, clock });
  const warmup = createWarmup({
    clock,
    store,
    rules,
    enabled: true,
    scale: 0.001,
    warmingPools: pools.warmingPools(),
    stats: (pool, provider) => reader.poolStats(pool, provider),
    emit: (events) => {
      for (const e of events) emitted.push(e.data as { change: string; day: number; reason: string });
    },
  });
  const policy = createDeliveryPolicy({
    clock,
    pools,
    breaker: createBreaker({ clock }),
    shaper: createShaper({
      clock,
      rules: { default: { maxConnections: 10, maxMessagesPerConnection: 100, perSecond: 0, perMinute: 0 } },
    }),
    pacing: createPacingController({ clock, rules: loadPacingRules(), enabled: false, emit: () => {} }),
    warmup,
  });
  const request = (stream: string) => ({
    site: 'gmail-smtp-in.l.google.com',
    provider: 'gmail',
    stream,
    tenantId: p.tenantId,
    domain: 'example.com',
  });

  // One cold message whose recipients the ledger sees delivered from the pool that took them.
  const messageId = 'msg_warmup0000000000000000';
  await store.events.append(
    [exampleEvent('message.accepted', { tenantId: p.tenantId, messageId }, { from: 'news@example.com', stream: 'cold' })],
    clock.now(),
  );
  let cursor = 0;
  let n = 0;
  const feedLedger = async (delivered: string[], complaints = 0) => {
    const events = delivered.map((pool) =>
      exampleEvent(
        'recipient.delivered',
        { tenantId: p.tenantId, messageId, recipientId: `rcp_w${++n}` },
        { pool, mx: 'gmail-smtp-in.l.google.com', email: `lead${n}@gmail.com` },
      ),
    );
    for (let i = 0; i < complaints; i++)
      events.push(
        exampleEvent(
          'recipient.complained',
          { tenantId: p.tenantId, messageId, recipientId: `rcp_w${n}` },
          { email: `lead${n}@gmail.com` },
        ),
      );
    await store.events.append(events, clock.now());
    const page = await store.events.page({ after: cursor, limit: 1000 });
    await p.platform.ledger.apply(page);
    cursor = Number(page[page.length - 1]!.cursor);
  };

  const schedule = rules.schedules.gmail!;
  const perDay: { day: number; cap: number; fromNew: number; overflow: number }[] = [];
  for (let day = 1; day <= 34; day++) {
    clock.set(start + (day - 1) * DAY + 3_600_000);
    const cap = Math.ceil(schedule[Math.min(day - 1, schedule.length - 1)]! * 0.001);
    const took: string[] = [];
    for (let i = 0; i < cap + 3; i++) {
      const a = await policy.admit(request('cold'));
      assert.ok(a.ok, `day ${day}: a warm pool of the lane takes the excess`);
      took.push(a.lane.pool);
    }
    for (let i = 0; i < 2; i++) {
      const tx = await policy.admit(request('transactional'));
      assert.ok(tx.ok && tx.lane.pool === 'tx', 'transactional leaves from its own pool');
    }
    assert.ok(!took.includes('tx'), `day ${day}: cold never overflows to the transactional pool`);
    const fromNew = took.filter((x) => x === 'cold-new').length;
    perDay.push({ day, cap, fromNew, overflow: took.filter((x) => x === 'cold-warm').length });
    const graduated = emitted.some((e) => e.change === 'graduated');
    if (!graduated) {
      assert.ok(fromNew <= cap, `day ${day}: ${fromNew} sent from the warming pool, cap ${cap}`);
      assert.equal(await store.warmup.usage('cold-new', 'gmail', Math.floor(clock.now() / DAY)), fromNew);
    }
    await feedLedger(
      took.filter((x) => x === 'cold-new'),
      day === 26 ? 1 : 0,
    );
  }

  // Every day before graduation the warming pool took exactly its cap and the warm pool the rest.
  for (const d of perDay.filter((x) => x.day <= 32)) assert.deepEqual([d.day, d.fromNew, d.overflow], [d.day, d.cap, 3]);
  const graduation = emitted.find((e) => e.change === 'graduated');
  assert.ok(graduation, JSON.stringify(emitted));
  assert.equal(graduation.day, 33, 'not on day 31 or 32: the day-26 complaint is above the 0.1 % line within 7 days');
  assert.match(graduation.reason, /complaint rate 0\.00 %/);
  const day33 = perDay.find((d) => d.day === 33)!;
  assert.deepEqual([day33.fromNew, day33.overflow], [day33.cap + 3, 0], 'a graduated pool has no warmup cap');
  const [row] = await store.warmup.list();
  assert.equal(row?.graduatedAt !== null, true);
  assert.equal(emitted[0]?.change, 'started');
});
