import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { cpus, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { Webhook } from 'standardwebhooks';
import { type NewEvent, newId } from '../src/core/index.js';
import { createStore, type Store } from '../src/store/index.js';
import { createTenants } from '../src/tenants/index.js';
import { createPostgresSchema } from '../test/support/dialects.js';
import { exampleEvent } from '../test/support/events.js';
import { percentile, startServer } from '../test/support/server-process.js';
import { commitProbe, perThousand } from './commits.js';
import { deliveryRun } from './deliver.js';

/**
 * Webhooks end to end: events appended to the spine (straight through the store, as delivery does)
 * reach a loopback receiver that verifies every POST with the `standardwebhooks` package, through a
 * `postwarden serve` child process (dispatcher + sender). Figures:
 * - throughput: N events appended as fast as the store takes them, events/s from the first append
 *   to the last verified receipt;
 * - lag at a steady rate (default 1,000 events/s for 10 s): receipt time − append time, p50/p99;
 * both on SQLite and, with --database-url (or POSTWARDEN_TEST_DATABASE_URL), on PostgreSQL; and
 * - delivery throughput (bench deliver's API-batch run) without and with a webhook endpoint that gets
 *   every delivery event, in the same run, and their ratio.
 */
const wallNow = () => performance.timeOrigin + performance.now();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const loadavg = () => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
const round = (x: number, d = 1) => +x.toFixed(d);
/** utime + stime of a process (all threads), in clock ticks: CPU is what a loaded machine does not hide. */
const cpuTicks = (pid: number) => {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const v = f.slice(f.lastIndexOf(')') + 2).split(' ');
  return Number(v[11]) + Number(v[12]);
};
const CLK_TCK = 100;

interface Receiver {
  url: string;
  /** Event id → first verified receipt (wall ms). */
  firstSeen: Map<string, number>;
  unverified: number;
  duplicates: number;
  secret: string;
  /**
   * False: count POSTs and answer 204 without verifying (the delivery pair, where the receiver's
   * CPU is the bench's, taken from the same two cores as the server's).
   */
  verify: boolean;
  /** POSTs answered unverified (verify false). */
  posts: number;
  /** verify false: each received event's lag, receipt − its `at` (ms). */
  lagsMs: number[];
  close(): Promise<void>;
}

async function startReceiver(): Promise<Receiver> {
  const r: Receiver = {
    url: '',
    firstSeen: new Map(),
    unverified: 0,
    duplicates: 0,
    secret: '',
    verify: true,
    posts: 0,
    lagsMs: [],
    close: async () => undefined,
  };
  let wh: Webhook | undefined;
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (!r.verify) {
        r.posts++;
        const at = wallNow();
        const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { at: string } | { at: string }[];
        for (const e of Array.isArray(body) ? body : [body]) r.lagsMs.push(at - Date.parse(e.at));
        res.writeHead(204);
        res.end();
        return;
      }
      const raw = Buffer.concat(chunks).toString('utf8');
      const at = wallNow();
      wh ??= new Webhook(r.secret);
      try {
        wh.verify(raw, {
          'webhook-id': String(req.headers['webhook-id']),
          'webhook-timestamp': String(req.headers['webhook-timestamp']),
          'webhook-signature': String(req.headers['webhook-signature']),
        });
        const body = JSON.parse(raw) as { id: string } | { id: string }[];
        for (const e of Array.isArray(body) ? body : [body]) {
          if (r.firstSeen.has(e.id)) r.duplicates++;
          else r.firstSeen.set(e.id, at);
        }
      } catch {
        r.unverified++;
      }
      res.writeHead(204);
      res.end();
    });
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  r.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks`;
  r.close = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return r;
}

/** `count` events, three per message (queued, deferred, delivered), appended at `now`; their ids and times. */
async function appendEvents(store: Store, tenantId: string, count: number, sent: Map<string, number>): Promise<void> {
  const now = Date.now();
  const events: NewEvent[] = [];
  for (let i = 0; i < count; i += 3) {
    const messageId = newId('msg', now);
    for (const type of ['recipient.queued', 'recipient.deferred', 'recipient.delivered'] as const) {
      if (events.length >= count) break;
      const id = newId('evt', now);
      events.push(exampleEvent(type, { id, tenantId, messageId }, { email: `r${i}@bench-dest.test` }));
      sent.set(id, wallNow());
    }
  }
  // Not in a transaction: on SQLite a read-then-write transaction beside the server's writer fails
  // with SQLITE_BUSY at the lock upgrade instead of waiting; single statements wait (busy_timeout).
  await store.events.append(events, now);
}

async function waitFor(what: string, check: () => boolean, timeoutMs: number): Promise<boolean> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (check()) return true;
    await sleep(20);
  }
  console.log(`# gave up waiting for ${what} after ${timeoutMs} ms`);
  return false;
}

async function webhookRun(o: {
  dialect: 'sqlite' | 'postgres';
  baseUrl?: string;
  n: number;
  rate: number;
  seconds: number;
  batchSize: number;
  /** `webhooks.concurrency` (deliveries in flight per node); undefined: the server's default. */
  concurrency: number | undefined;
  /** NODE_OPTIONS for the server (a profiler preload), as the delivery pair takes them. */
  serverNodeOptions?: string;
}) {
  const dataDir = mkdtempSync(join(tmpdir(), 'pw-bench-webhooks-'));
  const schema = o.dialect === 'postgres' ? await createPostgresSchema(o.baseUrl, 'pw_bench') : undefined;
  const store = await createStore(schema ? { url: schema.url } : { dataDir });
  const tenants = createTenants({ store, clock: { now: () => Date.now() } });
  const tenant = await tenants.createTenant({ name: 'bench' });
  const { secret: key } = await tenants.createKey({ tenantId: tenant.id, scopes: ['send', 'read', 'admin'] });
  const configFile = join(dataDir, 'bench.json');
  const webhooks = { allowPrivateTargets: true, ...(o.concurrency ? { concurrency: o.concurrency } : {}) };
  writeFileSync(configFile, JSON.stringify({ webhooks, posture: { monitor: false } }));
  const commits = commitProbe(dataDir, o.serverNodeOptions);
  const server = await startServer({
    dataDir,
    bootstrap: false,
    key,
    env: { POSTWARDEN_CONFIG: configFile, ...commits.env },
    ...(schema ? { databaseUrl: schema.url } : {}),
  });
  const receiver = await startReceiver();
  try {
    const res = await fetch(`http://127.0.0.1:${server.http}/v1/webhooks`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ url: receiver.url, batch_size: o.batchSize }),
    });
    if (res.status !== 201) throw new Error(`POST /v1/webhooks answered ${res.status}: ${await res.text()}`);
    receiver.secret = ((await res.json()) as { secret: string }).secret;

    // Warm-up: JIT, pools, keep-alive connections.
    const sent = new Map<string, number>();
    await appendEvents(store, tenant.id, 600, sent);
    await waitFor('the warm-up events', () => receiver.firstSeen.size >= 600, 60_000);

    // Throughput: append as fast as the store takes it, in transactions of 500.
    const load0 = loadavg();
    sent.clear();
    receiver.firstSeen.clear();
    const commits0 = await commits.read(server.child.pid!);
    const cpu0 = cpuTicks(server.child.pid!);
    const t0 = wallNow();
    for (let i = 0; i < o.n; i += 501) await appendEvents(store, tenant.id, Math.min(501, o.n - i), sent);
    const appended = wallNow();
    const complete = await waitFor('every event of the throughput run', () => receiver.firstSeen.size >= o.n, Math.max(120_000, o.n * 10));
    const last = Math.max(...receiver.firstSeen.values());
    const cpu1 = cpuTicks(server.child.pid!);
    const commits1 = await commits.read(server.child.pid!);
    const throughput = {
      events: o.n,
      received: receiver.firstSeen.size,
      complete,
      append_per_s: Math.round(o.n / ((appended - t0) / 1000)),
      events_per_s: Math.round(receiver.firstSeen.size / ((last - t0) / 1000)),
      // The server's CPU per 1,000 events (dispatch + POST + settle): the events/s one core could carry is 1000 ÷ this.
      server_cpu_s_per_1k: round((cpu1 - cpu0) / CLK_TCK / (o.n / 1000), 3),
      // The server's commits (each an fsync on SQLite) per 1,000 events, and the time they took.
      ...perThousand(commits0, commits1, o.n),
      loadavg_before: load0,
      loadavg_after: loadavg(),
    };
    console.log(
      `# ${o.dialect} batch_size ${o.batchSize}: ${throughput.events_per_s} events/s append→verified receipt (${o.n} events), server CPU ${throughput.server_cpu_s_per_1k} s per 1k, ${throughput.commits_per_1k} commits per 1k (${throughput.commit_ms_per_1k} ms), load ${throughput.loadavg_after}`,
    );

    // Lag at a steady rate: a tick every 20 ms appends rate/50 events.
    await sleep(1000);
    sent.clear();
    receiver.firstSeen.clear();
    const load1 = loadavg();
    const commits2 = await commits.read(server.child.pid!);
    const perTick = Math.max(3, Math.round(o.rate / 50));
    const ticks = Math.round((o.seconds * 1000) / 20);
    const start = wallNow();
    for (let k = 0; k < ticks; k++) {
      await appendEvents(store, tenant.id, perTick, sent);
      const due = start + (k + 1) * 20;
      const wait = due - wallNow();
      if (wait > 0) await sleep(wait);
    }
    const offered = Math.round(sent.size / ((wallNow() - start) / 1000));
    await waitFor('every event of the lag run', () => receiver.firstSeen.size >= sent.size, 120_000);
    const lags = [...sent].flatMap(([id, at]) => {
      const seen = receiver.firstSeen.get(id);
      return seen === undefined ? [] : [seen - at];
    });
    lags.sort((a, b) => a - b);
    const commits3 = await commits.read(server.child.pid!);
    const lag = {
      offered_per_s: offered,
      events: sent.size,
      received: lags.length,
      p50_ms: round(percentile(lags, 50)),
      p99_ms: round(percentile(lags, 99)),
      max_ms: round(lags.at(-1) ?? Number.NaN),
      ...perThousand(commits2, commits3, sent.size),
      loadavg_before: load1,
      loadavg_after: loadavg(),
    };
    console.log(`# ${o.dialect} batch_size ${o.batchSize}: lag at ${offered} events/s p50 ${lag.p50_ms} ms, p99 ${lag.p99_ms} ms`);
    return {
      dialect: o.dialect,
      batch_size: o.batchSize,
      concurrency: o.concurrency ?? 'default',
      throughput,
      lag,
      unverified: receiver.unverified,
      duplicates: receiver.duplicates,
    };
  } finally {
    await server.stop();
    await receiver.close();
    await store.close();
    await schema?.drop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

export async function main(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      events: { type: 'string', default: '20000' },
      rate: { type: 'string', default: '1000' },
      seconds: { type: 'string', default: '10' },
      'batch-size': { type: 'string', default: '1' },
      concurrency: { type: 'string' },
      messages: { type: 'string', default: '5000' },
      'deliver-rounds': { type: 'string', default: '3' },
      'deliver-batch-size': { type: 'string', default: '1' },
      'database-url': { type: 'string' },
      'skip-deliver': { type: 'boolean', default: false },
      'skip-webhooks': { type: 'boolean', default: false },
      'server-node-options': { type: 'string' },
      out: { type: 'string', default: 'bench/results/webhooks.json' },
    },
  });
  const baseUrl = values['database-url'] ?? process.env.POSTWARDEN_TEST_DATABASE_URL ?? '';
  const batchSizes = values['batch-size'].split(',').map((b) => Math.max(1, Number(b)));
  const runs = [];
  const loadBefore = loadavg();
  const dialects = values['skip-webhooks'] ? [] : baseUrl ? (['sqlite', 'postgres'] as const) : (['sqlite'] as const);
  for (const dialect of dialects) {
    for (const batchSize of batchSizes) {
      runs.push(
        await webhookRun({
          dialect,
          baseUrl,
          n: Number(values.events),
          rate: Number(values.rate),
          seconds: Number(values.seconds),
          batchSize,
          concurrency: values.concurrency ? Math.max(1, Number(values.concurrency)) : undefined,
          ...(values['server-node-options'] ? { serverNodeOptions: values['server-node-options'] } : {}),
        }),
      );
    }
  }
  if (!baseUrl) console.log('# PostgreSQL skipped: give --database-url (or POSTWARDEN_TEST_DATABASE_URL)');

  let deliver: Record<string, unknown> | null = null;
  if (!values['skip-deliver']) {
    // Delivery without and with webhooks in this run, alternately (the order swaps each round, as
    // `deliver` rotates its comparisons): one pair cannot settle a 10 % line when single runs of the
    // same code spread 20 % and more. The figure is the ratio of the medians.
    const n = Number(values.messages);
    const rounds = Math.min(Math.max(1, Number(values['deliver-rounds'])), 10);
    const deliverBatch = Math.max(1, Number(values['deliver-batch-size']));
    const receiver = await startReceiver();
    try {
      // Any 2xx will do here: what is measured is the server's cost of sending.
      receiver.verify = false;
      const without: Awaited<ReturnType<typeof deliveryRun>>[] = [];
      const withHooks: typeof without = [];
      for (let r = 0; r < rounds; r++) {
        for (const hooks of r % 2 ? [true, false] : [false, true]) {
          const serverNodeOptions = values['server-node-options'];
          const common = serverNodeOptions ? { serverNodeOptions } : {};
          receiver.lagsMs = [];
          const run = hooks
            ? await deliveryRun(n, { ...common, webhookUrl: receiver.url, webhookBatchSize: deliverBatch })
            : await deliveryRun(n, common);
          if (hooks) {
            // How long events waited while delivery had the writer first (docs/webhooks.md): the
            // price of the ratio, over the events that arrived before the run stopped the server.
            const lags = receiver.lagsMs.sort((a, b) => a - b);
            Object.assign(run, {
              webhook_events_received: lags.length,
              webhook_lag_ms: { p50: round(percentile(lags, 50), 0), p99: round(percentile(lags, 99), 0), max: round(lags.at(-1) ?? 0, 0) },
            });
          }
          (hooks ? withHooks : without).push(run);
          const lag = hooks ? (run as { webhook_lag_ms?: { p50: number; p99: number } }).webhook_lag_ms : undefined;
          console.log(
            `# round ${r + 1} deliver ${n} ${hooks ? 'with' : 'without'} webhooks: ${run.delivered_per_s} delivered/s (load ${run.loadavg_before})${lag ? `, event lag p50 ${lag.p50} ms, p99 ${lag.p99} ms` : ''}`,
          );
        }
      }
      const rate = (runs: typeof without) => runs.map((x) => x.delivered_per_s);
      const med = (v: number[]) => {
        const o = [...v].sort((a, b) => a - b);
        return o.length % 2 ? o[(o.length - 1) / 2]! : (o[o.length / 2 - 1]! + o[o.length / 2]!) / 2;
      };
      deliver = {
        messages: n,
        rounds,
        endpoint_batch_size: deliverBatch,
        without_webhooks_delivered_per_s: med(rate(without)),
        with_webhooks_delivered_per_s: med(rate(withHooks)),
        ratio: round(med(rate(withHooks)) / Math.max(1, med(rate(without))), 3),
        ratio_runs: withHooks.map((w, i) => round(w.delivered_per_s / Math.max(1, without[i]!.delivered_per_s), 3)),
        without_webhooks: without,
        with_webhooks: withHooks,
        webhook_posts_received: receiver.posts,
      };
      console.log(
        `# deliver ratio with/without webhooks (medians of ${rounds}): ${deliver.ratio}, per round ${JSON.stringify(deliver.ratio_runs)}`,
      );
    } finally {
      await receiver.close();
    }
  }
  const result = {
    bench: 'webhooks',
    machine: { cores: cpus().length, cpu: cpus()[0]?.model ?? '', loadavg_before: loadBefore, loadavg_after: loadavg() },
    runs,
    deliver,
  };
  mkdirSync(dirname(values.out), { recursive: true });
  writeFileSync(values.out, JSON.stringify(result, null, 2));
  console.log(JSON.stringify(result, null, 2));
}
