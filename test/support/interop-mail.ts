import { Resolver } from 'node:dns/promises';
import { dkimVerify } from 'mailauth';
import SMTPConnection from 'nodemailer/lib/smtp-connection';
import type { DnsTestServer } from './dns-server.js';
import type { TestPlatform } from './platform.js';

/**
 * What the interop tests (8BITMIME, long lines, a real Postfix) share: publishing the DKIM records
 * the API asks for, submitting raw bytes over the platform's submission port exactly as given
 * (BODY=8BITMIME declared when asked), and verifying DKIM with mailauth against the loopback DNS.
 */

/** The DKIM TXT records of the harness domain (example.com), as the API lists them. */
export async function dkimRecords(p: TestPlatform): Promise<{ name: string; value: string }[]> {
  const domains = await p.request('GET', '/v1/domains');
  const domain = await p.request('GET', `/v1/domains/${domains.body.data[0].id}`);
  return domain.body.dns_records.filter((r: { kind: string }) => r.kind === 'dkim');
}

/** Adds the harness domain's DKIM records to the loopback zone. */
export async function publishDkim(p: TestPlatform, dns: DnsTestServer): Promise<{ name: string; value: string }[]> {
  const records = await dkimRecords(p);
  const zone = { ...dns.zone };
  for (const r of records) zone[r.name] = { TXT: [r.value] };
  dns.setZone(zone);
  return records;
}

/** Submits `raw` over SMTP submission (STARTTLS, AUTH with the harness key); resolves the 250 text. */
export async function submitRaw(p: TestPlatform, m: { from: string; to: string[]; raw: Buffer; eightBit?: boolean }): Promise<string> {
  const conn = new SMTPConnection({
    host: '127.0.0.1',
    port: p.smtpPort,
    secure: false,
    requireTLS: true,
    tls: { rejectUnauthorized: false },
    connectionTimeout: 5000,
    greetingTimeout: 5000,
    socketTimeout: 10_000,
  });
  try {
    await new Promise<void>((resolve, reject) => {
      conn.once('error', reject);
      conn.connect(() => resolve());
    });
    await new Promise<void>((resolve, reject) => conn.login({ user: 'anyone', pass: p.key }, (e) => (e ? reject(e) : resolve())));
    return await new Promise<string>((resolve, reject) =>
      conn.send({ from: m.from, to: m.to, use8BitMime: m.eightBit === true }, m.raw, (e, info) => (e ? reject(e) : resolve(info.response))),
    );
  } finally {
    conn.quit();
  }
}

/** mailauth's DKIM results for `raw`: [signing domain, result] per signature. */
export async function verifyDkim(raw: Buffer, dns: DnsTestServer): Promise<[string, string][]> {
  const resolver = new Resolver({ timeout: 2000, tries: 2 });
  resolver.setServers([dns.address]);
  const out = await dkimVerify(raw, { resolver: (name: string) => resolver.resolveTxt(name), minBitLength: 2048 });
  return out.results.map((r) => [r.signingDomain, r.status.result]);
}

/** The longest line of `raw`, without its line break. */
export function longestLine(raw: Buffer): number {
  return Math.max(
    ...raw
      .toString('latin1')
      .split(/\r?\n/)
      .map((l) => l.length),
  );
}
