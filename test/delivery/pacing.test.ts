import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import type { NewEvent, SmtpResponse } from '../../src/core/index.js';
import type { AttemptReport } from '../../src/delivery/delivery-policy.js';
import { createPacingController, ledgerPauseRules, loadPacingRules, parsePacingRules } from '../../src/delivery/index.js';
import { fakeClock } from '../support/clock.js';

/** rules/pacing.yaml and the controller that applies it, without sockets (the simulation has those). */
const rules = loadPacingRules();
const KEY = 'default|gmail-smtp-in.l.google.com';
const request = { site: 'gmail-smtp-in.l.google.com', provider: 'gmail', stream: 'marketing', tenantId: 'ten_1' };
const RATE_421: SmtpResponse = { code: 421, enhanced: '4.7.28', text: 'unusual rate of unsolicited mail - gsmtp' };
const GREYLIST: SmtpResponse = { code: 451, enhanced: '4.3.0', text: 'Try again later' };
const OK: SmtpResponse = { code: 250, enhanced: '2.0.0', text: 'OK' };

function setup() {
  const clock = fakeClock();
  const events: NewEvent[] = [];
  const pacing = createPacingController({ clock, rules, enabled: true, emit: (e) => events.push(...e) });
  const report = (reply: SmtpResponse): void => {
    const r: AttemptReport = {
      key: KEY,
      request,
      outcome: reply.code === 421 ? 'throttled' : 'success',
      replies: [reply],
      categories: reply.code >= 400 ? ['throttling'] : [],
    };
    pacing.observe(r, 0);
  };
  const changes = () => events.map((e) => e.data as Record<string, unknown>);
  return { clock, pacing, report, changes };
}

describe('pacing rules', () => {
  test('the shipped rules load, and the changelog has an entry for their version', () => {
    assert.match(rules.version, /^\d{4}\.\d{1,2}\.\d+$/);
    assert.ok(rules.rules.some((r) => r.id === 'gmail-rate-4.7.28'));
    const changelog = readFileSync(new URL('../../rules/CHANGELOG.md', import.meta.url), 'utf8');
    const pacing = changelog.slice(changelog.indexOf('## Pacing rules'));
    assert.match(pacing, new RegExp(`^### ${rules.version.replace(/\./g, '\\.')}\\b`, 'm'));
  });

  test('ledger-fed conditions are marked: pauses the ledger evaluates (holds), the rest waiting', () => {
    const ledger = rules.rules.filter((r) => r.needsLedger).map((r) => r.id);
    assert.deepEqual(ledger, [
      'cold-complaint-pause',
      'marketing-complaint-rate-pause',
      'bulk-hard-bounce-rate-pause',
      'complaint-rate-doubles',
    ]);
    assert.deepEqual(
      ledgerPauseRules(rules).map((r) => [r.id, r.streams, r.metric, r.above]),
      [
        ['cold-complaint-pause', ['cold'], 'complaints', 0],
        ['marketing-complaint-rate-pause', ['marketing'], 'complaints', 0.003],
        ['bulk-hard-bounce-rate-pause', ['marketing', 'cold'], 'hard_bounces', 0.05],
      ],
    );
    assert.ok(!ledgerPauseRules(rules).some((r) => r.streams?.includes('transactional')), 'transactional is never held');
  });

  test('a bad rule is refused with the path of the field', () => {
    const bad = (yaml: string) => () => parsePacingRules(`version: 2026.12.1\nrules:\n${yaml}`, 'test.yaml');
    const base = `  - id: r1\n    condition: { kind: replies, count: 3, windowSeconds: 60 }\n    recovery: { afterSeconds: 1, stepSeconds: 1, stepFactor: 2 }\n`;
    assert.throws(bad(`${base}    action: { kind: slow }\n`), /test\.yaml: rules\[0\]\.action\.kind: expected cap, pause or flag/);
    assert.throws(bad(`${base}    action: { kind: cap, rateFactor: 1.5, minPerMinute: 1 }\n`), /rules\[0\]\.action\.rateFactor/);
    assert.throws(bad(`${base}    action: { kind: flag }\n    match: { colour: red }\n`), /rules\[0\]\.match\.colour: unknown field/);
    assert.throws(bad(`${base}    action: { kind: flag }\n    match: { code: [4.7] }\n`), /rules\[0\]\.match\.code/);
    assert.throws(bad(`${base}    action: { kind: flag }\n  - id: r1\n`), /duplicate id r1|rules\[1\]/);
  });
});

describe('pacing controller', () => {
  test('three 421 4.7.28 in a minute cap the pool at the site at half its rate, with the rule and the numbers', () => {
    const { clock, pacing, report, changes } = setup();
    for (let i = 0; i < 40; i++) {
      report(OK);
      clock.advance(1000);
    }
    for (let i = 0; i < 3; i++) report(RATE_421);
    const [c] = changes();
    assert.equal(changes().length, 1);
    assert.equal(c!.change, 'cap');
    assert.equal(c!.rule, 'gmail-rate-4.7.28');
    assert.equal(c!.ruleset_version, rules.version);
    assert.equal(c!.per_minute, 21); // 43 attempts in the last minute × 0.5
    assert.equal(c!.concurrency, 2);
    assert.deepEqual(c!.trigger, {
      kind: 'replies',
      count: 3,
      window_seconds: 60,
      reply: '421 4.7.28 unusual rate of unsolicited mail - gsmtp',
    });
    assert.equal(pacing.concurrency(KEY), 2);
    // The cap is a token bucket: nothing goes the moment it is set, then the capped rate (at most 10 s of it at once).
    const gate = () => pacing.gate(KEY, { ...request, pool: 'default' });
    assert.equal(gate().ok, false);
    clock.advance(30_000);
    let admitted = 0;
    for (let i = 0; i < 20 && gate().ok; i++) {
      pacing.taken(KEY);
      admitted++;
    }
    assert.equal(admitted, 3, '21/min holds at most 10 s worth: 3 messages');
    const refused = gate();
    assert.equal(refused.ok, false);
    assert.equal(!refused.ok && refused.throttle, 'rate');
  });

  test('once quiet it steps back up, one event per step, and ends recovered', () => {
    const { clock, pacing, report, changes } = setup();
    for (let i = 0; i < 60; i++) report(OK);
    for (let i = 0; i < 3; i++) report(RATE_421);
    assert.equal(changes()[0]!.per_minute, 31);
    clock.advance(119_000);
    pacing.gate(KEY, { ...request, pool: 'default' });
    assert.equal(changes().length, 1, 'no step before two quiet minutes');
    clock.advance(1000);
    pacing.gate(KEY, { ...request, pool: 'default' });
    assert.deepEqual(
      changes().map((c) => [c.change, c.per_minute]),
      [
        ['cap', 31],
        ['step', 47],
      ],
    );
    clock.advance(60_000);
    pacing.snapshot();
    assert.deepEqual(changes().at(-1)!.change, 'recovered');
    assert.equal(pacing.concurrency(KEY), null);
    assert.equal(pacing.snapshot()[0]!.state, 'healthy');
  });

  test('more throttling while capped cuts the cap again, only on fresh replies', () => {
    const { report, changes } = setup();
    for (let i = 0; i < 40; i++) report(OK);
    for (let i = 0; i < 3; i++) report(RATE_421);
    report(RATE_421);
    report(RATE_421);
    assert.equal(changes().length, 1, 'two more replies are not three new ones');
    report(RATE_421);
    assert.deepEqual(
      changes().map((c) => c.per_minute),
      [21, 10],
    );
  });

  test('greylisting (451 4.3.0 try again later) does not slow a site', () => {
    const { report, changes } = setup();
    for (let i = 0; i < 30; i++) report(GREYLIST);
    assert.deepEqual(changes(), []);
  });

  test('an operator pause holds every pool of a provider until resumed, each an event with the actor and reason', () => {
    const { pacing, changes } = setup();
    const o = { target: 'gmail', pool: null, reason: 'provider ticket', actor: 'key_1', tenantId: 'ten_1' };
    pacing.pause(o);
    const g = pacing.gate(KEY, { ...request, pool: 'default' });
    assert.equal(g.ok, false);
    assert.equal(!g.ok && g.throttle, 'paused');
    assert.equal(pacing.gate('bulk|mx.other.test', { ...request, site: 'mx.other.test', provider: undefined, pool: 'bulk' }).ok, true);
    pacing.resume(o);
    assert.equal(pacing.gate(KEY, { ...request, pool: 'default' }).ok, true);
    assert.deepEqual(
      changes().map((c) => [c.change, c.rule, c.actor, c.reason]),
      [
        ['pause', 'override', 'key_1', 'provider ticket'],
        ['resume', 'override', 'key_1', 'provider ticket'],
      ],
    );
  });

  test('disabled, it observes nothing but overrides still hold', () => {
    const clock = fakeClock();
    const events: NewEvent[] = [];
    const pacing = createPacingController({ clock, rules, enabled: false, emit: (e) => events.push(...e) });
    for (let i = 0; i < 10; i++)
      pacing.observe({ key: KEY, request, outcome: 'throttled', replies: [RATE_421], categories: ['throttling'] }, 0);
    assert.deepEqual(events, []);
    pacing.pause({ target: request.site, pool: null, reason: 'x', actor: 'key_1', tenantId: 'ten_1' });
    assert.equal(pacing.gate(KEY, { ...request, pool: 'default' }).ok, false);
  });
});
