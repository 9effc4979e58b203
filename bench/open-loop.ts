import { Pool } from 'undici';

/**
 * Open-loop load for `POST /v1/messages` (bench accept and bench deliver share it): request i is due
 * at t0 + i / rate whatever happened to the earlier ones, and its latency runs from that due time,
 * not from when it was sent. A closed loop (each client waits for its answer before the next request)
 * sends less while the server stalls, so the stall shows as one slow request instead of the queue
 * it built: coordinated omission. Measuring from the due time also charges the generator's own lateness
 * (a busy event loop, a pool with no free connection) to the latency instead of hiding it; both
 * are reported so a reader can tell the server's queue from the generator's.
 */

/** Upper bounds (ms) of the latency histogram; the last bucket counts everything above the last bound. */
export const HISTOGRAM_BOUNDS_MS = [1, 2, 3, 5, 7.5, 10, 15, 20, 25, 30, 40, 50, 75, 100, 150, 200, 300, 500, 750, 1000, 2000, 5000, 10000];

export interface OpenLoopOptions {
  /** http://127.0.0.1:PORT */
  origin: string;
  key: string;
  rate: number;
  seconds: number;
  /** The JSON body of request i (its index from 0). */
  body: (i: number) => string;
  /** Connections the client may open (default one second of requests, at least 64): the pool must not be the limit. */
  connections?: number;
  /** A request with no answer after this long counts as an error (default 30 s). */
  timeoutMs?: number;
  /** Called with the index of every request answered 202. */
  onAccepted?: (i: number) => void;
  /** Called once, right after the last request was issued. */
  onScheduleEnd?: () => void;
}

export interface OpenLoopFigures {
  offered_per_s: number;
  seconds: number;
  requests: number;
  /** Answered 202. */
  accepted: number;
  /** Any other status, or no answer (refused, reset, timed out). */
  errors: number;
  error_samples: string[];
  /** Requests issued per second over the schedule (below `offered_per_s` when the generator fell behind). */
  sent_per_s: number;
  /** Answers 202 per second, from the first due time to the last answer. */
  achieved_per_s: number;
  /** From each request's due time to its answer (every answered request, whatever its status). */
  latency_ms: { p50: number; p90: number; p99: number; p99_9: number; max: number };
  /** Non-cumulative counts; `le_ms: null` is the bucket above the last bound. */
  histogram_ms: Array<{ le_ms: number | null; count: number }>;
  connections: number;
  /** Requests issued while every connection was busy: they queued in the client, which the latency includes. */
  waited_for_connection: number;
  /** Send time − due time: how late the generator itself issued requests. */
  generator_late_ms: { p99: number; max: number };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const r2 = (x: number) => +x.toFixed(2);
/** The value at rank p % of a sorted array (the same rule as test/support/server-process.ts). */
const at = (sorted: Float64Array, p: number) =>
  sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]! : Number.NaN;

export async function openLoop(o: OpenLoopOptions): Promise<OpenLoopFigures> {
  // Bounded in count and time whatever is asked.
  const rate = Math.min(Math.max(1, o.rate), 20_000);
  const n = Math.min(Math.round(rate * Math.min(o.seconds, 600)), 200_000);
  const connections = o.connections ?? Math.min(1024, Math.max(64, Math.ceil(rate)));
  const timeoutMs = o.timeoutMs ?? 30_000;
  const pool = new Pool(o.origin, { connections, pipelining: 1, headersTimeout: timeoutMs, bodyTimeout: timeoutMs });
  const latency = new Float64Array(n);
  const late = new Float64Array(n);
  let answered = 0;
  let accepted = 0;
  let errors = 0;
  let inflight = 0;
  let waited = 0;
  let lastAnswer = 0;
  let lastSent = 0;
  const samples: string[] = [];
  const fail = (s: string) => {
    errors++;
    if (samples.length < 5) samples.push(s);
  };
  const interval = 1000 / rate;
  const fire = async (i: number, due: number) => {
    const sent = performance.now();
    late[i] = sent - due;
    lastSent = sent;
    if (inflight >= connections) waited++;
    inflight++;
    try {
      const res = await pool.request({
        path: '/v1/messages',
        method: 'POST',
        body: o.body(i),
        headers: { authorization: `Bearer ${o.key}`, 'content-type': 'application/json' },
        signal: AbortSignal.timeout(timeoutMs),
      });
      const text = await res.body.text();
      lastAnswer = performance.now();
      latency[answered++] = lastAnswer - due;
      if (res.statusCode === 202) {
        accepted++;
        o.onAccepted?.(i);
      } else fail(`${res.statusCode} ${text.slice(0, 200)}`);
    } catch (e) {
      fail(String((e as Error).message ?? e));
    } finally {
      inflight--;
    }
  };

  const pending: Promise<void>[] = [];
  const t0 = performance.now() + 20;
  for (let i = 0; i < n; ) {
    // Issue everything that is due (several at once after a stall: they keep their own due times).
    const now = performance.now();
    for (; i < n && t0 + i * interval <= now; i++) pending.push(fire(i, t0 + i * interval));
    if (i < n) await sleep(Math.max(0, t0 + i * interval - performance.now()));
  }
  o.onScheduleEnd?.();
  await Promise.all(pending);
  await pool.close();

  const lat = latency.subarray(0, answered).sort();
  const counts = new Array<number>(HISTOGRAM_BOUNDS_MS.length + 1).fill(0);
  for (const v of lat) {
    const b = HISTOGRAM_BOUNDS_MS.findIndex((le) => v <= le);
    counts[b === -1 ? HISTOGRAM_BOUNDS_MS.length : b]!++;
  }
  late.sort();
  return {
    offered_per_s: rate,
    seconds: r2(n / rate),
    requests: n,
    accepted,
    errors,
    error_samples: samples,
    sent_per_s: Math.round(n / Math.max(1e-9, (lastSent - t0) / 1000 + interval / 1000)),
    achieved_per_s: Math.round(accepted / Math.max(1e-9, (lastAnswer - t0) / 1000)),
    latency_ms: {
      p50: r2(at(lat, 50)),
      p90: r2(at(lat, 90)),
      p99: r2(at(lat, 99)),
      p99_9: r2(at(lat, 99.9)),
      max: r2(lat.at(-1) ?? Number.NaN),
    },
    histogram_ms: counts.map((count, k) => ({ le_ms: HISTOGRAM_BOUNDS_MS[k] ?? null, count })),
    connections,
    waited_for_connection: waited,
    generator_late_ms: { p99: r2(at(late, 99)), max: r2(late.at(-1) ?? Number.NaN) },
  };
}
