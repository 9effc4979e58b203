import type { Clock } from '../core/index.js';
import type { Store } from '../store/index.js';

/**
 * A periodic job that one node of a cluster runs at a time: the identity schedule, the posture
 * monitor, the TLS-RPT sender. Each tick the node claims the job's lease row (store `job_leases`);
 * the holder runs the job and renews the lease (at a tick once a third of it has passed, and while a
 * run lasts), so it keeps the job; the others skip it. When the holder dies its lease lapses after `leaseMs` and the next node to
 * tick takes the job over. On SQLite the one node simply holds every lease.
 *
 * A failing run (the database away, a DNS error) is logged and tried at the next tick; nothing here
 * ever throws into a timer, so a scheduled job cannot end the process.
 */
export interface ScheduledJobDeps {
  name: string;
  everyMs: number;
  /** How long a claim holds without renewal; above everyMs, so the holder keeps the job between ticks. */
  leaseMs: number;
  run: () => Promise<unknown>;
  leases: Pick<Store, 'jobLeases'>['jobLeases'];
  /** This node's identity, unique per process. */
  owner: string;
  clock: Clock;
  log?: { warn(obj: object, msg: string): void };
}

export interface ScheduledJob {
  readonly name: string;
  /** Claims the lease and, when this node holds it, runs the job once; true when it ran. */
  tick(): Promise<boolean>;
  start(): void;
  /** Stops ticking, waits for a run in progress, and gives the lease up for another node. */
  stop(): Promise<void>;
}

export function createScheduledJob(deps: ScheduledJobDeps): ScheduledJob {
  const { name, leases, owner, clock } = deps;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<boolean> | undefined;
  let held = false;
  /** Until when this node surely holds the lease (the time read before its last successful claim). */
  let heldUntil = 0;

  async function claim(): Promise<boolean> {
    const now = clock.now();
    held = await leases.claim(name, owner, now, deps.leaseMs);
    heldUntil = held ? now + deps.leaseMs : 0;
    return held;
  }

  /**
   * A tick renews the lease only once a third of it has passed: a job ticking every 100 ms (the
   * webhook dispatcher) would otherwise write (and on SQLite fsync) the lease ten times a second.
   * Nobody else can take a lease before it lapses, so skipping the write while two thirds are left
   * changes nothing about who runs.
   */
  function surelyHeld(): boolean {
    const now = clock.now();
    return held && now < heldUntil - (deps.leaseMs * 2) / 3 && now >= heldUntil - deps.leaseMs;
  }

  async function tickOnce(): Promise<boolean> {
    try {
      if (!surelyHeld() && !(await claim())) return false;
    } catch (err) {
      deps.log?.warn({ err, job: name }, 'claiming a scheduled job failed; trying at the next tick');
      return false;
    }
    // A run may outlast the lease (a slow DNS audit of many domains): renew while it lasts.
    const renew = setInterval(
      () => void claim().catch((err) => deps.log?.warn({ err, job: name }, 'renewing a scheduled job lease failed')),
      Math.max(1000, Math.floor(deps.leaseMs / 3)),
    );
    renew.unref();
    try {
      await deps.run();
    } catch (err) {
      deps.log?.warn({ err, job: name }, 'scheduled job failed; it runs again at the next tick');
    } finally {
      clearInterval(renew);
    }
    return true;
  }

  const job: ScheduledJob = {
    name,
    tick() {
      // One run at a time per node: a tick that finds one running joins it.
      running ??= tickOnce().finally(() => {
        running = undefined;
      });
      return running;
    },
    start() {
      if (timer) return;
      // The first run waits one tick, so a process that restarts in a loop does not run in a loop.
      timer = setInterval(() => void job.tick(), deps.everyMs);
      timer.unref();
    },
    async stop() {
      if (timer) clearInterval(timer);
      timer = undefined;
      await running;
      if (!held) return;
      held = false;
      heldUntil = 0;
      await leases.release(name, owner).catch((err) => deps.log?.warn({ err, job: name }, 'releasing a scheduled job lease failed'));
    },
  };
  return job;
}
