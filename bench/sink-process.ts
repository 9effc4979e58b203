import { type ChildProcess, fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { type SmtpSink, startSmtpSinkRaw } from '../test/support/smtp-sink.js';

/**
 * The benchmark's destination MX hosts, in their own process so the load generator and the sinks
 * do not share an event loop (and neither shares one with the MTA under test). Started with
 * `fork()` (startSinkProcess below) and driven over the IPC channel:
 *
 *   argv[2]  JSON `SinkProcessOptions`
 *   → parent { type: 'ready', ports: { [domain]: port } }
 *   ← { type: 'expect', id, until: { [domain]: n }, timeoutMs }   until each sink accepted n in all
 *   → { type: 'reached', id, at, counts } | { type: 'timeout', id, at, counts }
 *   ← { type: 'counts', id }  → { type: 'counts', id, counts }
 *   ← { type: 'last', id, domain }  → { type: 'last', id, raw }   the last message a `full` sink kept
 *   ← { type: 'close' }  closes the sinks and exits
 *
 * `at` is wall time in ms with sub-ms precision (performance.timeOrigin + now), comparable with
 * the parent's clock on the same machine. The process exits by itself when the parent goes away.
 */
export interface SinkProcessOptions {
  /** Domains whose sinks keep counters only. */
  count: string[];
  /** Domains whose sinks keep every message (probes: a few messages at most). */
  full: string[];
  /** Delay before answering RCPT, to keep the queue deep (queue-memory mode). */
  rcptDelayMs?: number;
  tls?: 'self-signed' | 'none';
}

export type SinkRequest =
  | { type: 'expect'; id: number; until: Record<string, number>; timeoutMs: number }
  | { type: 'counts'; id: number }
  | { type: 'last'; id: number; domain: string }
  | { type: 'close' };

export type SinkReport =
  | { type: 'ready'; ports: Record<string, number> }
  | { type: 'reached' | 'timeout'; id: number; at: number; counts: Record<string, number> }
  | { type: 'counts'; id: number; counts: Record<string, number> }
  | { type: 'last'; id: number; raw: string | null };

const wallNow = () => performance.timeOrigin + performance.now();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// ---- the parent's side ---------------------------------------------------------------------------
export interface Sinks {
  /** The sink process, for its CPU figures. */
  pid: number;
  ports: Record<string, number>;
  counts(): Promise<Record<string, number>>;
  /** Resolves with the wall time at which every sink reached its count, or null on timeout. */
  expect(until: Record<string, number>, timeoutMs: number): Promise<number | null>;
  last(domain: string): Promise<string | null>;
  close(): Promise<void>;
}
/** Forks this file as the sink process and returns its handle once every sink listens. */
export async function startSinkProcess(opts: SinkProcessOptions): Promise<Sinks> {
  const child: ChildProcess = fork(fileURLToPath(import.meta.url), [JSON.stringify(opts)], {
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  let nextId = 1;
  const pending = new Map<number, (r: SinkReport) => void>();
  let ready: (ports: Record<string, number>) => void = () => undefined;
  const readyP = new Promise<Record<string, number>>((resolve, reject) => {
    ready = resolve;
    setTimeout(() => reject(new Error('sink process did not start in 30 s')), 30_000).unref();
    child.once('exit', (c) => reject(new Error(`sink process exited with ${c}`)));
  });
  child.on('message', (m: SinkReport) => {
    if (m.type === 'ready') return ready(m.ports);
    pending.get(m.id)?.(m);
    pending.delete(m.id);
  });
  type Ask = Extract<SinkRequest, { id: number }> extends infer R ? (R extends unknown ? Omit<R, 'id'> : never) : never;
  const ask = <T extends SinkReport>(req: Ask): Promise<T> => {
    const id = nextId++;
    return new Promise((resolve) => {
      pending.set(id, resolve as (r: SinkReport) => void);
      child.send({ ...req, id });
    });
  };
  const ports = await readyP;
  return {
    pid: child.pid!,
    ports,
    counts: async () => (await ask<Extract<SinkReport, { type: 'counts' }>>({ type: 'counts' })).counts,
    expect: async (until, timeoutMs) => {
      const r = await ask<Extract<SinkReport, { type: 'reached' | 'timeout' }>>({ type: 'expect', until, timeoutMs });
      return r.type === 'reached' ? r.at : null;
    },
    last: async (domain) => (await ask<Extract<SinkReport, { type: 'last' }>>({ type: 'last', domain })).raw,
    async close() {
      if (child.exitCode !== null) return;
      child.send({ type: 'close' });
      await Promise.race([new Promise((r) => child.once('exit', r)), sleep(5000)]);
      if (child.exitCode === null) child.kill('SIGKILL');
    },
  };
}

// ---- the sink process ----------------------------------------------------------------------------

async function run(): Promise<void> {
  const opts = JSON.parse(process.argv[2] ?? '{}') as SinkProcessOptions;
  const send = (m: SinkReport) => process.send?.(m);
  const sinks = new Map<string, SmtpSink>();
  const behaviour = {
    tls: opts.tls ?? 'self-signed',
    maxClients: 500,
    ...(opts.rcptDelayMs ? { default: { delayMs: opts.rcptDelayMs } } : {}),
  } as const;
  for (const d of opts.count) sinks.set(d, await startSmtpSinkRaw({ ...behaviour, record: 'count' }));
  for (const d of opts.full) sinks.set(d, await startSmtpSinkRaw({ ...behaviour, record: 'full' }));
  const counts = () => Object.fromEntries([...sinks].map(([d, s]) => [d, s.accepted]));

  const closeAll = async () => {
    await Promise.race([Promise.all([...sinks.values()].map((s) => s.close())), new Promise((r) => setTimeout(r, 3000))]);
    process.exit(0);
  };
  process.on('disconnect', closeAll);
  process.on('message', (m: SinkRequest) => {
    switch (m.type) {
      case 'expect': {
        const waits = Object.entries(m.until).map(([d, n]) => {
          const sink = sinks.get(d);
          return sink ? sink.waitFor(n, m.timeoutMs) : Promise.reject(new Error(`no sink for ${d}`));
        });
        Promise.all(waits).then(
          () => send({ type: 'reached', id: m.id, at: wallNow(), counts: counts() }),
          () => send({ type: 'timeout', id: m.id, at: wallNow(), counts: counts() }),
        );
        break;
      }
      case 'counts':
        send({ type: 'counts', id: m.id, counts: counts() });
        break;
      case 'last': {
        const msgs = sinks.get(m.domain)?.messages ?? [];
        send({ type: 'last', id: m.id, raw: msgs.length ? msgs[msgs.length - 1]!.raw.toString('latin1') : null });
        break;
      }
      case 'close':
        void closeAll();
        break;
      default: {
        const never: never = m;
        throw new Error(`unknown request ${JSON.stringify(never)}`);
      }
    }
  });
  send({ type: 'ready', ports: Object.fromEntries([...sinks].map(([d, s]) => [d, s.port])) });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await run();
