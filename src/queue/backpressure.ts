import { type Clock, PostwardenError } from '../core/index.js';

/**
 * Sheds new mail when the queue is deeper than the operator allows, instead of degrading for
 * everyone. The depth is read from storage at most once a second: cheap, and good enough to stop a
 * flood, which is all this is for.
 */
export function createBackpressure(opts: { maxQueued: number; countOpen: () => Promise<number>; clock: Clock }) {
  let depth = 0;
  let readAt = -Infinity;
  return {
    async check(): Promise<void> {
      if (opts.maxQueued <= 0) return;
      const now = opts.clock.now();
      if (now - readAt >= 1000) {
        readAt = now;
        depth = await opts.countOpen();
      }
      if (depth >= opts.maxQueued) {
        throw new PostwardenError('OVERLOADED', `the queue holds ${depth} undelivered recipients (limit ${opts.maxQueued})`, {
          retryAfter: 30,
        });
      }
    },
    depth: () => depth,
  };
}
