import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isPostwardenError } from '../../src/core/index.js';
import { createParsePool } from '../../src/feedback/parse-pool.js';
import { defaultReportLimits } from '../../src/feedback/report-limits.js';
import { dsn } from './documents.js';

const bounce = () =>
  Buffer.from(dsn({ id: 'msg_1', messageIdHeader: '<m1@example.com>', recipients: [] }, 'b-x@bounces.example.com', 'alice@example.org'));

test('the parsing pool answers in order, bounds its queue with OVERLOADED, and refuses after close', async (t) => {
  const pool = createParsePool({ threads: 1, timeoutMs: 30_000, memoryMb: 64, limits: defaultReportLimits, maxQueue: 2 });
  t.after(() => pool.close());
  const raw = bounce();
  const first = pool.parse(raw);
  const second = pool.parse(raw);
  const third = pool.parse(raw);
  await assert.rejects(third, (e) => isPostwardenError(e) && e.code === 'OVERLOADED');
  assert.equal((await first).kind, 'dsn');
  assert.equal((await second).kind, 'dsn');
  await pool.close();
  await assert.rejects(pool.parse(raw), /feedback parser closed/);
});
