import type { Logger } from 'pino';
import { type Clock, domainOf, type SmtpResponse } from '../core/index.js';
import type { MxHost, MxRoute } from '../dns/index.js';
import { type ProviderMap, providerOf, type Ruleset } from '../feedback/index.js';
import { type Breaker, type BreakerOutcome, isThrottlingReply } from './breaker.js';
import type { DeliveryMetrics } from './metrics.js';
import { localReply, verdictDetails, verdictFor } from './outcome.js';
import { createPool, type Pool } from './pool.js';
import type { Router } from './router.js';
import { openSession, type SessionResult, type SessionTimeouts } from './session.js';
import type { Shaper } from './shaper.js';
import type { DeliveryJob, DeliveryOutcome, Transport } from './transport.js';

const SHARED_COUNTER_RETRY_MS = 5000;

/**
 * SMTP delivery to remote MX hosts: the message is DKIM-signed once, its recipients are grouped by
 * domain, each domain is routed to its site (MX host set), and each site gets one transaction per
 * message over a pooled connection. A site whose breaker is open or whose rate is spent is not
 * attempted: its recipients are deferred to when it may be tried again, without spending an
 * attempt, so a slow or throttling destination never holds the scheduler's slots.
 */
export interface Signer {
  sign(raw: Buffer, fromDomain: string): Promise<{ raw: Buffer; signatures: { domain: string; selector: string; algorithm: string }[] }>;
}

export interface SmtpTransportDeps {
  router: Router;
  breaker: Breaker;
  shaper: Shaper;
  signer: Signer;
  ruleset: Ruleset;
  providers: ProviderMap;
  clock: Clock;
  ehloName: string;
  localAddress?: string;
  timeouts: Partial<SessionTimeouts>;
  idleMs: number;
  metrics?: DeliveryMetrics;
  log?: Pick<Logger, 'warn'>;
  /**
   * The envelope sender (return path) per recipient: identity gives each its own VERP address, so
   * recipients that share a sender go in one transaction and a VERP sender means one per recipient.
   */
  envelopeFrom?: (job: DeliveryJob, recipient: DeliveryJob['recipients'][number]) => string;
}

type Opened = SessionResult;

export function createSmtpTransport(deps: SmtpTransportDeps): Transport & { pool: Pool<Opened> } {
  const { clock } = deps;
  /** The hosts of each site as last routed: the pool opens connections to a site, not a host. */
  const siteHosts = new Map<string, MxHost[]>();

  async function openSite(site: string): Promise<Opened> {
    const hosts = siteHosts.get(site) ?? [];
    let last: (SessionResult & { ok: false }) | undefined;
    // RFC 5321 §5.1: try the MX hosts in preference order, each of their addresses, until one answers.
    for (const host of hosts) {
      for (const address of host.addresses) {
        const started = clock.now();
        const r = await openSession({
          host: host.name,
          address,
          port: deps.router.portFor(host.name),
          ...(deps.localAddress ? { localAddress: deps.localAddress } : {}),
          ehloName: deps.ehloName,
          tls: { mode: 'opportunistic', servername: host.name },
          timeouts: deps.timeouts,
        });
        deps.metrics?.connect.observe({ site }, (clock.now() - started) / 1000);
        if (r.ok) return r;
        last = r;
        // A 4xx/5xx greeting is an answer from this host: the next host may still take the mail.
      }
    }
    const failure =
      last ??
      ({ ok: false, stage: 'connect', error: `no MX host of ${site} has an address`, evidence: emptyEvidence(site) } as SessionResult & {
        ok: false;
      });
    return failure;
  }

  const pool = createPool<Opened>({
    open: openSite,
    // Connection limits are per site and come from the shaping rules.
    maxConnections: (site) => deps.shaper.limitsFor(site).maxConnections,
    maxMessagesPerConnection: (site) => deps.shaper.limitsFor(site).maxMessagesPerConnection,
    idleMs: deps.idleMs,
    clock,
  });

  /** Records a breaker outcome and mirrors the site's state in the `breaker_open` gauge. */
  function recordBreaker(site: string, outcome: BreakerOutcome): void {
    const state = deps.breaker.record(site, outcome).state;
    deps.metrics?.breakerOpen.set({ site }, state === 'open' ? 1 : 0);
  }

  /**
   * 0 when one message may go to the site now, else ms to wait: this node's buckets first, then the
   * cluster's windows. An unreachable cluster counter holds the site back briefly rather than let
   * every node send at the full rate on its own.
   */
  async function takeRate(site: string): Promise<number> {
    const wait = deps.shaper.take(site, 1);
    if (wait > 0 || !deps.shaper.shared) return wait;
    try {
      return await deps.shaper.takeShared(site, 1);
    } catch (e) {
      deps.log?.warn({ err: e, site }, 'shared rate counter unavailable; deferring');
      return SHARED_COUNTER_RETRY_MS;
    }
  }

  function routeFailure(route: Exclude<MxRoute, { kind: 'hosts' }>, domain: string): { kind: 'bounced' | 'deferred'; reply: SmtpResponse } {
    switch (route.kind) {
      case 'null-mx':
        return { kind: 'bounced', reply: { code: 556, enhanced: '5.1.10', text: `${domain} does not accept mail (null MX, RFC 7505)` } };
      case 'nxdomain':
        return { kind: 'bounced', reply: localReply('permanent', '5.1.2', `${domain} does not exist (NXDOMAIN)`) };
      case 'no-route':
        return { kind: 'bounced', reply: localReply('permanent', '5.4.4', `no route to ${domain}: ${route.reason}`) };
      case 'temporary':
        return { kind: 'deferred', reply: localReply('temporary', '4.4.3', `DNS lookup failed for ${domain}: ${route.reason}`) };
    }
  }

  async function deliverDomain(
    signed: Buffer,
    domain: string,
    recipients: DeliveryJob['recipients'],
    envelopeFrom: string,
    dkim: Record<string, unknown>,
  ) {
    const outcome = (r: (typeof recipients)[number], o: Omit<DeliveryOutcome, 'recipientId'>): DeliveryOutcome => ({
      recipientId: r.id,
      ...o,
    });
    const route = await deps.router.route(domain);
    if (route.kind !== 'hosts') {
      const f = routeFailure(route, domain);
      const v = verdictFor(deps.ruleset, f.reply);
      return recipients.map((r) => outcome(r, { kind: f.kind, reply: f.reply, details: { ...verdictDetails(v), stage: 'dns' } }));
    }
    const site = route.site;
    siteHosts.set(site, route.hosts);
    const provider = providerOf(deps.providers, route.hosts[0]?.name ?? '');

    const gate = deps.breaker.allow(site);
    if (!gate.ok) {
      const reply = localReply('temporary', '4.4.5', `destination ${site} is paused: ${gate.reason}`);
      return recipients.map((r) =>
        outcome(r, {
          kind: 'deferred',
          reply,
          retryAt: gate.retryAt,
          attempted: false,
          site,
          details: { site, local_throttle: 'breaker' },
        }),
      );
    }
    const wait = await takeRate(site);
    if (wait > 0) {
      const reply = localReply('temporary', '4.4.5', `destination ${site} rate limit reached`);
      return recipients.map((r) =>
        outcome(r, {
          kind: 'deferred',
          reply,
          retryAt: clock.now() + wait,
          attempted: false,
          site,
          details: { site, local_throttle: 'rate' },
        }),
      );
    }

    for (const r of recipients) deps.metrics?.queueWait.observe({ site }, Math.max(0, clock.now() - r.nextAttemptAt) / 1000);
    const lease = await pool.acquire(site);
    if (!lease.ok) {
      const f = lease.reason === 'open-failed' ? lease.failure : undefined;
      if (f?.ok === false) recordBreaker(site, f.reply && isThrottlingReply(f.reply) ? 'throttled' : 'failure');
      const reply =
        f?.reply ??
        localReply(
          'temporary',
          '4.4.1',
          f ? `${f.stage} failed: ${f.error}` : `no connection to ${site}: ${'error' in lease ? lease.error : ''}`,
        );
      const v = verdictFor(deps.ruleset, reply, provider);
      // A 5xx greeting is the site refusing us, not the recipients: still defer and retry later.
      const kind = reply.code >= 500 && f?.stage !== 'greeting' ? 'bounced' : 'deferred';
      return recipients.map((r) =>
        outcome(r, {
          kind,
          reply,
          site,
          details: { ...verdictDetails(v), site, stage: f?.stage ?? lease.reason, mx: f?.evidence.mxHost, ip: f?.evidence.address },
        }),
      );
    }

    // The breaker may have opened while this transaction waited for a connection (a destination
    // that stalls before it throttles fills its pool queue): give the connection back unused and
    // defer without spending an attempt, so queued recipients do not hold the scheduler's slots.
    const gateNow = deps.breaker.state(site);
    if (gateNow.state === 'open') {
      pool.release(lease, { reusable: true });
      const reply = localReply('temporary', '4.4.5', `destination ${site} is paused: circuit opened while waiting for a connection`);
      return recipients.map((r) =>
        outcome(r, {
          kind: 'deferred',
          reply,
          retryAt: gateNow.retryAt ?? undefined,
          attempted: false,
          site,
          details: { site, local_throttle: 'breaker' },
        }),
      );
    }

    const session = lease.session;
    const started = clock.now();
    const sent = await session.send({
      from: envelopeFrom,
      to: recipients.map((r) => r.address),
      raw: signed,
      smtputf8: recipients.some((r) => /[^\x00-\x7f]/.test(r.address)),
    });
    deps.metrics?.acceptance.observe({ site }, (clock.now() - started) / 1000);
    pool.release(lease, { reusable: session.usable });

    const replies = [...sent.perRecipient.values()];
    recordBreaker(site, replies.some(isThrottlingReply) ? 'throttled' : 'success');
    const ev = session.evidence;
    const evidence = {
      site,
      mx: ev.mxHost,
      ip: ev.address,
      port: ev.port,
      reused: lease.reused,
      tls: ev.tls
        ? { version: ev.tls.version, cipher: ev.tls.cipher, authorized: ev.tls.authorized, error: ev.tls.authorizationError ?? null }
        : null,
      connect_ms: ev.connectMs,
      transaction_ms: sent.durationMs,
      ...dkim,
    };
    return recipients.map((r) => {
      const reply = sent.perRecipient.get(r.address) ?? localReply('temporary', '4.4.2', sent.error ?? 'no reply for this recipient');
      const v = verdictFor(deps.ruleset, reply, provider);
      return outcome(r, { kind: v.kind, reply, site, details: { ...verdictDetails(v), ...evidence } });
    });
  }

  return {
    pool,
    async deliver(job) {
      const signedMsg = await deps.signer.sign(job.body, domainOf(job.message.from));
      const dkim = { dkim: signedMsg.signatures.map((s) => `${s.algorithm} d=${s.domain} s=${s.selector}`) };
      // One transaction per (recipient domain, envelope sender).
      const groups = new Map<string, { domain: string; from: string; rs: DeliveryJob['recipients'] }>();
      for (const r of job.recipients) {
        const from = deps.envelopeFrom?.(job, r) ?? job.message.from;
        const key = `${r.domain}\n${from}`;
        const g = groups.get(key) ?? { domain: r.domain, from, rs: [] };
        g.rs.push(r);
        groups.set(key, g);
      }
      const results = await Promise.all([...groups.values()].map((g) => deliverDomain(signedMsg.raw, g.domain, g.rs, g.from, dkim)));
      const outcomes = results.flat();
      for (const o of outcomes) deps.metrics?.outcomes.inc({ site: o.site ?? 'none', kind: o.kind });
      return outcomes;
    },
    async close() {
      await pool.drain({ graceMs: 5000 });
    },
  };
}

function emptyEvidence(site: string) {
  return { mxHost: site, address: '', port: 0, localAddress: null, tls: null, ehlo: [], connectMs: 0, readyMs: 0, tlsMs: null };
}
