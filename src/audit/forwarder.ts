import { hostname as osHostname } from 'node:os';
import type { Clock } from '../core/index.js';
import { createScheduledJob } from '../queue/index.js';
import type { Store } from '../store/index.js';
import { createSyslogSender, formatSyslog, type SyslogSender, type SyslogTarget } from './syslog.js';

/**
 * Forwards audit entries to a SIEM collector (audit.syslog). The entries are already committed with
 * their changes, so a collector that is down delays forwarding and never blocks or loses a change.
 *
 * Each chain has its own cursor in `consumer_cursors` (`audit-syslog:<chain>` = the last seq sent),
 * the cursor table the events consumers use: seq is gap-free and assigned in commit order within a
 * chain (the head row lock), so "seq > cursor" misses nothing. A batch is sent, then the cursor moves:
 * after a crash between the two the batch is sent again (at least once; the SIEM deduplicates by the
 * entry id in the structured data). One node forwards at a time (job lease `audit-syslog`).
 */
export interface ForwarderDeps {
  store: Pick<Store, 'audit' | 'consumerCursors' | 'jobLeases'>;
  clock: Clock;
  owner: string;
  target: SyslogTarget;
  pollMs?: number;
  batchSize?: number;
  hostname?: string;
  log?: { warn(obj: object, msg: string): void };
  /** Tests hand in their own; default a UDP or TCP sender to the target. */
  sender?: SyslogSender;
}

export const forwarderCursor = (chain: string) => `audit-syslog:${chain}`;

export function createAuditForwarder(deps: ForwarderDeps) {
  const { store, clock } = deps;
  const sender = deps.sender ?? createSyslogSender(deps.target);
  const batchSize = deps.batchSize ?? 200;
  const format = { appName: deps.target.appName, hostname: deps.hostname ?? osHostname(), procId: String(process.pid) };

  /** Sends what is new in every chain, at most 50 batches per chain per run; throws when the collector is away. */
  async function run(): Promise<number> {
    let sent = 0;
    for (const head of await store.audit.heads()) {
      const name = forwarderCursor(head.chain);
      let position = (await store.consumerCursors.get(name)) ?? 0;
      for (let i = 0; i < 50 && position < head.seq; i++) {
        const entries = await store.audit.page({ chain: head.chain, afterSeq: position, limit: batchSize });
        if (!entries.length) break;
        await sender.send(entries.map((e) => formatSyslog(e, format)));
        position = entries[entries.length - 1]!.seq;
        await store.consumerCursors.advance(name, position, clock.now());
        sent += entries.length;
      }
    }
    return sent;
  }

  const job = createScheduledJob({
    name: 'audit-syslog',
    everyMs: deps.pollMs ?? 1000,
    leaseMs: Math.max(30_000, (deps.pollMs ?? 1000) * 3),
    run: async () => {
      try {
        return await run();
      } catch (err) {
        // The collector may have gone; a fresh connection is tried at the next tick.
        await sender.close().catch(() => {});
        throw err;
      }
    },
    leases: store.jobLeases,
    owner: deps.owner,
    clock,
    ...(deps.log ? { log: deps.log } : {}),
  });

  return {
    /** One pass now (tests, and `postwarden audit forward`); answers how many entries were sent. */
    forwardOnce: run,
    start: () => job.start(),
    async stop() {
      await job.stop();
      await sender.close();
    },
  };
}

export type AuditForwarder = ReturnType<typeof createAuditForwarder>;
