import { type Clock, PostwardenError } from '../core/index.js';
import type { Store } from '../store/index.js';

/**
 * Failure throttles for sign-in and API keys (issue 17, Done 5). Each subject (`login-ip:…`,
 * `login-account:…`, `key-ip:…`) counts its failures in `access_throttle`, in the store, so every node
 * of a PostgreSQL cluster counts the same ones. After `backoffAfter` failures within the window each
 * further failure refuses the subject for 1, 2, 4 … seconds (the backoff); at `lockAfter` it is refused
 * for `lockMinutes` (the lockout). A refused subject gets 429 TOO_MANY_ATTEMPTS with Retry-After and
 * its credentials are not even looked at, so a guesser learns nothing while blocked.
 *
 * Checking a key's address on every API request would add a query to every send, so `check` keeps
 * what it read for `memoMs` (1 s): another node's block reaches this one within that time, and a
 * block decided here applies here at once.
 */
export interface ThrottlePolicy {
  backoffAfter: number;
  lockAfter: number;
  windowMinutes: number;
  lockMinutes: number;
}

export interface ThrottleDeps {
  store: Pick<Store, 'accessThrottle'>;
  clock: Clock;
  policy: ThrottlePolicy;
  /** What the subjects count, for the 429's message ("failed sign-ins from this address"). */
  what: string;
  memoMs?: number;
}

const MAX_MEMO = 10_000;

/** Seconds a subject is refused after its `failures`-th failure (0: not refused). */
export function blockSeconds(failures: number, p: ThrottlePolicy): number {
  if (failures >= p.lockAfter) return p.lockMinutes * 60;
  if (failures < p.backoffAfter) return 0;
  return Math.min(2 ** (failures - p.backoffAfter), p.lockMinutes * 60);
}

export function createThrottle({ store, clock, policy, what, memoMs = 0 }: ThrottleDeps) {
  const memo = new Map<string, { blockedUntil: number; readAt: number }>();
  const remember = (subject: string, blockedUntil: number) => {
    if (memo.size >= MAX_MEMO) memo.delete(memo.keys().next().value!);
    memo.set(subject, { blockedUntil, readAt: clock.now() });
  };
  const refuse = (blockedUntil: number) => {
    const retryAfter = Math.max(1, Math.ceil((blockedUntil - clock.now()) / 1000));
    return new PostwardenError('TOO_MANY_ATTEMPTS', `Too many ${what}; try again in ${retryAfter} s.`, { retryAfter });
  };
  return {
    /** Throws TOO_MANY_ATTEMPTS while the subject is refused. */
    async check(subject: string): Promise<void> {
      const now = clock.now();
      let hit = memo.get(subject);
      if (!hit || now - hit.readAt >= memoMs) {
        const row = await store.accessThrottle.get(subject);
        remember(subject, row?.blockedUntil ?? 0);
        hit = memo.get(subject)!;
      }
      if (hit.blockedUntil > now) throw refuse(hit.blockedUntil);
    },
    /** Counts a failure; returns the seconds the subject is now refused for (0: not refused). */
    async fail(subject: string): Promise<number> {
      const now = clock.now();
      const failures = await store.accessThrottle.recordFailure(subject, now, now - policy.windowMinutes * 60_000);
      const seconds = blockSeconds(failures, policy);
      if (seconds > 0) {
        await store.accessThrottle.block(subject, now + seconds * 1000);
        remember(subject, now + seconds * 1000);
      }
      return seconds;
    },
    /** A success forgets the subject's failures (an account after a good login). */
    async clear(subject: string): Promise<void> {
      memo.delete(subject);
      await store.accessThrottle.clear(subject);
    },
    refuse,
  };
}

export type Throttle = ReturnType<typeof createThrottle>;
