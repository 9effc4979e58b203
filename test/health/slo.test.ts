import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fakeClock } from '../support/clock.js';
import { startDeliveryLab, waitUntil } from '../support/delivery-lab.js';
import { forEachDialect } from '../support/dialects.js';
import { startPlatform, type TestPlatform } from '../support/platform.js';

/**
 * GET /v1/slo and the SLI metrics, with time moved by hand: what counts as good and bad for each
 * SLI (docs/dashboard.md#slos). Mail goes to loopback sinks through the real delivery engine.
 */
const stateOf = async (p: TestPlatform, id: string) => (await p.platform.spine.recipientsOf([id]))[0]?.state;
const sli = (body: { slis: { name: string }[] }, name: string) => body.slis.find((s) => s.name === name) as Record<string, unknown>;
const metric = (text: string, line: string) => {
  const m = new RegExp(`^${line.replace(/[{}"=.]/g, (c) => `\\${c}`)} (\\S+)$`, 'm').exec(text);
  return m ? Number(m[1]) : undefined;
};

forEachDialect(
  'a deferred-then-delivered recipient counts against "accepted within X s" but for "retried within Y min"',
  async (t, dialect) => {
    const clock = fakeClock();
    const lab = await startDeliveryLab(t, {
      'ok.test': {},
      'slow.test': { default: { deferTimes: 1 } },
      'stuck.test': { default: { deferTimes: 1000 } },
      'bad.test': { default: { reply: { code: 550, enhanced: '5.1.1', text: 'no such user' } } },
    });
    const p = await startPlatform(t, {
      clock,
      dialect,
      config: {
        sandbox: false,
        ...lab.config,
        delivery: { ...lab.config.delivery, retryMinutes: [5] },
        slo: { acceptanceSeconds: 60, acceptanceObjective: 0.99, retryMinutes: 10, retryObjective: 0.5, windowHours: 24 },
      },
    });
    const send = async (to: string) => {
      const res = await p.request('POST', '/v1/messages', { from: 'a@example.com', to, subject: 's', text: 't' });
      assert.equal(res.status, 202);
      return res.body.id as string;
    };
    const ok = await send('a@ok.test');
    const slow = await send('b@slow.test');
    const stuck = await send('c@stuck.test');
    const bad = await send('d@bad.test');
    const expect = async (id: string, state: string) =>
      waitUntil(`${id} is ${state}`, async () => (await stateOf(p, id)) === state, 10_000);
    await Promise.all([expect(ok, 'delivered'), expect(slow, 'deferred'), expect(stuck, 'deferred'), expect(bad, 'bounced')]);

    // At once: only the delivered recipient is decided (the others still have their X seconds).
    let slo = (await p.request('GET', '/v1/slo')).body;
    assert.deepEqual([sli(slo, 'acceptance').good, sli(slo, 'acceptance').total], [1, 1]);
    assert.equal(sli(slo, 'acceptance').status, 'met');
    assert.deepEqual([sli(slo, 'retry').total, sli(slo, 'retry').status], [0, 'no_data']);

    // The retry (5 min ± 20 % jitter) delivers b: late for X = 60 s, in time for Y = 10 min.
    clock.advance(6 * 60_000 + 1000);
    p.platform.deliverer.poke();
    await expect(slow, 'delivered');
    await waitUntil(
      'c was retried',
      async () => (await p.platform.store.events.forMessage(stuck)).filter((e) => e.type === 'recipient.deferred').length >= 2,
      10_000,
    );
    slo = (await p.request('GET', '/v1/slo')).body;
    const acceptance = sli(slo, 'acceptance');
    // Good: a. Bad: b (delivered after 4 to 6 min), c (still deferred), d (bounced).
    assert.deepEqual([acceptance.good, acceptance.total, acceptance.status], [1, 4, 'breached']);
    assert.equal(acceptance.value, 0.25);
    assert.ok(Math.abs((acceptance.error_budget_remaining as number) - (1 - 0.75 / 0.01)) < 1e-9);
    // Retry: b recovered 5 min after its first deferral; c's 10 minutes are not over yet.
    assert.deepEqual([sli(slo, 'retry').good, sli(slo, 'retry').total, sli(slo, 'retry').status], [1, 1, 'met']);

    // 11 min after its first deferral c is still not delivered: it counts against the retry SLI.
    clock.advance(5 * 60_000);
    slo = (await p.request('GET', '/v1/slo')).body;
    assert.deepEqual([sli(slo, 'retry').good, sli(slo, 'retry').total, sli(slo, 'retry').value], [1, 2, 0.5]);
    assert.equal(sli(slo, 'retry').error_budget_remaining, 0);
    assert.equal(sli(slo, 'retry').status, 'met');
    assert.equal(sli(slo, 'api_availability').status, 'met');
    assert.equal(sli(slo, 'api_availability').value, 1);

    // The same SLIs on /metrics (platform-wide), with their objectives and budgets.
    const metrics = await (await fetch(`${p.url}/metrics`)).text();
    assert.equal(metric(metrics, 'postwarden_slo_sli{slo="acceptance"}'), 0.25);
    assert.equal(metric(metrics, 'postwarden_slo_objective{slo="acceptance"}'), 0.99);
    assert.equal(metric(metrics, 'postwarden_slo_sli{slo="retry"}'), 0.5);
    assert.equal(metric(metrics, 'postwarden_slo_error_budget_remaining{slo="retry"}'), 0);
    assert.equal(metric(metrics, 'postwarden_slo_objective{slo="queue_drain"}'), 900);
    assert.ok((metric(metrics, 'postwarden_api_requests_total{class="2xx"}') ?? 0) >= 7);
  },
  test,
);

test('/metrics counts accepts and sandbox deliveries and has the process metrics', async (t) => {
  const p = await startPlatform(t);
  const res = await p.request('POST', '/v1/messages?mode=sync&wait_ms=5000', {
    from: 'a@example.com',
    to: ['x@example.net', 'y@example.net'],
    subject: 's',
    text: 't',
  });
  assert.equal(res.body.status, 'completed');
  const text = await (await fetch(`${p.url}/metrics`)).text();
  assert.equal(metric(text, 'postwarden_accept_messages_total{source="api",outcome="accepted"}'), 1);
  assert.equal(metric(text, 'postwarden_accept_recipients_total{state="queued"}'), 2);
  assert.equal(metric(text, 'postwarden_accept_seconds_count{source="api"}'), 1);
  assert.equal(metric(text, 'postwarden_delivery_outcomes_total{site="sandbox",kind="delivered"}'), 2);
  assert.match(text, /^postwarden_process_resident_memory_bytes \d+/m);
  assert.match(text, /^postwarden_nodejs_eventloop_lag_seconds /m);
});
