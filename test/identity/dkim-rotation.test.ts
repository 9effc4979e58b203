import assert from 'node:assert/strict';
import { Resolver } from 'node:dns/promises';
import { test } from 'node:test';
import { dkimVerify } from 'mailauth';
import { fakeClock } from '../support/clock.js';
import { startDnsServer, type Zone } from '../support/dns-server.js';
import { startPlatform } from '../support/platform.js';
import { startSmtpSink } from '../support/smtp-sink.js';

/**
 * Done-means 2 of the identity issue, on a fake clock: a new selector is created and must be
 * published, signing switches only after it verifies, the old key stays published through the
 * overlap and is then retired. Every message at every stage is checked with mailauth against what
 * DNS holds at that moment, so a signature by an unpublished key would fail the test.
 */
const DAY = 86_400_000;

test('DKIM rotation: publish → verify → switch → retire after the overlap, every message passing', { timeout: 120_000 }, async (t) => {
  const clock = fakeClock();
  const sink = await startSmtpSink(t);
  const base: Zone = { 'dest.test': { MX: [{ priority: 10, exchange: 'mx.dest.test' }] }, 'mx.dest.test': { A: ['127.0.0.1'] } };
  const dns = await startDnsServer(t, base);
  const p = await startPlatform(t, {
    clock,
    config: {
      sandbox: false,
      dns: { servers: [dns.address], timeoutMs: 1000 },
      delivery: { portMap: { 'mx.dest.test': sink.port } },
      identity: { dkimRotationDays: 180, dkimOverlapDays: 7 },
    },
  });
  const resolver = new Resolver({ timeout: 2000, tries: 2 });
  resolver.setServers([dns.address]);
  const domainId = (await p.request('GET', '/v1/domains')).body.data[0].id as string;
  const published = new Map<string, string>();
  const publish = (name: string, value: string) => {
    published.set(name, value);
    const zone: Zone = structuredClone(base);
    for (const [n, v] of published) zone[n] = { TXT: [v] };
    dns.setZone(zone);
  };
  const dkimRecords = async () =>
    (
      (await p.request('GET', `/v1/domains/${domainId}`)).body.dns_records as {
        kind: string;
        name: string;
        value: string;
        selector: string;
        status: string;
        action: string;
      }[]
    ).filter((r) => r.kind === 'dkim');
  const keys = async () =>
    ((await p.request('GET', `/v1/domains/${domainId}/dkim`)).body.data as { selector: string; status: string }[]).map((k) => [
      k.selector,
      k.status,
    ]);

  /** Sends one message and returns the selectors that signed it, each verified by mailauth. */
  async function sendAndVerify(label: string): Promise<string[]> {
    const before = sink.messages.length;
    const res = await p.request('POST', '/v1/messages?mode=sync', {
      from: 'hello@example.com',
      to: 'ann@dest.test',
      subject: label,
      text: 'Hi\n',
    });
    assert.equal(res.body.recipients?.[0]?.state, 'delivered', JSON.stringify(res.body));
    assert.equal(sink.messages.length, before + 1);
    const out = await dkimVerify(sink.messages[before]!.raw, {
      resolver: (name: string) => resolver.resolveTxt(name),
      curTime: new Date(clock.now()),
      minBitLength: 2048,
    });
    assert.ok(out.results.length > 0, `${label}: the message is signed`);
    for (const r of out.results) assert.equal(r.status.result, 'pass', `${label}: ${r.selector} ${r.status.comment ?? ''}`);
    return out.results.map((r) => r.selector!);
  }

  // Stage 0: the first key is pending until its record is in DNS; then it signs.
  const [first] = await dkimRecords();
  assert.equal(first!.status, 'pending');
  publish(first!.name, first!.value);
  await p.platform.identityMonitor.tick();
  assert.deepEqual(await keys(), [[first!.selector, 'active']]);
  assert.deepEqual(await sendAndVerify('stage 0'), [first!.selector]);

  // Stage 1: past the rotation age a new selector is created, pending; the old key still signs.
  clock.advance(181 * DAY);
  const rotated = await p.platform.identityMonitor.tick();
  assert.equal(rotated.created.length, 1);
  const next = (await dkimRecords()).find((r) => r.selector !== first!.selector)!;
  assert.equal(next.status, 'pending');
  assert.deepEqual(await sendAndVerify('stage 1 (new selector not yet published)'), [first!.selector]);
  // Not published yet: the scheduled check leaves it pending.
  await p.platform.identityMonitor.tick();
  assert.deepEqual(await keys(), [
    [first!.selector, 'active'],
    [next.selector, 'pending'],
  ]);

  // Stage 2: once published, verification activates it and signing switches (after the signer's cache).
  publish(next.name, next.value);
  const verified = await p.platform.identityMonitor.tick();
  assert.deepEqual(verified.activated, [next.name]);
  clock.advance(2 * 60_000);
  assert.deepEqual(await sendAndVerify('stage 2 (switched)'), [next.selector]);

  // Stage 3: the old key stays published and active-but-unused for the overlap, then retires.
  clock.advance(6 * DAY);
  assert.deepEqual((await p.platform.identityMonitor.tick()).retired, []);
  clock.advance(1 * DAY + 60_000);
  assert.deepEqual((await p.platform.identityMonitor.tick()).retired, [first!.name]);
  assert.deepEqual(await keys(), [
    [first!.selector, 'retired'],
    [next.selector, 'active'],
  ]);
  const remove = (await dkimRecords()).find((r) => r.selector === first!.selector)!;
  assert.equal(remove.action, 'remove');
  assert.deepEqual(await sendAndVerify('stage 3 (old key retired)'), [next.selector]);
});

test('a manual rotation refuses a second pending selector', async (t) => {
  const p = await startPlatform(t);
  const domainId = (await p.request('GET', '/v1/domains')).body.data[0].id as string;
  const first = await p.request('POST', `/v1/domains/${domainId}/dkim/rotate`);
  assert.equal(first.status, 201, JSON.stringify(first.body));
  assert.equal(first.body.data[0].status, 'pending');
  assert.equal(first.body.dns_records[0].selector, first.body.data[0].selector);
  const second = await p.request('POST', `/v1/domains/${domainId}/dkim/rotate`);
  assert.equal(second.status, 409);
});
