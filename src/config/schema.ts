import { type Static, Type } from 'typebox';

/**
 * The one typed configuration tree. Every key has a type, a description and a safe default: data
 * under ./data, HTTP on 127.0.0.1, submission only with AUTH, no open relay. docs/config.md is
 * rendered from this schema (npm run docs) and a test fails when it is stale.
 */
const Port = (description: string, dflt: number) => Type.Integer({ minimum: 0, maximum: 65535, default: dflt, description });

/**
 * One failure throttle (src/access/throttle.ts): after `backoffAfter` failures within `windowMinutes`
 * each further failure refuses the subject for 1, 2, 4 … seconds (429, Retry-After); at `lockAfter` it
 * is refused for `lockMinutes`.
 */
const Throttle = (what: string, d: { backoffAfter: number; lockAfter: number; windowMinutes: number; lockMinutes: number }) =>
  Type.Object(
    {
      backoffAfter: Type.Integer({ minimum: 1, default: d.backoffAfter, description: `${what}: failures before the backoff starts.` }),
      lockAfter: Type.Integer({ minimum: 1, default: d.lockAfter, description: `${what}: failures that lock the subject out.` }),
      windowMinutes: Type.Integer({
        minimum: 1,
        default: d.windowMinutes,
        description: `${what}: failures older than this are forgotten.`,
      }),
      lockMinutes: Type.Integer({ minimum: 1, default: d.lockMinutes, description: `${what}: how long a lockout lasts.` }),
    },
    { default: {}, additionalProperties: false },
  );

export const ConfigSchema = Type.Object(
  {
    dataDir: Type.String({ default: './data', description: 'Directory for the SQLite database, keys and certificates.' }),
    sandbox: Type.Boolean({
      default: false,
      description: 'Capture all outbound mail locally (full pipeline, no network). Tenants can also be sandboxed one by one.',
    }),
    server: Type.Object(
      {
        host: Type.String({ default: '127.0.0.1', description: 'Address the HTTP API, submission and MX listeners bind to.' }),
        httpPort: Port('HTTP API port.', 8025),
        smtpPort: Port('SMTP submission port (587 in production).', 2587),
        mxPort: Port('Inbound MX port for bounces and reports (25 in production).', 2525),
        hostname: Type.String({ default: 'localhost', description: 'Name this node announces in SMTP greetings and EHLO.' }),
        dashboard: Type.Boolean({
          default: true,
          description: 'Serve the operator dashboard (docs/dashboard.md) at / on the API port (roles with api).',
        }),
        dashboardDir: Type.String({
          default: '',
          description: 'Directory of the built dashboard (vite build). Empty means dist/web of this installation.',
        }),
        publicUrl: Type.String({
          default: '',
          description:
            'Public base URL of the HTTP API (https://mail.example.com), used in links put in mail such as one-click unsubscribe. Empty means http://<hostname>:<httpPort>.',
        }),
        tls: Type.Object(
          {
            certFile: Type.String({
              default: '',
              description:
                'PEM certificate chain for HTTPS on httpPort (with keyFile). Empty: plain HTTP, e.g. behind a TLS-terminating proxy.',
            }),
            keyFile: Type.String({ default: '', description: 'PEM private key for HTTPS on httpPort (with certFile).' }),
          },
          { default: {}, additionalProperties: false },
        ),
        roles: Type.Array(Type.Union([Type.Literal('api'), Type.Literal('smtp'), Type.Literal('delivery'), Type.Literal('feedback')]), {
          default: ['api', 'smtp', 'delivery', 'feedback'],
          description: 'Roles this process runs; split them across nodes when sharing a PostgreSQL store.',
        }),
        checkResponses: Type.Boolean({
          default: false,
          description:
            "Development and tests: check every API answer against its route's declared status and schema (nothing dropped or coerced by serialisation); a mismatch is logged and answered 500. Costs a validation per answer.",
        }),
        heapGrowthPercent: Type.Integer({
          minimum: 0,
          maximum: 1000,
          default: 50,
          description:
            "How far (percent) the JavaScript heap may grow past what a full collection left alive before the next one (V8's --heap-growing-percent). Lower: less memory, more collection work (docs/delivery.md, Memory, has measured figures). 0 leaves V8's own heuristic, which on a busy node carried ~200 MB of garbage.",
        }),
      },
      { default: {}, additionalProperties: false },
    ),
    store: Type.Object(
      {
        url: Type.String({
          default: '',
          description: 'PostgreSQL URL (postgres://…). Empty means the embedded SQLite file in dataDir. DATABASE_URL also sets it.',
        }),
        poolSize: Type.Integer({ minimum: 1, maximum: 200, default: 10, description: 'PostgreSQL connections per process.' }),
        durability: Type.Union([Type.Literal('power-loss-safe'), Type.Literal('process-crash-safe')], {
          default: 'power-loss-safe',
          description:
            "What a 202/250 survives. power-loss-safe: the store fdatasyncs SQLite's WAL after each commit, from Node's thread pool, before the answer (one flush per group-commit batch or fewer). process-crash-safe: no fsync per commit (faster); an acknowledged message survives kill -9 but may be lost on power loss or a kernel crash, and start-up logs a warning. PostgreSQL: the server's synchronous_commit decides; it must stay on (start-up warns when it is off).",
        }),
        sqliteDriver: Type.Union([Type.Literal('auto'), Type.Literal('better-sqlite3'), Type.Literal('node:sqlite')], {
          default: 'auto',
          description:
            "Which driver opens the embedded SQLite file. auto: better-sqlite3 on Node 20 and 22, Node's built-in node:sqlite on Node 23 and later (better-sqlite3 12 aborts at process exit on Node 24). node:sqlite needs Node 22.16 or later. Both get the same pragmas (WAL, synchronous per durability, busy_timeout, foreign keys); docs/deploy.md, Node versions.",
        }),
      },
      { default: {}, additionalProperties: false },
    ),
    limits: Type.Object(
      {
        maxMessageBytes: Type.Integer({
          minimum: 1024,
          default: 26214400,
          description: 'Default per-tenant maximum message size in bytes (25 MiB).',
        }),
        maxRecipients: Type.Integer({ minimum: 1, maximum: 10000, default: 100, description: 'Most recipients one message may have.' }),
        ratePerMinute: Type.Integer({
          minimum: 0,
          default: 6000,
          description: 'Default per-tenant accepted messages per minute (0 disables the limit).',
        }),
        batchMax: Type.Integer({ minimum: 1, maximum: 500, default: 500, description: 'Most messages in one batch request.' }),
        idempotencyHours: Type.Integer({ minimum: 24, default: 24, description: 'How long Idempotency-Key answers are kept.' }),
        idempotencyTakeoverSeconds: Type.Integer({
          minimum: 1,
          maximum: 86400,
          default: 300,
          description:
            'After this long, a key whose first request never answered (the node died between commit and answer) is taken over by a retry with the same key and body, which runs again. Keep it above the longest request (limits.syncWaitMs).',
        }),
        syncWaitMs: Type.Integer({
          minimum: 100,
          maximum: 120000,
          default: 30000,
          description: 'Longest a synchronous send waits for first outcomes.',
        }),
        maxScheduleDays: Type.Integer({
          minimum: 0,
          maximum: 365,
          default: 30,
          description:
            'How far ahead a send may be scheduled (send_at, Resend scheduled_at), in days. A scheduled recipient waits queued and can be cancelled until then. 0: no scheduling.',
        }),
        maxQueued: Type.Integer({
          minimum: 0,
          default: 0,
          description: 'Shed new mail (429/421) above this many undelivered recipients (0: no limit).',
        }),
        maxBodyBytesInFlight: Type.Integer({
          minimum: 0,
          default: 134217728,
          description:
            'Message bytes this node holds in memory at once across the API, submission and the MX (128 MiB). Past it: 503 with Retry-After, SMTP 452 4.3.1. One message alone always passes. 0: no budget.',
        }),
      },
      { default: {}, additionalProperties: false },
    ),
    dns: Type.Object(
      {
        servers: Type.Array(Type.String(), {
          default: [],
          description: 'DNS servers (host or host:port) for every lookup; empty uses the system resolvers (dns.resolvConf).',
        }),
        resolvConf: Type.String({
          default: '/etc/resolv.conf',
          description:
            'Where the system resolvers are read when dns.servers is empty: its nameserver lines (at most 3, IPv4 or IPv6; [addr]:port for another port) and options attempts:n. No nameserver line or no file: 127.0.0.1, as resolv.conf(5) says.',
        }),
        timeoutMs: Type.Integer({ minimum: 50, maximum: 60000, default: 3000, description: 'Per-query timeout.' }),
      },
      { default: {}, additionalProperties: false },
    ),
    delivery: Type.Object(
      {
        smtpPort: Port('Port used to reach remote MX hosts (25; tests map it to a sink).', 25),
        maxAgeHours: Type.Number({ minimum: 0.01, default: 72, description: 'Recipients still undelivered after this expire.' }),
        retryMinutes: Type.Array(Type.Number({ minimum: 0 }), {
          default: [1, 5, 15, 30, 60, 120, 240, 480],
          description: 'Backoff schedule between attempts (jittered ±20%); the last step repeats.',
        }),
        leaseSeconds: Type.Integer({
          minimum: 5,
          default: 300,
          description: 'Lease on an in-flight recipient before another worker may take it.',
        }),
        concurrency: Type.Integer({
          minimum: 1,
          maximum: 10000,
          default: 256,
          description: 'Most recipients in flight at once per node (each holds its message body in memory while in flight).',
        }),
        pollMs: Type.Integer({ minimum: 10, default: 250, description: 'How often the scheduler looks for due work when idle.' }),
        portMap: Type.Record(Type.String(), Type.Integer({ minimum: 1, maximum: 65535 }), {
          default: {},
          description: 'MX host name → port to dial instead of smtpPort. For tests and labs that point MX hosts at local sinks.',
        }),
        maxConnections: Type.Integer({
          minimum: 1,
          maximum: 1000,
          default: 10,
          description: 'Connections per destination site (MX host set).',
        }),
        messagesPerConnection: Type.Integer({
          minimum: 1,
          default: 100,
          description: 'Messages sent over one connection before it is replaced.',
        }),
        perSecond: Type.Number({ minimum: 0, default: 0, description: 'Messages per second per destination site (0: no limit).' }),
        perMinute: Type.Number({ minimum: 0, default: 0, description: 'Messages per minute per destination site (0: no limit).' }),
        sharedRates: Type.Union([Type.Literal('auto'), Type.Literal('store'), Type.Literal('redis'), Type.Literal('off')], {
          default: 'auto',
          description:
            'Where nodes count per-destination rates together so perSecond/perMinute hold cluster-wide: redis (cluster.redisUrl), store (a table in PostgreSQL), off (each node alone). auto: redis when cluster.redisUrl is set, else store on PostgreSQL, else off (one SQLite node is already exact).',
        }),
        connectTimeoutMs: Type.Integer({ minimum: 100, default: 30000, description: 'TCP connect timeout.' }),
        commandTimeoutMs: Type.Integer({
          minimum: 100,
          default: 300000,
          description: 'Greeting, MAIL, RCPT and DATA-initiation timeout (RFC 5321 §4.5.3.2: 5 minutes).',
        }),
        dataTimeoutMs: Type.Integer({
          minimum: 100,
          default: 600000,
          description: 'Time for the reply to the end of DATA (RFC 5321 §4.5.3.2: 10 minutes).',
        }),
        idleSeconds: Type.Integer({ minimum: 1, default: 30, description: 'An idle connection is closed after this long.' }),
        breakerFailures: Type.Integer({
          minimum: 1,
          default: 5,
          description: 'Consecutive connection failures or throttling replies that open a destination breaker.',
        }),
        breakerCooldownSeconds: Type.Integer({
          minimum: 1,
          default: 60,
          description: 'First open period of a breaker; it doubles while probes fail.',
        }),
        breakerMaxCooldownSeconds: Type.Integer({ minimum: 1, default: 900, description: 'Longest open period of a breaker.' }),
        ehloName: Type.String({ default: '', description: 'Name sent in EHLO to remote MX hosts. Empty: server.hostname.' }),
        sourceAddresses: Type.Array(Type.String(), {
          default: [],
          description: 'Local addresses to send from (egress pool "default"); empty lets the OS choose.',
        }),
        pools: Type.Record(
          Type.String({ pattern: '^[a-z0-9][a-z0-9_-]*$' }),
          Type.Object(
            {
              sourceAddresses: Type.Array(Type.String({ minLength: 1 }), {
                minItems: 1,
                description: 'Local addresses this pool sends from, used in turn.',
              }),
              ehloName: Type.String({ default: '', description: 'Name sent in EHLO from this pool. Empty: delivery.ehloName.' }),
              streams: Type.Array(Type.Union([Type.Literal('transactional'), Type.Literal('marketing'), Type.Literal('cold')]), {
                default: [],
                description: 'Streams that leave from this pool. A stream named by any pool leaves only from its pools.',
              }),
              warmup: Type.Optional(
                Type.Boolean({
                  default: false,
                  description:
                    'A new pool: its daily volume per provider follows rules/warmup.yaml until it graduates; the excess goes to the warm pools of the same streams (docs/reputation.md "Warmup").',
                }),
              ),
            },
            { additionalProperties: false },
          ),
          {
            default: {},
            description:
              'Named egress pools (docs/delivery.md "Egress pools"). A stream that no pool names leaves from the pool "default" (delivery.sourceAddresses); a stream that a pool names never leaves from another pool, even when its own pools are throttled or paused.',
          },
        ),
        pacing: Type.Object(
          {
            enabled: Type.Boolean({
              default: true,
              description:
                'Apply rules/pacing.yaml: throttling replies slow the pool × site and recovery is stepwise (docs/delivery.md "Pacing").',
            }),
            rulesFile: Type.String({ default: '', description: 'Pacing rules to use instead of the shipped rules/pacing.yaml.' }),
          },
          { default: {}, additionalProperties: false },
        ),
        warmup: Type.Object(
          {
            enabled: Type.Boolean({
              default: true,
              description: 'Apply rules/warmup.yaml to pools with `warmup: true` (docs/reputation.md "Warmup").',
            }),
            rulesFile: Type.String({ default: '', description: 'Warmup schedules to use instead of the shipped rules/warmup.yaml.' }),
            scale: Type.Number({
              exclusiveMinimum: 0,
              default: 1,
              description: 'Multiplies every daily cap and graduation.minDelivered (rounded up, at least 1): a smaller install, or a test.',
            }),
          },
          { default: {}, additionalProperties: false },
        ),
        dkimEd25519: Type.Boolean({
          default: false,
          description: 'New domains also get an Ed25519 key and mail is dual-signed (RFC 8463); RSA-2048 always.',
        }),
        dkimThreads: Type.Integer({
          minimum: 0,
          maximum: 16,
          default: 1,
          description: 'Worker threads that sign DKIM (0: sign on the main thread).',
        }),
      },
      { default: {}, additionalProperties: false },
    ),
    cluster: Type.Object(
      {
        redisUrl: Type.String({
          default: '',
          description: 'redis://host:port for cluster-wide rate counters (REDIS_URL). Empty: no Redis.',
        }),
        jobLeaseSeconds: Type.Integer({
          minimum: 5,
          maximum: 86400,
          default: 180,
          description:
            "Scheduled jobs (identity schedule, posture monitor, TLS-RPT sender) run on one node at a time, the holder of the job's lease; when that node dies, another takes the job over after this long. Each lease lasts at least two of its job's ticks.",
        }),
        redisPrefix: Type.String({
          default: 'postwarden:',
          description: 'Prefix of every Redis key this cluster writes, so clusters can share one Redis.',
        }),
      },
      { default: {}, additionalProperties: false },
    ),
    transportSecurity: Type.Object(
      {
        mtaSts: Type.Boolean({
          default: true,
          description: "Apply recipient domains' MTA-STS policies (RFC 8461): enforce mode restricts MX hosts and requires valid TLS.",
        }),
        dane: Type.Boolean({
          default: true,
          description:
            'Apply DANE for SMTP (RFC 7672) when TLSA answers carry the AD bit. Only safe when dns.servers is a validating resolver reached over a trusted path (e.g. on localhost).',
        }),
        extraCaFile: Type.String({
          default: '',
          description:
            "PEM file of extra trust anchors added to Node's root store, for MX certificates and MTA-STS/TLS-RPT HTTPS (private CAs, tests). Empty: the root store only.",
        }),
        httpsPortMap: Type.Record(Type.String(), Type.Integer({ minimum: 1, maximum: 65535 }), {
          default: {},
          description:
            'HTTPS host name → port on 127.0.0.1 instead of DNS and 443, for MTA-STS policy hosts (mta-sts.<domain>) and TLS-RPT https endpoints. For tests and labs; the certificate is still checked for the host name.',
        }),
        policyFetchTimeoutMs: Type.Integer({
          minimum: 100,
          maximum: 120000,
          default: 30000,
          description: 'Deadline of one MTA-STS policy fetch.',
        }),
        tlsRpt: Type.Object(
          {
            enabled: Type.Boolean({
              default: false,
              description: 'Send daily TLS-RPT reports (RFC 8460) to recipient domains that publish _smtp._tls rua addresses.',
            }),
            hourUtc: Type.Integer({
              minimum: 0,
              maximum: 23,
              default: 1,
              description: "UTC hour from which the previous day's reports are sent.",
            }),
            tenantId: Type.String({
              default: '',
              description:
                'Tenant whose pipeline sends mailto: reports (its sending domain must cover tlsRpt.from). Empty: mailto: destinations are not served (https ones still are).',
            }),
            from: Type.String({ default: '', description: 'From address of report mails. Empty: tls-rpt@<server.hostname>.' }),
            organizationName: Type.String({ default: '', description: 'organization-name of reports. Empty: server.hostname.' }),
            contactInfo: Type.String({ default: '', description: 'contact-info of reports. Empty: postmaster@<server.hostname>.' }),
          },
          { default: {}, additionalProperties: false },
        ),
      },
      { default: {}, additionalProperties: false },
    ),
    identity: Type.Object(
      {
        bounceLabel: Type.String({
          default: 'bounces',
          pattern: '^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$',
          description:
            'Label of the return-path subdomain under each sending domain (bounces.example.com): VERP envelope senders and async bounces live there.',
        }),
        spfInclude: Type.String({
          default: '',
          description:
            "Domain whose SPF record lists the platform's sending IPs (include:<this> in tenants' records). Empty: the records list sendingIps, or a:server.hostname.",
        }),
        sendingIps: Type.Array(Type.String(), {
          default: [],
          description:
            'Public IPv4/IPv6 addresses (or CIDR ranges) mail leaves from, for the SPF records tenants publish when spfInclude is empty.',
        }),
        inboundMxHost: Type.String({
          default: '',
          description: "Host of the platform's inbound MX that the return-path subdomains point at. Empty: server.hostname.",
        }),
        trackingHost: Type.String({
          default: '',
          description: 'Host that the optional tracking CNAME (<trackingLabel>.<domain>) points at. Empty: no tracking record is proposed.',
        }),
        trackingLabel: Type.String({
          default: 'track',
          pattern: '^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$',
          description: 'Label of the optional tracking CNAME under each sending domain.',
        }),
        verifyIntervalMinutes: Type.Integer({
          minimum: 1,
          default: 60,
          description: "How often every domain's DNS records are checked again (and pending DKIM keys activated once published).",
        }),
        dkimRotationDays: Type.Integer({
          minimum: 0,
          default: 180,
          description: 'Age of the signing DKIM key after which a new selector is created and published (0: never rotate automatically).',
        }),
        dkimOverlapDays: Type.Integer({
          minimum: 0,
          default: 7,
          description: 'How long a replaced DKIM key stays published (and valid) after the new one starts signing, before it is retired.',
        }),
      },
      { default: {}, additionalProperties: false },
    ),
    feedback: Type.Object(
      {
        reportDomain: Type.String({
          default: '',
          description:
            'Domain of the platform report mailboxes (dmarc@, tls-rpt@, fbl@) that DMARC rua / TLS-RPT rua point at. Empty: server.hostname.',
        }),
        maxMessageBytes: Type.Integer({
          minimum: 1024,
          default: 10485760,
          description: 'Largest message the inbound MX accepts (SIZE, RFC 1870); bigger ones get 552 5.3.4. Reports and bounces are small.',
        }),
        keepRaw: Type.Boolean({
          default: false,
          description: 'Store the raw bytes of every feedback document (bounces carry recipient data; off keeps only the parsed summary).',
        }),
        maxUnpackedBytes: Type.Integer({
          minimum: 65536,
          default: 33554432,
          description:
            'Bytes that unpacking one document (gzip/zip report layers, every attachment together) may produce; past it the document is refused (554 5.6.0 on the MX, 422 on upload).',
        }),
        maxReportRecords: Type.Integer({
          minimum: 1,
          default: 10000,
          description:
            'Records in one DMARC aggregate report (policies in one TLS-RPT report). A report past it is refused whole (554 5.6.0 / 422), never truncated.',
        }),
        maxMimeParts: Type.Integer({
          minimum: 2,
          default: 500,
          description: 'MIME parts in one feedback message; more is refused with 554 5.6.0 (422 on upload).',
        }),
        maxMimeDepth: Type.Integer({
          minimum: 1,
          default: 20,
          description: 'How deep multiparts and embedded messages may nest in one feedback message; deeper is refused with 554 5.6.0.',
        }),
        parseThreads: Type.Integer({
          minimum: 1,
          maximum: 64,
          default: 2,
          description:
            'Worker threads that parse feedback (MIME, archives, report XML/JSON) off the event loop, one document each at a time.',
        }),
        parseTimeoutMs: Type.Integer({
          minimum: 100,
          default: 5000,
          description: 'CPU budget of one document: a parse still running after this long is stopped and the document refused (554 5.6.0).',
        }),
        parseMemoryMb: Type.Integer({
          // Node 24 cannot start a thread whose old generation is capped at 32 MB.
          minimum: 64,
          default: 256,
          description: 'Heap limit of each parsing thread; a document that needs more is refused (554 5.6.0) and the thread replaced.',
        }),
      },
      { default: {}, additionalProperties: false },
    ),
    slo: Type.Object(
      {
        windowHours: Type.Integer({
          minimum: 1,
          maximum: 720,
          default: 24,
          description: 'The rolling window every ratio SLI (acceptance, retries, API availability) is measured over.',
        }),
        acceptanceSeconds: Type.Integer({
          minimum: 1,
          default: 300,
          description: 'X of "share of sends reaching provider acceptance (a 2xx) within X seconds of being accepted by us".',
        }),
        acceptanceObjective: Type.Number({ minimum: 0, maximum: 1, default: 0.99, description: 'Objective of the acceptance SLI.' }),
        retryMinutes: Type.Integer({
          minimum: 1,
          default: 60,
          description: 'Y of "share of soft bounces (deferrals) delivered within Y minutes of the first deferral".',
        }),
        retryObjective: Type.Number({ minimum: 0, maximum: 1, default: 0.9, description: 'Objective of the retry SLI.' }),
        drainSeconds: Type.Integer({
          minimum: 1,
          default: 900,
          description: "Objective of the time-to-drain SLI: queue depth over the last minute's delivery rate stays at or below this.",
        }),
        availabilityObjective: Type.Number({
          minimum: 0,
          maximum: 1,
          default: 0.999,
          description: 'Objective of API availability: the share of API requests of this node not answered with a 5xx.',
        }),
      },
      { default: {}, additionalProperties: false },
    ),
    posture: Type.Object(
      {
        monitor: Type.Boolean({
          default: true,
          description:
            'Re-audit every managed and watched domain on a schedule (in processes with the delivery role); changes become dns.changed and dns.alert events.',
        }),
        intervalMinutes: Type.Integer({
          minimum: 5,
          maximum: 10080,
          default: 1440,
          description: 'How often each domain is audited again.',
        }),
        queryTimeoutMs: Type.Integer({ minimum: 50, maximum: 60000, default: 2000, description: 'Bound on each DNS query of an audit.' }),
        httpsTimeoutMs: Type.Integer({
          minimum: 100,
          maximum: 60000,
          default: 10000,
          description: 'Bound on each HTTPS fetch of an audit (MTA-STS policy, BIMI logo and certificate).',
        }),
      },
      { default: {}, additionalProperties: false },
    ),
    webhooks: Type.Object(
      {
        enabled: Type.Boolean({
          default: true,
          description: 'Dispatch events to tenant webhook endpoints (in processes with the delivery role; one node dispatches, all send).',
        }),
        allowPrivateTargets: Type.Boolean({
          default: false,
          description:
            'Let endpoints point at loopback, private and link-local addresses. Off in production (SSRF guard); for tests and labs only.',
        }),
        retryHours: Type.Number({
          minimum: 0.01,
          maximum: 720,
          default: 72,
          description:
            'How long an event keeps being retried (exponential backoff with jitter) after its first failure; past it the endpoint is disabled with a webhook.disabled event.',
        }),
        timeoutMs: Type.Integer({
          minimum: 100,
          maximum: 120000,
          default: 10000,
          description: 'Bound on each POST (connect, headers and body).',
        }),
        concurrency: Type.Integer({
          minimum: 1,
          maximum: 4096,
          default: 1024,
          description:
            "Webhook deliveries claimed and in flight per node (a message's events go one after another, so throughput needs many messages in flight). POSTs to one origin go at most 16 at a time; the rest wait in the node, their deadline not started.",
        }),
        pollMs: Type.Integer({
          minimum: 5,
          maximum: 60000,
          default: 100,
          description: 'How often a node looks for new events to dispatch and deliveries due.',
        }),
        leaseSeconds: Type.Integer({
          minimum: 5,
          maximum: 3600,
          default: 60,
          description: 'How long a claimed delivery is held before another node may take it over (renewed while the holder lives).',
        }),
        rotationGraceHours: Type.Number({
          minimum: 0,
          maximum: 720,
          default: 24,
          description: 'After rotate-secret, how long the previous secret keeps signing alongside the new one.',
        }),
        maxBatchSize: Type.Integer({
          minimum: 1,
          maximum: 1000,
          default: 100,
          description: 'Largest batch_size an endpoint may ask for (events per POST, sent as a JSON array).',
        }),
        senderThread: Type.Boolean({
          default: true,
          description:
            "Make webhook POSTs in a worker thread of their own, so the HTTP client's work stays off the main thread that also runs delivery. False: POST on the main thread.",
        }),
      },
      { default: {}, additionalProperties: false },
    ),
    events: Type.Object(
      {
        retentionDays: Type.Integer({
          minimum: 1,
          maximum: 3650,
          default: 30,
          description:
            "How far back a webhook replay may ask (days), and how long settled webhook deliveries and POST attempts are kept before the retention purge deletes them. How long events are stored is the tenant's `events` retention class (docs/retention.md).",
        }),
        nats: Type.Object(
          {
            url: Type.String({
              default: '',
              description:
                'NATS server URL (nats://host:4222) to publish every event to JetStream (docs/event-stream.md), from one node with the delivery role at a time. Empty: no stream.',
            }),
            subjectPrefix: Type.String({
              default: 'postwarden.events',
              pattern: '^[A-Za-z0-9_-]+(\\.[A-Za-z0-9_-]+)*$',
              description: 'Subjects are <subjectPrefix>.<tenant id>.<event type>, e.g. postwarden.events.ten_01J….recipient.bounced.',
            }),
            stream: Type.String({
              default: 'POSTWARDEN_EVENTS',
              pattern: '^[A-Za-z0-9_-]+$',
              description: 'JetStream stream holding the subjects; created (capturing <subjectPrefix>.>) when it does not exist.',
            }),
          },
          { default: {}, additionalProperties: false },
        ),
      },
      { default: {}, additionalProperties: false },
    ),
    smtp: Type.Object(
      {
        idleTimeoutSeconds: Type.Integer({
          minimum: 1,
          default: 120,
          description: 'A session that owes us a command this long is closed with 421 (submission and MX).',
        }),
        helloTimeoutSeconds: Type.Integer({
          minimum: 0,
          default: 30,
          description:
            'A client that has not sent EHLO/HELO this long after connecting is closed with 421 4.4.2. 0: only the idle timeout.',
        }),
        closeTimeoutSeconds: Type.Integer({
          minimum: 0,
          default: 30,
          description:
            'A stopping node lets open SMTP sessions finish for this long, then answers the rest 421 and closes them (submission and MX).',
        }),
        submission: Type.Object(
          {
            maxClients: Type.Integer({
              minimum: 1,
              default: 1000,
              description: 'Concurrent connections to submission; more are answered 421 and closed.',
            }),
            maxClientsPerIp: Type.Integer({
              minimum: 0,
              default: 100,
              description:
                'Concurrent connections to submission from one remote address; more are answered 421 4.7.0. 0: no per-address limit.',
            }),
            maxAuthFailures: Type.Integer({
              minimum: 0,
              default: 3,
              description: 'Failed AUTH attempts in one session before it is closed with 421 4.7.0. 0: never.',
            }),
          },
          { default: {}, additionalProperties: false },
        ),
        mx: Type.Object(
          {
            maxClients: Type.Integer({
              minimum: 1,
              default: 200,
              description: 'Concurrent connections to the inbound MX; more are answered 421 and closed.',
            }),
            maxClientsPerIp: Type.Integer({
              minimum: 0,
              default: 20,
              description:
                'Concurrent connections to the inbound MX from one remote address; more are answered 421 4.7.0. 0: no per-address limit.',
            }),
            maxRecipients: Type.Integer({
              minimum: 100,
              default: 100,
              description:
                'RCPT commands (accepted or refused) in one MX transaction; past it 452 4.5.3 (RFC 5321 §4.5.3.1.8 minimum is 100).',
            }),
          },
          { default: {}, additionalProperties: false },
        ),
      },
      { default: {}, additionalProperties: false },
    ),
    access: Type.Object(
      {
        sessionHours: Type.Integer({
          minimum: 1,
          default: 12,
          description: 'A dashboard session (cookie) lasts this long after login; logout or disabling the user ends it at once.',
        }),
        secureCookies: Type.Union([Type.Literal('auto'), Type.Literal('always'), Type.Literal('never')], {
          default: 'auto',
          description:
            'Secure flag on the session cookie: auto sets it when the API itself serves HTTPS (server.tls); behind a TLS-terminating proxy use always.',
        }),
        login: Throttle('Failed logins from one address', { backoffAfter: 5, lockAfter: 20, windowMinutes: 15, lockMinutes: 15 }),
        account: Throttle('Failed logins to one account, from any address', {
          backoffAfter: 5,
          lockAfter: 10,
          windowMinutes: 15,
          lockMinutes: 15,
        }),
        keys: Throttle('Unknown or revoked API keys presented from one address', {
          backoffAfter: 20,
          lockAfter: 100,
          windowMinutes: 5,
          lockMinutes: 5,
        }),
      },
      { default: {}, additionalProperties: false },
    ),
    audit: Type.Object(
      {
        checkpointEvery: Type.Integer({
          minimum: 1,
          maximum: 1_000_000,
          default: 100,
          description: 'Each audit chain gets an Ed25519-signed checkpoint every this many entries (docs/governance.md).',
        }),
        syslog: Type.Object(
          {
            host: Type.String({
              default: '',
              description: 'SIEM collector that receives every audit entry as RFC 5424 syslog. Empty: no forwarding.',
            }),
            port: Type.Integer({ minimum: 1, maximum: 65535, default: 514, description: 'Collector port.' }),
            protocol: Type.Union([Type.Literal('udp'), Type.Literal('tcp')], {
              default: 'udp',
              description: 'udp (RFC 5426, one entry per datagram) or tcp (RFC 6587 octet-counting framing).',
            }),
            appName: Type.String({ default: 'postwarden', minLength: 1, maxLength: 48, description: 'RFC 5424 APP-NAME.' }),
            pollMs: Type.Integer({
              minimum: 50,
              maximum: 600_000,
              default: 1000,
              description: 'How often the forwarder looks for new entries and retries a collector that was down.',
            }),
          },
          { default: {}, additionalProperties: false },
        ),
      },
      { default: {}, additionalProperties: false },
    ),
    security: Type.Object(
      {
        masterKeyFile: Type.String({
          default: '',
          description: 'File with the node master key (created with mode 0600 if missing). Empty: dataDir/master.key.',
        }),
        tlsKeyFile: Type.String({ default: '', description: 'PEM key for SMTP STARTTLS. Empty: a self-signed pair in dataDir.' }),
        tlsCertFile: Type.String({ default: '', description: 'PEM certificate chain for SMTP STARTTLS.' }),
      },
      { default: {}, additionalProperties: false },
    ),
    encryption: Type.Object(
      {
        enabled: Type.Boolean({
          default: true,
          description:
            'Seal message bodies, subjects, recipient addresses, SMTP replies, event data and feedback reports at rest with per-tenant data keys (docs/encryption.md). Off: new writes are stored in plaintext; sealed values still open.',
        }),
        provider: Type.Union([Type.Literal('local'), Type.Literal('external')], {
          default: 'local',
          description:
            'Which key-encryption key wraps new data keys: the node master key (local) or the external KMS (encryption.external).',
        }),
        keyDir: Type.String({
          default: '',
          description: 'Directory of rotated local key-encryption keys (postwarden encryption rotate-master). Empty: dataDir/kek.',
        }),
        cacheMaxKeys: Type.Integer({ minimum: 1, default: 1000, description: 'Unwrapped data keys kept in memory at most.' }),
        cacheTtlSeconds: Type.Integer({
          minimum: 1,
          default: 300,
          description:
            'Longest an unwrapped data key is used from memory: a shred or rotation made by another process takes effect here within it.',
        }),
        external: Type.Object(
          {
            url: Type.String({
              default: '',
              description:
                'Base URL of a Vault-transit-shaped KMS (POST {url}/encrypt/{key}, {url}/decrypt/{key}), e.g. https://vault:8200/v1/transit. Empty: none.',
            }),
            authHeader: Type.String({ default: 'X-Vault-Token', description: 'Header that carries the KMS credential.' }),
            authToken: Type.String({
              default: '',
              description: 'The KMS credential (a secret: prefer the POSTWARDEN_ENCRYPTION__EXTERNAL__AUTH_TOKEN variable).',
            }),
            defaultKeyRef: Type.String({
              default: 'postwarden',
              description: 'KMS key that wraps data keys of tenants without their own key (BYOK).',
            }),
            timeoutMs: Type.Integer({ minimum: 100, default: 5000, description: 'Longest a wrap or unwrap call waits for the KMS.' }),
          },
          { default: {}, additionalProperties: false },
        ),
      },
      { default: {}, additionalProperties: false },
    ),
    tracking: Type.Object(
      {
        dedupeWindowMinutes: Type.Integer({
          minimum: 1,
          default: 60,
          description: 'Opens and clicks count once per recipient, kind and link within this window (docs/tracking.md).',
        }),
        scannerWindowSeconds: Type.Integer({
          minimum: 0,
          default: 10,
          description: 'A click this soon after delivery is flagged machine (a security scanner following links).',
        }),
      },
      { default: {}, additionalProperties: false },
    ),
    experiments: Type.Object(
      {
        alpha: Type.Number({
          exclusiveMinimum: 0,
          maximum: 0.5,
          default: 0.05,
          description: 'Significance level of the one-sided two-proportion test that flags a bounce or complaint regression.',
        }),
        minSample: Type.Integer({
          minimum: 1,
          default: 20,
          description: 'Fewest recipients sent per variant at a provider before a regression may be called there.',
        }),
        evaluateMinutes: Type.Integer({
          minimum: 1,
          default: 5,
          description: 'How often running experiments are evaluated for regressions (delivery role; GET …/results evaluates at once too).',
        }),
      },
      { default: {}, additionalProperties: false },
    ),
    reputation: Type.Object(
      {
        enabled: Type.Boolean({
          default: true,
          description: 'Keep the reputation ledger: an events-spine consumer counting per identity and provider (docs/reputation.md).',
        }),
        complaintRateWatch: Type.Number({
          minimum: 0,
          maximum: 1,
          default: 0.001,
          description: "Complaints ÷ delivered over 24 h at or above which a key is `watch` (Gmail's and Yahoo's 0.1 % line).",
        }),
        complaintRatePause: Type.Number({
          minimum: 0,
          maximum: 1,
          default: 0.003,
          description: "Complaints ÷ delivered over 24 h at or above which a key is `paused` (Gmail's and Yahoo's 0.3 % line).",
        }),
        hardBounceRateWatch: Type.Number({
          minimum: 0,
          maximum: 1,
          default: 0.02,
          description: 'Hard bounces ÷ attempts over 24 h for `watch`.',
        }),
        hardBounceRateThrottle: Type.Number({
          minimum: 0,
          maximum: 1,
          default: 0.05,
          description: 'Hard bounces ÷ attempts over 24 h for `throttled` (a list-quality problem).',
        }),
        blockRateThrottle: Type.Number({
          minimum: 0,
          maximum: 1,
          default: 0.05,
          description: 'Blocks (reputation, policy and content refusals) ÷ attempts over 24 h for `throttled`.',
        }),
        throttlingRateThrottle: Type.Number({
          minimum: 0,
          maximum: 1,
          default: 0.2,
          description: 'Throttling deferrals (421 4.7.x, "try again later") ÷ attempts over 1 h for `throttled`.',
        }),
        baselineFactor: Type.Number({
          minimum: 1,
          default: 2,
          description:
            "A 24 h complaint rate this many times the trailing 7-day baseline makes a key `watch` (the roadmap's doubling rule).",
        }),
        minVolume: Type.Integer({
          minimum: 1,
          default: 100,
          description: 'Fewest attempts in the window before a rate may change a state (small samples are noise).',
        }),
        warmupDeliveries: Type.Integer({
          minimum: 0,
          default: 5000,
          description:
            'A key with fewer successful deliveries than this, ever, is `warming` when nothing worse applies. 0: no warming state.',
        }),
        pollMs: Type.Integer({ minimum: 50, default: 1000, description: 'How often the ledger reads new events.' }),
      },
      { default: {}, additionalProperties: false },
    ),
    lists: Type.Object(
      {
        dripBatchSize: Type.Integer({
          minimum: 1,
          default: 500,
          description: 'During the drip phase of a new import, at most this many recipients per interval for sends naming the list.',
        }),
        dripIntervalMinutes: Type.Integer({ minimum: 1, default: 60, description: 'The drip-feed window (docs/lists.md).' }),
        dripPhaseHours: Type.Integer({
          minimum: 0,
          default: 72,
          description: 'How long after a list import its sends are drip-fed (0 turns drip-feeding off).',
        }),
        dnsConcurrency: Type.Integer({ minimum: 1, maximum: 256, default: 16, description: 'MX lookups in flight per import.' }),
        dnsCacheSize: Type.Integer({ minimum: 1, default: 20000, description: 'Domains whose MX verdict one import keeps.' }),
        importBatchRows: Type.Integer({
          minimum: 1,
          maximum: 10000,
          default: 1000,
          description: 'Rows an import checks and writes at a time (memory is bounded by one batch).',
        }),
        maxImportBytes: Type.Integer({
          minimum: 1024,
          default: 268_435_456,
          description: 'Largest CSV body POST /v1/lists/{id}/import reads.',
        }),
      },
      { default: {}, additionalProperties: false },
    ),
    log: Type.Object(
      {
        level: Type.Union(
          ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].map((l) => Type.Literal(l)),
          { default: 'info', description: 'Log level (pino).' },
        ),
      },
      { default: {}, additionalProperties: false },
    ),
    residency: Type.Object(
      {
        region: Type.Union([Type.Literal(''), Type.String({ pattern: '^[a-z][a-z0-9-]{0,31}$' })], {
          default: '',
          description:
            "This node's data region (eu, us, eu-west, …; docs/residency.md). It accepts, stores and delivers mail only of tenants pinned to it or not pinned; a tenant pinned elsewhere is refused (403 RESIDENCY_MISMATCH, SMTP 550 5.7.1) and its queued mail left to a node of its region. Empty: no region, so no pinned tenant is served here.",
        }),
        holdAfterSeconds: Type.Integer({
          minimum: 0,
          default: 300,
          description:
            'A recipient of a tenant pinned to another region that has been due this long without a node of its region taking it is marked held (held_reason) with a recipient.held event, once, by a delivery node here.',
        }),
        holdScanSeconds: Type.Integer({
          minimum: 1,
          default: 60,
          description: 'How often a delivery node of this region looks for such recipients (one node per region at a time, 500 per look).',
        }),
      },
      { default: {}, additionalProperties: false },
    ),
    compliance: Type.Object(
      {
        enabled: Type.Boolean({
          default: true,
          description:
            'Run the compliance consumer (register and anomaly alerts) and the incident reminders on the delivery role (docs/compliance.md).',
        }),
        anomalyRulesFile: Type.String({ default: '', description: 'Anomaly thresholds (default rules/anomalies.yaml).' }),
        pollMs: Type.Integer({
          minimum: 50,
          maximum: 600_000,
          default: 1000,
          description: 'How often the compliance consumer reads the spine.',
        }),
        authFailureFlushMs: Type.Integer({
          minimum: 10,
          maximum: 60_000,
          default: 1000,
          description:
            'Failed SMTP AUTH, API key and sign-in attempts are counted in memory and written to the anomaly counts (auth-failure-burst) once per this interval, one transaction for all addresses.',
        }),
        checkMinutes: Type.Integer({
          minimum: 1,
          default: 60,
          description:
            'How often the register is checked for lapsed certifications and reviews and unregistered SPF includes, and reminders are sent.',
        }),
        clocks: Type.Object(
          {
            gdpr: Type.Object(
              {
                hours: Type.Number({
                  exclusiveMinimum: 0,
                  default: 72,
                  description: 'GDPR art. 33: hours from opening to notify the supervisory authority.',
                }),
                remindBeforeHours: Type.Array(Type.Number({ exclusiveMinimum: 0 }), {
                  default: [24, 4],
                  description: 'Reminders (incident.reminded events) this many hours before the deadline.',
                }),
              },
              { default: {}, additionalProperties: false },
            ),
            hipaa: Type.Object(
              {
                hours: Type.Number({
                  exclusiveMinimum: 0,
                  default: 1440,
                  description: 'HIPAA §164.404: hours (60 days) from discovery to notify individuals.',
                }),
                remindBeforeHours: Type.Array(Type.Number({ exclusiveMinimum: 0 }), {
                  default: [336, 72],
                  description: 'Reminders (incident.reminded events) this many hours before the deadline.',
                }),
              },
              { default: {}, additionalProperties: false },
            ),
          },
          {
            default: {},
            additionalProperties: false,
            description: 'Notification clocks an incident may carry, by regime; an incident may also bring a custom clock.',
          },
        ),
        syslog: Type.Object(
          {
            host: Type.String({
              default: '',
              description: 'SIEM collector that receives every compliance alert as RFC 5424 syslog. Empty: none.',
            }),
            port: Type.Integer({ minimum: 1, maximum: 65535, default: 514, description: 'Collector port.' }),
            protocol: Type.Union([Type.Literal('udp'), Type.Literal('tcp')], {
              default: 'udp',
              description: 'udp (RFC 5426) or tcp (RFC 6587 octet-counting framing).',
            }),
            format: Type.Union([Type.Literal('json'), Type.Literal('cef')], {
              default: 'json',
              description: 'The MSG part: the event as JSON, or a CEF line (ArcSight Common Event Format).',
            }),
            appName: Type.String({ default: 'postwarden', minLength: 1, maxLength: 48, description: 'RFC 5424 APP-NAME.' }),
          },
          { default: {}, additionalProperties: false },
        ),
      },
      { default: {}, additionalProperties: false },
    ),
    retention: Type.Object(
      {
        purgeEveryMinutes: Type.Integer({
          minimum: 1,
          default: 60,
          description: 'How often the purge job looks for data past its retention (delivery role, one node at a time; docs/retention.md).',
        }),
        batchSize: Type.Integer({
          minimum: 1,
          default: 100,
          description: 'Messages purged per transaction, so a purge never holds up sending.',
        }),
        maxBatchesPerTenant: Type.Integer({
          minimum: 1,
          default: 50,
          description: 'Batches per tenant per run at most; the rest waits for the next run.',
        }),
      },
      { default: {}, additionalProperties: false },
    ),
    selfAssessment: Type.Object(
      {
        enabled: Type.Boolean({
          default: false,
          description:
            "Probe this node's own listeners on a schedule as a remote would (TLS versions and suites, certificate expiry, STARTTLS, open relay) and run npm audit (docs/self-assessment.md).",
        }),
        intervalHours: Type.Integer({ minimum: 1, default: 24, description: 'Hours between scheduled runs.' }),
      },
      { default: {}, additionalProperties: false },
    ),
  },
  { additionalProperties: false },
);

export type Config = Static<typeof ConfigSchema>;
