import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import pino, { type Logger } from 'pino';
import { Registry } from 'prom-client';
import { type Accept, createAccept } from './accept/index.js';
import { buildApi } from './api/index.js';
import { type Config, nodeHostname, platformIdentityOf, unqualifiedNames } from './config/index.js';
import { type Clock, PostwardenError, parseAddress, systemClock } from './core/index.js';
import {
  chooseSharedCounter,
  createBreaker,
  createDeliverer,
  createDeliveryMetrics,
  createQueueMetrics,
  createRouter,
  createShaper,
  createSmtpTransport,
  createTransportSecurity,
  type Deliverer,
  sandboxTransport,
  type Transport,
  type TransportSecurity,
} from './delivery/index.js';
import { createResolver } from './dns/index.js';
import { createSpine, type Spine } from './events/index.js';
import {
  createFeedbackIngest,
  createSuppressions,
  createUnsubscribe,
  deriveUnsubscribeKey,
  type FeedbackIngest,
  loadDefaultProviderMap,
  loadDefaultRuleset,
  type Suppressions,
} from './feedback/index.js';
import { loadOrCreateMasterKey } from './governance/index.js';
import { checkHost, createDkimSigner, createSendingIdentity, type Domains, deriveVerpKey, type IdentityMonitor } from './identity/index.js';
import { createHttpsGetter, createPostureMonitor, type PostureMonitor } from './posture/index.js';
import { createInboundMx, createSubmissionServer, loadOrCreateCertificate } from './smtp/index.js';
import { createStore, type Store } from './store/index.js';
import { createTenants, type Tenants, tlsPolicyFor } from './tenants/index.js';
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
  posture: PostureMonitor;
  /** Bounces, complaints and reports: the service behind the inbound MX and POST /v1/feedback. */
  feedback: FeedbackIngest;
  /** MTA-STS cache, TLS planner, TLS-RPT reporter and TLS statistics. */
  transportSecurity: TransportSecurity;
  api: FastifyInstance;
  log: Logger;
  masterKey: Buffer;
  /** Verification and DKIM rotation schedule (started with the delivery role; tests call tick()). */
  identityMonitor: IdentityMonitor;
  /** Starts listeners and the scheduler for the configured roles; resolves with the bound ports. */
  start(): Promise<{ http?: number; smtp?: number; mx?: number }>;
  /** Stops listening, finishes or returns in-flight work, closes the store. */
  stop(): Promise<void>;
}

export async function createPlatform(config: Config, opts: PlatformOptions = {}): Promise<Platform> {
  const clock = opts.clock ?? systemClock;
  const log = opts.log ?? pino({ level: config.log.level });
  const masterKey = loadOrCreateMasterKey(config.security.masterKeyFile || join(config.dataDir, 'master.key')).key;
  const store = await createStore({ url: config.store.url, dataDir: config.dataDir, poolSize: config.store.poolSize });
  const tenants = createTenants({ store, clock });
  const spine = createSpine({ store });
  const hostname = nodeHostname(config);
  const unqualified = unqualifiedNames(config, hostname);
  for (const u of [...unqualified.records, ...unqualified.links]) {
    log.warn({ name: u.name, setting: u.setting }, `"${u.name}" has no dot, so ${u.use} cannot work: set ${u.setting}`);
  }

  const d = config.delivery;
  const dnsOptions = { servers: config.dns.servers, resolvConf: config.dns.resolvConf, timeoutMs: config.dns.timeoutMs, clock };
  const resolver = createResolver(dnsOptions);
  log.info({ resolver: resolver.describe() }, 'DNS lookups go through this resolver');
  const id = config.identity;
  const identity = createSendingIdentity({
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
      await acceptRef.acceptSubmitted({ tenant, keyId: 'system:tls-rpt', scopes: ['send'] }, [rcpt.mailbox], raw);
    },
    log: log.child({ concern: 'transport-security' }),
  });
  const transport =
    opts.transport ??
    createSmtpTransport({
      router: createRouter({ resolver, port: d.smtpPort, portMap: d.portMap }),
      breaker: createBreaker({
        clock,
        threshold: d.breakerFailures,
        cooldownMs: d.breakerCooldownSeconds * 1000,
        maxCooldownMs: d.breakerMaxCooldownSeconds * 1000,
      }),
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
      signer,
      ruleset,
      providers,
      clock,
      ehloName: d.ehloName || hostname,
      ...(d.sourceAddresses[0] ? { localAddress: d.sourceAddresses[0] } : {}),
      timeouts: { connectMs: d.connectTimeoutMs, greetingMs: d.commandTimeoutMs, commandMs: d.commandTimeoutMs, dataMs: d.dataTimeoutMs },
      idleMs: d.idleSeconds * 1000,
      metrics,
      log: log.child({ concern: 'delivery' }),
      envelopeFrom: identity.returnPath,
      tlsPlanner: transportSecurity.planner,
      ...(transportSecurity.ca ? { tlsCa: transportSecurity.ca } : {}),
    });
  const deliverer = createDeliverer({
    store,
    clock,
    transport,
    sandboxTransport,
    owner: `${hostname}:${process.pid}:${randomBytes(3).toString('hex')}`,
    concurrency: d.concurrency,
    leaseMs: d.leaseSeconds * 1000,
    pollMs: d.pollMs,
    retryMinutes: d.retryMinutes,
    maxAgeHours: d.maxAgeHours,
    log: log.child({ concern: 'delivery' }),
    metrics,
  });
  createQueueMetrics(registry, {
    stats: () => store.recipients.queueStats(),
    now: clock.now,
    deliveredLastMinute: deliverer.deliveredLastMinute,
  });
  const runsDelivery = config.server.roles.includes('delivery');
  const postureLog = log.child({ concern: 'posture' });
  const posture = createPostureMonitor({
    store,
    clock,
    resolver,
    fetchPolicy: createHttpsPolicyFetcher({ resolver, timeoutMs: config.posture.httpsTimeoutMs }),
    fetchHttps: createHttpsGetter({ resolver, timeoutMs: config.posture.httpsTimeoutMs }),
    queryTimeoutMs: config.posture.queryTimeoutMs,
    intervalMs: config.posture.intervalMinutes * 60_000,
    onError: (error, domain) => postureLog.warn({ err: error, domain }, 'scheduled DNS posture audit failed'),
  });
  const suppressions = createSuppressions({ store, clock });
  const unsubscribe = createUnsubscribe({
    suppressions,
    store,
    clock,
    keys: [deriveUnsubscribeKey(masterKey)],
    publicUrl: config.server.publicUrl || `http://${hostname}:${config.server.httpPort}`,
  });
  const accept = createAccept({
    store,
    clock,
    hostname,
    limits: config.limits,
    sandbox: config.sandbox,
    onAccepted: runsDelivery ? () => deliverer.poke() : undefined,
    unsubscribeHeaders: (r) => unsubscribe.headersFor(r),
    identity: identity.accept,
  });
  const feedback = createFeedbackIngest({
    store,
    clock,
    ruleset,
    providers,
    verpKeys: [deriveVerpKey(masterKey)],
    // A hard bounce or a complaint is about the address, whichever of the tenant's domains sent
    // to it: tenant scope (the tenant's policy may turn either off; suppress() honours it).
    suppress: async (r, tx) =>
      (
        await suppressions.suppress(
          { tenantId: r.tenantId, address: r.address, reason: r.reason, sourceEventId: r.sourceEventId, scope: 'tenant' },
          tx,
        )
      ).suppressed,
    reportDomain: config.feedback.reportDomain || hostname,
    bounceLabel: config.identity.bounceLabel,
    spfAuthorizes: async (domain, ip) =>
      (await checkHost({ ip, domain, sender: `postmaster@${domain}` }, { resolver, clock })).result === 'pass',
    keepRaw: config.feedback.keepRaw,
    log: log.child({ concern: 'feedback' }),
  });
  acceptRef = accept;
  const api = await buildApi(
    {
      accept,
      tenants,
      domains,
      spine,
      posture,
      feedback,
      suppressions,
      unsubscribe,
      clock,
      idempotencyStore: store,
      ready: () => store.ping(),
      metrics: { contentType: registry.contentType, text: () => registry.metrics() },
      limits: { ...config.limits, maxFeedbackBytes: config.feedback.maxMessageBytes },
      tlsStats: (q) => transportSecurity.stats(q),
    },
    {
      logger: log.child({ concern: 'api' }),
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
  const mx =
    tls && runsMx
      ? createInboundMx({ feedback, hostname, tls, maxMessageBytes: config.feedback.maxMessageBytes, log: log.child({ concern: 'mx' }) })
      : undefined;
  const submission =
    tls && runsSmtp
      ? createSubmissionServer({ accept, tenants, hostname, tls, limits: config.limits, log: log.child({ concern: 'smtp' }) })
      : undefined;

  // RFC 8460 §4.1: reports cover a UTC day; the job is idempotent, so an hourly look is enough.
  let reportTimer: NodeJS.Timeout | undefined;
  const runReports = (): void => {
    if (new Date(clock.now()).getUTCHours() < ts.tlsRpt.hourUtc) return;
    transportSecurity.reporter.runDay().catch((err) => log.warn({ err }, 'TLS-RPT reports failed'));
  };

  let started = false;
  return {
    config,
    store,
    tenants,
    domains,
    accept,
    spine,
    suppressions,
    deliverer,
    posture,
    feedback,
    transportSecurity,
    api,
    log,
    masterKey,
    identityMonitor: identity.monitor,
    async start() {
      started = true;
      const out: { http?: number; smtp?: number; mx?: number } = {};
      if (config.server.roles.includes('api')) {
        await api.listen({ port: config.server.httpPort, host: config.server.host });
        const addr = api.server.address();
        out.http = typeof addr === 'object' && addr ? addr.port : config.server.httpPort;
      }
      if (submission) out.smtp = (await submission.listen(config.server.smtpPort, config.server.host)).port;
      if (mx) out.mx = (await mx.listen(config.server.mxPort, config.server.host)).port;
      if (runsDelivery) {
        deliverer.start();
        identity.monitor.start();
      }
      if (runsDelivery && config.posture.monitor) posture.start();
      if (runsDelivery && ts.tlsRpt.enabled) {
        reportTimer = setInterval(runReports, 3_600_000);
        reportTimer.unref();
      }
      return out;
    },
    async stop() {
      if (reportTimer) clearInterval(reportTimer);
      if (started) {
        identity.monitor.stop();
        await Promise.all([api.close(), submission?.close(), mx?.close()]);
        await deliverer.stop();
        await posture.stop();
        await transport.close?.();
        await signer.close();
        await accept.drain();
      }
      await sharedCounter?.close();
      await store.close();
    },
  };
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
