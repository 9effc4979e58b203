/**
 * The posture test lab: a loopback DNS server with a well-configured domain (good.example) and a
 * broken one (broken.example), one loopback HTTPS host (test CA) serving their MTA-STS policies and
 * BIMI assets, and an `audit` that points the auditor at both. Zones are built by functions so a
 * test overrides one name and keeps the rest (the scenario shape of Kumo's dane tests).
 */
import { readFileSync } from 'node:fs';
import type { TestContext } from 'node:test';
import { createResolver } from '../../src/dns/index.js';
import { type AuditOptions, type AuditResult, auditDomain, createHttpsGetter } from '../../src/posture/index.js';
import { createHttpsPolicyFetcher } from '../../src/transport-policy/index.js';
import { createTestCa } from '../support/certs.js';
import { type FakeClock, fakeClock } from '../support/clock.js';
import { type DnsServerOptions, type DnsTestServer, startDnsServer, type Zone } from '../support/dns-server.js';
import { type PolicyHost, startPolicyHost } from '../transport-policy/policy-host.js';

export const keys = JSON.parse(readFileSync(new URL('../fixtures/posture/dkim-keys.json', import.meta.url), 'utf8')) as {
  rsa2048: string;
  rsa2048b: string;
  rsa1024: string;
};

const digest = (byte: number) => Buffer.alloc(32, byte);

export function goodZone(): Zone {
  return {
    'good.example': {
      MX: [
        { priority: 10, exchange: 'mx1.good.example' },
        { priority: 20, exchange: 'mx2.good.example' },
      ],
      TXT: ['v=spf1 mx include:_spf.google.com -all', 'google-site-verification=abc'],
      A: ['192.0.2.10'],
    },
    'mx1.good.example': { A: ['192.0.2.11'] },
    'mx2.good.example': { A: ['192.0.2.12'] },
    '_spf.google.com': { TXT: ['v=spf1 ip4:198.51.100.0/24 ~all'] },
    'sel1._domainkey.good.example': { TXT: [`v=DKIM1; k=rsa; p=${keys.rsa2048}`] },
    'sel2._domainkey.good.example': { TXT: [`v=DKIM1; k=rsa; p=${keys.rsa2048b}`] },
    '_dmarc.good.example': { TXT: ['v=DMARC1; p=reject; adkim=s; rua=mailto:dmarc@good.example'] },
    '_mta-sts.good.example': { TXT: ['v=STSv1; id=20261101'] },
    'mta-sts.good.example': { A: ['127.0.0.1'] },
    '_smtp._tls.good.example': { TXT: ['v=TLSRPTv1; rua=mailto:tls-reports@good.example'] },
    '_25._tcp.mx1.good.example': {
      TLSA: [
        { usage: 3, selector: 1, matchingType: 1, data: digest(1) },
        { usage: 3, selector: 1, matchingType: 1, data: digest(2) },
      ],
    },
    '_25._tcp.mx2.good.example': {
      TLSA: [
        { usage: 3, selector: 1, matchingType: 1, data: digest(3) },
        { usage: 2, selector: 1, matchingType: 1, data: digest(4) },
      ],
    },
    'default._bimi.good.example': { TXT: ['v=BIMI1; l=https://bimi.good.example/logo.svg; a=https://bimi.good.example/vmc.pem'] },
    'bimi.good.example': { A: ['127.0.0.1'] },
  };
}

export const goodPolicy = 'version: STSv1\nmode: enforce\nmx: mx1.good.example\nmx: *.good.example\nmax_age: 1209600\n';

export function brokenZone(): Zone {
  return {
    'broken.example': {
      MX: [
        { priority: 10, exchange: 'mx.broken.example' },
        { priority: 20, exchange: '192.0.2.7' },
        { priority: 30, exchange: 'gone.broken.example' },
      ],
      TXT: [
        'v=spf1 ptr a:void1.broken.example a:void2.broken.example a:void3.broken.example include:loop.broken.example +all',
        'v=DMARC1; p=reject',
      ],
    },
    'mx.broken.example': { CNAME: 'real-mx.hoster.example' },
    'real-mx.hoster.example': { A: ['192.0.2.20'] },
    'loop.broken.example': { TXT: ['v=spf1 include:broken.example -all'] },
    'weak._domainkey.broken.example': { TXT: [`v=DKIM1; k=rsa; t=y; p=${keys.rsa1024}`] },
    'old._domainkey.broken.example': { TXT: ['v=DKIM1; k=rsa; p='] },
    '_dmarc.broken.example': { TXT: ['v=DMARC1; p=none; sp=none; pct=50; ri=3600; rua=mailto:reports@thirdparty.example'] },
    '_mta-sts.broken.example': { TXT: ['v=STSv1; id=1'] },
    'mta-sts.broken.example': { A: ['127.0.0.1'] },
    '_smtp._tls.broken.example': { TXT: ['v=TLSRPTv1; rua=ftp://reports.broken.example'] },
    '_25._tcp.real-mx.hoster.example': { TLSA: [{ usage: 1, selector: 1, matchingType: 1, data: digest(9) }] },
    '_25._tcp.mx.broken.example': { TLSA: [{ usage: 1, selector: 1, matchingType: 1, data: digest(9) }] },
    'default._bimi.broken.example': { TXT: ['v=BIMI1; l=http://bimi.broken.example/logo.svg'] },
  };
}

export const brokenPolicy = 'version: STSv1\nmode: testing\nmx: mx.elsewhere.example\nmax_age: 3600\nmax-age: 86400\n';

export const SVG = '<svg xmlns="http://www.w3.org/2000/svg" version="1.2" baseProfile="tiny-ps"><title>Good</title></svg>';

export interface Lab {
  dns: DnsTestServer;
  host: PolicyHost;
  clock: FakeClock;
  /** Policy text per domain; a test may replace one. */
  policies: Map<string, { body: string; contentType?: string }>;
  /** Other HTTPS paths (BIMI assets) by host + path. */
  files: Map<string, { body: string; contentType: string }>;
  audit(domain: string, options?: AuditOptions): Promise<AuditResult>;
  deps(): Parameters<typeof auditDomain>[1];
}

export async function startLab(
  t: TestContext,
  opts: { zone?: Zone; dnsOptions?: DnsServerOptions; certDays?: number; now?: number } = {},
): Promise<Lab> {
  const ca = createTestCa('Posture Test CA');
  const cert = ca.issue({
    hostnames: ['mta-sts.good.example', 'bimi.good.example', 'mta-sts.broken.example', 'bimi.broken.example', 'mta-sts.other.example'],
    days: opts.certDays ?? 30,
  });
  const host = await startPolicyHost(t, { cert: cert.chain, key: cert.key });
  const policies = new Map<string, { body: string; contentType?: string }>([
    ['good.example', { body: goodPolicy }],
    ['broken.example', { body: brokenPolicy }],
  ]);
  const files = new Map<string, { body: string; contentType: string }>([
    ['bimi.good.example/logo.svg', { body: SVG, contentType: 'image/svg+xml' }],
    ['bimi.good.example/vmc.pem', { body: ca.cert, contentType: 'application/pem-certificate-chain' }],
  ]);
  host.respond = (req, res) => {
    const name = String(req.headers.host ?? '').replace(/:\d+$/, '');
    if (req.url === '/.well-known/mta-sts.txt' && name.startsWith('mta-sts.')) {
      const p = policies.get(name.slice('mta-sts.'.length));
      if (p) {
        res.writeHead(200, { 'content-type': p.contentType ?? 'text/plain' }).end(p.body);
        return;
      }
    }
    const f = files.get(`${name}${req.url}`);
    if (f) res.writeHead(200, { 'content-type': f.contentType }).end(f.body);
    else res.writeHead(404).end();
  };
  const dns = await startDnsServer(
    t,
    opts.zone ?? { ...goodZone(), ...brokenZone() },
    opts.dnsOptions ?? { authenticated: Object.keys(goodZone()) },
  );
  const clock = fakeClock(opts.now);
  const portMap = () => ({ host: '127.0.0.1', port: host.port });
  const deps = () => ({
    resolver: createResolver({ servers: [dns.address], clock, cache: false, timeoutMs: 1000, tries: 1 }),
    clock,
    fetchPolicy: createHttpsPolicyFetcher({ ca: ca.cert, portMap, timeoutMs: 2000 }),
    fetchHttps: createHttpsGetter({ ca: ca.cert, portMap, timeoutMs: 2000 }),
    queryTimeoutMs: 1500,
  });
  return { dns, host, clock, policies, files, deps, audit: (domain, options) => auditDomain(domain, deps(), options) };
}

/** Finding ids of an audit, sorted and de-duplicated. */
export const ids = (a: AuditResult) => [...new Set(a.findings.map((f) => f.id))].sort();
