import { type Clock, domainOf, newId, type SmtpResponse } from '../core/index.js';
import type { MxRoute } from '../dns/index.js';
import { type ProviderMap, providerOf, type Ruleset } from '../feedback/index.js';
import type { TlsDecision } from '../transport-policy/index.js';
import { isThrottlingReply } from './breaker.js';
import type { Admission, DeliveryPolicy, LocalThrottle, PolicyRequest } from './delivery-policy.js';
import type { Lane } from './egress-pools.js';
import type { DeliveryMetrics } from './metrics.js';
import { localReply, type Verdict, verdictDetails, verdictFor } from './outcome.js';
import { createPool, type Pool } from './pool.js';
import type { Router } from './router.js';
import { openSession, type SessionResult, type SessionTimeouts, type SmtpSession } from './session.js';
import { supports } from './session-replies.js';
import { describeAttempt, describeSkipped, type TlsAttemptInput } from './tls-attempt.js';
import { type SessionTlsOptions, sessionTlsFor } from './tls-evidence.js';
import { buildPlan, type DomainTlsPlan, type MessageTlsRequirement, type TlsPlanner } from './tls-planner.js';
import type { DeliveryJob, DeliveryOutcome, Transport } from './transport.js';
import { wireForm } from './wire-form.js';

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
  /** May this go now, from which pool and source address, under which connection limits (delivery-policy.ts). */
  policy: DeliveryPolicy;
  signer: Signer;
  ruleset: Ruleset;
  providers: ProviderMap;
  clock: Clock;
  timeouts: Partial<SessionTimeouts>;
  idleMs: number;
  metrics?: DeliveryMetrics;
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
type Recipients = DeliveryJob['recipients'];

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

/** What a connection key stands for: the site, the TLS plan it was opened under, and the lane it leaves from. */
interface KeyEntry {
  site: string;
  plan: DomainTlsPlan;
  lane: Lane;
  policyKey: string;
}

export function createSmtpTransport(deps: SmtpTransportDeps): Transport & { pool: Pool<Opened> } {
  const { clock } = deps;
  /**
   * Connections are pooled per lane (pool and source address), site and TLS plan (`plan` part only
   * for a plan other than plain opportunistic), never per host, so a connection opened under a weak
   * plan is never handed to mail that needs a strict one, nor one from a transactional address to
   * cold mail.
   */
  const keys = new Map<string, KeyEntry>();
  const sessionTls = new WeakMap<SmtpSession, SessionTls>();

  async function openSite(key: string): Promise<Opened> {
    const entry = keys.get(key);
    const site = entry?.site ?? key;
    const hosts = entry?.plan.hosts ?? [];
    const lane = entry?.lane;
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
          ...(lane?.sourceAddress ? { localAddress: lane.sourceAddress } : {}),
          ehloName: lane?.ehloName ?? 'localhost',
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

  const limitsOf = (key: string) => deps.policy.limits(keys.get(key)?.policyKey ?? key);
  const pool = createPool<Opened>({
    open: openSite,
    // Connection limits come from the delivery policy: shaping rules with pacing caps applied.
    maxConnections: (key) => limitsOf(key).maxConnections,
    maxMessagesPerConnection: (key) => limitsOf(key).maxMessagesPerConnection,
    idleMs: deps.idleMs,
    clock,
  });

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

  /** The one way a whole group gets the same outcome. */
  const allOf = (recipients: Recipients, o: Omit<DeliveryOutcome, 'recipientId'>): DeliveryOutcome[] =>
    recipients.map((r) => ({ recipientId: r.id, ...o }));

  /** Deferred without spending an attempt: the policy said not now (breaker, pace, pause). */
  const notNow = (
    recipients: Recipients,
    site: string,
    lane: Lane,
    o: { retryAt: number | undefined; reason: string; throttle: LocalThrottle },
  ) =>
    allOf(recipients, {
      kind: 'deferred',
      reply: localReply(
        'temporary',
        '4.4.5',
        `destination ${site} ${o.throttle === 'rate' ? 'rate limit reached' : o.throttle === 'warmup' ? 'warmup cap reached' : 'is paused'}: ${o.reason}`,
      ),
      ...(o.retryAt !== undefined ? { retryAt: o.retryAt } : {}),
      attempted: false,
      site,
      details: { site, local_throttle: o.throttle, ...laneDetails(lane), source_address: null },
    });

  /** Step 1: the domain's MX route; a route that cannot be used settles the group. */
  async function routeStep(domain: string, recipients: Recipients) {
    const route = await deps.router.route(domain);
    if (route.kind === 'hosts') return { ok: true as const, route };
    const f = routeFailure(route, domain);
    const v = verdictFor(deps.ruleset, f.reply);
    return {
      ok: false as const,
      outcomes: allOf(recipients, { kind: f.kind, reply: f.reply, details: { ...verdictDetails(v), stage: 'dns' } }),
    };
  }

  /** Step 2: the TLS plan (tenant policy, MTA-STS, DANE); a plan no host can meet defers the group. */
  async function tlsStep(
    domain: string,
    route: Extract<MxRoute, { kind: 'hosts' }>,
    message: DeliveryJob['message'],
    recipients: Recipients,
  ) {
    const requiredTls = messageTlsRequirement(message);
    const tlsPlan = deps.tlsPlanner
      ? await deps.tlsPlanner.plan({
          domain,
          hosts: route.hosts,
          tenantId: message.tenantId,
          stream: message.stream,
          ...(requiredTls ? { requiredTls } : {}),
        })
      : buildPlan({
          domain,
          stream: message.stream,
          hosts: route.hosts,
          tenantPolicy: 'opportunistic',
          ...(requiredTls ? { requiredTls } : {}),
        });
    if (!tlsPlan.plan.deferReason) return { ok: true as const, tlsPlan };
    // No MX host may be used under the policy (RFC 8461 §4.2, RFC 7672 §2.2): defer, never fall
    // back to another host or to plaintext. The recipient expires with this reason if it persists.
    const reply = localReply('temporary', '4.7.5', `TLS policy for ${domain}: ${tlsPlan.plan.deferReason}`);
    const skipped = tlsPlan.plan.skipped.map((d) => describeSkipped(tlsPlan, d, newId('att', clock.now())));
    const site = route.site;
    return {
      ok: false as const,
      outcomes: allOf(recipients, {
        kind: 'deferred',
        reply,
        site,
        details: { site, stage: 'tls-policy', tls: skipped[0]?.json ?? null },
        tlsAttempts: skipped.map((x) => x.attempt),
      }),
    };
  }

  /** Step 4 failed: no connection. The breaker hears of it unless it was our TLS policy refusing hosts. */
  function connectFailed(
    lease: Exclude<Awaited<ReturnType<typeof pool.acquire>>, { ok: true }>,
    ctx: {
      recipients: Recipients;
      site: string;
      provider: string | undefined;
      admission: Admission & { ok: true };
      request: PolicyRequest;
    },
  ): DeliveryOutcome[] {
    const { site, admission } = ctx;
    const f = lease.reason === 'open-failed' ? lease.failure : undefined;
    const tlsRefused = f?.stage === 'tls-policy';
    if (f?.ok === false && !tlsRefused) {
      const throttled = f.reply !== undefined && isThrottlingReply(f.reply);
      deps.policy.report({
        key: admission.key,
        request: ctx.request,
        outcome: throttled ? 'throttled' : 'failure',
        replies: f.reply ? [f.reply] : [],
        categories: f.reply && f.reply.code >= 400 ? [verdictCategory(verdictFor(deps.ruleset, f.reply, ctx.provider))] : [],
      });
    }
    const reply =
      f?.reply ??
      localReply(
        'temporary',
        tlsRefused ? '4.7.5' : '4.4.1',
        f ? `${f.stage} failed: ${f.error}` : `no connection to ${site}: ${'error' in lease ? lease.error : ''}`,
      );
    const refused = f?.tlsAttempts ?? [];
    const lastTls = refused[refused.length - 1]?.json;
    const v = verdictFor(deps.ruleset, reply, ctx.provider);
    const lane = admission.lane;
    // A 5xx greeting is the site refusing us, not the recipients: still defer and retry later.
    const kind = reply.code >= 500 && f?.stage !== 'greeting' ? 'bounced' : 'deferred';
    const sourceAddress = f?.evidence.localAddress ?? lane.sourceAddress;
    return allOf(ctx.recipients, {
      kind,
      reply,
      site,
      details: {
        ...verdictDetails(v),
        site,
        stage: f?.stage ?? lease.reason,
        mx: f?.evidence.mxHost,
        ip: f?.evidence.address,
        ...laneDetails(lane),
        source_address: sourceAddress ?? null,
        ...(lastTls ? { tls: lastTls } : {}),
      },
      ...(refused.length
        ? { tlsAttempts: refused.map((x) => ({ ...x.attempt, pool: lane.pool, sourceAddress: sourceAddress ?? null })) }
        : {}),
    });
  }

  async function deliverDomain(
    formFor: FormFor,
    domain: string,
    recipients: Recipients,
    envelopeFrom: string,
    message: DeliveryJob['message'],
  ) {
    const routed = await routeStep(domain, recipients);
    if (!routed.ok) return routed.outcomes;
    const { route } = routed;
    const site = route.site;
    const planned = await tlsStep(domain, route, message, recipients);
    if (!planned.ok) return planned.outcomes;
    const { tlsPlan } = planned;
    const provider = providerOf(deps.providers, route.hosts[0]?.name ?? '');

    // Step 3: the delivery policy admits the transaction and names its lane, or says when to come back.
    const fromDomain = message.from.includes('@') ? message.from.slice(message.from.lastIndexOf('@') + 1).toLowerCase() : undefined;
    const request: PolicyRequest = {
      site,
      provider,
      stream: message.stream,
      tenantId: message.tenantId,
      recipients: recipients.length,
      ...(fromDomain ? { domain: fromDomain } : {}),
      ...policyPoolOf(message),
    };
    const admission = await deps.policy.admit(request);
    if (!admission.ok) return notNow(recipients, site, admission.lane, admission);
    const lane = admission.lane;
    const key = `${lane.pool}|${lane.sourceAddress ?? ''}|${site}${tlsPlan.key ? `|${tlsPlan.key}` : ''}`;
    keys.set(key, { site, plan: tlsPlan, lane, policyKey: admission.key });

    // Step 4: a connection from the lane's source address.
    for (const r of recipients) deps.metrics?.queueWait.observe({ site }, Math.max(0, clock.now() - r.nextAttemptAt) / 1000);
    const lease = await pool.acquire(key);
    if (!lease.ok) return connectFailed(lease, { recipients, site, provider, admission, request });
    // The breaker may have opened (or an operator paused the site) while this transaction waited for
    // a connection: give it back unused and defer without spending an attempt, so queued recipients
    // do not hold the scheduler's slots.
    const still = deps.policy.stillOpen(admission.key);
    if (!still.ok) {
      pool.release(lease, { reusable: true });
      return notNow(recipients, site, lane, still);
    }

    // Step 5: the SMTP transaction.
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

    // Step 6: verdicts, reported to the policy (breaker and pace) and turned into outcomes.
    const replies = recipients.map(
      (r) => sent.perRecipient.get(r.address) ?? localReply('temporary', '4.4.2', sent.error ?? 'no reply for this recipient'),
    );
    const verdicts = replies.map((reply) => verdictFor(deps.ruleset, reply, provider));
    const remote = [...sent.perRecipient.values()];
    deps.policy.report({
      key: admission.key,
      request,
      outcome: remote.some(isThrottlingReply) ? 'throttled' : 'success',
      replies: remote,
      categories: recipients.flatMap((r, i) => (sent.perRecipient.has(r.address) ? [verdictCategory(verdicts[i]!)] : [])),
    });
    const ev = session.evidence;
    const tls = tlsEvidence(session, tlsPlan);
    const tlsAttempts = tls.rows.map((a) => ({ ...a, pool: lane.pool, sourceAddress: ev.localAddress }));
    const evidence = {
      site,
      mx: ev.mxHost,
      ip: ev.address,
      port: ev.port,
      reused: lease.reused,
      tls: tls.json,
      connect_ms: ev.connectMs,
      transaction_ms: sent.durationMs,
      ...laneDetails(lane),
      source_address: ev.localAddress,
      ...form.dkim,
    };
    return recipients.map((r, i) => {
      const v = verdicts[i]!;
      return { recipientId: r.id, kind: v.kind, reply: replies[i]!, site, details: { ...verdictDetails(v), ...evidence }, tlsAttempts };
    });
  }

  /** The TLS rows of one transaction: hosts refused before this connection (reported once) and the session itself. */
  function tlsEvidence(session: SmtpSession, tlsPlan: DomainTlsPlan): { rows: TlsAttemptInput[]; json: Record<string, unknown> | null } {
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
    const rows: TlsAttemptInput[] = [
      ...(st?.refusedBefore.map((x) => ({ ...x.attempt, outcome: 'skipped' as const })) ?? []),
      ...(described ? [described.attempt] : []),
    ];
    if (st) st.refusedBefore = [];
    return { rows, json: described?.json ?? null };
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

/** The classifier category of a failure verdict, for pacing rules that match on it. */
function verdictCategory(v: Verdict): string {
  return v.kind === 'delivered' ? 'delivered' : v.classification.category;
}

/** The pool a lane left from, and the classification policy that chose it (event fields). */
function laneDetails(lane: Lane): { pool: string; pool_rule?: string } {
  return { pool: lane.pool, ...(lane.rule ? { pool_rule: lane.rule } : {}) };
}

/** The egress pool the message's classification policy names (recorded at accept; docs/classification.md). */
function policyPoolOf(message: DeliveryJob['message']): Pick<PolicyRequest, 'policyPool'> {
  const c = message.classification;
  const pool = c?.pool;
  if (typeof pool !== 'string' || !pool) return {};
  return { policyPool: { pool, rule: typeof c?.pool_rule === 'string' ? c.pool_rule : null } };
}

/** The TLS level the message's classification policy requires (recorded at accept; docs/classification.md). */
function messageTlsRequirement(message: DeliveryJob['message']): MessageTlsRequirement | undefined {
  const level = message.classification?.required_tls;
  return level === 'verified' || level === 'dane' ? level : undefined;
}
