import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runCli } from '../../src/cli/index.js';
import { type NewEvent, newEvent } from '../../src/core/index.js';
import { assess, LEDGER_NAME, type Thresholds } from '../../src/reputation/index.js';
import { emptyCounts, sumWindow, windowRange } from '../../src/reputation/windows.js';
import { fakeClock } from '../support/clock.js';
import { waitUntil } from '../support/delivery-lab.js';
import { exampleEvent } from '../support/events.js';
import { startPlatform } from '../support/platform.js';

/** The ledger's states and windows: pure rules first, then the ledger fed through the spine. */

const t0: Thresholds = {
  complaintRateWatch: 0.001,
  complaintRatePause: 0.003,
  hardBounceRateWatch: 0.02,
  hardBounceRateThrottle: 0.05,
  blockRateThrottle: 0.05,
  throttlingRateThrottle: 0.2,
  baselineFactor: 2,
  minVolume: 100,
  warmupDeliveries: 5000,
};
const counts = (over: Partial<ReturnType<typeof emptyCounts>>) => ({ ...emptyCounts(), ...over });
const quiet = { '1h': emptyCounts(), '24h': emptyCounts(), baseline: emptyCounts() };

test('the complaint lines are the providers’ 0.1 % (watch) and 0.3 % (paused)', () => {
  const at = (complaints: number) => assess({ ...quiet, '24h': counts({ attempts: 2000, delivered: 2000, complaints }) }, 10_000, t0);
  assert.equal(at(1).state, 'healthy', '0.05 %');
  assert.equal(at(2).state, 'watch', '0.1 %');
  assert.equal(at(2).rule, 'complaint-rate-watch');
  const paused = at(6);
  assert.deepEqual(
    { state: paused.state, rule: paused.rule, count: paused.count, denominator: paused.denominator, threshold: paused.threshold },
    { state: 'paused', rule: 'complaint-rate-pause', count: 6, denominator: 2000, threshold: 0.003 },
  );
  assert.match(paused.reason, /0\.30 % over 24h \(6 of 2000\)/);
});

test('a rate decides nothing below the minimum volume', () => {
  const few = assess({ ...quiet, '24h': counts({ attempts: 50, delivered: 50, complaints: 5 }) }, 10_000, t0);
  assert.equal(few.state, 'healthy');
});

test('throttling replies over the last hour throttle; blocks and hard bounces over 24 h too', () => {
  const throttled = assess({ ...quiet, '1h': counts({ attempts: 200, throttled: 50 }) }, 10_000, t0);
  assert.deepEqual([throttled.state, throttled.rule, throttled.window], ['throttled', 'throttling-rate', '1h']);
  const blocked = assess({ ...quiet, '24h': counts({ attempts: 200, delivered: 180, blocked: 20 }) }, 10_000, t0);
  assert.deepEqual([blocked.state, blocked.rule], ['throttled', 'block-rate']);
  const bouncing = assess({ ...quiet, '24h': counts({ attempts: 200, delivered: 195, bounced: 5, hard_bounces: 5 }) }, 10_000, t0);
  assert.deepEqual([bouncing.state, bouncing.rule], ['watch', 'hard-bounce-rate-watch']);
});

test('a complaint rate twice its 7-day baseline is watched; a new identity is warming', () => {
  const doubled = assess(
    {
      '1h': emptyCounts(),
      '24h': counts({ attempts: 10_000, delivered: 10_000, complaints: 9 }),
      baseline: counts({ attempts: 70_000, delivered: 70_000, complaints: 28 }),
    },
    100_000,
    t0,
  );
  assert.deepEqual([doubled.state, doubled.rule], ['watch', 'complaint-rate-baseline']);
  assert.equal(assess(quiet, 1200, t0).state, 'warming');
  assert.equal(assess(quiet, 5000, t0).state, 'healthy');
});

test('windows are sums of buckets: 1 h of five-minute buckets, the baseline before the last 24 h', () => {
  const now = Date.UTC(2026, 11, 6, 10, 7);
  assert.deepEqual(windowRange('1h', now), { res: '5m', from: Date.UTC(2026, 11, 6, 9, 10), to: Date.UTC(2026, 11, 6, 10, 5) });
  const cells = new Map([
    [`5m|${Date.UTC(2026, 11, 6, 10, 5)}|delivered`, 3],
    [`5m|${Date.UTC(2026, 11, 6, 9, 5)}|delivered`, 7],
    [`1h|${Date.UTC(2026, 11, 6, 10)}|delivered`, 3],
    [`1h|${Date.UTC(2026, 11, 6, 9)}|delivered`, 7],
    [`1h|${Date.UTC(2026, 11, 4, 9)}|delivered`, 40],
    [`1h|${Date.UTC(2026, 11, 4, 9)}|block:policy_block`, 2],
  ]);
  assert.equal(sumWindow(cells, '1h', now).delivered, 3);
  assert.equal(sumWindow(cells, '24h', now).delivered, 10);
  assert.equal(sumWindow(cells, '7d', now).delivered, 50);
  assert.equal(sumWindow(cells, 'baseline', now).delivered, 40);
  assert.deepEqual(sumWindow(cells, 'baseline', now).blocks, { policy_block: 2 });
});

test('complaints at one provider pause that key, announced with the numbers; API, CLI and rates() agree', {
  timeout: 60_000,
}, async (t) => {
  const clock = fakeClock(Date.UTC(2026, 11, 1, 9, 0));
  const p = await startPlatform(t, { clock, config: { reputation: { minVolume: 10, warmupDeliveries: 5 } } });
  const store = p.platform.store;
  const ids = { tenantId: p.tenantId, messageId: 'msg_rep1' };
  await store.events.append(
    [
      exampleEvent('message.accepted', ids, {
        from: 'news@example.com',
        // Marketing: in the cold lane the first complaint already holds the key (test/reputation/complaint-hold.test.ts).
        stream: 'marketing',
        sandbox: false,
        identity: { return_path_domain: 'bounces.example.com' },
      }),
    ],
    clock.now(),
  );
  const delivered: NewEvent[] = [];
  for (let i = 0; i < 20; i++) {
    delivered.push(
      newEvent(
        'recipient.delivered',
        { ...ids, recipientId: `rcp_${i}` },
        {
          email: `u${i}@corp.example`,
          attempt: 1,
          code: 250,
          mx: 'corp-example.mail.protection.outlook.com',
          ip: '192.0.2.25',
          dkim: ['rsa-sha256 d=example.com s=pw2026'],
        },
      ),
    );
  }
  await store.events.append(delivered, clock.now());
  clock.advance(10 * 60_000);
  // The complaint names no MX: the ledger knows the recipient's provider from its delivery.
  await store.events.append(
    [exampleEvent('recipient.complained', { ...ids, recipientId: 'rcp_3' }, { email: 'u3@corp.example' })],
    clock.now(),
  );
  await waitUntil(
    'the ledger caught up',
    async () => {
      await p.platform.ledger.consumer.tick();
      return (await store.consumerCursors.get(LEDGER_NAME)) === (await store.events.lastCursor());
    },
    10_000,
  );

  const changes = (await store.events.page({ after: 0, limit: 100, types: ['reputation.changed'] })).map((e) => e.data);
  assert.deepEqual(
    changes.map((d) => [d.previous_state, d.state, d.rule]),
    [
      ['warming', 'healthy', 'healthy'],
      ['healthy', 'paused', 'complaint-rate-pause'],
    ],
  );
  const paused = changes[1]!;
  assert.deepEqual(
    [paused.provider, paused.stream, paused.domain, paused.selector, paused.pool, paused.return_path, paused.count, paused.denominator],
    ['microsoft', 'marketing', 'example.com', 'pw2026', 'default', 'bounces.example.com', 1, 20],
  );

  const api = await p.request('GET', '/v1/reputation?provider=microsoft');
  assert.equal(api.status, 200);
  assert.equal(api.body.data.length, 1);
  const entry = api.body.data[0];
  assert.equal(entry.state, 'paused');
  assert.match(entry.reason, /^complaint-rate-pause: complaint rate 5\.00 % over 24h \(1 of 20\)/);
  assert.deepEqual([entry.windows['1h'].counts.delivered, entry.windows['24h'].rates.complaint_rate], [20, 0.05]);
  assert.equal((await p.request('GET', '/v1/reputation?provider=gmail')).body.data.length, 0);

  const rates = await p.platform.reputationReader.rates({ domain: 'example.com', pool: 'default' }, 'microsoft', '24h');
  assert.equal(rates.rates.complaint_rate, 0.05);

  let out = '';
  const code = await runCli(['reputation', '--provider', 'microsoft', '--url', p.url, '--api-key', p.key], {
    env: {},
    stdout: (s) => (out += s),
    stderr: () => undefined,
    createPlatform: () => Promise.reject(new Error('not used')),
    onSignal: () => () => undefined,
    exit: () => undefined,
  });
  assert.equal(code, 0);
  assert.match(out, /microsoft\s+marketing\s+paused\s+24h: 20 sent, 20 delivered, complaints 5\.00%/);

  // A day later the 24-hour window is empty; the 7-day window still holds the complaint.
  clock.advance(25 * 3_600_000);
  const later = (await p.request('GET', '/v1/reputation?provider=microsoft')).body.data[0];
  assert.deepEqual([later.windows['24h'].counts.complaints, later.windows['7d'].counts.complaints], [0, 1]);
});
