import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import nodemailer from 'nodemailer';
import { Pool } from 'undici';
import { createPostgresSchema } from '../test/support/dialects.js';
import { percentile, startServer } from '../test/support/server-process.js';
import { type OpenLoopFigures, openLoop } from './open-loop.js';

/**
 * Accept throughput and latency: N messages through the HTTP API and N through SMTP submission,
 * each with C concurrent clients, against a server that only accepts (delivery role off), on SQLite
 * and, when a PostgreSQL URL is given, on PostgreSQL. Every accepted message is durable when its
 * 202/250 arrives, so this measures the group commit.
 * With `--open-loop RATE` it issues single-message HTTP requests on a fixed schedule instead
 * (bench/open-loop.ts: latency from each request's due time) for `--seconds`, delivery still off;
 * `bench deliver --open-loop` measures the same with delivery on, under the same keys.
 */
const loadavg = () => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');

interface Figures {
  store: string;
  door: 'http' | 'smtp';
  messages: number;
  concurrency: number;
  accepted_per_s: number;
  p50_ms: number;
  p99_ms: number;
  errors: number;
}

const body = (i: number) =>
  JSON.stringify({ from: 'bench@bench.example', to: `r${i}@example.net`, subject: `bench ${i}`, text: 'x'.repeat(3500) });

function summarise(lat: number[], n: number, c: number, errors: number, wallS: number): Omit<Figures, 'store' | 'door'> {
  lat.sort((a, b) => a - b);
  return {
    messages: n,
    concurrency: c,
    accepted_per_s: Math.round((n - errors) / wallS),
    p50_ms: +percentile(lat, 50).toFixed(2),
    p99_ms: +percentile(lat, 99).toFixed(2),
    errors,
  };
}

async function httpLoad(port: number, key: string, n: number, c: number): Promise<Omit<Figures, 'store' | 'door'>> {
  const pool = new Pool(`http://127.0.0.1:${port}`, { connections: c, pipelining: 1 });
  const lat: number[] = [];
  let next = 0;
  let errors = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: c }, async () => {
      for (let i = next++; i < n; i = next++) {
        const s = performance.now();
        const res = await pool.request({
          path: '/v1/messages',
          method: 'POST',
          body: body(i),
          headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        });
        await res.body.text();
        if (res.statusCode !== 202) errors++;
        lat.push(performance.now() - s);
      }
    }),
  );
  const wall = (performance.now() - t0) / 1000;
  await pool.close();
  return summarise(lat, n, c, errors, wall);
}

async function smtpLoad(port: number, key: string, n: number, c: number): Promise<Omit<Figures, 'store' | 'door'>> {
  const transports = Array.from({ length: c }, () =>
    nodemailer.createTransport({
      host: '127.0.0.1',
      port,
      secure: false,
      requireTLS: true,
      tls: { rejectUnauthorized: false },
      auth: { user: 'bench', pass: key },
      pool: true,
      maxConnections: 1,
      maxMessages: Number.POSITIVE_INFINITY,
    }),
  );
  const lat: number[] = [];
  let next = 0;
  let errors = 0;
  const t0 = performance.now();
  await Promise.all(
    transports.map(async (tr) => {
      for (let i = next++; i < n; i = next++) {
        const s = performance.now();
        try {
          await tr.sendMail({ from: 'bench@bench.example', to: `r${i}@example.net`, subject: `bench ${i}`, text: 'x'.repeat(3500) });
        } catch {
          errors++;
        }
        lat.push(performance.now() - s);
      }
    }),
  );
  const wall = (performance.now() - t0) / 1000;
  for (const tr of transports) tr.close();
  return summarise(lat, n, c, errors, wall);
}

export async function main(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      messages: { type: 'string', default: '2000' },
      concurrency: { type: 'string', default: '32' },
      'database-url': { type: 'string', default: process.env.POSTWARDEN_TEST_DATABASE_URL ?? '' },
      out: { type: 'string', default: 'bench/results/accept.json' },
      durability: { type: 'string', default: 'power-loss-safe' },
      'open-loop': { type: 'string' },
      seconds: { type: 'string', default: '10' },
    },
  });
  const n = Math.min(Number(values.messages), 200_000);
  const durability = values.durability!;
  if (durability !== 'power-loss-safe' && durability !== 'process-crash-safe')
    throw new Error(`--durability ${durability}: power-loss-safe or process-crash-safe`);
  const c = Math.min(Number(values.concurrency), 256);
  const stores: ('sqlite' | 'postgres')[] = values['database-url'] ? ['sqlite', 'postgres'] : ['sqlite'];
  if (!values['database-url']) console.log('# PostgreSQL skipped: pass --database-url or set POSTWARDEN_TEST_DATABASE_URL');
  const results: Figures[] = [];
  const rate = values['open-loop'] ? Number(values['open-loop']) : 0;
  if (values['open-loop'] && !(rate > 0)) throw new Error(`--open-loop ${values['open-loop']}: a request rate per second`);
  const openLoopRuns: Array<{ store: string } & OpenLoopFigures & { delivery: null; loadavg_before: string; loadavg_after: string }> = [];
  for (const store of stores) {
    const dataDir = mkdtempSync(join(tmpdir(), 'pw-bench-'));
    const schema = store === 'postgres' ? await createPostgresSchema(values['database-url']!, 'pw_bench') : undefined;
    // Accept only: the delivery role would compete for the same two cores.
    const server = await startServer({
      dataDir,
      databaseUrl: schema?.url,
      env: { POSTWARDEN_SERVER__ROLES: 'api,smtp', POSTWARDEN_STORE__DURABILITY: durability },
    });
    try {
      await httpLoad(server.http, server.key, Math.min(200, n), c); // warm-up
      if (rate) {
        const loadavgBefore = loadavg();
        const fig = await openLoop({
          origin: `http://127.0.0.1:${server.http}`,
          key: server.key,
          rate,
          seconds: Number(values.seconds),
          body,
        });
        // The same keys as bench deliver --open-loop; its `delivery` is null here: the delivery role is off.
        openLoopRuns.push({ store, ...fig, delivery: null, loadavg_before: loadavgBefore, loadavg_after: loadavg() });
        continue;
      }
      results.push({ store, door: 'http', ...(await httpLoad(server.http, server.key, n, c)) });
      if (server.smtp) results.push({ store, door: 'smtp', ...(await smtpLoad(server.smtp, server.key, n, Math.min(c, 16))) });
    } finally {
      await server.stop();
      await schema?.drop();
      rmSync(dataDir, { recursive: true, force: true });
    }
  }
  console.log(`# store.durability ${durability} (SQLite; PostgreSQL follows its synchronous_commit)`);
  if (rate) {
    console.log('store     offered/s  sent/s  achieved/s  p50 ms  p90 ms  p99 ms  p99.9 ms  max ms  errors  waited');
    for (const r of openLoopRuns) {
      const l = r.latency_ms;
      console.log(
        `${r.store.padEnd(9)} ${String(r.offered_per_s).padStart(9)} ${String(r.sent_per_s).padStart(7)} ${String(r.achieved_per_s).padStart(11)} ${[l.p50, l.p90, l.p99, l.p99_9, l.max].map((x) => x.toFixed(1).padStart(7)).join(' ')} ${String(r.errors).padStart(7)} ${String(r.waited_for_connection).padStart(7)}`,
      );
    }
  }
  if (results.length) console.log('store     door  messages  conc  accepted/s   p50 ms   p99 ms  errors');
  for (const r of results) {
    console.log(
      `${r.store.padEnd(9)} ${r.door.padEnd(5)} ${String(r.messages).padStart(8)} ${String(r.concurrency).padStart(5)} ${String(r.accepted_per_s).padStart(11)} ${r.p50_ms.toFixed(2).padStart(8)} ${r.p99_ms.toFixed(2).padStart(8)} ${String(r.errors).padStart(7)}`,
    );
  }
  mkdirSync(dirname(values.out!), { recursive: true });
  writeFileSync(
    values.out!,
    `${JSON.stringify(
      {
        bench: 'accept',
        at: new Date().toISOString(),
        node: process.version,
        durability,
        results,
        ...(rate ? { open_loop: openLoopRuns } : {}),
      },
      null,
      2,
    )}\n`,
  );
  console.log(`wrote ${values.out}`);
}
