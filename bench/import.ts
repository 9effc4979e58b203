import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Readable } from 'node:stream';
import pino from 'pino';
import { loadConfig } from '../src/config/index.js';
import { createPlatform } from '../src/platform.js';
import { startDnsServerRaw, type Zone } from '../test/support/dns-server.js';

/**
 * List import: a generated CSV of N rows (default 100,000) streamed into POST /v1/lists/{id}/import
 * over loopback, with MX lookups answered by the loopback DNS server. The CSV is generated while it
 * is sent, never held whole. Prints rows/s and the peak RSS growth over the idle platform (sampled
 * every 20 ms), which is what "bounded memory" means here: it should not grow with N.
 *   npm run bench -- import [--rows 100000] [--domains 2000] [--out bench/results/import.json]
 *   node --expose-gc --import tsx bench/run.ts import …   also reports the heap retained after full GCs
 * Row mix: 1 % malformed, 1 % duplicates, 3 % role accounts, 1 % disposable, 0.5 % Null MX,
 * 0.5 % unknown domains (NXDOMAIN), the rest clean.
 */
const loadavg = () => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');

function* csvRows(rows: number, domains: number): Generator<string> {
  yield 'Email Address,First Name,Last Name,City\r\n';
  let buf = '';
  for (let i = 1; i <= rows; i++) {
    const d = `d${i % domains}.example`;
    const k = i % 200;
    const email =
      k === 0
        ? `broken-${i}`
        : k === 1 && i > 200
          ? `user${i - 3}@d${(i - 3) % domains}.example`
          : k < 8
            ? `info+${i}@${d}`
            : k < 10
              ? `user${i}@mailinator.com`
              : k === 10
                ? `user${i}@null.example`
                : k === 11
                  ? `user${i}@missing${i}.example`
                  : `user${i}@${d}`;
    buf += `${email},First${i},"Last, ${i}",City ${i % 97}\r\n`;
    if (buf.length > 64 * 1024) {
      yield buf;
      buf = '';
    }
  }
  if (buf) yield buf;
}

export async function main(argv: string[]): Promise<void> {
  const arg = (name: string, dflt: string) => {
    const i = argv.indexOf(`--${name}`);
    return i >= 0 && argv[i + 1] ? argv[i + 1]! : dflt;
  };
  const rows = Number(arg('rows', '100000'));
  const domains = Number(arg('domains', '2000'));
  const out = arg('out', join(import.meta.dirname, 'results', 'import.json'));

  const zone: Zone = {
    'mx.bench.example': { A: ['192.0.2.25'] },
    'null.example': { MX: [{ priority: 0, exchange: '.' }] },
    'mailinator.com': { MX: [{ priority: 10, exchange: 'mx.bench.example' }] },
  };
  for (let i = 0; i < domains; i++) zone[`d${i}.example`] = { MX: [{ priority: 10, exchange: 'mx.bench.example' }] };
  const dns = await startDnsServerRaw(zone);
  const dataDir = mkdtempSync(join(tmpdir(), 'pw-bench-import-'));
  const config = loadConfig({
    overrides: {
      dataDir,
      sandbox: true,
      server: { httpPort: 0, smtpPort: 0, mxPort: 0, hostname: 'bench.test', roles: ['api'] },
      posture: { monitor: false },
      dns: { servers: [dns.address], timeoutMs: 2000 },
    },
  });
  const platform = await createPlatform(config, { log: pino({ level: 'silent' }) });
  try {
    const tenant = await platform.tenants.createTenant({ name: 'bench' });
    const { secret } = await platform.tenants.createKey({ tenantId: tenant.id, scopes: ['send', 'read', 'admin'] });
    const ports = await platform.start();
    const base = `http://127.0.0.1:${ports.http}`;
    const auth = { authorization: `Bearer ${secret}` };
    const list = (await fetch(`${base}/v1/lists`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'bench' }),
    }).then((r) => r.json())) as { id: string };

    global.gc?.();
    const baseline = process.memoryUsage().rss;
    let peak = baseline;
    let heapPeak = 0;
    let ticks = 0;
    const sampler = setInterval(() => {
      // With --expose-gc a full collection every second shows what is retained, not garbage V8 has not collected yet.
      if (global.gc && ++ticks % 50 === 0) {
        global.gc();
        heapPeak = Math.max(heapPeak, process.memoryUsage().heapUsed);
      }
      peak = Math.max(peak, process.memoryUsage().rss);
    }, 20);
    const before = loadavg();
    const start = performance.now();
    const res = await fetch(`${base}/v1/lists/${list.id}/import`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'text/csv' },
      body: Readable.toWeb(Readable.from(csvRows(rows, domains))) as ReadableStream,
      duplex: 'half',
    } as RequestInit);
    const answer = (await res.json()) as { import: { rows: number; added: number; counts: Record<string, number> } };
    const ms = performance.now() - start;
    clearInterval(sampler);
    if (res.status !== 200) throw new Error(`import answered ${res.status}: ${JSON.stringify(answer).slice(0, 500)}`);
    const result = {
      bench: 'import',
      at: new Date().toISOString(),
      node: process.version,
      rows: answer.import.rows,
      added: answer.import.added,
      counts: answer.import.counts,
      domains,
      dns_queries: dns.queries.length,
      seconds: Math.round(ms) / 1000,
      rows_per_second: Math.round(answer.import.rows / (ms / 1000)),
      rss_baseline_mb: Math.round(baseline / 1048576),
      rss_peak_growth_mb: Math.round((peak - baseline) / 1048576),
      ...(global.gc ? { heap_after_gc_peak_mb: Math.round(heapPeak / 1048576) } : {}),
      machine: { cores: cpus().length, cpu: cpus()[0]?.model ?? '', loadavg_before: before, loadavg_after: loadavg() },
    };
    console.log(
      `# import: ${result.rows} rows in ${result.seconds} s (${result.rows_per_second} rows/s), ${result.added} added; ` +
        `peak RSS +${result.rss_peak_growth_mb} MB over ${result.rss_baseline_mb} MB; load ${before} → ${result.machine.loadavg_after}`,
    );
    if (global.gc) console.log(`# heap after a full GC, at most ${result.heap_after_gc_peak_mb} MB (sampled every second)`);
    console.log(`# findings: ${JSON.stringify(result.counts)}; ${result.dns_queries} DNS queries`);
    mkdirSync(dirname(out), { recursive: true });
    writeFileSync(out, `${JSON.stringify(result, null, 2)}\n`);
  } finally {
    await platform.stop();
    await dns.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}
