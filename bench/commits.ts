import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Commits counted in a bench's `postwarden serve` child by the bench/commit-counter.mjs preload:
 * the environment to start the child with, and a reader for between phases. On SQLite each commit
 * is an fsync on the event loop (store.durability power-loss-safe), so commits per 1,000 events or
 * messages is the figure that says what webhooks cost the one writer.
 */
export interface CommitCount {
  commits: number;
  commit_ms: number;
  /** The main thread's allocation on V8's heap since start, and the collector's pauses of it. */
  heap_allocated_mb: number;
  gc_pause_ms: number;
  gcs: number;
}

export function commitProbe(dataDir: string, serverNodeOptions?: string) {
  const file = join(dataDir, 'commits.json');
  const preload = join(import.meta.dirname, 'commit-counter.mjs');
  // The child's own options (a heap cap, a profiler preload) ride along; without this they were lost.
  const inherited = [process.env.NODE_OPTIONS, serverNodeOptions]
    .filter(Boolean)
    .map((s) => `${s} `)
    .join('');
  return {
    env: { NODE_OPTIONS: `${inherited}--import ${preload}`, PW_BENCH_COMMITS_FILE: file },
    /** The counts of the server `pid` now: asks it to write them (SIGUSR2) and waits for the write. */
    async read(pid: number): Promise<CommitCount> {
      const seen = () => (existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as CommitCount & { writes: number }) : undefined);
      const before = seen()?.writes ?? 0;
      process.kill(pid, 'SIGUSR2');
      const until = Date.now() + 5_000;
      for (;;) {
        const now = seen();
        if (now && now.writes > before) return now;
        if (Date.now() > until)
          throw new Error(`the server (pid ${pid}) wrote no commit counts within 5 s of SIGUSR2: is bench/commit-counter.mjs preloaded?`);
        await new Promise((r) => setTimeout(r, 10));
      }
    },
  };
}

/** Commits and commit time per 1,000 units of work between two reads. */
export function perThousand(a: CommitCount, b: CommitCount, units: number) {
  const k = units / 1000;
  return { commits_per_1k: +((b.commits - a.commits) / k).toFixed(1), commit_ms_per_1k: Math.round((b.commit_ms - a.commit_ms) / k) };
}

/** Between two reads: the main thread's heap allocation per message (KB), and the collector's pauses and collections per 1,000 messages. */
export function heapPerMessage(a: CommitCount, b: CommitCount, messages: number) {
  const n = Math.max(1, messages);
  return {
    main_heap_allocated_kb_per_message: Math.round(((b.heap_allocated_mb - a.heap_allocated_mb) * 1024) / n),
    main_gc_pause_ms_per_1k: Math.round(((b.gc_pause_ms - a.gc_pause_ms) * 1000) / n),
    main_gcs_per_1k: +(((b.gcs - a.gcs) * 1000) / n).toFixed(1),
  };
}
