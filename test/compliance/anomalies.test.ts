import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { after, before, type TestContext, test } from 'node:test';
import { createAlertSyslog } from '../../src/compliance/alert-syslog.js';
import {
  createAlertConsumer,
  createAnomalyDetector,
  createAuthFailureTally,
  formatAlertSyslog,
  loadAnomalyRules,
} from '../../src/compliance/index.js';
import type { SpineEvent } from '../../src/core/index.js';
import type { Store } from '../../src/store/index.js';
import { fakeClock } from '../support/clock.js';
import { openStore } from '../support/dialects.js';

/**
 * Each anomaly kind of rules/anomalies.yaml trips on what crosses its threshold and stays quiet on
 * what does not (issue #21, Done 3); alerts reach a loopback syslog collector in RFC 5424 form.
 * The detector runs against a real store (counts live in anomaly_counts); events are synthesised.
 */
const rules = loadAnomalyRules();
const H = 3_600_000;
const T0 = Date.UTC(2026, 11, 6, 0, 0, 0);
let seq = 0;
// One store for the file; each test counts under a tenant of its own.
let shared: Store;
let tenant = 'ten_0';
const teardown: (() => unknown)[] = [];
before(async () => {
  shared = await openStore({ after: (fn: () => unknown) => teardown.push(fn) } as unknown as TestContext, 'sqlite');
});
after(async () => {
  for (const fn of teardown.reverse()) await fn();
});
const ev = (type: string, at: number, data: Record<string, unknown>, tenantId = tenant): SpineEvent =>
  ({
    id: `evt_${++seq}`,
    cursor: String(seq),
    type,
    tenantId,
    messageId: null,
    recipientId: null,
    seq: 1,
    at: new Date(at).toISOString(),
    schemaVersion: 1,
    data,
  }) as SpineEvent;
const accepted = (at: number, recipients: number, extra: Record<string, unknown> = {}) =>
  ev('message.accepted', at, { recipients, api_key: 'key_1', stream: 'transactional', ...extra });

let tenants = 0;
async function detector(_t: unknown) {
  tenant = `ten_${++tenants}`;
  return { store: shared, d: createAnomalyDetector({ store: shared, rules }) };
}
const kinds = (alerts: { data: { kind: string } }[]) => alerts.map((a) => a.data.kind);

test('volume: 24 quiet hours then a burst over 5 × the baseline trips volume-spike; steady volume does not', async (t) => {
  const { d } = await detector(t);
  for (let h = 0; h < 24; h++) assert.deepEqual(kinds(await d.observe(accepted(T0 + h * H, 20))), []);
  // Steady: the same 20 in hour 24 is nowhere near 5 × 20.
  assert.deepEqual(kinds(await d.observe(accepted(T0 + 24 * H, 20))), []);
  const spike = await d.observe(accepted(T0 + 24 * H + 60_000, 300));
  assert.deepEqual(new Set(kinds(spike)), new Set(['volume-spike']));
  assert.deepEqual(spike.map((a) => a.data.rule).sort(), ['volume-spike-key', 'volume-spike-stream', 'volume-spike-tenant']);
  assert.equal(spike[0]!.data.baseline, 20);
});

test('bounces: 25 of 100 in an hour trips bounce-spike; 5 of 100 does not', async (t) => {
  const { d } = await detector(t);
  for (let i = 0; i < 95; i++) await d.observe(ev('recipient.delivered', T0 + i, {}));
  const quiet = [];
  for (let i = 0; i < 5; i++) quiet.push(...(await d.observe(ev('recipient.bounced', T0 + 100 + i, {}))));
  assert.deepEqual(kinds(quiet), []);
  const loud = [];
  for (let i = 0; i < 20; i++) loud.push(...(await d.observe(ev('recipient.bounced', T0 + 200 + i, {}))));
  assert.ok(kinds(loud).includes('bounce-spike'));
});

test('complaints: 5 over 100 delivered trips complaint-spike; 2 do not', async (t) => {
  const { d } = await detector(t);
  for (let i = 0; i < 100; i++) await d.observe(ev('recipient.delivered', T0 + i, {}));
  const out = [];
  for (let i = 0; i < 2; i++) out.push(...(await d.observe(ev('recipient.complained', T0 + 200 + i, {}))));
  assert.deepEqual(kinds(out), []);
  for (let i = 0; i < 3; i++) out.push(...(await d.observe(ev('recipient.complained', T0 + 300 + i, {}))));
  assert.deepEqual(kinds(out).slice(0, 1), ['complaint-spike']);
});

test('a key used from a new address trips key-new-address; its first and its known addresses do not', async (t) => {
  const { d } = await detector(t);
  assert.deepEqual(kinds(await d.observe(accepted(T0, 1, { client_ip: '192.0.2.1' }))), []);
  assert.deepEqual(kinds(await d.observe(accepted(T0 + 1000, 1, { client_ip: '192.0.2.1' }))), []);
  const fresh = await d.observe(accepted(T0 + 2000, 1, { client_ip: '198.51.100.66' }));
  assert.deepEqual(kinds(fresh), ['key-new-address']);
  assert.deepEqual(fresh[0]!.data.subject, { key: 'key_1', client_ip: '198.51.100.66', message_id: null });
});

test('ten failed AUTH attempts from one address in 5 minutes trip auth-failure-burst; nine, or ten spread out, do not', async (t) => {
  const { d } = await detector(t);
  const out = [];
  for (let i = 0; i < 9; i++) out.push(...(await d.authFailed({ via: 'smtp-auth', address: '203.0.113.5', at: T0 + i * 1000 })));
  for (let i = 0; i < 10; i++) out.push(...(await d.authFailed({ via: 'api-key', address: '203.0.113.6', at: T0 + i * 6 * 60_000 })));
  assert.deepEqual(kinds(out), []);
  const burst = await d.authFailed({ via: 'smtp-auth', address: '203.0.113.5', at: T0 + 10_000 });
  assert.deepEqual(kinds(burst), ['auth-failure-burst']);
  assert.equal(burst[0]!.tenantId, 'platform');
});

test('a flood of failed authentications is counted in memory and written in one transaction per flush', async () => {
  let transactions = 0;
  const store: Pick<Store, 'transaction'> = {
    transaction: (fn) => {
      transactions++;
      return shared.transaction(fn);
    },
  };
  const tally = createAuthFailureTally({ store, clock: fakeClock(T0 + 60_000), rules, flushMs: 60_000 });
  for (let i = 0; i < 500; i++) tally.record({ via: 'api-key', address: '203.0.113.77' });
  for (let i = 0; i < 3; i++) tally.record({ via: 'smtp-auth', address: '203.0.113.78' });
  assert.equal(transactions, 0, 'nothing is written per attempt');
  const raised = await tally.flush();
  assert.equal(transactions, 1, 'one transaction for every address of the interval');
  assert.deepEqual(
    raised.map((e) => [e.tenantId, (e.data as { subject: { address: string } }).subject.address, (e.data as { value: number }).value]),
    [['platform', '203.0.113.77', 500]],
  );
  assert.deepEqual(await tally.flush(), [], 'an empty interval writes nothing');
  assert.equal(transactions, 1);
  await tally.close();
});

// The report's rows as the store answers them (the query itself runs in register.test.ts).
const reportRows = (rows: { ip: string; count: number; pass: boolean }[]) =>
  rows.map((r) => ({
    policyDomain: 'example.com',
    sourceIp: r.ip,
    count: r.count,
    dkim: r.pass ? 'pass' : 'fail',
    spf: 'fail',
    headerFrom: 'example.com',
    authResults: { dkim: [], spf: [] },
  }));

test('a DMARC report with 40 of 200 failing trips dmarc-failures; 4 of 200 does not', async (t) => {
  const { store } = await detector(t);
  const reports: Record<string, ReturnType<typeof reportRows>> = {
    fb_low: reportRows([
      { ip: '192.0.2.1', count: 196, pass: true },
      { ip: '203.0.113.1', count: 4, pass: false },
    ]),
    fb_high: reportRows([
      { ip: '192.0.2.1', count: 160, pass: true },
      { ip: '203.0.113.1', count: 40, pass: false },
    ]),
  };
  const d = createAnomalyDetector({
    store: { compliance: { ...store.compliance, dmarcSources: async (id: string) => reports[id] ?? [] } },
    rules,
  });
  const received = (id: string) =>
    ev('report.received', T0, { kind: 'dmarc-aggregate', feedback_id: id, organization: 'receiver.example.net', domains: ['example.com'] });
  assert.deepEqual(kinds(await d.observe(received('fb_low'))), []);
  const out = await d.observe(received('fb_high'));
  assert.deepEqual(kinds(out), ['dmarc-failures']);
  assert.equal(out[0]!.data.value, 0.2);
});

test('alerts go to a loopback syslog collector as RFC 5424 lines, and as CEF when configured', async (t) => {
  const store = shared;
  const clock = fakeClock(T0);
  const received: string[] = [];
  const collector = createSocket('udp4');
  collector.on('message', (m) => received.push(m.toString('utf8')));
  await new Promise<void>((r) => collector.bind(0, '127.0.0.1', () => r()));
  t.after(() => collector.close());
  const port = collector.address().port;
  const target = { host: '127.0.0.1', port, protocol: 'udp' as const, appName: 'postwarden' };
  const syslog = createAlertSyslog({ store, clock, owner: 'test', target, hostname: 'pw.test' });
  t.after(() => syslog.stop());
  await syslog.tick(); // positions at the end of the spine
  const d = createAnomalyDetector({ store, rules });
  const consumer = createAlertConsumer({ store, clock, owner: 'test', register: { dmarcAlerts: async () => [] }, anomalies: d });
  await consumer.tick();
  await store.events.append(
    [{ type: 'recipient.delivered', tenantId: 'ten_s', data: { email: 'a@example.org', attempt: 1 } } as never],
    T0,
  );
  for (let i = 0; i < 10; i++)
    await store.events.append([{ type: 'recipient.complained', tenantId: 'ten_s', data: { email: 'a@example.org' } } as never], T0);
  await consumer.tick();
  await syslog.tick();
  for (let i = 0; i < 50 && !received.length; i++) await new Promise((r) => setImmediate(r));
  assert.equal(received.length, 1, received.join('\n'));
  // RFC 5424 §6: <PRI>VERSION SP TIMESTAMP SP HOSTNAME SP APP-NAME SP PROCID SP MSGID SP SD SP MSG
  const m =
    /^<(\d+)>1 (\S+) pw\.test postwarden (\d+) complaint-spike \[postwarden-alert@32473 kind="complaint-spike" id="(evt_[^"]+)" tenant="ten_s"\] \uFEFF(\{.*\})$/.exec(
      received[0]!,
    );
  assert.ok(m, received[0]);
  assert.equal(Number(m[1]), 13 * 8 + 2); // log audit, critical
  assert.equal(JSON.parse(m[5]!).data.rule, 'complaint-spike');
  const page = await store.events.page({ after: 0, limit: 100 });
  const alert = page.find((e) => e.type === 'compliance.alert' && e.tenantId === 'ten_s')!;
  const cef = formatAlertSyslog(alert, { appName: 'postwarden', hostname: 'pw.test', procId: '1', format: 'cef' });
  assert.match(
    cef,
    /^<106>1 \S+ pw\.test postwarden 1 complaint-spike \[[^\]]+\] CEF:0\|Postwarden\|Postwarden\|1\|complaint-spike\|.+\|9\|rt=\d+ externalId=evt_/,
  );
});

test('a batch counts in memory and stores its counts only when written: judged alike, written once', async (t) => {
  const { store, d } = await detector(t);
  const metric = 'delivered:60';
  const stored = async () =>
    (await store.compliance.anomalyCounts({ tenantId: tenant, scope: '*', metric, from: T0, to: T0 })).get(T0) ?? 0;
  // A batch never written (a consumer whose transaction failed) leaves nothing behind.
  const lost = d.batch();
  for (let i = 0; i < 50; i++) await lost.observe(ev('recipient.delivered', T0 + i, {}));
  assert.equal(lost.pending, true);
  assert.equal(await stored(), 0);
  // The same threshold trips inside one batch as across events one by one (see the bounce test).
  const b = d.batch();
  for (let i = 0; i < 95; i++) await b.observe(ev('recipient.delivered', T0 + i, {}));
  const alerts: { data: { kind: string } }[] = [];
  for (let i = 0; i < 20; i++) alerts.push(...(await b.observe(ev('recipient.bounced', T0 + 200 + i, {}))));
  assert.deepEqual([...new Set(kinds(alerts))], ['bounce-spike']);
  await store.transaction((tx) => b.write(tx));
  assert.equal(await stored(), 95);
  // A later batch starts from what the first one stored.
  const next = d.batch();
  await next.observe(ev('recipient.delivered', T0 + 500, {}));
  await store.transaction((tx) => next.write(tx));
  assert.equal(await stored(), 96);
});
