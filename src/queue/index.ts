export { createBackpressure } from './backpressure.js';
export { createGroupCommitter, type GroupCommitter } from './group-commit.js';
export { isExpired, nextAttemptDelayMs } from './retry-schedule.js';
