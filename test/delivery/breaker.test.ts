import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { SmtpResponse } from '../../src/core/index.js';
import { type BreakerOutcome, createBreaker, isThrottlingReply, outcomeOfReplies } from '../../src/delivery/breaker.js';
import { fakeClock } from '../support/clock.js';

const S = 1000;

function breaker(o: { threshold?: number; cooldownMs?: number; maxCooldownMs?: number; probeTimeoutMs?: number } = {}) {
  const clock = fakeClock();
  const b = createBreaker({ clock, threshold: 3, cooldownMs: 10 * S, maxCooldownMs: 35 * S, ...o });
  return { b, clock };
}

/** Steps of a table: advance the clock, then record an outcome or ask allow(). */
type Step = { at: number; record: BreakerOutcome; expect: string } | { at: number; allow: true; expect: string };

function run(steps: Step[]) {
  const { b, clock } = breaker();
  const start = clock.now();
  for (const [i, step] of steps.entries()) {
    clock.set(start + step.at);
    let got: string;
    if ('record' in step) {
      const s = b.record('site', step.record);
      got = `${s.state}${s.retryAt !== null ? ` until +${(s.retryAt - start) / S}s` : ''}`;
    } else {
      const d = b.allow('site');
      got = d.ok ? (d.probe ? 'probe' : 'go') : `wait until +${(d.retryAt - start) / S}s`;
    }
    assert.equal(got, step.expect, `step ${i} at +${step.at / S}s`);
  }
  return b;
}

test('opens after threshold consecutive failures and refuses until the cooldown ends', () => {
  run([
    { at: 0, record: 'failure', expect: 'closed' },
    { at: 0, record: 'throttled', expect: 'closed' },
    { at: 0, allow: true, expect: 'go' },
    { at: 1 * S, record: 'failure', expect: 'open until +11s' },
    { at: 5 * S, allow: true, expect: 'wait until +11s' },
    { at: 10.9 * S, allow: true, expect: 'wait until +11s' },
  ]);
});

test('a success in between resets the count of consecutive failures', () => {
  run([
    { at: 0, record: 'failure', expect: 'closed' },
    { at: 0, record: 'failure', expect: 'closed' },
    { at: 0, record: 'success', expect: 'closed' },
    { at: 0, record: 'failure', expect: 'closed' },
    { at: 0, record: 'failure', expect: 'closed' },
    { at: 0, allow: true, expect: 'go' },
  ]);
});

test('after the cooldown one probe goes through; its success closes the breaker', () => {
  const b = run([
    { at: 0, record: 'failure', expect: 'closed' },
    { at: 0, record: 'failure', expect: 'closed' },
    { at: 0, record: 'failure', expect: 'open until +10s' },
    { at: 10 * S, allow: true, expect: 'probe' },
    { at: 10 * S, allow: true, expect: 'wait until +20s' },
    { at: 11 * S, record: 'success', expect: 'closed' },
    { at: 11 * S, allow: true, expect: 'go' },
  ]);
  assert.deepEqual(b.keys(), [], 'a healthy destination keeps no entry');
});

test('a failed probe re-opens with a doubled cooldown, capped at the maximum', () => {
  run([
    { at: 0, record: 'failure', expect: 'closed' },
    { at: 0, record: 'failure', expect: 'closed' },
    { at: 0, record: 'throttled', expect: 'open until +10s' },
    { at: 10 * S, allow: true, expect: 'probe' },
    { at: 10 * S, record: 'throttled', expect: 'open until +30s' },
    { at: 30 * S, allow: true, expect: 'probe' },
    { at: 30 * S, record: 'failure', expect: 'open until +65s' },
    { at: 65 * S, allow: true, expect: 'probe' },
    { at: 65 * S, record: 'failure', expect: 'open until +100s' },
    { at: 100 * S, allow: true, expect: 'probe' },
    { at: 100 * S, record: 'success', expect: 'closed' },
  ]);
});

test('the cooldown starts again from its base after a success', () => {
  const { b, clock } = breaker();
  for (let i = 0; i < 3; i++) b.record('site', 'failure');
  clock.advance(10 * S);
  assert.equal(b.allow('site').ok, true);
  assert.equal(b.record('site', 'failure').cooldownMs, 20 * S);
  b.record('site', 'success');
  for (let i = 0; i < 3; i++) b.record('site', 'failure');
  assert.deepEqual(b.state('site'), {
    state: 'open',
    consecutive: 3,
    cooldownMs: 10 * S,
    openedAt: clock.now(),
    retryAt: clock.now() + 10 * S,
    lastFailure: 'failure',
    trips: 1,
  });
});

test('a probe that never reports back expires and another probe is allowed', () => {
  const { b, clock } = breaker({ probeTimeoutMs: 4 * S });
  for (let i = 0; i < 3; i++) b.record('site', 'failure');
  clock.advance(10 * S);
  assert.deepEqual(b.allow('site'), { ok: true, probe: true });
  clock.advance(3.9 * S);
  assert.equal(b.allow('site').ok, false);
  clock.advance(0.1 * S);
  assert.deepEqual(b.allow('site'), { ok: true, probe: true });
  assert.equal(b.state('site').state, 'half-open');
});

test('late failures while open do not extend the cooldown', () => {
  const { b, clock } = breaker();
  for (let i = 0; i < 3; i++) b.record('site', 'failure');
  const retryAt = b.state('site').retryAt;
  clock.advance(5 * S);
  b.record('site', 'failure');
  assert.equal(b.state('site').retryAt, retryAt);
  assert.equal(b.state('site').consecutive, 4);
});

test('one destination tripping leaves the others closed', () => {
  const { b } = breaker();
  for (let i = 0; i < 3; i++) b.record('throttling-site', 'throttled');
  assert.equal(b.allow('throttling-site').ok, false);
  assert.deepEqual(b.allow('healthy-site'), { ok: true, probe: false });
  assert.equal(b.state('healthy-site').state, 'closed');
});

test('throttling replies are told apart from other transient replies', () => {
  const table: Array<[SmtpResponse, boolean]> = [
    [{ code: 421, enhanced: '4.7.0', text: 'Too many messages, slow down' }, true],
    [{ code: 421, text: 'Service not available, closing transmission channel' }, true],
    [{ code: 451, enhanced: '4.7.28', text: 'Our system has detected an unusual rate of unsolicited mail' }, true],
    [{ code: 451, enhanced: '4.7.650', text: 'The mail server has been temporarily rate limited due to IP reputation' }, true],
    [{ code: 450, enhanced: '4.7.1', text: 'Rate limit exceeded, try again later' }, true],
    [{ code: 451, text: 'Too many connections from your host' }, true],
    [{ code: 421, enhanced: '4.7.0', text: '[TSS04] Messages temporarily deferred due to unexpected volume or user complaints' }, true],
    [{ code: 452, enhanced: '4.5.3', text: 'Too many recipients' }, false],
    [{ code: 451, enhanced: '4.7.1', text: 'Greylisted, please try again later' }, false],
    [{ code: 451, enhanced: '4.3.0', text: 'Try again later' }, false],
    [{ code: 452, enhanced: '4.2.2', text: 'Mailbox full' }, false],
    [{ code: 550, enhanced: '5.7.1', text: 'Rate limit exceeded permanently' }, false],
    [{ code: 250, enhanced: '2.0.0', text: 'Ok' }, false],
  ];
  for (const [reply, want] of table) assert.equal(isThrottlingReply(reply), want, `${reply.code} ${reply.enhanced ?? ''} ${reply.text}`);
});

test('a transaction with any throttling reply counts as throttled', () => {
  assert.equal(
    outcomeOfReplies([
      { code: 250, text: 'ok' },
      { code: 550, enhanced: '5.1.1', text: 'no such user' },
    ]),
    'success',
  );
  assert.equal(
    outcomeOfReplies([
      { code: 250, text: 'ok' },
      { code: 421, enhanced: '4.7.0', text: 'slow down' },
    ]),
    'throttled',
  );
});
