import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import type { Config, DeepPartial } from '../../src/config/index.js';
import type { SpineEvent } from '../../src/core/index.js';
import type { TlsaRecord } from '../../src/dns/index.js';
import type { TlsAttemptRow } from '../../src/store/index.js';
import { createTestCa, selfSigned } from '../support/certs.js';
import { tempDir } from '../support/dialects.js';
import { type DnsTestServer, startDnsServer, type Zone } from '../support/dns-server.js';
import { type StartOptions, startPlatform, type TestPlatform } from '../support/platform.js';
import { type SmtpSink, startSmtpSink } from '../support/smtp-sink.js';
import { startPolicyHost } from '../transport-policy/policy-host.js';

/**
 * A transport-security lab on loopback. Each recipient domain `<d>` has the MX `mx.<d>` at 127.0.0.1,
 * reached through `delivery.portMap` on its own sink, which offers:
 *  - `none`: no STARTTLS;
 *  - `self-signed`: a self-signed certificate for `mx.<d>` (right name, untrusted);
 *  - `ca`: a certificate for `mx.<d>` from the lab's test CA (trusted through `extraCaFile`);
 *  - `ca-chain`: the same, sending the CA certificate too (what DANE-TA needs);
 *  - `wrong-name`: a test-CA certificate for another host name.
 * A domain may publish an MTA-STS policy (served over HTTPS by one loopback policy host with a test-CA
 * certificate naming every `mta-sts.<d>`, reached through `transportSecurity.httpsPortMap`) and TLSA
 * records, which the DNS server answers with the AD bit (as a validating resolver would).
 */
export type SinkTls = 'none' | 'self-signed' | 'ca' | 'ca-chain' | 'wrong-name';

export interface LabDomain {
  sink: SinkTls;
  mtaSts?: { mode: 'enforce' | 'testing'; mx?: string[]; id?: string };
  /** TLSA records for `_25._tcp.mx.<d>` as a function of the sink's certificates. */
  tlsa?: (certs: { leaf: string; ca: string }) => TlsaRecord[];
  /** Serve the TLSA records without the AD bit (an unsigned zone): they must be ignored. */
  insecure?: boolean;
}

export const labCa = createTestCa('Postwarden transport-security lab CA');
export const otherCa = createTestCa('Some other CA');

export function sinkCertificate(domain: string, kind: SinkTls): { key: string; cert: string } | 'none' {
  switch (kind) {
    case 'none':
      return 'none';
    case 'self-signed':
      return selfSigned([`mx.${domain}`]);
    case 'ca': {
      const c = labCa.issue({ hostnames: [`mx.${domain}`] });
      return { key: c.key, cert: c.cert };
    }
    case 'ca-chain': {
      const c = labCa.issue({ hostnames: [`mx.${domain}`] });
      return { key: c.key, cert: c.chain };
    }
    case 'wrong-name': {
      const c = labCa.issue({ hostnames: ['mx.somewhere-else.test'] });
      return { key: c.key, cert: c.cert };
    }
  }
}

export interface TlsLab {
  p: TestPlatform;
  dns: DnsTestServer;
  sinks: Map<string, SmtpSink>;
  policies: Map<string, string>;
  policyRequests: () => number;
  /** Replaces the MTA-STS policy text a domain serves (and optionally its TXT id). */
  setPolicy(domain: string, text: string, id?: string): void;
  /** Makes the policy host answer 503 for every request (an HTTPS outage). */
  setOutage(on: boolean): void;
  setTenantPolicy(doc: unknown): Promise<void>;
  send(to: string, stream?: string): Promise<string>;
  /** The first outcome event (delivered, deferred, bounced, expired) of a message's recipient. */
  outcome(messageId: string): Promise<SpineEvent>;
  attempts(messageId: string): Promise<TlsAttemptRow[]>;
}

export function policyText(mode: string, mx: string[], maxAge = 86400): string {
  return ['version: STSv1', `mode: ${mode}`, ...mx.map((m) => `mx: ${m}`), `max_age: ${maxAge}`, ''].join('\r\n');
}

const OUTCOMES = ['recipient.delivered', 'recipient.deferred', 'recipient.bounced', 'recipient.expired', 'recipient.failed'] as const;

export async function startTlsLab(
  t: TestContext,
  domains: Record<string, LabDomain>,
  opts: { platform?: Omit<StartOptions, 'config'>; config?: DeepPartial<Config>; dnsTtl?: number; extraZone?: Zone } = {},
): Promise<TlsLab> {
  const dir = tempDir(t, 'pw-tls-lab-');
  const caFile = join(dir, 'lab-ca.pem');
  writeFileSync(caFile, labCa.cert);

  const zone: Zone = {};
  const portMap: Record<string, number> = {};
  const sinks = new Map<string, SmtpSink>();
  const authenticated: string[] = [];
  const policies = new Map<string, string>();
  const stsNames: string[] = [];
  for (const [domain, d] of Object.entries(domains)) {
    const mx = `mx.${domain}`;
    const sink = await startSmtpSink(t, { tls: sinkCertificate(domain, d.sink), name: mx });
    sinks.set(domain, sink);
    zone[domain] = { MX: [{ priority: 10, exchange: mx }] };
    zone[mx] = { A: ['127.0.0.1'] };
    portMap[mx] = sink.port;
    if (d.tlsa) {
      const own = sinkCertificate(domain, d.sink);
      const leaf = own === 'none' ? selfSigned([mx]).cert : own.cert;
      zone[`_25._tcp.${mx}`] = { TLSA: d.tlsa({ leaf, ca: labCa.cert }) };
      if (!d.insecure) authenticated.push(mx, `_25._tcp.${mx}`);
    }
    if (d.mtaSts) {
      zone[`_mta-sts.${domain}`] = { TXT: [`v=STSv1; id=${d.mtaSts.id ?? 'lab1'}`] };
      policies.set(domain, policyText(d.mtaSts.mode, d.mtaSts.mx ?? [mx]));
      stsNames.push(`mta-sts.${domain}`);
    }
  }
  const dns = await startDnsServer(
    t,
    { ...zone, ...opts.extraZone },
    { authenticated, ...(opts.dnsTtl !== undefined ? { ttl: opts.dnsTtl } : {}) },
  );

  const httpsPortMap: Record<string, number> = {};
  let policyRequests = 0;
  let outage = false;
  if (stsNames.length) {
    const host = await startPolicyHost(t, labCa.issue({ hostnames: stsNames }));
    host.respond = (req, res) => {
      policyRequests++;
      const domain = (req.headers.host ?? '').replace(/:\d+$/, '').replace(/^mta-sts\./, '');
      const text = policies.get(domain);
      if (outage) return void res.writeHead(503).end();
      if (req.url !== '/.well-known/mta-sts.txt' || text === undefined) return void res.writeHead(404).end();
      res.writeHead(200, { 'content-type': 'text/plain' }).end(text);
    };
    for (const n of stsNames) httpsPortMap[n] = host.port;
  }

  const p = await startPlatform(t, {
    ...opts.platform,
    config: {
      sandbox: false,
      ...opts.config,
      dns: { servers: [dns.address], timeoutMs: 1000 },
      delivery: {
        portMap,
        retryMinutes: [60],
        connectTimeoutMs: 2000,
        commandTimeoutMs: 3000,
        dataTimeoutMs: 3000,
        ...opts.config?.delivery,
      },
      transportSecurity: {
        extraCaFile: caFile,
        policyFetchTimeoutMs: 3000,
        ...opts.config?.transportSecurity,
        httpsPortMap: { ...httpsPortMap, ...opts.config?.transportSecurity?.httpsPortMap } as Record<string, number>,
      },
    },
  });

  // Publish the DKIM records of the harness's domain: keys sign only once their record is in DNS
  // (identity), and report mails must go out signed (RFC 8460 §5.3).
  const listed = await p.request('GET', '/v1/domains');
  const domain = await p.request('GET', `/v1/domains/${listed.body.data[0].id}`);
  const published = { ...dns.zone };
  for (const r of domain.body.dns_records.filter((x: { kind: string }) => x.kind === 'dkim')) published[r.name] = { TXT: [r.value] };
  dns.setZone(published);

  const lab: TlsLab = {
    p,
    dns,
    sinks,
    policies,
    policyRequests: () => policyRequests,
    setPolicy(domain, text, id) {
      policies.set(domain, text);
      if (id) dns.setZone({ ...dns.zone, [`_mta-sts.${domain}`]: { TXT: [`v=STSv1; id=${id}`] } });
    },
    setOutage(on) {
      outage = on;
    },
    async setTenantPolicy(doc) {
      const res = await p.request('PUT', '/v1/tenant/tls-policy', doc);
      assert.equal(res.status, 200, JSON.stringify(res.body));
    },
    async send(to, stream = 'transactional') {
      const res = await p.request('POST', '/v1/messages', { from: 'sender@example.com', to, subject: 'tls lab', text: 'hello', stream });
      assert.equal(res.status, 202, JSON.stringify(res.body));
      return res.body.id as string;
    },
    async outcome(messageId) {
      for (let i = 0; i < 300; i++) {
        const events = await p.platform.store.events.page({ messageId, types: [...OUTCOMES], limit: 10 });
        if (events[0]) return events[0];
        await new Promise((r) => setTimeout(r, 25));
      }
      assert.fail(`no outcome for ${messageId} within 7.5 s`);
    },
    async attempts(messageId) {
      const events = await p.platform.store.events.page({ messageId, limit: 50 });
      const rid = events.find((e) => e.recipientId)?.recipientId;
      assert.ok(rid, 'the message has a recipient');
      return p.platform.store.tlsAttempts.listForRecipient(rid);
    },
  };
  return lab;
}
