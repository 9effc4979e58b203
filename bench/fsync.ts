import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { Pool } from 'undici';
import { startServer } from '../test/support/server-process.js';
import { attachStrace, readDurabilityTrace, straceAvailable } from '../test/support/strace.js';

/**
 * How many fsyncs an acknowledged batch costs, and whether every 202 was written after its commit
 * was fsynced (docs/storage.md, Durability). For each `store.durability` mode: a server that only
 * accepts (delivery role off), strace attached to all its threads, N single-message HTTP requests
 * from C concurrent clients. From the strace log in order: the 202s, the batches they were answered
 * in (202s written together), the fsyncs of the WAL and of anything else, and the 202s written
 * before a flush of the WAL that began after their message's commit had ended (test/support/strace.ts). strace slows the server, so the batches are
 * larger than without it; the counts per batch are what this measures, not throughput.
 */
const MODES = ['power-loss-safe', 'process-crash-safe'] as const;

async function sendAll(port: number, key: string, n: number, c: number, offset: number): Promise<number> {
  const pool = new Pool(`http://127.0.0.1:${port}`, { connections: c, pipelining: 1 });
  let next = 0;
  let ok = 0;
  await Promise.all(
    Array.from({ length: c }, async () => {
      for (let i = next++; i < n; i = next++) {
        const res = await pool.request({
          path: '/v1/messages',
          method: 'POST',
          body: JSON.stringify({
            from: 'bench@bench.example',
            to: `r${offset + i}@example.net`,
            subject: `fsync ${i}`,
            text: 'x'.repeat(3500),
          }),
          headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        });
        await res.body.text();
        if (res.statusCode === 202) ok++;
      }
    }),
  );
  await pool.close();
  return ok;
}

export async function main(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      messages: { type: 'string', default: '2000' },
      concurrency: { type: 'string', default: '32' },
      out: { type: 'string', default: 'bench/results/fsync.json' },
    },
  });
  if (!straceAvailable) throw new Error('bench fsync needs strace (apt-get install strace)');
  const n = Math.max(1, Math.min(Number(values.messages), 100_000));
  const c = Math.max(1, Math.min(Number(values.concurrency), 256));
  const results = [];
  for (const durability of MODES) {
    const dataDir = mkdtempSync(join(tmpdir(), 'pw-fsync-'));
    const server = await startServer({ dataDir, env: { POSTWARDEN_SERVER__ROLES: 'api,smtp', POSTWARDEN_STORE__DURABILITY: durability } });
    try {
      await sendAll(server.http, server.key, Math.min(200, n), c, 1_000_000); // warm-up, not traced
      const log = join(dataDir, 'strace.log');
      const tracer = await attachStrace(server.child.pid!, log, true);
      const t0 = performance.now();
      const accepted = await sendAll(server.http, server.key, n, c, 0);
      const wallS = (performance.now() - t0) / 1000;
      tracer.kill('SIGINT');
      await new Promise((r) => tracer.once('exit', r));
      const tr = readDurabilityTrace(readFileSync(log, 'utf8'));
      results.push({
        durability,
        messages: n,
        concurrency: c,
        accepted,
        ...tr,
        messages_per_batch: +(tr.answers202 / Math.max(1, tr.batches)).toFixed(1),
        wal_fsyncs_per_batch: +(tr.walSyncs / Math.max(1, tr.batches)).toFixed(2),
        all_fsyncs_per_batch: +((tr.walSyncs + tr.otherSyncs) / Math.max(1, tr.batches)).toFixed(2),
        accepted_per_s_under_strace: Math.round(accepted / wallS),
      });
    } finally {
      await server.stop();
      rmSync(dataDir, { recursive: true, force: true });
    }
  }
  console.log('durability          202s  batches  msgs/batch  WAL fsyncs  other fsyncs  fsyncs/batch  202s before their flush');
  for (const r of results) {
    console.log(
      `${r.durability.padEnd(18)} ${String(r.answers202).padStart(5)} ${String(r.batches).padStart(8)} ${String(r.messages_per_batch).padStart(11)} ${String(r.walSyncs).padStart(11)} ${String(r.otherSyncs).padStart(13)} ${String(r.all_fsyncs_per_batch).padStart(13)} ${String(r.unsynced202).padStart(23)}${r.unattributed202 ? ` (${r.unattributed202} not found in the WAL)` : ''}`,
    );
  }
  mkdirSync(dirname(values.out!), { recursive: true });
  writeFileSync(
    values.out!,
    `${JSON.stringify({ bench: 'fsync', at: new Date().toISOString(), node: process.version, results }, null, 2)}\n`,
  );
  console.log(`wrote ${values.out}`);
}
