import { createHmac, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import pino, { type Logger } from 'pino';
import { collectDefaultMetrics, Gauge, Registry } from 'prom-client';
import { type Accept, createAccept, createMessageChanges, createSendingPolicy, instrumentAccept } from './accept/index.js';
import { type Access, createAccess } from './access/index.js';
import { buildApi, type Responder } from './api/index.js';
import { type Actor, createAuditForwarder, createAuditLog, createAuditService, createThrottledRecord } from './audit/index.js';
import { type Classification, createClassification } from './classification/index.js';
import {
  type AnomalyDetector,
  type AuthFailureTally,
  type CredentialCompromise,
  createAlertConsumer,
  createAlertSyslog,
  createAnomalyDetector,
  createAuthFailureTally,
  createCredentialCompromise,
  createDataProtectionEvidence,
  createIncidents,
  createRecordsOfProcessing,
  createRegister,
  type Incidents,
  loadAnomalyRules,
  type RecordsOfProcessingService,
  type Register,
} from './compliance/index.js';
import { type Config, nodeHostname, platformIdentityOf, selfAssessmentListeners, unqualifiedNames } from './config/index.js';
import {
  createDisposableCheck,
  createEngagement,
  createPreflight,
  createTemplates,
  type Engagement,
  loadDefaultContentRules,
  roleOf,
} from './content/index.js';
import { type Clock, createByteBudget, PostwardenError, parseAddress, systemClock } from './core/index.js';
import {
  chooseSharedCounter,
  createBreaker,
  createDeliverer,
  createDeliveryMetrics,
  createDeliveryPolicy,
  createEgressPools,
  createPacingController,
  createQueueMetrics,
  createReputationHolds,
  createResidencyHolds,
  createRouter,
  createShaper,
  createSmtpTransport,
  createTransportSecurity,
  createWarmup,
  type Deliverer,
  type DeliveryControl,
  ledgerPauseRules,
  loadPacingRules,
  loadWarmupRules,
  type ResidencyHolds,
  sandboxTransport,
  siteOfKey,
  type Transport,
  type TransportSecurity,
} from './delivery/index.js';
import { createResolver, resolveMxRoute } from './dns/index.js';
import { type Consumer, createNatsSink, createSpine, createWebhooks, type NatsSink, type Spine, type Webhooks } from './events/index.js';
import {
  createFeedbackIngest,
  createSuppressions,
  createUnsubscribe,
  deriveUnsubscribeKey,
  type FeedbackIngest,
  loadDefaultProviderMap,
  loadDefaultRuleset,
  providerOf,
  readMessage,
  type Suppress,
  type Suppressions,
} from './feedback/index.js';
import { loadOrCreateMasterKey, openSecret, sealSecret } from './governance/index.js';
import {
  type BreakerView,
  breakerReason,
  createApiAvailability,
  createOverview,
  createProviderHealth,
  createSlo,
  registerSloMetrics,
} from './health/index.js';
import {
  checkHost,
  createDkimPreview,
  createDkimSigner,
  createSendingIdentity,
  type Domains,
  deriveVerpKey,
  fetchSpfRecord,
  type IdentityMonitor,
} from './identity/index.js';
import { createHttpsGetter, createPostureMonitor, type PostureMonitor } from './posture/index.js';
import { storeEncryptionFrom } from './protection/index.js';
import { createScheduledJob, type ScheduledJob } from './queue/index.js';
import { createLedger, createLedgerReader, type Ledger, type LedgerReader } from './reputation/index.js';
import { createRetention, type Retention } from './retention/index.js';
import { createSelfAssessment, listenerTargets, type SelfAssessment } from './self-assessment/index.js';
import { createInboundMx, createSubmissionServer, loadOrCreateCertificate } from './smtp/index.js';
import { createStore, type Store } from './store/index.js';
import { createTenants, domainCandidates, type Tenants, tlsPolicyFor } from './tenants/index.js';
import { createHttpsPolicyFetcher } from './transport-policy/index.js';

/**
 * The composition root: builds every concern from the config, in dependency order, and starts the
 * roles this process runs. Nothing else wires services together.
 */
export interface PlatformOptions {
  clock?: Clock;
  log?: Logger;
  /** Outbound transport for non-sandbox mail; default SMTP to the recipients' MX hosts. */
  transport?: Transport;
}

export interface Platform {
  config: Config;
  store: Store;
  tenants: Tenants;
  domains: Domains;
  accept: Accept;
  spine: Spine;
  /** The suppression list; the inbound-feedback path calls `suppressions.suppress(…)`. */
  suppressions: Suppressions;
  deliverer: Deliverer;
  /** Pacing and breakers per pool × site, and the operator's overrides (GET /v1/delivery/health). */
  delivery: DeliveryControl;
  posture: PostureMonitor;
  /** Bounces, complaints and reports: the service behind the inbound MX and POST /v1/feedback. */
  feedback: FeedbackIngest;
  /** MTA-STS cache, TLS planner, TLS-RPT reporter and TLS statistics. */
  transportSecurity: TransportSecurity;
  /** Tracking, experiments and contact lists (src/content). */
  engagement: Engagement;
  api: FastifyInstance;
  /** Users, roles, sessions and sign-in throttles (src/access). */
  access: Access;
  log: Logger;
  masterKey: Buffer;
  /** Verification and DKIM rotation schedule (started with the delivery role; tests call tick()). */
  identityMonitor: IdentityMonitor;
  /** Webhook endpoints, the dispatcher (one node at a time) and the sender (every delivery node). */
  webhooks: Webhooks;
  /** The scheduled jobs this node takes part in (delivery role), each run by one node at a time. */
  jobs: ScheduledJob[];
  /** The JetStream sink of the spine (events.nats.url set, delivery role). */
  natsSink: NatsSink | undefined;
  /** The reputation ledger (src/reputation): its consumer runs with the delivery role when reputation.enabled. */
  ledger: Ledger;
  /** The ledger's read side; `rates(identity, provider, window)` is what a delivery policy asks. */
  reputationReader: LedgerReader;
  /** Residency holds (docs/residency.md): `sweep()` is the scheduled look, for tests to run at once. */
  residencyHolds: ResidencyHolds;
  /**
   * Compliance operations (src/compliance): the third-party register, incidents and trace bundles,
   * the anomaly detector, and the consumers that raise alerts and forward them to a SIEM.
   */
  compliance: {
    register: Register;
    incidents: Incidents;
    /** The credential-compromise response (POST /v1/incidents/credential-compromise). */
    credentials: CredentialCompromise<Responder>;
    anomalies: AnomalyDetector;
    /** Failed authentications from this node's edges, counted in memory (compliance.enabled). */
    authFailures: AuthFailureTally | undefined;
    alerts: Consumer;
    syslog: Consumer | undefined;
    /** Records of processing per tenant and period (docs/compliance.md). */
    records: RecordsOfProcessingService;
  };
  /** Retention policies, the purge job, legal holds and erasure (docs/retention.md). */
  retention: Retention;
  /** Classification and DLP rules per tenant (src/classification). */
  classification: Classification;
  /** Continuous self-assessment of this node's listeners (src/self-assessment). */
  selfAssessment: SelfAssessment;
  /** Starts listeners and the scheduler for the configured roles; resolves with the bound ports. */
  start(): Promise<{ http?: number; smtp?: number; mx?: number }>;
  /** Stops listening, finishes or returns in-flight work, closes the store. */
  stop(): Promise<void>;
}

export async function createPlatform(config: Config, opts: PlatformOptions = {}): Promise<Platform> {
  const clock = opts.clock ?? systemClock;
  const log = opts.log ?? pino({ level: config.log.level });
  const masterKey = loadOrCreateMasterKey(config.security.masterKeyFile || join(config.dataDir, 'master.key')).key;
  const storeLog = log.child({ concern: 'store' });
  let lostLoggedAt = Number.NEGATIVE_INFINITY;
  const store = await createStore({
    url: config.store.url,
    dataDir: config.dataDir,
    poolSize: config.store.poolSize,
    durability: config.store.durability,
    sqliteDriver: config.store.sqliteDriver,
    // A long-running server: WAL checkpoints in their own thread, off the event loop (store/checkpoints.ts).
    sqliteCheckpoints: 'thread',
    log: storeLog,
    encryption: storeEncryptionFrom(config.encryption, { masterKey, dataDir: config.dataDir, now: () => clock.now() }),
    // Requests meanwhile get 503/451 STORE_UNAVAILABLE; the pool reconnects when the server is back.
    onConnectionLost: (err) => {
      // Once per 10 s: during an outage every query fails, and one line says it.
      if (clock.now() - lostLoggedAt < 10_000) return;
      lostLoggedAt = clock.now();
      storeLog.warn({ err }, 'database connection lost or refused; answering 503/451 until it is back');
    },
  });
  await logDurability(store, log);
  const access = createAccess({
    store,
    clock,
    // TOTP secrets at rest, sealed with the master key like webhook secrets.
    seal: (plain, aad) => sealSecret(Buffer.from(plain, 'utf8'), masterKey, aad),
    open: (sealed, aad) => openSecret(sealed, masterKey, aad).toString('utf8'),
    config: config.access,
    // SSO refusals and failures are audited on their own (the audit service is built just below; called later).
    audit: (entry) => audit.record(entry),
    publicUrl: config.server.publicUrl,
    // User and role changes, sign-ins, sign-outs, TOTP enrolment and SSO settings are appended in the
    // change's own transaction (called later, like `audit`).
    auditChange: (fn, entry) => audit.change(fn, entry),
  });
  // The audit log (docs/governance.md): services append in the transaction of each change.
  const audit = createAuditService({
    store,
    log: createAuditLog({ clock, masterKey, checkpointEvery: config.audit.checkpointEvery }),
  });
  // Residency refusals (API and SMTP) go to the tenant's audit chain, at most one entry per tenant
  // and minute on this node with the count left out since (docs/residency.md).
  const residencyRefusals = createThrottledRecord(
    (input) => audit.record(input),
    () => clock.now(),
  );
  // The refusal stands whether or not its entry could be written: an audit store that is away must
  // not turn a 403/550 into a 500/451 that invites retries (the failure is logged instead).
  const residencyRefused = (actor: Actor, tenantRegion: string, where: { method: string; route: string | null }) =>
    residencyRefusals(actor.tenantId ?? '', (since) => ({
      actor,
      action: 'residency.refused',
      resource: { type: 'tenant', id: actor.tenantId },
      after: {
        node_region: config.residency.region || null,
        tenant_region: tenantRegion,
        method: where.method,
        route: where.route,
        refused_since_previous_entry: since,
      },
    })).catch((err: unknown) =>
      log.error({ err, tenant: actor.tenantId }, 'recording a residency refusal in the audit log failed; refused all the same'),
    );
  const tenants = createTenants({ store, clock, audit });
  const spine = createSpine({ store, audit });
  const hostname = nodeHostname(config);
  const unqualified = unqualifiedNames(config, hostname);
  for (const u of [...unqualified.records, ...unqualified.links]) {
    log.warn({ name: u.name, setting: u.setting }, `"${u.name}" has no dot, so ${u.use} cannot work: set ${u.setting}`);
  }

  /** Who this process is in lease rows (delivery, scheduled jobs): unique per process. */
  const nodeId = `${hostname}:${process.pid}:${randomBytes(3).toString('hex')}`;
  const d = config.delivery;
  const dnsOptions = { servers: config.dns.servers, resolvConf: config.dns.resolvConf, timeoutMs: config.dns.timeoutMs, clock };
  const resolver = createResolver(dnsOptions);
  log.info({ resolver: resolver.describe() }, 'DNS lookups go through this resolver');
  const id = config.identity;
  const identity = createSendingIdentity({
    audit,
    store,
    tenants,
    clock,
    masterKey,
    resolver,
    liveResolver: createResolver({ ...dnsOptions, cache: false }),
    sandbox: config.sandbox,
    dkim: {
      algorithms: d.dkimEd25519 ? ['rsa-2048', 'ed25519'] : ['rsa-2048'],
      rotationDays: id.dkimRotationDays,
      overlapDays: id.dkimOverlapDays,
    },
    verifyIntervalMs: id.verifyIntervalMinutes * 60_000,
    platform: platformIdentityOf(config, hostname),
    log: log.child({ concern: 'identity' }),
  });
  const domains = identity.domains;
  const signer = createDkimSigner({
    store,
    masterKey,
    clock,
    threads: d.dkimThreads,
    log: log.child({ concern: 'dkim' }),
    // Sandbox mail is never signed or sent: no DNS for it.
    ...(config.sandbox ? {} : { activatePending: domains.activatePublished, requireVerified: true }),
  });
  const registry = new Registry();
  // The Node process metrics (CPU, memory, event loop lag, handles) every exporter is expected to have.
  collectDefaultMetrics({ register: registry, prefix: 'postwarden_' });
  const metrics = createDeliveryMetrics(registry);
  const sharedCounter = chooseSharedCounter({
    mode: d.sharedRates,
    redisUrl: config.cluster.redisUrl,
    redisPrefix: config.cluster.redisPrefix,
    store,
    clock,
  });
  const ruleset = loadDefaultRuleset();
  const providers = loadDefaultProviderMap();
  // Report mails go through the pipeline as the configured tenant; `accept` is built below.
  let acceptRef: Accept | undefined;
  const ts = config.transportSecurity;
  const transportSecurity = createTransportSecurity({
    store,
    resolver,
    clock,
    options: ts,
    submitter: hostname,
    tenantPolicy: async (tenantId, stream) => tlsPolicyFor(await tenants.deliveryTlsPolicy(tenantId), stream),
    // The reporting tenant is read when a report goes out, so it can be set after boot.
    submitReportMail: async ({ to, raw }) => {
      if (!ts.tlsRpt.tenantId) throw new Error('transportSecurity.tlsRpt.tenantId is not set: mailto: reports need a reporting tenant');
      const rcpt = parseAddress(to);
      if (!rcpt.ok || !acceptRef) throw new Error(`cannot submit a TLS-RPT report to ${to}`);
      const tenant = await tenants.getTenant(ts.tlsRpt.tenantId);
      await acceptRef.acceptSubmitted(
        { tenant, keyId: 'system:tls-rpt', scopes: ['send'], permissions: new Set(['messages:send']) },
        [rcpt.mailbox],
        raw,
      );
    },
    log: log.child({ concern: 'transport-security' }),
  });
  const breaker = createBreaker({
    clock,
    threshold: d.breakerFailures,
    cooldownMs: d.breakerCooldownSeconds * 1000,
    maxCooldownMs: d.breakerMaxCooldownSeconds * 1000,
  });
  const deliveryLog = log.child({ concern: 'delivery' });
  const pacingRules = loadPacingRules(d.pacing.rulesFile || undefined);
  const pacing = createPacingController({
    clock,
    rules: pacingRules,
    enabled: d.pacing.enabled,
    // Pace changes are announced after the fact; a failed append is logged, the pace still holds.
    emit: (events) => {
      store.events.append(events, clock.now()).catch((err: unknown) => deliveryLog.error({ err }, 'appending pacing.changed failed'));
    },
  });
  const warmupStats = createLedgerReader({ store, clock });
  const deliveryPolicy = createDeliveryPolicy({
    clock,
    pools: createEgressPools({ pools: d.pools, defaultSourceAddresses: d.sourceAddresses, ehloName: d.ehloName || hostname }),
    breaker,
    shaper: createShaper({
      clock,
      ...(sharedCounter ? { counter: sharedCounter } : {}),
      rules: {
        default: {
          maxConnections: d.maxConnections,
          maxMessagesPerConnection: d.messagesPerConnection,
          perSecond: d.perSecond,
          perMinute: d.perMinute,
        },
      },
    }),
    pacing,
    log: deliveryLog,
    // The ledger's holds (rules/pacing.yaml ledger rules) and warming pools' schedules (rules/warmup.yaml).
    holds: createReputationHolds({ store, clock, refreshMs: 5000 }),
    warmup: createWarmup({
      clock,
      store,
      rules: loadWarmupRules(d.warmup.rulesFile || undefined),
      enabled: d.warmup.enabled,
      scale: d.warmup.scale,
      warmingPools: Object.entries(d.pools).flatMap(([name, p]) => (p.warmup ? [name] : [])),
      stats: (pool, provider) => warmupStats.poolStats(pool, provider),
      emit: (events) => {
        store.events.append(events, clock.now()).catch((err: unknown) => deliveryLog.error({ err }, 'appending warmup.changed failed'));
      },
    }),
    onBreaker: (site, snapshot) => metrics.breakerOpen.set({ site }, snapshot.state === 'open' ? 1 : 0),
  });
  const transport =
    opts.transport ??
    createSmtpTransport({
      router: createRouter({ resolver, port: d.smtpPort, portMap: d.portMap }),
      policy: deliveryPolicy,
      signer,
      ruleset,
      providers,
      clock,
      timeouts: { connectMs: d.connectTimeoutMs, greetingMs: d.commandTimeoutMs, commandMs: d.commandTimeoutMs, dataMs: d.dataTimeoutMs },
      idleMs: d.idleSeconds * 1000,
      metrics,
      envelopeFrom: identity.returnPath,
      tlsPlanner: transportSecurity.planner,
      ...(transportSecurity.ca ? { tlsCa: transportSecurity.ca } : {}),
    });
  const suppressions = createSuppressions({ store, clock, audit });
  const retention = createRetention({
    store,
    clock,
    audit,
    batchSize: config.retention.batchSize,
    maxBatches: config.retention.maxBatchesPerTenant,
    webhookRecordDays: config.events.retentionDays,
  });
  // A hard bounce or a complaint is about the address, whichever of the tenant's domains sent to
  // it: tenant scope (the tenant's policy may turn either off; suppress() honours it). One path for
  // bounces given during our SMTP transaction (deliverer) and those that come back later (feedback).
  const suppressFeedback: Suppress = async (r, tx) =>
    (
      await suppressions.suppress(
        { tenantId: r.tenantId, address: r.address, reason: r.reason, sourceEventId: r.sourceEventId, scope: 'tenant' },
        tx,
      )
    ).suppressed;
  const deliverer = createDeliverer({
    store,
    clock,
    transport,
    suppress: suppressFeedback,
    sandboxTransport,
    owner: nodeId,
    concurrency: d.concurrency,
    leaseMs: d.leaseSeconds * 1000,
    pollMs: d.pollMs,
    retryMinutes: d.retryMinutes,
    maxAgeHours: d.maxAgeHours,
    log: log.child({ concern: 'delivery' }),
    metrics,
    region: config.residency.region,
  });
  // Residency: recipients of tenants pinned to another region, left waiting here, are reported held.
  const residencyHolds = createResidencyHolds({
    store,
    clock,
    region: config.residency.region,
    holdAfterMs: config.residency.holdAfterSeconds * 1000,
  });
  createQueueMetrics(registry, {
    stats: () => store.recipients.queueStats(),
    now: clock.now,
    deliveredLastMinute: deliverer.deliveredLastMinute,
  });
  const runsDelivery = config.server.roles.includes('delivery');
  const webhooks = createWebhooks({
    store,
    clock,
    owner: nodeId,
    // Endpoint secrets at rest, sealed with the master key like DKIM keys (governance/crypto.ts).
    secrets: {
      seal: (plain, aad) => sealSecret(Buffer.from(plain, 'utf8'), masterKey, aad),
      open: (sealed, aad) => openSecret(sealed, masterKey, aad).toString('utf8'),
    },
    options: { ...config.webhooks, retentionDays: config.events.retentionDays, region: config.residency.region },
    // Delivery first on the store's one writer: webhooks commit less often while it has work in flight.
    yieldTo: () => deliverer.inFlight() > 0,
    log: log.child({ concern: 'webhooks' }),
    audit,
  });
  // Compliance operations (docs/compliance.md): the register, built before the posture monitor that
  // reads it (delegation proposals) and the API that serves it; incidents and the credential-compromise
  // response below; their alerts and jobs are wired further down.
  const register = createRegister({
    store,
    clock,
    audit,
    spfIncludes: async (domain) => {
      const spf = await fetchSpfRecord(resolver, domain);
      if (spf.kind !== 'record') return [];
      // Includes whose target needs no macro expansion (RFC 7208 §7) are what a register can list.
      return [...spf.text.matchAll(/(?:^|\s)[+?~-]?include:([^\s%]+)/gi)].map((m) => m[1]!.toLowerCase().replace(/\.$/, ''));
    },
  });
  const postureLog = log.child({ concern: 'posture' });
  const posture = createPostureMonitor({
    store,
    clock,
    audit,
    resolver,
    fetchPolicy: createHttpsPolicyFetcher({ resolver, timeoutMs: config.posture.httpsTimeoutMs }),
    fetchHttps: createHttpsGetter({ resolver, timeoutMs: config.posture.httpsTimeoutMs }),
    queryTimeoutMs: config.posture.queryTimeoutMs,
    intervalMs: config.posture.intervalMinutes * 60_000,
    onError: (error, domain) => postureLog.warn({ err: error, domain }, 'scheduled DNS posture audit failed'),
    // The register for subdomain delegation proposals (docs/posture.md); DMARC sources read only on a finding.
    thirdParties: async (tenantId, domain) => ({
      senders: await register.senders(tenantId),
      seenSources: (ids) => register.seenSources(tenantId, domain, ids),
    }),
  });
  const unsubscribe = createUnsubscribe({
    suppressions,
    store,
    clock,
    keys: [deriveUnsubscribeKey(masterKey)],
    publicUrl: config.server.publicUrl || `http://${hostname}:${config.server.httpPort}`,
  });
  // Content (src/content): templates rendered at accept time, the preflight (dry run, publish, the
  // tenant's refusals). The DKIM schedule tells the preflight when a From domain's selectors rotate.
  const preflight = createPreflight({
    store,
    clock,
    rules: loadDefaultContentRules(),
    dkimSchedule: async (fromDomain) => {
      if (!id.dkimRotationDays) return [];
      const candidates = domainCandidates(fromDomain);
      const keys = await store.dkimKeys.activeFor(candidates);
      const owner = candidates.find((c) => keys.some((k) => k.domain === c));
      return keys
        .filter((k) => k.domain === owner)
        .map((k) => ({
          domain: k.domain,
          selector: k.selector,
          rotatesAt: (k.activatedAt ?? k.createdAt) + id.dkimRotationDays * 86_400_000,
        }));
    },
  });
  const templates = createTemplates({
    store,
    clock,
    audit,
    preflight: ({ tenantId, stream, rendered }) => preflight.checkContent({ tenantId, stream, ...rendered }),
  });
  // The dry run's DKIM fields: a signer that never activates keys, so a preview changes nothing.
  const dkimPreview = createDkimPreview(
    createDkimSigner({ store, masterKey, clock, threads: 0, ...(config.sandbox ? {} : { requireVerified: true }) }),
  );
  const engagement = createEngagement({
    store,
    clock,
    masterKey,
    audit,
    publicUrl: config.server.publicUrl || `http://${hostname}:${config.server.httpPort}`,
    providerOf: (host) => providerOf(providers, host),
    mxRoute: async (domain) => {
      const r = await resolveMxRoute(resolver, domain);
      return r.kind === 'hosts' ? { kind: 'hosts', implicit: r.implicit } : r;
    },
    tracking: config.tracking,
    experiments: config.experiments,
    lists: config.lists,
  });
  // Classification and DLP (docs/classification.md): submitted messages are decoded by feedback's MIME reader.
  const classification = createClassification({
    store,
    clock,
    audit,
    // A policy may name one of the tenant's retention classes; the longest-kept one is recorded.
    retentionClasses: (tenantId) => retention.classes(tenantId),
    readText: async (raw) => {
      const m = await readMessage(raw);
      const html = m.parts.filter((p) => p.contentType === 'text/html').map((p) => p.content.toString('utf8'));
      return [m.subject, m.text, ...html].join('\n');
    },
  });
  const accept = instrumentAccept(
    createAccept({
      store,
      clock,
      hostname,
      limits: config.limits,
      sandbox: config.sandbox,
      region: config.residency.region,
      onAccepted: runsDelivery ? () => deliverer.poke() : undefined,
      unsubscribeHeaders: (r) => unsubscribe.headersFor(r),
      identity: identity.accept,
      templates,
      preflight,
      content: engagement.acceptContent,
      sendingPolicy: createSendingPolicy({
        store,
        clock,
        limitsOf: (tenantId) => tenants.acceptSendingLimits(tenantId),
        isDisposable: createDisposableCheck(),
        roleOf,
        log: log.child({ concern: 'accept' }),
      }),
      classification,
    }),
    registry,
    clock,
  );
  const feedback = createFeedbackIngest({
    store,
    clock,
    ruleset,
    providers,
    verpKeys: [deriveVerpKey(masterKey)],
    suppress: suppressFeedback,
    reportDomain: config.feedback.reportDomain || hostname,
    bounceLabel: config.identity.bounceLabel,
    spfAuthorizes: async (domain, ip) =>
      (await checkHost({ ip, domain, sender: `postmaster@${domain}` }, { resolver, clock })).result === 'pass',
    keepRaw: config.feedback.keepRaw,
    log: log.child({ concern: 'feedback' }),
    parsing: {
      threads: config.feedback.parseThreads,
      timeoutMs: config.feedback.parseTimeoutMs,
      memoryMb: config.feedback.parseMemoryMb,
      limits: {
        maxUnpackedBytes: config.feedback.maxUnpackedBytes,
        maxRecords: config.feedback.maxReportRecords,
        maxMimeParts: config.feedback.maxMimeParts,
        maxMimeDepth: config.feedback.maxMimeDepth,
      },
    },
  });
  acceptRef = accept;
  // One budget for the bytes of every message being read on this node, whichever door it came in by.
  const bodyBudget = createByteBudget(config.limits.maxBodyBytesInFlight);
  new Gauge({
    name: 'postwarden_body_bytes_in_flight',
    help: 'Message bytes being read or accepted right now (API bodies, SMTP DATA); bounded by limits.maxBodyBytesInFlight.',
    registers: [registry],
    collect() {
      this.set(bodyBudget.inFlight());
    },
  });
  // The dashboard's read side (src/health): SLOs, overview, provider health; the SLIs also on /metrics.
  const queueNow = async () => {
    const depth = (await store.recipients.queueStats()).reduce((n, r) => n + r.depth, 0);
    const perSecond = deliverer.deliveredLastMinute() / 60;
    return { depth, timeToDrainSeconds: depth === 0 ? 0 : perSecond > 0 ? depth / perSecond : null };
  };
  const breakers = (): BreakerView[] =>
    breaker.keys().map((key) => {
      const b = breaker.state(key);
      return { site: siteOfKey(key), ...b, reason: breakerReason(b) };
    });
  const availability = createApiAvailability(config.slo.windowHours * 3_600_000);
  const slo = createSlo({ store, clock, objectives: config.slo, queue: queueNow, availability });
  const sloMetrics = registerSloMetrics(registry, { report: () => slo.report(), clock });
  const reputationReader = createLedgerReader({ store, clock });
  // Failed authentications at the edges feed auth-failure-burst (docs/compliance.md): counted in
  // memory and written once per interval, so a flood of guesses adds no write per guess.
  const cc = config.compliance;
  const complianceLog = log.child({ concern: 'compliance' });
  const anomalyRules = loadAnomalyRules(cc.anomalyRulesFile || undefined);
  const authFailures = cc.enabled
    ? createAuthFailureTally({ store, clock, rules: anomalyRules, flushMs: cc.authFailureFlushMs, log: complianceLog })
    : undefined;
  const incidents = createIncidents({ store, clock, masterKey, regimes: cc.clocks, audit });
  const credentials = createCredentialCompromise<Responder>({
    store,
    clock,
    incidents,
    revokeKey: (tenantId, keyId, who) => tenants.revokeKey(tenantId, keyId, who.actor),
    revokeSignIn: (tenantId, userId, who) => access.users.revokeSignIn(who.caller, tenantId, userId, who.actor),
    webhooks: {
      list: (tenantId) => webhooks.endpoints.list(tenantId),
      rotate: (tenantId, id, who, graceMs) => webhooks.endpoints.rotateSecret(tenantId, id, who.actor, { graceMs }),
    },
  });
  const api = await buildApi(
    {
      accept,
      messageChanges: createMessageChanges({ store, clock }),
      tenants,
      access,
      cookies: {
        // Derived from the master key, so every node of a cluster signs and checks cookies alike.
        secret: createHmac('sha256', masterKey).update('postwarden-session-cookie-v1').digest('base64url'),
        secure: config.access.secureCookies,
      },
      domains,
      spine,
      posture,
      feedback,
      suppressions,
      audit,
      unsubscribe,
      webhooks: webhooks.endpoints,
      clock,
      idempotencyStore: store,
      ready: async () => ({ unreachable: (await store.ping()) ? [] : ['store'] }),
      metrics: { contentType: registry.contentType, text: () => registry.metrics() },
      limits: { ...config.limits, maxFeedbackBytes: config.feedback.maxMessageBytes, maxImportBytes: config.lists.maxImportBytes },
      tlsStats: (q) => transportSecurity.stats(q),
      engagement,
      delivery: deliveryPolicy,
      bodyBudget,
      templates,
      preflight,
      dkimPreview,
      health: {
        slo,
        overview: createOverview({ store, clock, slo, queue: queueNow, breakers }),
        providers: createProviderHealth({ store, clock, providers, breakers }),
        countRequest: (status) => {
          availability.record(status, clock.now());
          sloMetrics.countRequest(status);
        },
      },
      webApp: { enabled: config.server.dashboard, dir: config.server.dashboardDir },
      reputation: reputationReader,
      retention,
      classification,
      selfAssessment: () => selfAssessment,
      // Built after the API with the register it reads (a closure: called only once requests arrive).
      recordsOfProcessing: (q) => recordsOfProcessing.compute(q),
      dataProtection: (tenantId) => dataProtection.compute(tenantId),
      region: config.residency.region,
      residencyRefused,
      ...(authFailures ? { authFailed: (f: { via: 'api-key' | 'sign-in'; address: string }) => authFailures.record(f) } : {}),
      compliance: { register, incidents, credentials },
    },
    {
      logger: log.child({ concern: 'api' }),
      checkResponses: config.server.checkResponses,
      ...(config.server.tls.certFile || config.server.tls.keyFile ? { https: readApiTls(config) } : {}),
    },
  );

  const runsSmtp = config.server.roles.includes('smtp');
  const runsMx = config.server.roles.includes('feedback');
  const tls =
    !runsSmtp && !runsMx
      ? undefined
      : config.security.tlsKeyFile && config.security.tlsCertFile
        ? { key: readFileSync(config.security.tlsKeyFile, 'utf8'), cert: readFileSync(config.security.tlsCertFile, 'utf8') }
        : await loadOrCreateCertificate({ dir: config.dataDir, hostnames: [hostname], clock });
  const timeouts = {
    idleTimeoutMs: config.smtp.idleTimeoutSeconds * 1000,
    helloTimeoutMs: config.smtp.helloTimeoutSeconds * 1000,
    closeTimeoutMs: config.smtp.closeTimeoutSeconds * 1000,
  };
  const mx =
    tls && runsMx
      ? createInboundMx({
          feedback,
          hostname,
          tls,
          maxMessageBytes: config.feedback.maxMessageBytes,
          maxRecipients: config.smtp.mx.maxRecipients,
          listener: { ...timeouts, maxClients: config.smtp.mx.maxClients, maxClientsPerIp: config.smtp.mx.maxClientsPerIp },
          budget: bodyBudget,
          log: log.child({ concern: 'mx' }),
        })
      : undefined;
  const submission =
    tls && runsSmtp
      ? createSubmissionServer({
          accept,
          tenants,
          hostname,
          tls,
          limits: config.limits,
          listener: { ...timeouts, maxClients: config.smtp.submission.maxClients, maxClientsPerIp: config.smtp.submission.maxClientsPerIp },
          maxAuthFailures: config.smtp.submission.maxAuthFailures,
          budget: bodyBudget,
          ...(authFailures ? { onAuthFailure: (f: { address: string }) => authFailures.record({ via: 'smtp-auth', ...f }) } : {}),
          onResidencyRefused: (f) =>
            residencyRefused(
              { kind: 'api_key', id: f.keyId, tenantId: f.tenantId, ip: f.address, userAgent: null, keyId: f.keyId },
              f.tenantRegion,
              { method: 'SMTP', route: 'MAIL FROM' },
            ),
          log: log.child({ concern: 'smtp' }),
        })
      : undefined;

  // Scheduled jobs run on the delivery role, on one node of a cluster at a time (queue/scheduled-job.ts).
  const jobLog = log.child({ concern: 'jobs' });
  const scheduled = (name: string, everyMs: number, run: () => Promise<unknown>): ScheduledJob =>
    createScheduledJob({
      name,
      everyMs,
      leaseMs: Math.max(config.cluster.jobLeaseSeconds * 1000, 2 * everyMs),
      run,
      leases: store.jobLeases,
      owner: nodeId,
      clock,
      log: jobLog,
    });
  const jobs: ScheduledJob[] = [];
  if (runsDelivery) {
    // Wake at most every minute; runSchedule itself decides which domains are due.
    jobs.push(scheduled('identity-schedule', Math.min(60_000, id.verifyIntervalMinutes * 60_000), () => identity.monitor.tick()));
    if (config.posture.monitor) {
      jobs.push(scheduled('posture-monitor', Math.min(60_000, config.posture.intervalMinutes * 60_000), () => posture.runDue()));
    }
    jobs.push(scheduled('experiments-evaluate', config.experiments.evaluateMinutes * 60_000, () => engagement.evaluateRunning()));
    jobs.push(scheduled('tracking-marks-purge', 3_600_000, () => engagement.tracking.purgeMarks()));
    jobs.push(scheduled('retention-purge', config.retention.purgeEveryMinutes * 60_000, () => retention.purgeDue()));
    // RFC 8460 §4.1: reports cover a UTC day; the job is idempotent, so an hourly look is enough.
    if (ts.tlsRpt.enabled) {
      jobs.push(
        scheduled('tls-rpt-reports', 3_600_000, async () => {
          if (new Date(clock.now()).getUTCHours() >= ts.tlsRpt.hourUtc) await transportSecurity.reporter.runDay();
        }),
      );
    }
    // One look per region at a time: nodes of one region would only race to mark the same rows.
    jobs.push(
      scheduled(`residency-holds:${config.residency.region || '-'}`, config.residency.holdScanSeconds * 1000, () => residencyHolds.sweep()),
    );
  }

  // Continuous self-assessment (docs/self-assessment.md): our own listeners, probed as a remote would.
  const selfAssessment = createSelfAssessment({
    store,
    clock,
    targets: () => listenerTargets(selfAssessmentListeners(config, hostname)),
    ...(transportSecurity.ca ? { ca: transportSecurity.ca } : {}),
  });
  if (runsDelivery && config.selfAssessment.enabled) {
    jobs.push(scheduled('self-assessment', config.selfAssessment.intervalHours * 3_600_000, async () => void (await selfAssessment.run())));
  }

  // The spine to NATS JetStream, from one node with the delivery role at a time (consumer lease).
  const nats = config.events.nats;
  const natsSink =
    runsDelivery && nats.url
      ? createNatsSink({
          url: nats.url,
          subjectPrefix: nats.subjectPrefix,
          stream: nats.stream,
          store,
          clock,
          owner: nodeId,
          log: log.child({ concern: 'nats-sink' }),
        })
      : undefined;

  // The reputation ledger, an events consumer on one node with the delivery role at a time (lease).
  const { enabled: ledgerEnabled, pollMs: ledgerPollMs, ...thresholds } = config.reputation;
  const ledger = createLedger({
    store,
    clock,
    provider: (host) => providerOf(providers, host),
    thresholds,
    rules: ledgerPauseRules(pacingRules),
    owner: nodeId,
    pollMs: ledgerPollMs,
    log: log.child({ concern: 'reputation' }),
  });
  const runsLedger = runsDelivery && ledgerEnabled;
  // Audit entries to the SIEM collector, from one node with the delivery role at a time.
  const syslog = config.audit.syslog;
  const auditForwarder =
    runsDelivery && syslog.host
      ? createAuditForwarder({
          store,
          clock,
          owner: nodeId,
          target: { host: syslog.host, port: syslog.port, protocol: syslog.protocol, appName: syslog.appName },
          pollMs: syslog.pollMs,
          log: log.child({ concern: 'audit-syslog' }),
        })
      : undefined;

  // Compliance operations (docs/compliance.md): alerts from the spine on one node with the delivery
  // role at a time (consumer lease), and the register and reminder checks as a scheduled job.
  const recordsOfProcessing = createRecordsOfProcessing({
    store,
    clock,
    register,
    retentionPolicies: async (tenantId) => (await retention.policies(tenantId)).policies,
    retentionClasses: (tenantId) => retention.classes(tenantId),
    classificationPolicies: async (tenantId) => (await classification.getRules(tenantId)).policies,
  });
  const dataProtection = createDataProtectionEvidence({
    store,
    encryptionEnabled: config.encryption.enabled,
    region: config.residency.region,
  });
  const anomalies = createAnomalyDetector({ store, rules: anomalyRules });
  const complianceAlerts = createAlertConsumer({ store, clock, owner: nodeId, register, anomalies, pollMs: cc.pollMs, log: complianceLog });
  const complianceSyslog = cc.syslog.host
    ? createAlertSyslog({
        store,
        clock,
        owner: nodeId,
        target: { host: cc.syslog.host, port: cc.syslog.port, protocol: cc.syslog.protocol, appName: cc.syslog.appName },
        format: cc.syslog.format,
        pollMs: cc.pollMs,
        log: complianceLog,
      })
    : undefined;
  const runsCompliance = runsDelivery && cc.enabled;
  if (runsCompliance) {
    jobs.push(
      scheduled('compliance-check', cc.checkMinutes * 60_000, async () => {
        await incidents.remindDue();
        const tenantIds = [...new Set((await store.domains.listAll()).map((d) => d.tenantId))];
        return register.check(tenantIds);
      }),
    );
  }

  let started = false;
  return {
    config,
    store,
    tenants,
    access,
    domains,
    accept,
    spine,
    suppressions,
    deliverer,
    /** Pacing and breakers per pool × site, and the operator's overrides. */
    delivery: deliveryPolicy,
    posture,
    feedback,
    transportSecurity,
    engagement,
    api,
    log,
    masterKey,
    identityMonitor: identity.monitor,
    webhooks,
    jobs,
    natsSink,
    ledger,
    reputationReader,
    residencyHolds,
    compliance: {
      register,
      incidents,
      credentials,
      anomalies,
      authFailures,
      alerts: complianceAlerts,
      syslog: complianceSyslog,
      records: recordsOfProcessing,
    },
    retention,
    classification,
    selfAssessment,
    async start() {
      started = true;
      const out: { http?: number; smtp?: number; mx?: number } = {};
      if (config.server.roles.includes('api')) {
        await api.listen({ port: config.server.httpPort, host: config.server.host });
        const addr = api.server.address();
        out.http = typeof addr === 'object' && addr ? addr.port : config.server.httpPort;
      }
      if (submission) out.smtp = (await submission.listen(config.server.smtpPort, config.server.host)).port;
      // Feedback parsing threads start with the first document (parse-pool.ts), not here.
      if (mx) out.mx = (await mx.listen(config.server.mxPort, config.server.host)).port;
      if (runsDelivery) deliverer.start();
      if (runsDelivery && config.webhooks.enabled) webhooks.start();
      for (const job of jobs) job.start();
      await natsSink?.start();
      if (runsLedger) ledger.consumer.start();
      auditForwarder?.start();
      if (runsCompliance) {
        complianceAlerts.start();
        complianceSyslog?.start();
      }
      return out;
    },
    async stop() {
      if (started) {
        await Promise.all([
          api.close(),
          submission?.close(),
          mx?.close(),
          ...jobs.map((j) => j.stop()),
          natsSink?.stop(),
          ledger.consumer.stop(),
          auditForwarder?.stop(),
          complianceAlerts.stop(),
          complianceSyslog?.stop(),
        ]);
        // The listeners are closed: what the edges counted is written before the store closes.
        await authFailures?.close();
        await deliverer.stop();
        await webhooks.stop();
        await transport.close?.();
        await signer.close();
        await accept.drain();
      }
      await feedback.close();
      await sharedCounter?.close();
      await store.close();
    },
  };
}

/** Says at start-up when an acknowledged message would not survive a power loss (docs/storage.md). */
async function logDurability(store: Store, log: Logger): Promise<void> {
  const d = await store.durability();
  if (d.powerLossSafe)
    log.info(
      { durability: d.configured, setting: d.setting, dialect: store.dialect, sqliteDriver: store.sqliteDriver },
      'store commits are power-loss safe',
    );
  else if (store.dialect === 'sqlite')
    log.warn(
      { durability: d.configured, setting: d.setting, sqliteDriver: store.sqliteDriver },
      'store.durability is process-crash-safe: commits are not fsynced, so acknowledged messages may be lost on power loss or a kernel crash',
    );
  else
    log.warn(
      { setting: d.setting },
      'PostgreSQL synchronous_commit is off: the server acknowledges commits before they are flushed, so acknowledged messages may be lost if it crashes; set synchronous_commit = on',
    );
}

/** server.tls: both files or neither; a missing half or an unreadable file names the setting. */
function readApiTls(config: Config): { key: string; cert: string } {
  const { certFile, keyFile } = config.server.tls;
  const read = (file: string, path: string) => {
    try {
      return readFileSync(file, 'utf8');
    } catch (e) {
      throw new PostwardenError('CONFIG_INVALID', `cannot read ${file} (${path}): ${(e as Error).message}`, {
        errors: [{ path, message: `cannot read ${file}` }],
      });
    }
  };
  if (!keyFile || !certFile) {
    const [missing, other] = keyFile ? ['certFile', 'keyFile'] : ['keyFile', 'certFile'];
    throw new PostwardenError('CONFIG_INVALID', `server.tls.${other} is set but server.tls.${missing} is not`, {
      errors: [{ path: `/server/tls/${missing}`, message: `is required with /server/tls/${other}` }],
    });
  }
  return { cert: read(certFile, '/server/tls/certFile'), key: read(keyFile, '/server/tls/keyFile') };
}
