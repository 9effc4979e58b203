import { readdirSync, readFileSync } from 'node:fs';
import pg from 'pg';
import { createPostgresSchema } from '../test/support/dialects.js';

/**
 * PostgreSQL for one bench run of `postwarden serve`: a fresh schema (dropped after), the CPU the
 * PostgreSQL server spent on the run, and which stored values were sealed. On PostgreSQL the work of
 * the store happens in other processes than the server's, so the server's own CPU alone would make
 * PostgreSQL look cheaper than SQLite, whose work is inside the server.
 */

/** utime + stime (and, with `children`, the reaped children's cutime + cstime) of a process, in seconds; null once it is gone. */
function procCpu(pid: number, clkTck: number, children = false): { cpu: number; ppid: number } | null {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = s.slice(s.lastIndexOf(')') + 2).split(' '); // f[0] is field 3 (state), f[1] the ppid
    const own = Number(f[11]) + Number(f[12]);
    return { cpu: (children ? own + Number(f[13]) + Number(f[14]) : own) / clkTck, ppid: Number(f[1]) };
  } catch {
    return null;
  }
}

/**
 * A schema of its own for one run, and a URL whose connections use it and carry an
 * `application_name` unique to the run, so its backends can be found in `pg_stat_activity`.
 */
export async function benchSchema(baseUrl: string): Promise<{ url: string; appName: string; drop(): Promise<void> }> {
  const schema = await createPostgresSchema(baseUrl, 'pw_bench');
  const appName = `pw_bench_${process.pid}_${Math.random().toString(36).slice(2, 8)}`;
  const u = new URL(schema.url);
  u.searchParams.set('application_name', appName);
  return { url: u.toString(), appName, drop: schema.drop };
}

export interface PostgresCpu {
  /** CPU seconds of the backends that served the run's server (its `application_name`). */
  backends_s: number;
  backends_seen: number;
  /** Backends that ended during the window: their CPU after the last sample (≤ `sample_ms`) is missed. */
  backends_exited: number;
  /**
   * CPU seconds of every process of the PostgreSQL server (postmaster, backends, WAL writer,
   * checkpointer, background writer, autovacuum): includes work for other databases and clients.
   */
  cluster_s: number;
  sample_ms: number;
}

/**
 * Samples the CPU of the PostgreSQL processes from /proc, which works only when PostgreSQL runs on
 * this machine and in this PID namespace (not in a container, not as a remote server): `start`
 * answers null with the reason otherwise. Backends are found every `sampleMs` through
 * `pg_stat_activity` by application name; the cluster figure needs no sampling, because the
 * postmaster reaps its children and /proc then adds their CPU to its cutime/cstime.
 */
export async function postgresCpuProbe(baseUrl: string, appName: string, clkTck: number, sampleMs = 250) {
  const c = new pg.Client({ connectionString: baseUrl, application_name: 'pw_bench_cpu_probe' });
  await c.connect();
  const own = Number((await c.query('select pg_backend_pid() as pid')).rows[0].pid);
  const ownProc = procCpu(own, clkTck);
  const comm = (() => {
    try {
      return readFileSync(`/proc/${ownProc?.ppid}/comm`, 'utf8').trim();
    } catch {
      return '';
    }
  })();
  if (!ownProc || !/^postgres|^postmaster/.test(comm)) {
    await c.end();
    return {
      reason: `the PostgreSQL backend ${own} is not a process of this machine (remote server or container): its CPU is not measured`,
      start: async () => undefined,
      stop: async (): Promise<PostgresCpu | null> => null,
      close: async () => undefined,
    };
  }
  const postmaster = ownProc.ppid;
  const clusterCpu = () => {
    let sum = procCpu(postmaster, clkTck, true)?.cpu ?? 0;
    for (const e of readdirSync('/proc')) {
      if (!/^\d+$/.test(e)) continue;
      const p = procCpu(Number(e), clkTck);
      if (p && p.ppid === postmaster) sum += p.cpu;
    }
    return sum;
  };
  // pid → CPU at first sight in the window (0 for a backend born in it) and at the last sample.
  const seen = new Map<number, { base: number; last: number }>();
  let live = new Set<number>();
  const sample = async (first: boolean) => {
    const { rows } = await c.query('select pid from pg_stat_activity where application_name = $1', [appName]);
    live = new Set(rows.map((r: { pid: number }) => Number(r.pid)));
    for (const pid of live) {
      const p = procCpu(pid, clkTck);
      if (!p) continue;
      const s = seen.get(pid);
      if (s) s.last = p.cpu;
      else seen.set(pid, { base: first ? p.cpu : 0, last: p.cpu });
    }
  };
  let cluster0 = 0;
  let timer: NodeJS.Timeout | undefined;
  let busy = false;
  return {
    reason: null,
    async start() {
      await sample(true);
      cluster0 = clusterCpu();
      timer = setInterval(() => {
        if (busy) return;
        busy = true;
        sample(false)
          .catch(() => undefined)
          .finally(() => {
            busy = false;
          });
      }, sampleMs);
    },
    async stop(): Promise<PostgresCpu | null> {
      clearInterval(timer);
      while (busy) await new Promise((r) => setTimeout(r, 10));
      await sample(false);
      const cluster = clusterCpu() - cluster0;
      let backends = 0;
      for (const s of seen.values()) backends += s.last - s.base;
      const exited = [...seen.keys()].filter((pid) => !live.has(pid)).length;
      return { backends_s: backends, backends_seen: seen.size, backends_exited: exited, cluster_s: cluster, sample_ms: sampleMs };
    },
    close: () => c.end(),
  };
}

/** As `sealedShare` of the SQLite file: sealed subjects and bodies of the run's schema (docs/encryption.md gives their formats). */
export async function sealedSharePostgres(url: string): Promise<{ subjects: string; bodies: string } | null> {
  const c = new pg.Client({ connectionString: url });
  try {
    await c.connect();
    const one = async (q: string) => (await c.query(q)).rows[0] as { sealed: string; total: string };
    const s = await one(`select count(*) filter (where subject like 'pwe1:%') as sealed, count(*) as total from messages`);
    const b = await one(
      `select count(*) filter (where substring(raw from 1 for 5) = decode('0050574531', 'hex')) as sealed, count(*) as total from message_bodies`,
    );
    return { subjects: `${s.sealed}/${s.total}`, bodies: `${b.sealed}/${b.total}` };
  } catch {
    return null;
  } finally {
    await c.end().catch(() => undefined);
  }
}
