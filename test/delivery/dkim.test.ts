import assert from 'node:assert/strict';
import { Resolver } from 'node:dns/promises';
import { test } from 'node:test';
import { dkimVerify } from 'mailauth';
import { startDnsServer } from '../support/dns-server.js';
import { startPlatform } from '../support/platform.js';
import { startSmtpSink } from '../support/smtp-sink.js';

/**
 * Done-means 5 of the delivery engine: what arrives at the receiving server verifies as DKIM pass
 * with an independent verifier (mailauth) against the published records, for RSA-2048 alone and
 * for RSA-2048 + Ed25519 dual signing, and a sub-domain sender signs with its registered parent.
 */
for (const dual of [false, true]) {
  test(`delivered mail verifies as DKIM pass with mailauth (${dual ? 'RSA-2048 + Ed25519' : 'RSA-2048'})`, {
    timeout: 60_000,
  }, async (t) => {
    const sink = await startSmtpSink(t);
    const dns = await startDnsServer(t, {
      'dest.test': { MX: [{ priority: 10, exchange: 'mx.dest.test' }] },
      'mx.dest.test': { A: ['127.0.0.1'] },
    });
    const p = await startPlatform(t, {
      config: {
        sandbox: false,
        dns: { servers: [dns.address] },
        delivery: { portMap: { 'mx.dest.test': sink.port }, dkimEd25519: dual },
      },
    });
    // Publish what the API says to publish for the domain the harness registered.
    const domains = await p.request('GET', '/v1/domains');
    const domain = await p.request('GET', `/v1/domains/${domains.body.data[0].id}`);
    const dkimRecords = domain.body.dns_records.filter((r: { kind: string }) => r.kind === 'dkim');
    assert.equal(dkimRecords.length, dual ? 2 : 1);
    const zone = { ...dns.zone };
    for (const r of dkimRecords) zone[r.name] = { TXT: [r.value] };
    dns.setZone(zone);

    for (const from of ['Acme <hello@example.com>', 'news@news.example.com']) {
      const res = await p.request('POST', '/v1/messages?mode=sync', {
        from,
        to: 'ann@dest.test',
        subject: 'Signed',
        text: 'Hello\n'.repeat(200),
      });
      assert.equal(res.body.recipients[0].state, 'delivered', JSON.stringify(res.body));
    }
    const resolver = new Resolver({ timeout: 2000, tries: 2 });
    resolver.setServers([dns.address]);
    assert.equal(sink.messages.length, 2);
    for (const m of sink.messages) {
      const out = await dkimVerify(m.raw, { resolver: (name: string) => resolver.resolveTxt(name), minBitLength: 2048 });
      const results = out.results.map((r) => [(r as { algo?: string }).algo, r.signingDomain, r.status.result]);
      assert.equal(results.length, dual ? 2 : 1, JSON.stringify(results));
      for (const [, d, result] of results) {
        assert.equal(d, 'example.com');
        assert.equal(result, 'pass', JSON.stringify(results));
      }
    }
    // A changed body no longer verifies: the check above is not vacuous.
    const tampered = Buffer.from(sink.messages[0]!.raw.toString('utf8').replace('Hello', 'Hullo'));
    const bad = await dkimVerify(tampered, { resolver: (name: string) => resolver.resolveTxt(name) });
    assert.ok(bad.results.every((r) => r.status.result !== 'pass'));
  });
}
