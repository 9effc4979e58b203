import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
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
 * A pass alone proves little about what was signed, so the signatures' `h=` lists and body hashes
 * are checked too, against an independent relaxed canonicalisation (RFC 6376 §3.4.4) of a body
 * ending in empty lines.
 */

/** RFC 6376 §3.4.4, written from the RFC apart from the product's code: the relaxed canonical body. */
function canonicalBody(body: string): string {
  const lines = body.split('\r\n').map((l) => l.replace(/[ \t]+/g, ' ').replace(/ $/, ''));
  if (body.endsWith('\r\n')) lines.pop();
  while (lines.length && lines[lines.length - 1] === '') lines.pop();
  return lines.length ? `${lines.join('\r\n')}\r\n` : '';
}

/** The tags of each DKIM-Signature field of a message, unfolded. */
function dkimTags(raw: Buffer): Record<string, string>[] {
  const head = raw.toString('latin1').split('\r\n\r\n')[0]!;
  const fields = head.match(/^DKIM-Signature:.*(?:\r\n[ \t].*)*/gim) ?? [];
  return fields.map((f) =>
    Object.fromEntries(
      f
        .slice(f.indexOf(':') + 1)
        .replace(/\r\n[ \t]/g, '')
        .split(';')
        .map((t) => t.trim())
        .filter(Boolean)
        .map((t) => [t.slice(0, t.indexOf('=')).trim(), t.slice(t.indexOf('=') + 1).replace(/\s+/g, '')]),
    ),
  );
}
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
        // Trailing empty lines: the body hash must be over the body without them (§3.4.4).
        text: `${'Hello \t there\n'.repeat(200)}\n\n\n`,
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
    for (const m of sink.messages) {
      const raw = m.raw.toString('latin1');
      const body = raw.slice(raw.indexOf('\r\n\r\n') + 4);
      assert.ok(body.endsWith('there\r\n\r\n\r\n\r\n'), 'the delivered body ends in empty lines');
      const bh = createHash('sha256').update(canonicalBody(body), 'latin1').digest('base64');
      const tags = dkimTags(m.raw);
      assert.equal(tags.length, dual ? 2 : 1);
      for (const tag of tags) {
        assert.equal(tag.c, 'relaxed/relaxed');
        assert.equal(tag.bh, bh, 'bh= is the hash of the relaxed canonical body, trailing empty lines dropped');
        const h = tag.h!.toLowerCase().split(':');
        // From is signed, and oversigned (one more than occurs) so a From added in transit breaks it (§8.15).
        assert.equal(h.filter((n) => n === 'from').length, 2, tag.h);
        for (const name of ['to', 'subject', 'date', 'message-id', 'mime-version', 'content-type'])
          assert.ok(h.includes(name), `${name} in h=${tag.h}`);
      }
    }
    // A changed body no longer verifies: the check above is not vacuous.
    const tampered = Buffer.from(sink.messages[0]!.raw.toString('utf8').replace('Hello', 'Hullo'));
    const bad = await dkimVerify(tampered, { resolver: (name: string) => resolver.resolveTxt(name) });
    assert.ok(bad.results.every((r) => r.status.result !== 'pass'));
  });
}
