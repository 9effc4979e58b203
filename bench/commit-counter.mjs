// A preload for the benches' `postwarden serve` child (NODE_OPTIONS=--import ./bench/commit-counter.mjs):
// counts the commits the server makes and the time they take, because on SQLite with
// `store.durability: power-loss-safe` every commit is an fsync on the event loop, so commits per
// event is what bounds webhook throughput and what webhooks take from delivery. A commit is an
// explicit COMMIT or a write statement run outside a transaction (SQLite and PostgreSQL autocommit
// it). Figures go to the JSON file named by PW_BENCH_COMMITS_FILE when the bench asks, between
// phases, with SIGUSR2 (and at exit): written every 100 ms, the file cost the server's main thread
// 150–260 ms per run (a write and a rename each time) in CPU profiles. Not part of the product.
//
// It also counts what the main thread allocates on V8's heap and the collector's pauses of it
// (#22's "allocated per delivered message"): allocated = used now − used at start + what every
// collection freed (used before it − used after it), read from v8.GCProfiler. Worker threads (DKIM,
// the webhook poster, the checkpointer) have heaps of their own and are not in it; nor are Buffers
// (message bodies) outside the heap.
import { renameSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { PerformanceObserver } from 'node:perf_hooks';
import { GCProfiler, getHeapStatistics } from 'node:v8';
import { isMainThread } from 'node:worker_threads';

const out = process.env.PW_BENCH_COMMITS_FILE;
const require = createRequire(join(process.cwd(), 'package.json'));
const counts = { commits: 0, commit_ms: 0, heap_allocated_mb: 0, gc_pause_ms: 0, gcs: 0, writes: 0 };
const isWrite = /^\s*(insert|update|delete|replace)\b/i;

// The main thread only: --import also runs in worker threads, which would overwrite the file with
// their own (zero) counts.
if (out && isMainThread) {
  try {
    const Database = require('better-sqlite3');
    const probe = new Database(':memory:');
    const Statement = Object.getPrototypeOf(probe.prepare('select 1'));
    probe.close();
    for (const method of ['run', 'all', 'get', 'iterate']) {
      const original = Statement[method];
      Statement[method] = function (...args) {
        const commit = /^\s*commit\b/i.test(this.source) || (!this.database.inTransaction && !this.readonly);
        if (!commit) return original.apply(this, args);
        const t0 = performance.now();
        try {
          return original.apply(this, args);
        } finally {
          counts.commits++;
          counts.commit_ms += performance.now() - t0;
        }
      };
    }
  } catch {
    // No better-sqlite3 (node:sqlite driver): SQLite commits are not counted.
  }
  try {
    const { Client } = require('pg');
    const original = Client.prototype.query;
    const open = new WeakSet();
    Client.prototype.query = function (config, ...rest) {
      const text = typeof config === 'string' ? config : (config?.text ?? '');
      if (/^\s*(begin|start transaction)\b/i.test(text)) open.add(this);
      const commit = /^\s*commit\b/i.test(text) || (!open.has(this) && isWrite.test(text));
      if (/^\s*(commit|rollback)\b/i.test(text)) open.delete(this);
      const result = original.call(this, config, ...rest);
      if (commit && result && typeof result.then === 'function') {
        const t0 = performance.now();
        result.then(
          () => {
            counts.commits++;
            counts.commit_ms += performance.now() - t0;
          },
          () => undefined,
        );
      }
      return result;
    };
  } catch {
    // No pg: PostgreSQL commits are not counted.
  }
  const usedAtStart = getHeapStatistics().used_heap_size;
  let freed = 0;
  let gcProfiler = new GCProfiler();
  gcProfiler.start();
  const heap = () => {
    // The profiler reports the collections since start(): read them and start again.
    for (const g of gcProfiler.stop()?.statistics ?? [])
      freed += Math.max(0, g.beforeGC.heapStatistics.usedHeapSize - g.afterGC.heapStatistics.usedHeapSize);
    gcProfiler = new GCProfiler();
    gcProfiler.start();
    counts.heap_allocated_mb = +((getHeapStatistics().used_heap_size - usedAtStart + freed) / 2 ** 20).toFixed(1);
  };
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      counts.gcs++;
      counts.gc_pause_ms += e.duration;
    }
  }).observe({ entryTypes: ['gc'] });
  // Written aside and renamed, so the bench never reads a half-written file.
  const write = () => {
    try {
      heap();
      counts.writes++;
      writeFileSync(
        `${out}.tmp`,
        JSON.stringify({ ...counts, commit_ms: Math.round(counts.commit_ms), gc_pause_ms: Math.round(counts.gc_pause_ms) }),
      );
      renameSync(`${out}.tmp`, out);
    } catch {
      // The bench removed the data directory: never let the counter take the server down.
    }
  };
  process.on('SIGUSR2', write);
  process.on('exit', write);
}
