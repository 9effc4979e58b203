import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isConnectionError } from '../../src/store/connection-guard.js';

const err = (message: string, code?: string) => Object.assign(new Error(message), code ? { code } : {});

test('a lost or refused database connection is told apart from an error about the query', () => {
  const lost = [
    err('connect ECONNREFUSED 127.0.0.1:5432', 'ECONNREFUSED'),
    err('read ECONNRESET', 'ECONNRESET'),
    err('terminating connection due to administrator command', '57P01'),
    err('the database system is starting up', '57P03'),
    err('connection failure', '08006'),
    err('Connection terminated unexpectedly'),
    err('Client has encountered a connection error and is not queryable'),
    err('timeout exceeded when trying to connect'),
  ];
  for (const e of lost) assert.equal(isConnectionError(e), true, e.message);
  const notLost = [
    err('duplicate key value violates unique constraint "tenants_pkey"', '23505'),
    err('syntax error at or near "selec"', '42601'),
    err('canceling statement due to statement timeout', '57014'),
    err('SQLITE_CONSTRAINT: UNIQUE constraint failed', 'SQLITE_CONSTRAINT_UNIQUE'),
  ];
  for (const e of notLost) assert.equal(isConnectionError(e), false, e.message);
  assert.equal(isConnectionError('ECONNREFUSED'), false, 'only errors');
});
