export { createBackpressure } from './backpressure.js';
export { createGroupCommitter, type GroupCommitter } from './group-commit.js';
export type { ClaimRequest, LeasedWork, SettleOutcome } from './leased-work.js';
export { backoffDelayMs, isExpired, nextAttemptDelayMs } from './retry-schedule.js';
export { createScheduledJob, type ScheduledJob, type ScheduledJobDeps } from './scheduled-job.js';
export { createSettleQueue, type SettleQueue } from './settle-queue.js';
export { createWorker, type Worker, type WorkerDeps } from './worker.js';
