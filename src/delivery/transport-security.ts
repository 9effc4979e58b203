import { readFileSync } from 'node:fs';
import { rootCertificates } from 'node:tls';
import { Agent, buildConnector, request } from 'undici';
import { type Clock, isPublicAddress } from '../core/index.js';
import type { Resolver } from '../dns/index.js';
import type { Store } from '../store/index.js';
import {
  type CachedMtaStsPolicy,
  type ConnectTarget,
  createHttpsPolicyFetcher,
  createMtaStsCache,
  type MtaStsCache,
  type MtaStsStore,
  parseMtaStsPolicy,
  summariseTlsStats,
  type TenantTlsPolicy,
  type TlsStatsReport,
} from '../transport-policy/index.js';
import { createTlsPlanner, type TlsPlanner } from './tls-planner.js';
import { createTlsReporter, type TlsReporter } from './tls-report.js';

/**
 * Transport security wired for delivery: the MTA-STS cache backed by the store (policies survive a
 * restart, RFC 8461 §5.1), the HTTPS clients that fetch policies and post TLS-RPT reports (PKIX-checked
 * against Node's roots plus an optional extra CA, and steerable to loopback for tests), the per-domain
 * TLS planner, the TLS-RPT reporter and the statistics auditors read.
 */
export interface TransportSecurityOptions {
  mtaSts: boolean;
  dane: boolean;
  /** PEM file of extra trust anchors (tests, private CAs); empty: Node's root store only. */
  extraCaFile: string;
  /** HTTPS host → port on 127.0.0.1 (tests and labs). */
  httpsPortMap: Record<string, number>;
  policyFetchTimeoutMs: number;
  tlsRpt: { organizationName: string; contactInfo: string; from: string };
}

export interface TransportSecurityDeps {
  store: Pick<Store, 'tenants' | 'mtaStsPolicies' | 'tlsAttempts'>;
  resolver: Resolver;
  clock: Clock;
  options: TransportSecurityOptions;
  /** The reporting MTA's host name. */
  submitter: string;
  /** The tenant's level for a stream. */
  tenantPolicy(tenantId: string, stream: string): Promise<TenantTlsPolicy>;
  submitReportMail?: (m: { to: string; raw: Buffer }) => Promise<void>;
  log?: { warn(obj: object, msg: string): void; info(obj: object, msg: string): void };
}

export interface TransportSecurity {
  planner: TlsPlanner;
  mtaSts?: MtaStsCache;
  reporter: TlsReporter;
  /** Trust anchors for PKIX checks of MX certificates; undefined: Node's default roots. */
  ca?: string[];
  stats(q: { tenantId: string; from: number; to: number; domain?: string }): Promise<TlsStatsReport>;
}

/**
 * The MTA-STS cache's store on the database: the policy text is kept and parsed again on read. A
 * bounded memory layer in front spares a database read per delivery (most domains have no policy):
 * it holds what this process read or wrote; a policy another node stored is found on the next miss,
 * and until then this node simply fetches it itself when the TXT id says there is one.
 */
export function storeBackedMtaStsStore(
  store: Pick<Store, 'mtaStsPolicies'>,
  opts: { maxEntries?: number; missTtlMs?: number; now?: () => number } = {},
): MtaStsStore {
  const maxEntries = opts.maxEntries ?? 10_000;
  const missTtlMs = opts.missTtlMs ?? 300_000;
  const now = opts.now ?? Date.now;
  const memory = new Map<string, { entry?: CachedMtaStsPolicy; at: number }>();
  const remember = (domain: string, entry: CachedMtaStsPolicy | undefined): void => {
    memory.delete(domain);
    if (memory.size >= maxEntries) memory.delete(memory.keys().next().value as string);
    memory.set(domain, { ...(entry ? { entry } : {}), at: now() });
  };
  return {
    async get(domain) {
      const hit = memory.get(domain);
      if (hit && (hit.entry || now() - hit.at < missTtlMs)) return hit.entry;
      const row = await store.mtaStsPolicies.get(domain);
      const parsed = row ? parseMtaStsPolicy(row.policyText) : undefined;
      const entry =
        row && parsed?.ok
          ? {
              domain: row.domain,
              id: row.policyId,
              policy: parsed.policy,
              policyText: row.policyText,
              fetchedAt: row.fetchedAt,
              expiresAt: row.expiresAt,
            }
          : undefined;
      remember(domain, entry);
      return entry;
    },
    async put(e) {
      await store.mtaStsPolicies.put({
        domain: e.domain,
        policyId: e.id,
        policyText: e.policyText,
        fetchedAt: e.fetchedAt,
        expiresAt: e.expiresAt,
      });
      remember(e.domain, e);
    },
    async delete(domain) {
      await store.mtaStsPolicies.delete(domain);
      memory.delete(domain);
    },
  };
}

export function createTransportSecurity(deps: TransportSecurityDeps): TransportSecurity {
  const o = deps.options;
  const ca = o.extraCaFile ? [...rootCertificates, readFileSync(o.extraCaFile, 'utf8')] : undefined;
  const mapped = (host: string): ConnectTarget | undefined => {
    const port = o.httpsPortMap[host.toLowerCase()];
    return port ? { host: '127.0.0.1', port } : undefined;
  };
  async function target(host: string): Promise<ConnectTarget> {
    const m = mapped(host);
    if (m) return m;
    for (const type of ['A', 'AAAA'] as const) {
      const r = await deps.resolver.lookup(host, type);
      const first = r.kind === 'answer' ? r.records[0] : undefined;
      // A recipient domain's records choose these hosts: never our own network (SSRF).
      if (first && !isPublicAddress(first)) throw new Error(`${host} resolves to ${first}, which is not a public address`);
      if (first) return { host: first, port: 443 };
    }
    throw new Error(`${host} has no address`);
  }

  const mtaSts = o.mtaSts
    ? createMtaStsCache({
        resolver: deps.resolver,
        clock: deps.clock,
        store: storeBackedMtaStsStore(deps.store, { now: deps.clock.now }),
        fetcher: createHttpsPolicyFetcher({
          timeoutMs: o.policyFetchTimeoutMs,
          resolver: deps.resolver,
          ...(ca ? { ca } : {}),
          ...(Object.keys(o.httpsPortMap).length ? { portMap: target } : {}),
        }),
      })
    : undefined;

  async function postReport(url: string, body: Buffer, headers: Record<string, string>): Promise<number> {
    const u = new URL(url);
    const to: ConnectTarget = mapped(u.hostname) ?? (await target(u.hostname).then((t) => ({ ...t, port: Number(u.port || 443) })));
    const connector = buildConnector({ ...(ca ? { ca } : {}), rejectUnauthorized: true, minVersion: 'TLSv1.2', timeout: 30_000 });
    const agent = new Agent({
      connect(opts, cb) {
        connector({ ...opts, hostname: to.host, port: String(to.port), servername: u.hostname }, cb);
      },
    });
    try {
      const res = await request(url, { method: 'POST', body, headers, dispatcher: agent, signal: AbortSignal.timeout(60_000) });
      await res.body.dump();
      return res.statusCode;
    } finally {
      agent.destroy().catch(() => undefined);
    }
  }

  return {
    planner: createTlsPlanner({
      tenantPolicy: deps.tenantPolicy,
      ...(mtaSts ? { mtaSts } : {}),
      ...(o.dane ? { daneResolver: deps.resolver } : {}),
    }),
    ...(mtaSts ? { mtaSts } : {}),
    ...(ca ? { ca } : {}),
    reporter: createTlsReporter({
      store: deps.store,
      resolver: deps.resolver,
      clock: deps.clock,
      organizationName: o.tlsRpt.organizationName || deps.submitter,
      contactInfo: o.tlsRpt.contactInfo || `postmaster@${deps.submitter}`,
      submitter: deps.submitter,
      from: o.tlsRpt.from || `tls-rpt@${deps.submitter}`,
      ...(deps.submitReportMail ? { submitMail: deps.submitReportMail } : {}),
      postReport,
      ...(deps.log ? { log: deps.log } : {}),
    }),
    async stats(q) {
      return summariseTlsStats(await deps.store.tlsAttempts.stats(q), q);
    },
  };
}
