import assert from 'node:assert/strict';
import { type TestContext, test } from 'node:test';
import type { NewEvent } from '../../src/core/index.js';
import { createBreaker } from '../../src/delivery/breaker.js';
import { createDeliveryPolicy, createEgressPools, createPacingController, loadPacingRules } from '../../src/delivery/index.js';
import { createRouter } from '../../src/delivery/router.js';
import { createShaper } from '../../src/delivery/shaper.js';
import { createSmtpTransport } from '../../src/delivery/smtp-transport.js';
import { createResolver } from '../../src/dns/index.js';
import { loadDefaultProviderMap, loadDefaultRuleset } from '../../src/feedback/index.js';
import type { MessageRow, RecipientRow } from '../../src/store/index.js';
import { fakeClock } from '../support/clock.js';
import { startDnsServer } from '../support/dns-server.js';
import { startSmtpSink } from '../support/smtp-sink.js';

/**
 * Done-means 1 of issue 16: a provider simulation on loopback. Two sinks play two providers,
 * reached through the test DNS server by their real MX names (so rules/providers.yaml names them):
 * "gmail" answers `421 4.7.28` past N messages per simulated minute, "microsoft" accepts
 * everything. Delivery is offered one message per simulated second to each, through the SMTP
 * transport and the delivery policy with the shipped rules/pacing.yaml, on a fake clock (each step
 * moves it one second; sockets are real). Measured per simulated minute: transactions attempted on
 * the wire (our sending rate) and messages accepted.
 *
 * Expected, from the rule gmail-rate-4.7.28 (3 replies in 60 s → cap at half the observed rate,
 * 2 connections; quiet 120 s → ×1.5 every 60 s): the throttled provider's rate drops within the
 * first minute, the 421s stop because we slowed down, then the pace comes back in steps to full
 * once the provider has stopped throttling; the other provider's throughput is the same as in a run
 * where nobody throttles (within 10 %).
 */
const OFFERED_PER_MINUTE = 60;
const THROTTLE_PAST = 30;
const THROTTLE_UNTIL_MINUTE = 2;
const MINUTES = 7;
const GMAIL_MX = 'gmail-smtp-in.l.google.com';
const MICROSOFT_MX = 'sim-test.mail.protection.outlook.com';

interface Minute {
  attempted: number;
  delivered: number;
  deferredLocally: number;
}

async function simulate(t: TestContext, throttles: boolean) {
  const clock = fakeClock();
  const start = clock.now();
  const minuteOf = () => Math.floor((clock.now() - start) / 60_000);
  let windowMinute = -1;
  const taken = new Set<string>();
  /**
   * The provider's view: recipients taken this minute; past N it throttles (until it stops
   * throttling). By address, since the sink asks at RCPT and again at DATA.
   */
  const overRate = (address: string): boolean => {
    if (minuteOf() !== windowMinute) {
      windowMinute = minuteOf();
      taken.clear();
    }
    if (taken.has(address)) return false;
    if (throttles && minuteOf() < THROTTLE_UNTIL_MINUTE && taken.size >= THROTTLE_PAST) return true;
    taken.add(address);
    return false;
  };
  const gmail = await startSmtpSink(t, {
    record: 'count',
    tls: 'none',
    recipients: [
      {
        match: (address) => overRate(address),
        reply: {
          code: 421,
          enhanced: '4.7.28',
          text: 'Our system has detected an unusual rate of unsolicited mail originating from your IP address. - gsmtp',
        },
      },
    ],
  });
  const microsoft = await startSmtpSink(t, { record: 'count', tls: 'none' });
  const dns = await startDnsServer(t, {
    'gmail.sim': { MX: [{ priority: 10, exchange: GMAIL_MX }] },
    'outlook.sim': { MX: [{ priority: 10, exchange: MICROSOFT_MX }] },
    [GMAIL_MX]: { A: ['127.0.0.1'] },
    [MICROSOFT_MX]: { A: ['127.0.0.1'] },
  });
  const events: NewEvent[] = [];
  const rules = loadPacingRules();
  const policy = createDeliveryPolicy({
    clock,
    pools: createEgressPools({ pools: {}, defaultSourceAddresses: [], ehloName: 'pw.test' }),
    breaker: createBreaker({ clock }),
    shaper: createShaper({ clock, rules: { default: { maxConnections: 4, maxMessagesPerConnection: 100, perSecond: 0, perMinute: 0 } } }),
    pacing: createPacingController({ clock, rules, enabled: true, emit: (e) => events.push(...e) }),
  });
  const transport = createSmtpTransport({
    router: createRouter({
      resolver: createResolver({ servers: [dns.address], timeoutMs: 1000, clock }),
      port: 25,
      portMap: { [GMAIL_MX]: gmail.port, [MICROSOFT_MX]: microsoft.port },
    }),
    policy,
    signer: { sign: async (raw) => ({ raw, signatures: [] }) },
    ruleset: loadDefaultRuleset(),
    providers: loadDefaultProviderMap(),
    clock,
    timeouts: { connectMs: 2000, greetingMs: 2000, commandMs: 2000, dataMs: 2000 },
    idleMs: 30_000,
  });
  t.after(() => transport.close?.());

  const perMinute = { gmail: [] as Minute[], microsoft: [] as Minute[] };
  let n = 0;
  const send = async (domain: 'gmail.sim' | 'outlook.sim') => {
    const i = n++;
    const now = clock.now();
    const message: MessageRow = {
      id: `msg_sim${i}`,
      tenantId: 'ten_sim',
      stream: 'marketing',
      from: 'news@sender.test',
      subject: `m${i}`,
      messageIdHeader: `<m${i}@sender.test>`,
      size: 80,
      tags: [],
      metadata: {},
      source: 'api',
      sandbox: false,
      createdAt: now,
    };
    const recipient: RecipientRow = {
      id: `rcp_sim${i}`,
      messageId: message.id,
      tenantId: 'ten_sim',
      address: `user${i}@${domain}`,
      domain,
      kind: 'to',
      state: 'queued',
      attempts: 1,
      nextAttemptAt: now,
      leaseOwner: 'sim',
      leaseExpiresAt: null,
      lastReply: null,
      createdAt: now,
      updatedAt: now,
    };
    const body = Buffer.from(`From: news@sender.test\r\nTo: ${recipient.address}\r\nSubject: m${i}\r\n\r\nhello\r\n`);
    const [o] = await transport.deliver({ message, body, recipients: [recipient] });
    const m = ((domain === 'gmail.sim' ? perMinute.gmail : perMinute.microsoft)[minuteOf()] ??= {
      attempted: 0,
      delivered: 0,
      deferredLocally: 0,
    });
    if (o!.attempted === false) m.deferredLocally++;
    else m.attempted++;
    if (o!.kind === 'delivered') m.delivered++;
  };
  for (let second = 0; second < MINUTES * 60; second++) {
    await Promise.all([send('gmail.sim'), send('outlook.sim')]);
    clock.advance(60_000 / OFFERED_PER_MINUTE);
  }
  return { perMinute, events, start, rules, accepted: { gmail: gmail.accepted, microsoft: microsoft.accepted } };
}

test('a provider that answers 421 4.7.28 is slowed within a minute and recovers stepwise; the other keeps its throughput', {
  timeout: 120_000,
}, async (t) => {
  const baseline = await simulate(t, false);
  const run = await simulate(t, true);
  const g = run.perMinute.gmail;
  t.diagnostic(`gmail attempts/min ${g.map((m) => m.attempted).join(' ')}; delivered/min ${g.map((m) => m.delivered).join(' ')}`);
  t.diagnostic(`microsoft delivered: ${run.accepted.microsoft} with throttling elsewhere, ${baseline.accepted.microsoft} without`);
  const changes = run.events.filter((e) => e.type === 'pacing.changed').map((e) => e.data as Record<string, unknown>);
  t.diagnostic(changes.map((c) => `${c.change} ${c.previous_per_minute ?? '-'}→${c.per_minute ?? '-'} (${c.rule})`).join('; '));

  // Nobody throttled in the baseline: nothing changed pace, and every offered message went at once.
  assert.equal(baseline.events.length, 0);
  assert.deepEqual(
    baseline.perMinute.gmail.map((m) => m.attempted),
    Array(MINUTES).fill(OFFERED_PER_MINUTE),
  );

  // Within the first simulated minute the throttled provider was capped, by the Gmail rule.
  const first = changes[0]!;
  assert.equal(first.change, 'cap');
  assert.equal(first.rule, 'gmail-rate-4.7.28');
  assert.equal(first.provider, 'gmail');
  assert.equal(first.ruleset_version, run.rules.version);
  const trigger = first.trigger as { kind: string; count: number; window_seconds: number; reply: string };
  assert.equal(trigger.kind, 'replies');
  assert.ok(trigger.count >= 3 && trigger.window_seconds === 60, JSON.stringify(trigger));
  assert.match(trigger.reply, /^421 4\.7\.28 /);
  // Our sending rate dropped: the minute after the cap attempts at most the cap, far below the offer.
  const cap = first.per_minute as number;
  assert.ok(cap < OFFERED_PER_MINUTE / 2 + 1, `cap ${cap}`);
  assert.ok(g[1]!.attempted <= cap + 1, `minute 1 attempted ${g[1]!.attempted}, cap ${cap}`);

  // Recovery: after throttling stopped, the pace came back in steps (each an event with its rule
  // id and a larger cap) and ended recovered, at the full offered rate in the last minute.
  const steps = changes.filter((c) => c.change === 'step');
  assert.ok(steps.length >= 1, 'at least one recovery step');
  for (const c of changes) {
    assert.equal(c.rule, 'gmail-rate-4.7.28');
    assert.equal(c.site, GMAIL_MX);
  }
  let last = cap;
  for (const s of steps) {
    assert.ok((s.per_minute as number) > last, 'each step raises the cap');
    last = s.per_minute as number;
  }
  assert.equal(changes.at(-1)!.change, 'recovered');
  assert.equal(g.at(-1)!.attempted, OFFERED_PER_MINUTE);
  const minutesAfterStop = g.slice(THROTTLE_UNTIL_MINUTE).map((m) => m.delivered);
  assert.ok(
    minutesAfterStop.every((d, i) => i === 0 || d >= minutesAfterStop[i - 1]!),
    `delivered per minute rises after throttling stops: ${minutesAfterStop.join(' ')}`,
  );

  // The other provider is untouched: its throughput is within 10 % of the run without throttling.
  const ratio = run.accepted.microsoft / baseline.accepted.microsoft;
  assert.ok(Math.abs(1 - ratio) <= 0.1, `microsoft throughput ratio ${ratio}`);
  assert.ok(
    run.events.every((e) => (e.data as { site: string }).site === GMAIL_MX),
    'no pace change at the accepting provider',
  );
});
