import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { type TestContext, test } from 'node:test';
import { type CliDeps, runCli } from '../../src/cli/index.js';
import { tempDir } from '../support/dialects.js';
import { repoRoot } from './postwarden-process.js';

/**
 * CLI manners (issue 13): a closed pipe is the end of the output, not a stack trace; --limit is the
 * number of items printed; an admin command run away from its data directory says where it looked.
 */
const bin = join(repoRoot, 'bin', 'postwarden.mjs');

const event = (n: number) => ({
  cursor: `c${String(n).padStart(6, '0')}`,
  at: new Date(Date.UTC(2026, 0, 1, 0, 0, n % 60)).toISOString(),
  type: 'message.accepted',
  message_id: `msg_${n}`,
  recipient_id: null,
  data: {},
});

/** A stand-in for GET /v1/events holding `total` events; records each request's limit. */
function eventsApi(total: number) {
  const limits: number[] = [];
  const fetchImpl = (async (input: string | URL) => {
    const url = new URL(String(input));
    const limit = Number(url.searchParams.get('limit'));
    limits.push(limit);
    const after = url.searchParams.get('after');
    const start = after ? Number(after.slice(1)) + 1 : 0;
    const data = Array.from({ length: Math.max(0, Math.min(limit, total - start)) }, (_, i) => event(start + i));
    const body = JSON.stringify({ data, next_cursor: data.at(-1)?.cursor ?? after });
    return new Response(body, { status: 200, headers: { 'content-type': 'application/json' } });
  }) as typeof fetch;
  return { fetchImpl, limits };
}

async function cli(args: string[], extra: Partial<CliDeps> = {}) {
  const io = { out: '', err: '' };
  const deps: CliDeps = {
    env: { POSTWARDEN_API_KEY: 'pw_test' },
    stdout: (s) => (io.out += s),
    stderr: (s) => (io.err += s),
    createPlatform: () => Promise.reject(new Error('not used')),
    onSignal: () => () => undefined,
    exit: () => undefined,
    ...extra,
  };
  const code = await runCli(args, deps);
  return { code, ...io };
}

test('events tail --limit N prints exactly N events, across pages, and resumes after the last one printed', async () => {
  const api = eventsApi(3000);
  const five = await cli(['events', 'tail', '--limit', '5', '--json'], { fetch: api.fetchImpl });
  assert.equal(five.code, 0, five.err);
  assert.equal(five.out.trim().split('\n').length, 5);
  assert.deepEqual(api.limits, [5]);

  api.limits.length = 0;
  const many = await cli(['events', 'tail', '--limit', '1500'], { fetch: api.fetchImpl });
  assert.equal(many.code, 0, many.err);
  assert.equal(many.out.trim().split('\n').length, 1500);
  assert.deepEqual(api.limits, [1000, 500]);
  assert.match(many.err, /resume with --after c001499/);

  const bad = await cli(['events', 'tail', '--limit', '0'], { fetch: api.fetchImpl });
  assert.equal(bad.code, 64);
});

test('events tail without --limit prints every event', async () => {
  const api = eventsApi(1200);
  const all = await cli(['events', 'tail', '--json'], { fetch: api.fetchImpl });
  assert.equal(all.out.trim().split('\n').length, 1200);
});

/** An HTTP API that serves events forever, for a real pipe. */
async function endlessEvents(t: TestContext): Promise<string> {
  let n = 0;
  const server = createServer((_req, res) => {
    const data = Array.from({ length: 100 }, () => event(n++));
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ data, next_cursor: data.at(-1)?.cursor }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

test('events tail | head ends quietly: no EPIPE stack trace, exit 0', async (t) => {
  const url = await endlessEvents(t);
  const child = spawn(
    'bash',
    ['-c', `set -o pipefail; "${process.execPath}" "${bin}" --url ${url} --api-key pw_x events tail --follow | head -n 3`],
    { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  let err = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  assert.equal(out.trim().split('\n').length, 3);
  assert.doesNotMatch(err, /EPIPE|Error|\n\s+at /);
  assert.equal(code, 0, err);
});

function runIn(cwd: string, args: string[], env: Record<string, string> = {}) {
  const clean: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('POSTWARDEN_') && k !== 'DATABASE_URL') clean[k] = v;
  const child = spawn(process.execPath, [bin, ...args], { cwd, env: { ...clean, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
  return new Promise<{ code: number | null; err: string }>((resolve) => child.on('close', (code) => resolve({ code, err })));
}

test('an admin command away from any data directory says where it looked, exits 66 and creates nothing', async (t) => {
  const cwd = tempDir(t);
  const r = await runIn(cwd, ['tenants', 'list']);
  assert.equal(r.code, 66, r.err);
  assert.match(
    r.err,
    new RegExp(`no data directory at ${join(cwd, 'data')} \\(from the default dataDir \\(\\./data\\) in the current directory\\)`),
  );
  assert.equal(existsSync(join(cwd, 'data')), false);

  const named = await runIn(cwd, ['--data-dir', 'elsewhere', 'domains', 'add', 'example.com', '--tenant', 'ten_x']);
  assert.equal(named.code, 66, named.err);
  assert.match(named.err, /no data directory at .*elsewhere \(from --data-dir\)/);
  assert.equal(existsSync(join(cwd, 'elsewhere')), false);

  const fromEnv = await runIn(cwd, ['suppressions', 'list', '--global'], { POSTWARDEN_DATA_DIR: join(cwd, 'env-dir') });
  assert.equal(fromEnv.code, 66, fromEnv.err);
  assert.match(fromEnv.err, /env-dir \(from POSTWARDEN_DATA_DIR\)/);
});
