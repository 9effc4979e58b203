import assert from 'node:assert/strict';
import { test } from 'node:test';
import { adviseDmarcPolicy, type DailyAggregate, type PlatformDailySends, parseDmarcRecord } from '../../src/identity/index.js';

/**
 * A synthetic month of DMARC aggregate data: the platform's two IPs and a CRM are authorized and
 * aligned; a mailing list forwards with DKIM intact; spoofers fail from random addresses. Each test
 * changes one knob.
 */
interface MonthOptions {
  days?: number;
  start?: string;
  scale?: number;
  crmFailures?: Record<string, number>;
  platformMisaligned?: Record<string, number>;
  regularUnknown?: boolean;
}

function month(o: MonthOptions = {}): { aggregates: DailyAggregate[]; platform: PlatformDailySends[] } {
  let seed = 42;
  const rand = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  const scale = o.scale ?? 1;
  const aggregates: DailyAggregate[] = [];
  const platform: PlatformDailySends[] = [];
  const first = Date.parse(`${o.start ?? '2026-10-01'}T00:00:00Z`);
  for (let day = 0; day < (o.days ?? 30); day++) {
    const date = new Date(first + day * 86_400_000).toISOString().slice(0, 10);
    let platformCount = 0;
    for (const ip of ['192.0.2.10', '192.0.2.11']) {
      const count = Math.round((250 + rand() * 100) * scale);
      platformCount += count;
      aggregates.push({ date, source: { ip, name: 'postwarden', authorized: true }, count, spfAligned: true, dkimAligned: true });
    }
    const misaligned = o.platformMisaligned?.[date] ?? 0;
    platform.push({ date, count: platformCount, aligned: platformCount - misaligned });
    const crm = Math.round(40 * scale);
    const crmFail = o.crmFailures?.[date] ?? 0;
    aggregates.push({
      date,
      source: { ip: '198.51.100.20', name: 'crm.example', authorized: true },
      count: crm,
      spfAligned: 0,
      dkimAligned: crm - crmFail,
    });
    aggregates.push({
      date,
      source: { ip: '203.0.113.5', name: 'lists.example.org', authorized: false },
      count: 6,
      spfAligned: false,
      dkimAligned: true,
    });
    for (let i = 0; i < 3; i++) {
      const ip = `100.64.${Math.floor(rand() * 255)}.${Math.floor(rand() * 255)}`;
      aggregates.push({
        date,
        source: { ip, authorized: false },
        count: 1 + Math.floor(rand() * 20),
        spfAligned: false,
        dkimAligned: false,
      });
    }
    if (o.regularUnknown) {
      aggregates.push({
        date,
        source: { ip: '198.51.100.99', name: 'newsletter-tool.example', authorized: false },
        count: 80,
        spfAligned: false,
        dkimAligned: false,
      });
    }
  }
  return { aggregates, platform };
}

const ids = (a: { reasons: { id: string }[] }) => a.reasons.map((r) => r.id);

test('a clean month at p=none advances to quarantine in testing mode, keeping the other tags', () => {
  const { aggregates, platform } = month();
  const parsed = parseDmarcRecord('v=DMARC1; p=none; pct=100; rua=mailto:dmarc@reports.example.com; adkim=r');
  assert.ok(parsed.ok);
  const advice = adviseDmarcPolicy(aggregates, platform, { p: 'none', record: parsed.record });
  assert.equal(advice.action, 'advance');
  assert.deepEqual([advice.current, advice.next], ['none', 'quarantine-testing']);
  assert.equal(advice.proposed?.record, 'v=DMARC1; p=quarantine; t=y; adkim=r; rua=mailto:dmarc@reports.example.com');
  assert.equal(ids(advice)[0], 'dmarc-advisor.ready');
  assert.deepEqual(advice.window, { from: '2026-10-17', to: '2026-10-30', days: 14 });
  assert.equal(advice.failingAuthorizedSources.length, 0);
  // Spoofers and the forwarding list are listed, largest first, without blocking.
  assert.ok(advice.unknownSources.length > 3);
  assert.ok(advice.unknownSources[0]!.messages >= advice.unknownSources[1]!.messages);
  assert.equal(advice.totals.platformMisaligned, 0);
});

test('an authorized source failing five days ago holds the policy and names it', () => {
  const { aggregates, platform } = month({ crmFailures: { '2026-10-25': 7 } });
  const advice = adviseDmarcPolicy(aggregates, platform, { p: 'none' });
  assert.equal(advice.action, 'hold');
  assert.equal(advice.next, 'none');
  const reason = advice.reasons.find((r) => r.id === 'dmarc-advisor.authorized-failing')!;
  assert.equal(reason.evidence.lastFailure, '2026-10-25');
  assert.equal(reason.evidence.cleanDays, 5);
  assert.match(reason.message, /crm\.example \(7 failing\)/);
  assert.deepEqual(
    advice.failingAuthorizedSources.map((s) => s.name),
    ['crm.example'],
  );
});

test('a failure older than the clean period no longer holds', () => {
  const { aggregates, platform } = month({ crmFailures: { '2026-10-10': 7 } });
  assert.equal(adviseDmarcPolicy(aggregates, platform, { p: 'none' }).action, 'advance');
});

test('the clean period and tolerance are configurable', () => {
  const { aggregates, platform } = month({ crmFailures: { '2026-10-25': 1 } });
  assert.equal(adviseDmarcPolicy(aggregates, platform, { p: 'none' }, { cleanDays: 5 }).action, 'advance');
  assert.equal(adviseDmarcPolicy(aggregates, platform, { p: 'none' }, { maxAuthorizedFailureRate: 0.05 }).action, 'advance');
});

test('too little volume holds', () => {
  const { aggregates, platform } = month({ scale: 0.01 });
  const advice = adviseDmarcPolicy(aggregates, platform, { p: 'none' });
  assert.deepEqual([advice.action, ids(advice).includes('dmarc-advisor.low-volume')], ['hold', true]);
});

test('too short a history holds', () => {
  const { aggregates, platform } = month({ days: 10 });
  const advice = adviseDmarcPolicy(aggregates, platform, { p: 'none' });
  assert.deepEqual([advice.action, ids(advice).includes('dmarc-advisor.short-history')], ['hold', true]);
});

test('misaligned platform sends hold', () => {
  const { aggregates, platform } = month({ platformMisaligned: { '2026-10-28': 3 } });
  const advice = adviseDmarcPolicy(aggregates, platform, { p: 'quarantine' });
  assert.equal(advice.action, 'hold');
  assert.equal(advice.reasons.find((r) => r.id === 'dmarc-advisor.platform-misaligned')!.evidence.platformMisaligned, 3);
});

test('a stage published recently holds until it has run for the clean period', () => {
  const { aggregates, platform } = month();
  const advice = adviseDmarcPolicy(aggregates, platform, { p: 'quarantine', testing: true, since: '2026-10-22' });
  assert.deepEqual([advice.action, ids(advice).includes('dmarc-advisor.recent-change')], ['hold', true]);
});

test('walks the ladder quarantine t=y → quarantine → reject t=y → reject, and holds at reject', () => {
  const { aggregates, platform } = month();
  const step = (p: 'quarantine' | 'reject', testing: boolean) =>
    adviseDmarcPolicy(aggregates, platform, { p, testing, since: '2026-10-01' });
  assert.deepEqual([step('quarantine', true).next, step('quarantine', true).proposed], ['quarantine', { p: 'quarantine' }]);
  assert.deepEqual(step('quarantine', false).proposed, { p: 'reject', t: 'y' });
  assert.deepEqual(step('reject', true).proposed, { p: 'reject' });
  const atReject = step('reject', false);
  assert.deepEqual([atReject.action, ids(atReject).includes('dmarc-advisor.at-reject')], ['hold', true]);
});

test('a regular unauthorized sender is flagged for review without blocking', () => {
  const { aggregates, platform } = month({ regularUnknown: true });
  const advice = adviseDmarcPolicy(aggregates, platform, { p: 'none' });
  assert.equal(advice.action, 'advance');
  const warning = advice.reasons.find((r) => r.id === 'dmarc-advisor.regular-unknown-source')!;
  assert.equal(warning.evidence.name, 'newsletter-tool.example');
  assert.equal(advice.unknownSources[0]!.name, 'newsletter-tool.example');
});

test('three months of daily data walk none → quarantine t=y → quarantine, then a failing CRM holds and says why', () => {
  // October at p=none, clean: start quarantining in testing mode.
  const oct = month({ start: '2026-10-01', days: 31 });
  const first = adviseDmarcPolicy(oct.aggregates, oct.platform, { p: 'none', since: '2026-09-01' });
  assert.deepEqual([first.action, first.next, first.proposed?.p, first.proposed?.t], ['advance', 'quarantine-testing', 'quarantine', 'y']);
  assert.match(first.reasons[0]!.message, /14 days/);

  // November at quarantine; t=y since Nov 1, clean: drop the testing flag.
  const nov = month({ start: '2026-11-01', days: 30 });
  const second = adviseDmarcPolicy(nov.aggregates, nov.platform, { p: 'quarantine', testing: true, since: '2026-11-01' });
  assert.deepEqual([second.action, second.current, second.next], ['advance', 'quarantine-testing', 'quarantine']);

  // December at quarantine since Dec 1, but the CRM's DKIM broke on Dec 24: stay, and name it.
  const dec = month({ start: '2026-12-01', days: 31, crmFailures: { '2026-12-24': 40, '2026-12-25': 12 } });
  const third = adviseDmarcPolicy(dec.aggregates, dec.platform, { p: 'quarantine', since: '2026-12-01' });
  assert.deepEqual([third.action, third.current, third.next], ['hold', 'quarantine', 'quarantine']);
  const why = third.reasons.find((r) => r.id === 'dmarc-advisor.authorized-failing')!;
  assert.equal(why.evidence.lastFailure, '2026-12-25');
  assert.match(why.message, /crm\.example \(52 failing\)/);
});
