import type { Logger } from 'pino';
import { type Clock, domainOf, newId, type SmtpResponse } from '../core/index.js';
import type { MxRoute } from '../dns/index.js';
import { type ProviderMap, providerOf, type Ruleset } from '../feedback/index.js';
import type { TlsDecision } from '../transport-policy/index.js';
import { type Breaker, type BreakerOutcome, isThrottlingReply } from './breaker.js';
import type { DeliveryMetrics } from './metrics.js';
import { localReply, verdictDetails, verdictFor } from './outcome.js';
import { createPool, type Pool } from './pool.js';
import type { Router } from './router.js';
import { openSession, type SessionResult, type SessionTimeouts, type SmtpSession } from './session.js';
import { supports } from './session-replies.js';
import type { Shaper } from './shaper.js';
import { describeAttempt, describeSkipped, type TlsAttemptInput } from './tls-attempt.js';
import { type SessionTlsOptions, sessionTlsFor } from './tls-evidence.js';
import { buildPlan, type DomainTlsPlan, type TlsPlanner } from './tls-planner.js';
import type { DeliveryJob, DeliveryOutcome, Transport } from './transport.js';
import { wireForm } from './wire-form.js';

const SHARED_COUNTER_RETRY_MS = 5000;

/** The signed bytes for one receiver, and whether they are declared BODY=8BITMIME. */
interface SignedForm {
  raw: Buffer;
  eightBit: boolean;
  dkim: Record<string, unknown>;
}
/** The signed form for a receiver whose EHLO reply offered these extensions. */
type FormFor = (ehlo: readonly string[]) => Promise<SignedForm>;

/**
 * SMTP delivery to remote MX hosts: the message is DKIM-signed once per wire form (as stored, or
 * converted to 7-bit for a receiver without 8BITMIME; see wire-form.ts), its recipients are grouped by
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
  /** TLS policy per recipient domain (tenant/stream, MTA-STS, DANE); absent: opportunistic everywhere. */
  tlsPlanner?: TlsPlanner;
  /** Extra trust anchors for PKIX verification of MX certificates (with Node's root store). */
  tlsCa?: SessionTlsOptions['ca'];
}

/** A refused open carries the TLS evidence of every host it tried. */
type Opened = SessionResult & { tlsAttempts?: DescribedTls[] };
type DescribedTls = ReturnType<typeof describeAttempt>;

/**
 * A pooled connection's TLS story: the decision it was opened under and hosts refused before it
 * (reported once). Its evidence is described again for each use, under the plan of the domain that
 * uses it: connections are shared by domains with the same requirements, not the same policies.
 */
interface SessionTls {
  sessionId: string;
  decision: TlsDecision;
  refusedBefore: DescribedTls[];
}

export function createSmtpTransport(deps: SmtpTransportDeps): Transport & { pool: Pool<Opened> } {
  const { clock } = deps;
  /**
   * The plan of each pool key as last routed: the pool opens connections to a site under one TLS
   * plan (key `site` for plain opportunistic delivery, `site|plan` otherwise), never to a host, so a
   * connection opened under a weak plan is never handed to mail that needs a strict one.
   */
  const keyPlans = new Map<string, { site: string; plan: DomainTlsPlan }>();
  const sessionTls = new WeakMap<SmtpSession, SessionTls>();
  const siteOf = (key: string): string => keyPlans.get(key)?.site ?? key.split('|')[0]!;

  async function openSite(key: string): Promise<Opened> {
    const entry = keyPlans.get(key);
    const site = siteOf(key);
    const hosts = entry?.plan.hosts ?? [];
    let last: (SessionResult & { ok: false }) | undefined;
    const refused: DescribedTls[] = [];
    // RFC 5321 §5.1: try the MX hosts in preference order, each of their addresses, until one answers.
    // RFC 8461 §5 / RFC 7672 §2.2: a host that fails its TLS requirement is skipped like one that
    // does not answer; the message is never sent to it in clear.
    for (const { host, decision } of hosts) {
      for (const address of host.addresses) {
        const started = clock.now();
        const r = await openSession({
          host: host.name,
          address,
          port: deps.router.portFor(host.name),
          ...(deps.localAddress ? { localAddress: deps.localAddress } : {}),
          ehloName: deps.ehloName,
          tls: sessionTlsFor(decision, { now: clock.now, ...(deps.tlsCa !== undefined ? { ca: deps.tlsCa } : {}) }),
          timeouts: deps.timeouts,
        });
        deps.metrics?.connect.observe({ site }, (clock.now() - started) / 1000);
        const sessionId = newId('att', clock.now());
        if (r.ok) {
          sessionTls.set(r.session, { sessionId, decision, refusedBefore: refused });
          return r;
        }
        if (r.stage === 'tls-policy') {
          const failure = { stage: r.stage, error: r.error };
          const observed = r.observedTls ? { observed: r.observedTls } : {};
          refused.push(
            describeAttempt({ plan: entry!.plan, decision, sessionId, evidence: r.evidence, ...observed, failure, now: clock.now() }),
          );
        }
        last = r;
        // A 4xx/5xx greeting is an answer from this host: the next host may still take the mail.
      }
    }
    const failure: Opened =
      last ??
      ({ ok: false, stage: 'connect', error: `no MX host of ${site} has an address`, evidence: emptyEvidence(site) } as SessionResult & {
        ok: false;
      });
    return { ...failure, tlsAttempts: refused };
  }

  const pool = createPool<Opened>({
    open: openSite,
    // Connection limits are per site and come from the shaping rules.
    maxConnections: (key) => deps.shaper.limitsFor(siteOf(key)).maxConnections,
    maxMessagesPerConnection: (key) => deps.shaper.limitsFor(siteOf(key)).maxMessagesPerConnection,
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
    formFor: FormFor,
    domain: string,
    recipients: DeliveryJob['recipients'],
    envelopeFrom: string,
    message: DeliveryJob['message'],
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
    const tlsPlan = deps.tlsPlanner
      ? await deps.tlsPlanner.plan({ domain, hosts: route.hosts, tenantId: message.tenantId, stream: message.stream })
      : buildPlan({ domain, stream: message.stream, hosts: route.hosts, tenantPolicy: 'opportunistic' });
    if (tlsPlan.plan.deferReason) {
      // No MX host may be used under the policy (RFC 8461 §4.2, RFC 7672 §2.2): defer, never fall
      // back to another host or to plaintext. The recipient expires with this reason if it persists.
      const reply = localReply('temporary', '4.7.5', `TLS policy for ${domain}: ${tlsPlan.plan.deferReason}`);
      const skipped = tlsPlan.plan.skipped.map((d) => describeSkipped(tlsPlan, d, newId('att', clock.now())));
      const tls = skipped[0]?.json ?? null;
      return recipients.map((r) =>
        outcome(r, {
          kind: 'deferred',
          reply,
          site,
          details: { site, stage: 'tls-policy', tls },
          tlsAttempts: skipped.map((x) => x.attempt),
        }),
      );
    }
    const key = tlsPlan.key ? `${site}|${tlsPlan.key}` : site;
    keyPlans.set(key, { site, plan: tlsPlan });
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
    const lease = await pool.acquire(key);
    if (!lease.ok) {
      const f = lease.reason === 'open-failed' ? lease.failure : undefined;
      // A TLS policy refusal says nothing about the site's health for other mail: no breaker count.
      if (f?.ok === false && f.stage !== 'tls-policy') recordBreaker(site, f.reply && isThrottlingReply(f.reply) ? 'throttled' : 'failure');
      const tlsRefused = f?.stage === 'tls-policy';
      const reply =
        f?.reply ??
        localReply(
          'temporary',
          tlsRefused ? '4.7.5' : '4.4.1',
          f ? `${f.stage} failed: ${f.error}` : `no connection to ${site}: ${'error' in lease ? lease.error : ''}`,
        );
      const refused = f?.tlsAttempts ?? [];
      const lastTls = refused[refused.length - 1]?.json;
      const v = verdictFor(deps.ruleset, reply, provider);
      // A 5xx greeting is the site refusing us, not the recipients: still defer and retry later.
      const kind = reply.code >= 500 && f?.stage !== 'greeting' ? 'bounced' : 'deferred';
      return recipients.map((r) =>
        outcome(r, {
          kind,
          reply,
          site,
          details: {
            ...verdictDetails(v),
            site,
            stage: f?.stage ?? lease.reason,
            mx: f?.evidence.mxHost,
            ip: f?.evidence.address,
            ...(lastTls ? { tls: lastTls } : {}),
          },
          ...(refused.length ? { tlsAttempts: refused.map((x) => x.attempt) } : {}),
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
    let form: SignedForm;
    try {
      form = await formFor(session.evidence.ehlo);
    } catch (e) {
      pool.release(lease, { reusable: true });
      throw e;
    }
    const started = clock.now();
    const sent = await session.send({
      from: envelopeFrom,
      to: recipients.map((r) => r.address),
      raw: form.raw,
      eightBit: form.eightBit,
      smtputf8: recipients.some((r) => /[^\x00-\x7f]/.test(r.address)),
    });
    deps.metrics?.acceptance.observe({ site }, (clock.now() - started) / 1000);
    pool.release(lease, { reusable: session.usable });

    const replies = [...sent.perRecipient.values()];
    recordBreaker(site, replies.some(isThrottlingReply) ? 'throttled' : 'success');
    const ev = session.evidence;
    const st = sessionTls.get(session);
    const decision = tlsPlan.hosts.find((h) => h.host.name === ev.mxHost)?.decision ?? st?.decision;
    const described =
      st && decision
        ? describeAttempt({
            plan: tlsPlan,
            decision,
            sessionId: st.sessionId,
            evidence: ev,
            observed: session.observedTls,
            now: clock.now(),
          })
        : undefined;
    // Hosts refused before this connection are reported once, with the first message that used it.
    const tlsAttempts: TlsAttemptInput[] = [
      ...(st?.refusedBefore.map((x) => ({ ...x.attempt, outcome: 'skipped' as const })) ?? []),
      ...(described ? [described.attempt] : []),
    ];
    if (st) st.refusedBefore = [];
    const evidence = {
      site,
      mx: ev.mxHost,
      ip: ev.address,
      port: ev.port,
      reused: lease.reused,
      tls: described?.json ?? null,
      connect_ms: ev.connectMs,
      transaction_ms: sent.durationMs,
      ...form.dkim,
    };
    return recipients.map((r) => {
      const reply = sent.perRecipient.get(r.address) ?? localReply('temporary', '4.4.2', sent.error ?? 'no reply for this recipient');
      const v = verdictFor(deps.ruleset, reply, provider);
      return outcome(r, { kind: v.kind, reply, site, details: { ...verdictDetails(v), ...evidence }, tlsAttempts });
    });
  }

  /**
   * The message's wire forms, each signed once when first needed: as stored (8-bit declared with
   * BODY=8BITMIME) and, for receivers without 8BITMIME, converted to 7-bit. A 7-bit message has
   * one form for everyone.
   */
  function signedForms(job: DeliveryJob): FormFor {
    const fromDomain = domainOf(job.message.from);
    const forms = new Map<boolean, Promise<SignedForm>>();
    const make = async (eightBitMime: boolean): Promise<SignedForm> => {
      const w = wireForm(job.body, { eightBitMime });
      const signed = await deps.signer.sign(w.raw, fromDomain);
      return {
        raw: signed.raw,
        eightBit: w.eightBit,
        dkim: {
          dkim: signed.signatures.map((s) => `${s.algorithm} d=${s.domain} s=${s.selector}`),
          ...(w.reencoded ? { reencoded_parts: w.reencoded } : {}),
          ...(w.eightBit ? { body: '8BITMIME' } : {}),
        },
      };
    };
    return async (ehlo) => {
      const native = forms.get(true) ?? make(true);
      forms.set(true, native);
      const offered = supports(ehlo, '8BITMIME');
      if (offered || !(await native).eightBit) return native;
      const seven = forms.get(false) ?? make(false);
      forms.set(false, seven);
      return seven;
    };
  }

  return {
    pool,
    async deliver(job) {
      const formFor = signedForms(job);
      // Signed before any connection, as before: a signing fault defers without touching a site.
      await formFor(['8BITMIME']);
      // One transaction per (recipient domain, envelope sender).
      const groups = new Map<string, { domain: string; from: string; rs: DeliveryJob['recipients'] }>();
      for (const r of job.recipients) {
        const from = deps.envelopeFrom?.(job, r) ?? job.message.from;
        const key = `${r.domain}\n${from}`;
        const g = groups.get(key) ?? { domain: r.domain, from, rs: [] };
        g.rs.push(r);
        groups.set(key, g);
      }
      const results = await Promise.all([...groups.values()].map((g) => deliverDomain(formFor, g.domain, g.rs, g.from, job.message)));
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
