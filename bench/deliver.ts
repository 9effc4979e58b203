import { execFileSync } from 'node:child_process';
import { Resolver } from 'node:dns/promises';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import Database from 'better-sqlite3';
import { dkimVerify } from 'mailauth';
import { Pool } from 'undici';
import { createStore } from '../src/store/index.js';
import { createTenants } from '../src/tenants/index.js';
import { type DnsTestServer, startDnsServerRaw, type Zone } from '../test/support/dns-server.js';
import { percentile, startServer, unitNodeFlags } from '../test/support/server-process.js';
import { commitProbe, heapPerMessage, perThousand } from './commits.js';
import { openLoop } from './open-loop.js';
import { ensurePostfixInstalled, measurePostfix } from './postfix-peer.js';
import { benchSchema, type PostgresCpu, postgresCpuProbe, sealedSharePostgres } from './postgres-probe.js';
import { type Sinks, startSinkProcess } from './sink-process.js';
import { injectSmtp, type SmtpMessage } from './smtp-load.js';

/**
 * End-to-end delivery: N messages (~4 KB, one recipient each, three destination domains) go in to a
 * `postwarden serve` child process (SQLite, real SMTP delivery) and out to loopback sinks that the
 * loopback DNS server and `delivery.portMap` make the domains' MX hosts. The clock runs from the
 * first injection to the last message counted by the sinks. Input is `--input smtp` (the
 * submission port, AUTH, one message per transaction over `--sessions` connections) or
 * `--input api-batch` (HTTP batch requests, the default without `--vs`).
 * With `--vs postfix` the same messages go through SMTP to Postwarden and to a private Postfix
 * instance (without and with opendkim) through the same client and to the same sinks, alternately,
 * `--rounds` (3) rounds each, plus Postwarden's API batch input as a second, labelled figure
 * (bench/README.md gives the method and the remaining differences).
 * Without `--vs`, each round also runs Postwarden with the pacing controller off
 * (`delivery.pacing.enabled: false`) beside the default (on), alternately, and reports the same-run
 * ratio `controller_on_vs_off` (`--controller on` skips the off runs), and with encryption at rest off
 * (`encryption.enabled: false`) beside the default (on), for the ratio `encryption_on_vs_off`
 * (`--encryption on` skips those runs).
 * `--database-url URL` runs every Postwarden run on a fresh PostgreSQL schema of that server instead
 * of SQLite; `--store compare` runs both, alternately, for the same-run ratio `postgres_vs_sqlite`,
 * with PostgreSQL's own CPU (bench/postgres-probe.ts) beside the server's.
 * `--open-loop RATE --seconds S` issues single-message `POST /v1/messages` on a fixed schedule with
 * delivery on (bench/open-loop.ts, shared with bench accept), on each store asked for.
 * With `--queued N` it measures memory instead: N accepted with delivery off, then delivery on
 * against sinks that stall every RCPT, so the queue stays deep.
 */
const SENDER_DOMAIN = 'bench.example';
const DESTS = ['one.bench-dest.test', 'two.bench-dest.test', 'three.bench-dest.test'];
const PROBE = 'probe.bench-dest.test';
const wallNow = () => performance.timeOrigin + performance.now();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const round = (x: number, d = 1) => +x.toFixed(d);
const median = (v: number[]) => {
  if (!v.length) return 0;
  const s = [...v].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : Math.round((s[s.length / 2 - 1]! + s[s.length / 2]!) / 2);
};
/** The median of fractional figures (`median` rounds to an integer). */
const medianOf = (v: number[]) => (v.length ? median(v.map((x) => x * 1000)) / 1000 : null);
/** `key` (the median), `key_runs` (every run, in order) and `key_spread` (min, max, (max − min) ÷ median). */
function stat(key: string, v: number[]): Record<string, unknown> {
  const m = median(v);
  const min = v.length ? Math.min(...v) : 0;
  const max = v.length ? Math.max(...v) : 0;
  return { [key]: m, [`${key}_runs`]: v, [`${key}_spread`]: { min, max, pct: m ? round((100 * (max - min)) / m) : null } };
}

// ---- process and machine figures, from /proc -------------------------------------------------
const CLK_TCK = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();
/** utime + stime of every thread of `pid` (DKIM worker threads included), in seconds; `tid` for one thread. */
function cpuSeconds(pid: number, tid?: number): number {
  const stat = readFileSync(tid ? `/proc/${pid}/task/${tid}/stat` : `/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' '); // f[0] is field 3 (state)
  return (Number(f[11]) + Number(f[12])) / CLK_TCK;
}
function memMb(pid: number, field: 'VmRSS' | 'VmHWM' | 'RssAnon' | 'RssFile'): number {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : Number.NaN;
}
/** Busy and total CPU seconds of the whole machine (all processes: MTA, sinks, load generator). */
function machineCpu(): { busy: number; total: number } {
  const v = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1, 9).map(Number);
  const total = v.reduce((a, b) => a + b, 0);
  return { busy: (total - v[3]! - v[4]!) / CLK_TCK, total: total / CLK_TCK };
}
/** Waits (at most `maxS`) until the machine is at least `minIdle` % idle; returns the idle % seen. */
async function waitQuiet(maxS: number, minIdle = 80): Promise<number> {
  const t0 = Date.now();
  let idle = 0;
  for (let i = 0; i < 1000; i++) {
    const a = machineCpu();
    await sleep(1000);
    const b = machineCpu();
    idle = 100 * (1 - (b.busy - a.busy) / Math.max(1e-9, b.total - a.total));
    if (idle >= minIdle || Date.now() - t0 > maxS * 1000) break;
  }
  return Math.round(idle);
}
/** Samples VmRSS every `everyMs`; at the largest sample also keeps its anonymous/file split (heap vs mapped files). */
function rssSampler(pid: number, everyMs = 100) {
  let peak = { rss: 0, anon: 0, file: 0 };
  const t = setInterval(() => {
    try {
      const rss = memMb(pid, 'VmRSS');
      if (rss > peak.rss) peak = { rss, anon: memMb(pid, 'RssAnon'), file: memMb(pid, 'RssFile') };
    } catch {
      // the process exited between samples
    }
  }, everyMs);
  return {
    stop() {
      clearInterval(t);
      return { hwmMb: round(memMb(pid, 'VmHWM')), sampledMb: round(peak.rss), anonMb: round(peak.anon), fileMb: round(peak.file) };
    },
  };
}
const loadavg = () => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');

const plus = (a: Record<string, number>, b: Record<string, number>) =>
  Object.fromEntries(Object.keys(b).map((d) => [d, (a[d] ?? 0) + b[d]!]));

// ---- the load --------------------------------------------------------------------------------
const WORDS =
  'order invoice shipment account password reset welcome receipt your the and of to in is for on with this that delivery notice update confirm subscription payment'.split(
    ' ',
  );
/** ~3.7 KB of plain text in 72-column lines, so the composed message is ~4 KB and stays 7bit. */
const TEXT = (() => {
  const lines: string[] = [];
  let line = '';
  for (let i = 0, size = 0; size < 3750; i++) {
    const w = WORDS[(i * 7 + (i >> 3)) % WORDS.length]!;
    if (line.length + w.length + 1 > 72) {
      lines.push(line);
      size += line.length + 2;
      line = '';
    }
    line = line ? `${line} ${w}` : w;
  }
  return lines.join('\n');
})();
const destOf = (i: number) => DESTS[i % DESTS.length]!;
const message = (i: number, to = `r${i}@${destOf(i)}`) => ({
  from: `Bench Sender <sender@${SENDER_DOMAIN}>`,
  to,
  subject: `Your receipt for order ${i}`,
  text: TEXT,
});
/** The same message as raw RFC 5322 text, for SMTP input: one Date for the run, so every system gets the same bytes. */
const RUN_DATE = new Date().toUTCString().replace('GMT', '+0000');
const TEXT_CRLF = TEXT.replace(/\n/g, '\r\n');
const rawMessage = (i: number, to = `r${i}@${destOf(i)}`): SmtpMessage => ({
  from: `sender@${SENDER_DOMAIN}`,
  to,
  raw: [
    `From: Bench Sender <sender@${SENDER_DOMAIN}>`,
    `To: <${to}>`,
    `Subject: Your receipt for order ${i}`,
    `Date: ${RUN_DATE}`,
    `Message-ID: <bench-${i}@${SENDER_DOMAIN}>`,
    'MIME-Version: 1.0',
    'Content-Type: text/plain; charset=utf-8',
    'Content-Transfer-Encoding: 7bit',
    '',
    TEXT_CRLF,
    '',
  ].join('\r\n'),
});
/** Message numbers: 0 the probe, 1…300 the warm-up, then the timed run (the same numbers for every system). */
const WARM = 300;
const TIMED_OFFSET = 1 + WARM;
function perDomain(n: number, offset = 0): Record<string, number> {
  const out = Object.fromEntries(DESTS.map((d) => [d, 0]));
  for (let i = offset; i < offset + n; i++) out[destOf(i)]!++;
  return out;
}

interface Injection {
  latencies: number[];
  accepted: Record<string, number>;
  rejected: number;
  problems: string[];
  t0: number;
  t1: number;
}
/** `clients` concurrent clients post batches of `batch` messages until `n` were sent. */
async function injectHttp(port: number, key: string, n: number, offset: number, clients: number, batch: number): Promise<Injection> {
  const pool = new Pool(`http://127.0.0.1:${port}`, { connections: clients, pipelining: 1, bodyTimeout: 300_000, headersTimeout: 300_000 });
  const out: Injection = {
    latencies: [],
    accepted: Object.fromEntries(DESTS.map((d) => [d, 0])),
    rejected: 0,
    problems: [],
    t0: wallNow(),
    t1: 0,
  };
  let next = 0;
  await Promise.all(
    Array.from({ length: clients }, async () => {
      for (let start = next; start < n; start = next) {
        next += batch;
        const idx = Array.from({ length: Math.min(batch, n - start) }, (_, j) => offset + start + j);
        const s = performance.now();
        const res = await pool.request({
          path: '/v1/messages/batch',
          method: 'POST',
          body: JSON.stringify({ messages: idx.map((i) => message(i)) }),
          headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        });
        const text = await res.body.text();
        out.latencies.push(performance.now() - s);
        const results = res.statusCode === 202 ? (JSON.parse(text) as { messages: Array<{ error?: unknown }> }).messages : [];
        idx.forEach((i, j) => {
          if (results[j] && !results[j]!.error) out.accepted[destOf(i)]!++;
          else out.rejected++;
        });
        if (res.statusCode !== 202 && out.problems.length < 5) out.problems.push(`${res.statusCode} ${text.slice(0, 300)}`);
      }
    }),
  );
  out.t1 = wallNow();
  await pool.close();
  out.latencies.sort((a, b) => a - b);
  return out;
}

// ---- bootstrap and DKIM evidence -----------------------------------------------------------------
/** A tenant with no rate limit and a send+read+admin key, straight in the store as `postwarden tenants` does. */
async function bootstrap(dataDir: string, url?: string): Promise<string> {
  const store = await createStore(url ? { url, dataDir } : { dataDir });
  const tenants = createTenants({ store, clock: { now: () => Date.now() } });
  const tenant = await tenants.createTenant({ name: 'bench' });
  await tenants.updateTenant(tenant.id, { ratePerMinute: 0 });
  const { secret } = await tenants.createKey({ tenantId: tenant.id, scopes: ['send', 'read', 'admin'] });
  await store.close();
  return secret;
}
/** Every `{…name…: '<sel>._domainkey.<d>', …: 'v=DKIM1; …'}` pair anywhere in a JSON answer. */
function dkimRecordsIn(v: unknown, out: Array<{ name: string; value: string }> = []) {
  if (Array.isArray(v)) for (const x of v) dkimRecordsIn(x, out);
  else if (v && typeof v === 'object') {
    const vals = Object.values(v).filter((x): x is string => typeof x === 'string');
    const name = vals.find((x) => x.includes('._domainkey.'));
    const value = vals.find((x) => /^v=DKIM1/.test(x));
    if (name && value) out.push({ name, value });
    for (const x of Object.values(v)) if (x && typeof x === 'object') dkimRecordsIn(x, out);
  }
  return out;
}
/** Adds the sending domain through the API (as a user would) and publishes any DKIM key it returns. */
async function addSendingDomain(port: number, key: string, dns: DnsTestServer): Promise<number> {
  const res = await fetch(`http://127.0.0.1:${port}/v1/domains`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify({ name: SENDER_DOMAIN }),
  });
  if (res.status !== 201) throw new Error(`POST /v1/domains answered ${res.status}: ${await res.text()}`);
  const records = dkimRecordsIn(await res.json());
  publish(dns, records);
  return records.length;
}
function publish(dns: DnsTestServer, records: Array<{ name: string; value: string }>) {
  const zone: Zone = { ...dns.zone };
  for (const r of records) zone[r.name] = { TXT: [r.value] };
  dns.setZone(zone);
}
interface DkimEvidence {
  signed: boolean;
  signatures: string[];
  verified: string[];
}
/** Does the delivered message carry DKIM-Signature, and does mailauth verify it against the loopback DNS? */
async function dkimEvidence(raw: string | null, dns: DnsTestServer): Promise<DkimEvidence> {
  if (!raw) return { signed: false, signatures: [], verified: [] };
  const head = raw.slice(0, raw.search(/\r?\n\r?\n/));
  const sigs = [...head.matchAll(/^DKIM-Signature:(.*(?:\r?\n[ \t].*)*)/gim)].map((m) => m[1]!.replace(/\s+/g, ' ').trim());
  if (!sigs.length) return { signed: false, signatures: [], verified: [] };
  const r = new Resolver();
  r.setServers([dns.address]);
  const result = await dkimVerify(Buffer.from(raw, 'latin1'), { resolver: (name: string, type: string) => r.resolve(name, type as 'TXT') });
  const verified = (result.results ?? []).map(
    (x: { signingDomain?: string; status?: { result?: string } }) => `${x.signingDomain}:${x.status?.result}`,
  );
  return { signed: sigs.length > 0, signatures: sigs.map((s) => s.replace(/ b=.*$/, ' b=…')), verified };
}

/**
 * Evidence that the run sealed what it stored (or did not): the share of message subjects and bodies
 * in the server's SQLite file that are sealed values (docs/encryption.md gives their formats).
 */
function sealedShare(dataDir: string): { subjects: string; bodies: string } | null {
  try {
    const db = new Database(join(dataDir, 'postwarden.db'), { readonly: true, fileMustExist: true });
    try {
      const one = (sql: string) => (db.prepare(sql).get() as { sealed: number; total: number }) ?? { sealed: 0, total: 0 };
      const s = one(`SELECT SUM(CASE WHEN subject LIKE 'pwe1:%' THEN 1 ELSE 0 END) AS sealed, COUNT(*) AS total FROM messages`);
      const b = one(
        `SELECT SUM(CASE WHEN substr(raw, 1, 5) = X'0050574531' THEN 1 ELSE 0 END) AS sealed, COUNT(*) AS total FROM message_bodies`,
      );
      return { subjects: `${s.sealed ?? 0}/${s.total}`, bodies: `${b.sealed ?? 0}/${b.total}` };
    } finally {
      db.close();
    }
  } catch {
    return null;
  }
}

// ---- one Postwarden run -------------------------------------------------------------------
interface Opts {
  n: number;
  clients: number;
  batch: number;
  timeoutMs: number;
  quietS: number;
  /** SMTP input: concurrent sessions (the same for Postfix). */
  sessions: number;
  server: Record<string, unknown>;
  /** Environment for the server only (`--server-node-options` → NODE_OPTIONS: a heap cap, a profiler preload). */
  serverEnv: Record<string, string>;
  /** Node flags for the server (`--server-node-args`; `unit`: those of deploy/postwarden.service). */
  serverNodeArgs?: string[];
  /** A webhook endpoint to create before the run (bench webhooks: delivery with webhooks on). */
  webhookUrl?: string;
  /** That endpoint's `batch_size` (unset: 1, one event per POST). */
  webhookBatchSize?: number;
  /** `encryption.enabled` for the server (unset: its default, on). */
  encryption?: boolean;
  /** A PostgreSQL server (postgres://…): each run gets a fresh schema on it, dropped after; unset: SQLite. */
  databaseUrl?: string;
}
/** A data dir with a config (JSON is YAML) that points the destinations' MX hosts at the sinks. */
function writeBenchConfig(prefix: string, o: Opts, dns: DnsTestServer, sinks: Sinks): { dataDir: string; configFile: string } {
  const dataDir = mkdtempSync(join(tmpdir(), prefix));
  const configFile = join(dataDir, 'bench.yaml');
  const portMap = Object.fromEntries(Object.entries(sinks.ports).map(([d, p]) => [`mx.${d}`, p]));
  const config = {
    dns: { servers: [dns.address], timeoutMs: 2000 },
    limits: { ratePerMinute: 0 },
    delivery: { ...o.server, portMap },
    ...(o.encryption === undefined ? {} : { encryption: { enabled: o.encryption } }),
    ...(o.webhookUrl ? { webhooks: { allowPrivateTargets: true } } : {}),
  };
  writeFileSync(configFile, JSON.stringify(config, null, 2));
  return { dataDir, configFile };
}

type Input = 'smtp' | 'api-batch';
/** A batch of SMTP results in the shape of an HTTP injection. */
function asInjection(r: Awaited<ReturnType<typeof injectSmtp>>): Injection {
  return { latencies: r.latencies, accepted: r.accepted, rejected: r.refused, problems: r.problems, t0: r.t0, t1: r.t1 };
}

/**
 * A server for one run: its data dir and config, on SQLite or on a fresh PostgreSQL schema, with
 * the sending domain added (and the webhook endpoint, if asked). `cleanup` stops it and removes both.
 */
async function startRun(o: Opts, dns: DnsTestServer, sinks: Sinks) {
  const { dataDir, configFile } = writeBenchConfig('pw-deliver-', o, dns, sinks);
  const pg = o.databaseUrl ? await benchSchema(o.databaseUrl) : undefined;
  const cleanup = async (server?: { stop(): Promise<void> }) => {
    await server?.stop();
    await pg?.drop();
    rmSync(dataDir, { recursive: true, force: true });
  };
  try {
    const key = await bootstrap(dataDir, pg?.url);
    const commits = commitProbe(dataDir, o.serverEnv.NODE_OPTIONS);
    const server = await startServer({
      dataDir,
      bootstrap: false,
      key,
      env: { ...o.serverEnv, POSTWARDEN_CONFIG: configFile, ...commits.env },
      ...(o.serverNodeArgs ? { nodeArgs: o.serverNodeArgs } : {}),
      ...(pg ? { databaseUrl: pg.url } : {}),
    });
    return { dataDir, pg, key, commits, server, cleanup: () => cleanup(server) };
  } catch (e) {
    await cleanup();
    throw e;
  }
}

/** The server's CPU per 1,000 messages with PostgreSQL's added: what the store costs wherever it runs. */
async function postgresCpuFor(run: { pg?: { appName: string } }, o: Opts) {
  return run.pg && o.databaseUrl ? await postgresCpuProbe(o.databaseUrl, run.pg.appName, CLK_TCK) : null;
}
function postgresFigures(probe: { reason: string | null } | null, pgCpu: PostgresCpu | null, serverCpuS: number, n: number) {
  if (!probe) return null;
  if (!pgCpu) return { not_measured: probe.reason };
  const per1k = (s: number) => round((s / n) * 1000, 3);
  return {
    // The backends that served this run's server (found by its application_name).
    backends_cpu_s_per_1k: per1k(pgCpu.backends_s),
    // Server + its backends: the figure to hold against SQLite's cpu_s_per_1k (whose store work is in the server).
    server_plus_backends_cpu_s_per_1k: per1k(serverCpuS + pgCpu.backends_s),
    // Every PostgreSQL process (WAL writer, checkpointer, … and any other client of that server).
    cluster_cpu_s_per_1k: per1k(pgCpu.cluster_s),
    backends_seen: pgCpu.backends_seen,
    backends_exited: pgCpu.backends_exited,
    sample_ms: pgCpu.sample_ms,
  };
}

async function runPostwarden(o: Opts, dns: DnsTestServer, sinks: Sinks, input: Input) {
  const run = await startRun(o, dns, sinks);
  const { dataDir, key, commits, server } = run;
  const pid = server.child.pid!;
  const smtp = (n: number, offset: number, message = rawMessage, domains = DESTS) =>
    injectSmtp({ port: server.smtp, auth: { user: 'bench', pass: key }, sessions: o.sessions, n, offset, message, domains }).then(
      asInjection,
    );
  const inject = (n: number, offset: number) =>
    input === 'smtp' ? smtp(n, offset) : injectHttp(server.http, key, n, offset, o.clients, o.batch);
  // Inside the try from here on: a failure must still stop the server and drop the schema.
  let pgProbe: Awaited<ReturnType<typeof postgresCpuFor>> = null;
  try {
    pgProbe = await postgresCpuFor(run, o);
    const published = await addSendingDomain(server.http, key, dns);
    if (o.webhookUrl) {
      const res = await fetch(`http://127.0.0.1:${server.http}/v1/webhooks`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        body: JSON.stringify({ url: o.webhookUrl, ...(o.webhookBatchSize ? { batch_size: o.webhookBatchSize } : {}) }),
      });
      if (res.status !== 201) throw new Error(`POST /v1/webhooks answered ${res.status}: ${await res.text()}`);
    }
    // Probe, through the same input: one message kept whole, for the DKIM evidence.
    const probeAt = (await sinks.counts())[PROBE]!;
    if (input === 'smtp') {
      const p = await smtp(1, 0, (i) => rawMessage(i, `probe@${PROBE}`), [PROBE]);
      if (p.rejected) throw new Error(`the probe was refused through SMTP: ${p.problems.join('; ')}`);
    } else {
      await fetch(`http://127.0.0.1:${server.http}/v1/messages/batch`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        body: JSON.stringify({ messages: [message(0, `probe@${PROBE}`)] }),
      });
    }
    if ((await sinks.expect({ [PROBE]: probeAt + 1 }, 30_000)) === null) throw new Error('the probe message was not delivered within 30 s');
    const raw = await sinks.last(PROBE);
    const dkim = await dkimEvidence(raw, dns);
    // Warm-up (JIT, DNS cache, pools), then the timed run.
    const warm = Math.min(WARM, o.n);
    const base0 = await sinks.counts();
    const w = await inject(warm, 1);
    await sinks.expect(plus(base0, w.accepted), 60_000);
    const idle = await waitQuiet(o.quietS);
    const loadBefore = loadavg();
    const base = await sinks.counts();
    const offset = TIMED_OFFSET;
    const reached = sinks.expect(plus(base, perDomain(o.n, offset)), o.timeoutMs);
    const commits0 = await commits.read(pid);
    const rss = rssSampler(pid);
    const cpu0 = cpuSeconds(pid);
    const main0 = cpuSeconds(pid, pid); // the event-loop thread: its share says whether one core is the limit
    const sink0 = cpuSeconds(sinks.pid);
    const self0 = process.cpuUsage();
    const m0 = machineCpu();
    await pgProbe?.start();
    const inj = await inject(o.n, offset);
    // Some were refused: wait for what was accepted instead.
    const at = inj.rejected ? await sinks.expect(plus(base, inj.accepted), o.timeoutMs) : await reached;
    const cpu1 = cpuSeconds(pid);
    const main1 = cpuSeconds(pid, pid);
    const sink1 = cpuSeconds(sinks.pid);
    const self1 = process.cpuUsage(self0);
    const m1 = machineCpu();
    const pgCpu = (await pgProbe?.stop()) ?? null;
    const mem = rss.stop();
    const commits1 = await commits.read(pid);
    const delivered = Object.values(inj.accepted).reduce((a, b) => a + b, 0);
    const wall = ((at ?? wallNow()) - inj.t0) / 1000;
    const sealed = run.pg ? await sealedSharePostgres(run.pg.url) : sealedShare(dataDir);
    return {
      figures: {
        store: run.pg ? 'postgres' : 'sqlite',
        input,
        delivered_per_s: at ? Math.round(delivered / wall) : 0,
        inject_per_s: Math.round(delivered / ((inj.t1 - inj.t0) / 1000)),
        api_p50_ms: round(percentile(inj.latencies, 50), 2),
        api_p99_ms: round(percentile(inj.latencies, 99), 2),
        peak_rss_mb: mem.hwmMb,
        peak_rss_sampled_mb: mem.sampledMb,
        peak_rss_split_mb: { anon: mem.anonMb, file: mem.fileMb },
        cpu_s_per_1k: round(((cpu1 - cpu0) / o.n) * 1000, 3),
        // Commits (an fsync each on SQLite) per 1,000 messages, webhook commits included when on.
        ...perThousand(commits0, commits1, o.n),
        // #22's "allocated per delivered message": the main thread's V8 heap (bench/commit-counter.mjs).
        ...heapPerMessage(commits0, commits1, o.n),
        machine_cpu_s_per_1k: round(((m1.busy - m0.busy) / o.n) * 1000, 3),
        cpu_split_s_per_1k: {
          server_main_thread: round(((main1 - main0) / o.n) * 1000, 3),
          server_other_threads: round(((cpu1 - cpu0 - (main1 - main0)) / o.n) * 1000, 3),
          sinks: round(((sink1 - sink0) / o.n) * 1000, 3),
          load_generator: round(((self1.user + self1.system) / 1e6 / o.n) * 1000, 3),
        },
        server_main_thread_busy_pct: Math.round((100 * (main1 - main0)) / wall),
        wall_s: round(wall, 2),
        accepted: delivered,
        rejected: inj.rejected,
        complete: at !== null,
        idle_before_pct: idle,
        loadavg_before: loadBefore,
        loadavg_after: loadavg(),
        input_problems: inj.problems,
        sealed,
        postgres: postgresFigures(pgProbe, pgCpu, cpu1 - cpu0, o.n),
      },
      dkim: dkim.signed,
      dkim_detail: { ...dkim, keys_published: published },
      raw,
    };
  } finally {
    await pgProbe?.close();
    await run.cleanup();
  }
}

// ---- open loop: single-message requests on a fixed schedule, delivery on ----------------------------
/**
 * `--open-loop RATE`: `POST /v1/messages` at RATE requests/s for `seconds` (bench/open-loop.ts: latency
 * from each request's due time), with the server delivering to the sinks meanwhile, as in the
 * batch run. Then waits (at most the run timeout) until the sinks have every accepted message.
 */
async function runOpenLoop(o: Opts, dns: DnsTestServer, sinks: Sinks, rate: number, seconds: number) {
  const run = await startRun(o, dns, sinks);
  const { key, server } = run;
  const pid = server.child.pid!;
  const zero = () => Object.fromEntries(DESTS.map((d) => [d, 0]));
  const sum = (a: Record<string, number>, b: Record<string, number>) => DESTS.reduce((t, d) => t + a[d]! - b[d]!, 0);
  let pgProbe: Awaited<ReturnType<typeof postgresCpuFor>> = null;
  try {
    pgProbe = await postgresCpuFor(run, o);
    await addSendingDomain(server.http, key, dns);
    const origin = `http://127.0.0.1:${server.http}`;
    // Warm-up: the same route at the same rate (JIT, DNS cache, SMTP connections), not measured.
    const base0 = await sinks.counts();
    const warmAccepted = zero();
    await openLoop({
      origin,
      key,
      rate,
      seconds: Math.min(WARM, o.n) / rate,
      body: (i) => JSON.stringify(message(1 + i)),
      onAccepted: (i) => warmAccepted[destOf(1 + i)]!++,
    });
    await sinks.expect(plus(base0, warmAccepted), 60_000);
    const idle = await waitQuiet(o.quietS);
    const loadBefore = loadavg();
    const base = await sinks.counts();
    const accepted = zero();
    let scheduleEnd = 0;
    let atScheduleEnd: Promise<Record<string, number>> | undefined;
    const cpu0 = cpuSeconds(pid);
    await pgProbe?.start();
    const fig = await openLoop({
      origin,
      key,
      rate,
      seconds,
      body: (i) => JSON.stringify(message(TIMED_OFFSET + i)),
      onAccepted: (i) => accepted[destOf(TIMED_OFFSET + i)]!++,
      onScheduleEnd: () => {
        scheduleEnd = wallNow();
        atScheduleEnd = sinks.counts();
      },
    });
    const atLastAnswer = await sinks.counts();
    const done = await sinks.expect(plus(base, accepted), o.timeoutMs);
    const cpu1 = cpuSeconds(pid);
    const pgCpu = (await pgProbe?.stop()) ?? null;
    const final = done === null ? await sinks.counts() : plus(base, accepted);
    const drainS = done === null ? null : round(Math.max(0, done - scheduleEnd) / 1000, 2);
    const n = Math.max(1, fig.accepted);
    return {
      store: run.pg ? 'postgres' : 'sqlite',
      ...fig,
      delivery: {
        accepted: fig.accepted,
        delivered_at_schedule_end: sum(await atScheduleEnd!, base),
        delivered_at_last_answer: sum(atLastAnswer, base),
        delivered: sum(final, base),
        complete: done !== null,
        // From the last request's issue to the last delivery.
        drain_s: drainS,
        // Delivery kept pace with the input: all of it out within 2 s of the schedule's end.
        kept_up: drainS !== null && drainS <= 2,
      },
      cpu_s_per_1k: round(((cpu1 - cpu0) / n) * 1000, 3),
      postgres: postgresFigures(pgProbe, pgCpu, cpu1 - cpu0, n),
      idle_before_pct: idle,
      loadavg_before: loadBefore,
      loadavg_after: loadavg(),
    };
  } finally {
    await pgProbe?.close();
    await run.cleanup();
  }
}

// ---- peak RSS with a deep queue ---------------------------------------------------------------
async function runQueueMemory(o: Opts & { observeS: number }, dns: DnsTestServer, sinks: Sinks, log: (s: string) => void) {
  const { dataDir, configFile } = writeBenchConfig('pw-queue-', o, dns, sinks);
  const key = await bootstrap(dataDir);
  try {
    // 1. Accept N with the delivery role off: the queue only grows.
    const acc = await startServer({
      dataDir,
      bootstrap: false,
      key,
      env: { ...o.serverEnv, POSTWARDEN_CONFIG: configFile, POSTWARDEN_SERVER__ROLES: 'api,smtp' },
      ...(o.serverNodeArgs ? { nodeArgs: o.serverNodeArgs } : {}),
    });
    let accept: { accepted: number; per_s: number; peak_rss_mb: number; p99_ms: number };
    try {
      await addSendingDomain(acc.http, key, dns);
      const rss = rssSampler(acc.child.pid!);
      const inj = await injectHttp(acc.http, key, o.n, 0, o.clients, o.batch);
      const accepted = Object.values(inj.accepted).reduce((a, b) => a + b, 0);
      accept = {
        accepted,
        per_s: Math.round(accepted / ((inj.t1 - inj.t0) / 1000)),
        peak_rss_mb: rss.stop().hwmMb,
        p99_ms: round(percentile(inj.latencies, 99), 2),
      };
      log(`# accepted ${accepted} of ${o.n} at ${accept.per_s}/s with delivery off; peak RSS ${accept.peak_rss_mb} MB`);
    } finally {
      await acc.stop();
    }
    // 2. Delivery on, every RCPT stalled by the sinks: the whole queue is due and stays deep.
    const base = await sinks.counts();
    const srv = await startServer({
      dataDir,
      bootstrap: false,
      key,
      env: { ...o.serverEnv, POSTWARDEN_CONFIG: configFile },
      ...(o.serverNodeArgs ? { nodeArgs: o.serverNodeArgs } : {}),
    });
    try {
      const rss = rssSampler(srv.child.pid!);
      const cpu0 = cpuSeconds(srv.child.pid!);
      await sleep(o.observeS * 1000);
      const mem = rss.stop();
      const cpu = cpuSeconds(srv.child.pid!) - cpu0;
      const now = await sinks.counts();
      const delivered = Object.keys(base).reduce((a, d) => a + now[d]! - base[d]!, 0);
      return {
        queued: accept.accepted,
        accept_per_s: accept.per_s,
        accept_api_p99_ms: accept.p99_ms,
        accept_peak_rss_mb: accept.peak_rss_mb,
        delivery_peak_rss_mb: mem.hwmMb,
        delivery_peak_rss_sampled_mb: mem.sampledMb,
        delivery_peak_rss_split_mb: { anon: mem.anonMb, file: mem.fileMb },
        observe_s: o.observeS,
        delivered_while_observed: delivered,
        still_queued: accept.accepted - delivered,
        delivery_cpu_s: round(cpu, 2),
        peak_rss_mb: Math.max(accept.peak_rss_mb, mem.hwmMb),
      };
    } finally {
      await srv.stop();
    }
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
}

// ---- entry ----------------------------------------------------------------------------------------
/**
 * One API-batch delivery run of `n` messages against fresh DNS and sinks, for other benches (bench
 * webhooks compares delivery with and without a webhook endpoint in one run). `webhookUrl`: an
 * endpoint to create first, so every delivery event is also POSTed there (`webhookBatchSize` events
 * per POST at most).
 */
export async function deliveryRun(
  n: number,
  opts: { webhookUrl?: string; webhookBatchSize?: number; quietS?: number; serverNodeOptions?: string } = {},
) {
  const zone: Zone = {};
  for (const d of [...DESTS, PROBE]) {
    zone[d] = { MX: [{ priority: 10, exchange: `mx.${d}` }] };
    zone[`mx.${d}`] = { A: ['127.0.0.1'] };
  }
  const dns = await startDnsServerRaw(zone);
  const sinks = await startSinkProcess({ count: DESTS, full: [PROBE], tls: 'self-signed' });
  const o: Opts = {
    n,
    server: {},
    clients: 4,
    sessions: 20,
    batch: 100,
    timeoutMs: Math.max(120, Math.ceil(n / 50)) * 1000,
    quietS: opts.quietS ?? 10,
    serverEnv: opts.serverNodeOptions ? { NODE_OPTIONS: opts.serverNodeOptions } : {},
    ...(opts.webhookUrl ? { webhookUrl: opts.webhookUrl } : {}),
    ...(opts.webhookBatchSize ? { webhookBatchSize: opts.webhookBatchSize } : {}),
  };
  try {
    return (await runPostwarden(o, dns, sinks, 'api-batch')).figures;
  } finally {
    await sinks.close();
    await dns.close();
  }
}

export async function main(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      messages: { type: 'string', default: '20000' },
      clients: { type: 'string', default: '4' },
      batch: { type: 'string', default: '100' },
      out: { type: 'string' },
      vs: { type: 'string' },
      'postfix-tls': { type: 'string', default: 'may' },
      'sink-tls': { type: 'string', default: 'self-signed' },
      concurrency: { type: 'string' },
      'max-connections': { type: 'string' },
      'dkim-threads': { type: 'string' },
      queued: { type: 'string' },
      'rcpt-delay-ms': { type: 'string', default: '5000' },
      'observe-s': { type: 'string', default: '30' },
      'quiet-s': { type: 'string', default: '30' },
      'timeout-s': { type: 'string' },
      'server-node-options': { type: 'string' },
      'server-node-args': { type: 'string' },
      input: { type: 'string' },
      sessions: { type: 'string', default: '20' },
      rounds: { type: 'string' },
      controller: { type: 'string', default: 'compare' },
      encryption: { type: 'string', default: 'compare' },
      store: { type: 'string' },
      'database-url': { type: 'string' },
      'open-loop': { type: 'string' },
      seconds: { type: 'string', default: '10' },
    },
  });
  const log = (s: string) => console.log(s);
  const queued = values.queued ? Math.min(Number(values.queued), 1_000_000) : 0;
  const n = Math.max(1, Math.min(queued || Number(values.messages), 1_000_000));
  const nodeArgsValue = values['server-node-args'];
  const serverNodeArgs = nodeArgsValue === 'unit' ? unitNodeFlags() : (nodeArgsValue ?? '').split(/\s+/).filter(Boolean);
  const server: Record<string, unknown> = {};
  if (values.concurrency) server.concurrency = Number(values.concurrency);
  if (values['max-connections']) server.maxConnections = Number(values['max-connections']);
  if (values['dkim-threads']) server.dkimThreads = Number(values['dkim-threads']);
  const o: Opts = {
    n,
    server,
    clients: Math.min(Math.max(1, Number(values.clients)), 64),
    sessions: Math.min(Math.max(1, Number(values.sessions)), 200),
    batch: Math.min(Math.max(1, Number(values.batch)), 500),
    timeoutMs: (Number(values['timeout-s']) || Math.max(120, Math.ceil(n / 50))) * 1000,
    quietS: Math.min(Number(values['quiet-s']), 600),
    serverEnv: values['server-node-options'] ? { NODE_OPTIONS: values['server-node-options'] } : {},
    ...(serverNodeArgs.length ? { serverNodeArgs } : {}),
  };
  const vsPostfix = values.vs === 'postfix';
  if (values.vs && !vsPostfix) throw new Error(`--vs ${values.vs}: only "postfix" is supported`);
  if (vsPostfix) ensurePostfixInstalled(log);
  const input: Input = (values.input ?? (vsPostfix ? 'smtp' : 'api-batch')) as Input;
  if (input !== 'smtp' && input !== 'api-batch') throw new Error(`--input ${values.input}: smtp or api-batch`);
  if (vsPostfix && input !== 'smtp') throw new Error('--vs postfix compares SMTP input; the API batch figure is measured alongside');
  if (values.controller !== 'compare' && values.controller !== 'on') throw new Error(`--controller ${values.controller}: compare or on`);
  const compareController = !vsPostfix && values.controller === 'compare';
  if (!['compare', 'on', 'off'].includes(values.encryption!)) throw new Error(`--encryption ${values.encryption}: compare, on or off`);
  // `off` runs every Postwarden run with encryption off (no comparison); `on` keeps the default.
  if (values.encryption === 'off') o.encryption = false;
  const compareEncryption = !vsPostfix && values.encryption === 'compare';
  const rounds = Math.min(Math.max(1, Number(values.rounds ?? (vsPostfix ? 3 : 1))), 20);
  // SQLite unless asked: --database-url alone runs everything on PostgreSQL; --store compare runs
  // both, alternately, for the ratio postgres_vs_sqlite.
  const store = values.store ?? (values['database-url'] ? 'postgres' : 'sqlite');
  if (store !== 'sqlite' && store !== 'postgres' && store !== 'compare') throw new Error(`--store ${store}: sqlite, postgres or compare`);
  const databaseUrl = store === 'sqlite' ? '' : values['database-url'] || process.env.POSTWARDEN_TEST_DATABASE_URL || '';
  if (store !== 'sqlite' && !databaseUrl) throw new Error(`--store ${store} needs --database-url postgres://…`);
  if (store === 'postgres') o.databaseUrl = databaseUrl;
  if (queued && store !== 'sqlite') throw new Error('--queued measures SQLite only');
  if (vsPostfix && store === 'compare') throw new Error('--vs postfix: choose one store (--store sqlite or postgres)');
  const compareStore = !vsPostfix && store === 'compare';
  const openLoopRate = values['open-loop'] ? Number(values['open-loop']) : 0;
  if (values['open-loop'] && !(openLoopRate > 0)) throw new Error(`--open-loop ${values['open-loop']}: a request rate per second`);
  if (openLoopRate && vsPostfix) throw new Error('--open-loop measures Postwarden alone');
  const out =
    values.out ??
    (queued ? 'bench/results/queue-memory.json' : openLoopRate ? 'bench/results/deliver-open-loop.json' : 'bench/results/deliver.json');
  const machine = { cores: cpus().length, cpu: cpus()[0]?.model ?? '', loadavg_before: loadavg(), loadavg_after: '' };

  const zone: Zone = {};
  for (const d of [...DESTS, PROBE]) {
    zone[d] = { MX: [{ priority: 10, exchange: `mx.${d}` }] };
    zone[`mx.${d}`] = { A: ['127.0.0.1'] };
  }
  const dns = await startDnsServerRaw(zone);
  const tls = values['sink-tls'] === 'none' ? 'none' : 'self-signed';
  const sinks = await startSinkProcess({
    count: DESTS,
    full: [PROBE],
    tls,
    ...(queued ? { rcptDelayMs: Number(values['rcpt-delay-ms']) } : {}),
  });
  let result: Record<string, unknown>;
  try {
    if (openLoopRate) {
      const seconds = Number(values.seconds);
      const stores = store === 'compare' ? (['sqlite', 'postgres'] as const) : ([store] as const);
      log(
        `# deliver open loop: POST /v1/messages at ${openLoopRate}/s for ${seconds} s, delivery on, ${stores.join(' and ')}, ${rounds} round(s)`,
      );
      const runs: Array<Awaited<ReturnType<typeof runOpenLoop>> & { round: number }> = [];
      for (let r = 1; r <= rounds; r++) {
        // Rotate the order each round, as the batch runs do.
        for (const k of stores.map((_, j) => stores[(j + r - 1) % stores.length]!)) {
          const run = await runOpenLoop(k === 'postgres' ? { ...o, databaseUrl } : o, dns, sinks, openLoopRate, seconds);
          runs.push({ round: r, ...run });
          const l = run.latency_ms;
          log(
            `# round ${r} ${k}: p50 ${l.p50} p99 ${l.p99} p99.9 ${l.p99_9} max ${l.max} ms, ${run.achieved_per_s}/s achieved, ${run.errors} errors, delivered ${run.delivery.delivered}/${run.delivery.accepted}, kept up ${run.delivery.kept_up} (load ${run.loadavg_before} → ${run.loadavg_after})`,
          );
        }
      }
      const p99 = (k: string) => runs.filter((x) => x.store === k).map((x) => x.latency_ms.p99);
      result = {
        bench: 'deliver-open-loop',
        store,
        rounds,
        offered_per_s: openLoopRate,
        seconds,
        server_node_options: values['server-node-options'] ?? null,
        server_node_args: serverNodeArgs,
        server_config: server,
        // #22's goal: p99 < 25 ms at 500 req/s with delivery on; the median of the rounds' p99s per store.
        p99_ms: Object.fromEntries(stores.map((k) => [k, { median: medianOf(p99(k)), runs: p99(k) }])),
        open_loop: runs,
      };
    } else if (queued) {
      log(`# queue-memory: ${n} messages, delivery against sinks that stall RCPT ${values['rcpt-delay-ms']} ms`);
      result = {
        bench: 'queue-memory',
        server_node_options: values['server-node-options'] ?? null,
        server_node_args: serverNodeArgs,
        ...(await runQueueMemory({ ...o, observeS: Number(values['observe-s']) }, dns, sinks, log)),
      };
    } else {
      const inputDesc = (i: Input) =>
        i === 'smtp' ? `SMTP, ${o.sessions} sessions, one message per transaction` : `API batch, ${o.clients} clients × ${o.batch}`;
      log(`# deliver: ${n} messages, 3 destinations, ${rounds} round(s), input ${inputDesc(input)}, load ${loadavg()}`);
      const ptls = values['postfix-tls'] === 'none' ? 'none' : 'may';
      const postfixRun = (dkim: boolean) =>
        measurePostfix({
          n: o.n,
          offset: TIMED_OFFSET,
          timeoutMs: o.timeoutMs,
          dkim,
          tls: ptls,
          sinks,
          senderDomain: SENDER_DOMAIN,
          probeDomain: PROBE,
          inject: (port, k, offset) => injectSmtp({ port, sessions: o.sessions, n: k, offset, message: rawMessage, domains: DESTS }),
          probe: (port, to) => injectSmtp({ port, sessions: 1, n: 1, offset: 0, message: (i) => rawMessage(i, to), domains: [PROBE] }),
          log,
          publishDkim: (name, value) => publish(dns, [{ name, value }]),
          dkimEvidence: (raw) => dkimEvidence(raw, dns),
          waitQuiet: () => waitQuiet(o.quietS),
          machineBusyS: () => machineCpu().busy,
          loadavg,
        });
      type System =
        | 'postwarden'
        | 'postfix'
        | 'postfix_dkim'
        | 'postwarden_api_batch'
        | 'postwarden_controller_off'
        | 'postwarden_encryption_off'
        | 'postwarden_postgres';
      const systems: System[] = vsPostfix
        ? ['postwarden', 'postfix', 'postfix_dkim', 'postwarden_api_batch']
        : [
            'postwarden',
            ...(compareController ? (['postwarden_controller_off'] as const) : []),
            ...(compareEncryption ? (['postwarden_encryption_off'] as const) : []),
            ...(compareStore ? (['postwarden_postgres'] as const) : []),
          ];
      const runs: Record<System, Array<{ delivered_per_s: number } & Record<string, unknown>>> = {
        postwarden: [],
        postfix: [],
        postfix_dkim: [],
        postwarden_api_batch: [],
        postwarden_controller_off: [],
        postwarden_encryption_off: [],
        postwarden_postgres: [],
      };
      const order: Array<{ round: number; system: System; delivered_per_s: number; loadavg_before: unknown; loadavg_after: unknown }> = [];
      let pwDkim: Awaited<ReturnType<typeof runPostwarden>> | undefined;
      for (let round = 1; round <= rounds; round++) {
        // Alternate, and rotate who goes first, so neither a warming nor a loading machine favours one.
        const rotated = systems.map((_, k) => systems[(k + round - 1) % systems.length]!);
        for (const system of rotated) {
          let fig: { delivered_per_s: number } & Record<string, unknown>;
          if (system === 'postfix' || system === 'postfix_dkim') fig = await postfixRun(system === 'postfix_dkim');
          else {
            // The controller off: the same server with delivery.pacing.enabled false (static limits only).
            // Encryption off: the same server with encryption.enabled false (nothing sealed at rest).
            const oo =
              system === 'postwarden_controller_off'
                ? { ...o, server: { ...o.server, pacing: { enabled: false } } }
                : system === 'postwarden_encryption_off'
                  ? { ...o, encryption: false }
                  : system === 'postwarden_postgres'
                    ? { ...o, databaseUrl }
                    : o;
            const pw = await runPostwarden(oo, dns, sinks, system === 'postwarden_api_batch' ? 'api-batch' : input);
            if (system === 'postwarden') pwDkim ??= pw;
            fig = { ...pw.figures, dkim: pw.dkim };
          }
          runs[system].push(fig);
          order.push({
            round,
            system,
            delivered_per_s: fig.delivered_per_s,
            loadavg_before: fig.loadavg_before,
            loadavg_after: fig.loadavg_after,
          });
          const heap =
            fig.main_heap_allocated_kb_per_message === undefined
              ? ''
              : `, main thread ${fig.main_heap_allocated_kb_per_message} KB allocated per message, GC pauses ${fig.main_gc_pause_ms_per_1k} ms per 1k`;
          log(`# round ${round} ${system}: ${fig.delivered_per_s} delivered/s${heap} (load ${fig.loadavg_before} → ${fig.loadavg_after})`);
        }
      }
      const rates = (s: System) => runs[s].map((r) => r.delivered_per_s);
      // Every run's own figures in run order: the spread between runs of one configuration (the CPU
      // split above all) is what tells noise from an effect.
      const roundsDetail = order.map((x) => {
        const f: Record<string, unknown> = runs[x.system][x.round - 1] ?? {};
        return {
          round: x.round,
          system: x.system,
          delivered_per_s: x.delivered_per_s,
          cpu_s_per_1k: f.cpu_s_per_1k ?? null,
          cpu_split_s_per_1k: f.cpu_split_s_per_1k ?? null,
          server_main_thread_busy_pct: f.server_main_thread_busy_pct ?? null,
          commits_per_1k: f.commits_per_1k ?? null,
          commit_ms_per_1k: f.commit_ms_per_1k ?? null,
          main_heap_allocated_kb_per_message: f.main_heap_allocated_kb_per_message ?? null,
          main_gc_pause_ms_per_1k: f.main_gc_pause_ms_per_1k ?? null,
          wall_s: f.wall_s ?? null,
          loadavg_before: x.loadavg_before,
          loadavg_after: x.loadavg_after,
        };
      });
      const pw = pwDkim!;
      const medianRun = (s: System) => {
        const m = median(rates(s));
        return runs[s].find((r) => r.delivered_per_s === m) ?? runs[s][0];
      };
      result = {
        bench: 'deliver',
        // sqlite, postgres or compare (the headline figures are SQLite's then; PostgreSQL's are postgres_*).
        store_mode: store,
        messages: n,
        rounds,
        input,
        sessions: input === 'smtp' ? o.sessions : null,
        server_node_options: values['server-node-options'] ?? null,
        server_node_args: serverNodeArgs,
        message_bytes: pw.raw?.length ?? null,
        clients: o.clients,
        batch: o.batch,
        destinations: DESTS.length,
        sink_tls: tls,
        server_config: server,
        ...medianRun('postwarden'),
        ...stat('delivered_per_s', rates('postwarden')),
        dkim: pw.dkim,
        dkim_detail: pw.dkim_detail,
      };
      if (compareController) {
        const on = rates('postwarden');
        const off = rates('postwarden_controller_off');
        const ratio = (a: number, b: number) => (b ? round(a / b, 3) : null);
        Object.assign(result, {
          ...stat('controller_off_delivered_per_s', off),
          controller_on_vs_off: ratio(median(on), median(off)),
          controller_on_vs_off_runs: on.map((x, k) => ratio(x, off[k] ?? 0)),
        });
      }
      if (compareEncryption) {
        const on = rates('postwarden');
        const off = rates('postwarden_encryption_off');
        const ratio = (a: number, b: number) => (b ? round(a / b, 3) : null);
        const r = ratio(median(on), median(off));
        Object.assign(result, {
          ...stat('encryption_off_delivered_per_s', off),
          encryption_on_vs_off: r,
          encryption_on_vs_off_runs: on.map((x, k) => ratio(x, off[k] ?? 0)),
          // #18 Done 6: on within 15 % of off (a ratio of at least 0.85), same run.
          encryption_within_15_pct: r === null ? null : r >= 0.85,
          // The server's CPU per 1,000 messages, on ÷ off (medians): what encryption costs the server,
          // less sensitive than the rates to other work on a busy machine.
          encryption_cpu_on_vs_off: ratio(
            median(runs.postwarden.map((x) => Number(x.cpu_s_per_1k) * 1000)),
            median(runs.postwarden_encryption_off.map((x) => Number(x.cpu_s_per_1k) * 1000)),
          ),
          encryption_cpu_on_vs_off_runs: runs.postwarden.map((x, k) =>
            ratio(Number(x.cpu_s_per_1k), Number(runs.postwarden_encryption_off[k]?.cpu_s_per_1k ?? 0)),
          ),
          encryption_off_cpu_s_per_1k: medianRun('postwarden_encryption_off')?.cpu_s_per_1k ?? null,
          encryption_off_sealed: medianRun('postwarden_encryption_off')?.sealed ?? null,
        });
      }
      if (compareStore) {
        // PostgreSQL ÷ SQLite, both as configured (#22: a ratio of at least 0.7), same run.
        const sq = rates('postwarden');
        const pgr = rates('postwarden_postgres');
        const ratio = (a: number, b: number) => (b ? round(a / b, 3) : null);
        const r = ratio(median(pgr), median(sq));
        const cpu = (s: System, f: (x: Record<string, unknown>) => unknown) =>
          medianOf(runs[s].map((x) => Number(f(x))).filter((x) => Number.isFinite(x)));
        const pgOf = (x: Record<string, unknown>) => (x.postgres ?? {}) as Record<string, unknown>;
        Object.assign(result, {
          ...stat('postgres_delivered_per_s', pgr),
          postgres_vs_sqlite: r,
          postgres_vs_sqlite_runs: pgr.map((x, k) => ratio(x, sq[k] ?? 0)),
          postgres_at_least_0_7: r === null ? null : r >= 0.7,
          // CPU per 1,000 messages (medians of the runs). On SQLite the store's work is inside the
          // server; on PostgreSQL it is in the backends too, so compare sqlite with server_plus_backends.
          cpu_s_per_1k_by_store: {
            sqlite: cpu('postwarden', (x) => x.cpu_s_per_1k),
            postgres_server: cpu('postwarden_postgres', (x) => x.cpu_s_per_1k),
            postgres_backends: cpu('postwarden_postgres', (x) => pgOf(x).backends_cpu_s_per_1k),
            postgres_server_plus_backends: cpu('postwarden_postgres', (x) => pgOf(x).server_plus_backends_cpu_s_per_1k),
            postgres_cluster: cpu('postwarden_postgres', (x) => pgOf(x).cluster_cpu_s_per_1k),
          },
          postgres_sealed: medianRun('postwarden_postgres')?.sealed ?? null,
          postgres_median_run: medianRun('postwarden_postgres') ?? null,
        });
      }
      if (vsPostfix) {
        const pf = rates('postfix');
        const pfd = rates('postfix_dkim');
        const api = rates('postwarden_api_batch');
        const ratio = (a: number, b: number) => (b ? round(a / b, 2) : null);
        const perRound = (a: number[], b: number[]) => a.map((x, k) => ratio(x, b[k] ?? 0));
        Object.assign(result, {
          ...stat('postfix_delivered_per_s', pf),
          ...stat('postfix_dkim_delivered_per_s', pfd),
          ratio_vs_postfix: ratio(median(rates('postwarden')), median(pf)),
          ratio_vs_postfix_runs: perRound(rates('postwarden'), pf),
          ratio_vs_postfix_dkim: ratio(median(rates('postwarden')), median(pfd)),
          ratio_vs_postfix_dkim_runs: perRound(rates('postwarden'), pfd),
          api_batch: {
            label: 'API batch input',
            input: inputDesc('api-batch'),
            ...stat('delivered_per_s', api),
            ratio_vs_postfix: ratio(median(api), median(pf)),
            ratio_vs_postfix_dkim: ratio(median(api), median(pfd)),
            median_run: medianRun('postwarden_api_batch'),
          },
          postfix: medianRun('postfix'),
          postfix_dkim: medianRun('postfix_dkim'),
        });
      }
      result.run_order = roundsDetail;
    }
  } finally {
    await sinks.close();
    await dns.close();
  }
  machine.loadavg_after = loadavg();
  const doc = { ...result, at: new Date().toISOString(), node: process.version, machine };
  const r = doc as Record<string, unknown>;
  const show = [
    'delivered_per_s',
    'inject_per_s',
    'api_p50_ms',
    'api_p99_ms',
    'peak_rss_mb',
    'cpu_s_per_1k',
    'server_main_thread_busy_pct',
    'cpu_split_s_per_1k',
    'machine_cpu_s_per_1k',
    'dkim',
    'delivered_per_s_runs',
    'controller_off_delivered_per_s',
    'controller_off_delivered_per_s_runs',
    'controller_on_vs_off',
    'controller_on_vs_off_runs',
    'sealed',
    'encryption_off_delivered_per_s',
    'encryption_off_delivered_per_s_runs',
    'encryption_on_vs_off',
    'encryption_on_vs_off_runs',
    'encryption_within_15_pct',
    'encryption_cpu_on_vs_off',
    'encryption_cpu_on_vs_off_runs',
    'encryption_off_cpu_s_per_1k',
    'encryption_off_sealed',
    'store_mode',
    'store',
    'postgres',
    'postgres_delivered_per_s',
    'postgres_delivered_per_s_runs',
    'postgres_vs_sqlite',
    'postgres_vs_sqlite_runs',
    'postgres_at_least_0_7',
    'cpu_s_per_1k_by_store',
    'postgres_sealed',
    'p99_ms',
    'postfix_delivered_per_s',
    'postfix_delivered_per_s_runs',
    'postfix_dkim_delivered_per_s',
    'postfix_dkim_delivered_per_s_runs',
    'ratio_vs_postfix',
    'ratio_vs_postfix_dkim',
    'api_batch',
    'queued',
    'accept_per_s',
    'accept_peak_rss_mb',
    'delivery_peak_rss_mb',
    'delivered_while_observed',
  ];
  for (const k of show) if (k in r) console.log(`${k.padEnd(30)} ${typeof r[k] === 'object' ? JSON.stringify(r[k]) : String(r[k])}`);
  console.log(`${'load average'.padEnd(30)} before ${machine.loadavg_before}, after ${machine.loadavg_after} (${machine.cores} cores)`);
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, `${JSON.stringify(doc, null, 2)}\n`);
  console.log(`wrote ${out}`);
}
