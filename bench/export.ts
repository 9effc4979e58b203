import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import Database from 'better-sqlite3';
import { type EventType, eventDefinitions, eventSchemaVersion } from '../src/core/index.js';
import { startServer } from '../test/support/server-process.js';

/**
 * Export memory and throughput (#15, Done 6): N events (default 1,000,000) are bulk-inserted into
 * the SQLite store of a `postwarden serve` child process, then GET /v1/events/export?format=ndjson
 * is read to the end by a client that discards the bytes. The server's RSS is sampled every 50 ms
 * (and its kernel high-water mark reset before the export where /proc allows), so the figure is the
 * server's peak RSS growth over its RSS just before the export. Goal: < 100 MB.
 *   npm run bench -- export [--events 1000000] [--out bench/results/export.json]
 *
 * The bulk insert writes rows straight into the events table with one prepared statement in large
 * transactions: a bench shortcut to fill the store fast, never how the product appends.
 */
const loadavg = () => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
const status = (pid: number, field: 'VmRSS' | 'VmHWM') => {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : 0;
};
const mb = (bytes: number) => Math.round((bytes / 1024 / 1024) * 10) / 10;

const types: EventType[] = ['message.accepted', 'recipient.queued', 'recipient.delivered', 'recipient.deferred', 'recipient.bounced'];

function bulkInsert(file: string, tenantId: string, n: number, t0: number): void {
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = OFF');
  const insert = db.prepare(
    'insert into events (id, tenant_id, message_id, recipient_id, seq, type, at, data, schema_version) values (?, ?, ?, ?, ?, ?, ?, ?, ?)',
  );
  const payloads = types.map((t) => JSON.stringify(eventDefinitions[t].example));
  const chunk = db.transaction((from: number, to: number) => {
    for (let i = from; i < to; i++) {
      const k = i % types.length;
      const msg = Math.floor(i / types.length);
      insert.run(
        `evt_bench${String(i).padStart(10, '0')}`,
        tenantId,
        `msg_bench${String(msg).padStart(9, '0')}`,
        k === 0 ? null : `rcp_bench${String(msg).padStart(9, '0')}`,
        k + 1,
        types[k],
        t0 + Math.floor(i / 100),
        payloads[k],
        eventSchemaVersion(types[k]!),
      );
    }
  });
  for (let i = 0; i < n; i += 50_000) chunk(i, Math.min(n, i + 50_000));
  db.close();
}

export async function main(argv: string[]): Promise<void> {
  const { values } = parseArgs({ args: argv, options: { events: { type: 'string' }, out: { type: 'string' } } });
  const n = Number(values.events ?? 1_000_000);
  const out = values.out ?? join(import.meta.dirname, 'results', 'export.json');
  const dataDir = mkdtempSync(join(tmpdir(), 'pw-export-'));
  const server = await startServer({ dataDir });
  try {
    const base = `http://127.0.0.1:${server.http}`;
    const auth = { authorization: `Bearer ${server.key}` };
    const tenant = (await (await fetch(`${base}/v1/tenant`, { headers: auth })).json()) as { id: string };
    const fillStart = performance.now();
    bulkInsert(join(dataDir, 'postwarden.db'), tenant.id, n, Date.UTC(2026, 11, 1));
    const fillS = (performance.now() - fillStart) / 1000;
    console.log(`# export: ${n} events inserted in ${fillS.toFixed(1)} s`);

    const pid = server.child.pid!;
    const rssBefore = status(pid, 'VmRSS');
    let hwmReset = true;
    try {
      // Linux ≥ 4.0: "5" resets the peak RSS (VmHWM) to the current RSS.
      writeFileSync(`/proc/${pid}/clear_refs`, '5');
    } catch {
      hwmReset = false;
    }
    let peak = rssBefore;
    const sampler = setInterval(() => {
      peak = Math.max(peak, status(pid, 'VmRSS'));
    }, 50);
    const loadBefore = loadavg();
    const start = performance.now();
    // Only the inserted types: the server's consumers react to the inserted events (the bounces among
    // them) with events of their own, which are not what is measured.
    const res = await fetch(`${base}/v1/events/export?format=ndjson&types=${types.join(',')}`, { headers: auth });
    if (!res.ok || !res.body) throw new Error(`export answered ${res.status}: ${await res.text()}`);
    const announced = Number(res.headers.get('postwarden-event-count'));
    let bytes = 0;
    let rows = 0;
    for await (const chunk of res.body) {
      bytes += chunk.length;
      for (let i = 0; i < chunk.length; i++) if (chunk[i] === 0x0a) rows++;
    }
    const seconds = (performance.now() - start) / 1000;
    clearInterval(sampler);
    peak = Math.max(peak, status(pid, 'VmRSS'), hwmReset ? status(pid, 'VmHWM') : 0);
    if (rows !== n || announced !== n) throw new Error(`exported ${rows} rows, announced ${announced}, expected ${n}`);

    const result = {
      events: n,
      format: 'ndjson',
      bytes,
      seconds: Math.round(seconds * 10) / 10,
      events_per_second: Math.round(n / seconds),
      mb_per_second: mb(bytes / seconds),
      server_rss_before_mb: mb(rssBefore),
      server_rss_peak_mb: mb(peak),
      server_rss_growth_mb: mb(peak - rssBefore),
      peak_from: hwmReset ? 'VmHWM reset before the export, and 50 ms samples' : '50 ms samples of VmRSS',
      goal_growth_mb: 100,
      fill_seconds: Math.round(fillS * 10) / 10,
      machine: { cores: cpus().length, cpu: cpus()[0]?.model ?? '', loadavg_before: loadBefore, loadavg_after: loadavg() },
    };
    console.log(
      `# export: ${n} events, ${mb(bytes)} MB NDJSON in ${result.seconds} s: ${result.events_per_second} events/s, ${result.mb_per_second} MB/s`,
    );
    console.log(
      `# server RSS ${result.server_rss_before_mb} MB before, peak ${result.server_rss_peak_mb} MB: growth ${result.server_rss_growth_mb} MB (goal < 100 MB)`,
    );
    console.log(
      `# load average before ${result.machine.loadavg_before}, after ${result.machine.loadavg_after} (${result.machine.cores} cores)`,
    );
    mkdirSync(dirname(out), { recursive: true });
    writeFileSync(out, `${JSON.stringify(result, null, 2)}\n`);
  } finally {
    await server.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}
