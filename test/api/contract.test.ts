import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Validator } from '@seriousme/openapi-schema-validator';
import { accessFor } from '../../src/access/index.js';
import { buildApi } from '../../src/api/index.js';
import { PostwardenError } from '../../src/core/index.js';
import { startDnsServer } from '../support/dns-server.js';
import { startPlatform } from '../support/platform.js';
import { driveAccess, signIn } from './contract/access.js';
import { driveAudit } from './contract/audit.js';
import { driveClassification } from './contract/classification.js';
import { driveCompat } from './contract/compat.js';
import { driveCompliance } from './contract/compliance.js';
import { driveDelivery } from './contract/delivery.js';
import { driveDomains } from './contract/domains.js';
import { driveEngagement } from './contract/engagement.js';
import { driveFeedback } from './contract/feedback.js';
import { type Call, caller, createContract, failingServices, fill, holdIdempotencyKey, listen } from './contract/harness.js';
import { driveHealth } from './contract/health.js';
import { driveMessages } from './contract/messages.js';
import { driveRetention } from './contract/retention.js';
import { driveSandbox } from './contract/sandbox.js';
import { driveSso } from './contract/sso.js';
import { driveTemplates } from './contract/templates.js';
import { driveWebhooks } from './contract/webhooks.js';

/**
 * The API's contract, checked whole. Every answer of every test that uses startPlatform is already
 * held to its route's declared status and schema (server.checkResponses: an undeclared status, a
 * body that does not match, or a field lost in serialisation answers 500). This file drives every
 * operation through every status it declares, so a declared status that never happens fails too:
 * the declared and the observed sets must be equal, route by route, with no exemptions.
 *
 * Where each status comes from:
 * - the scenario files in test/api/contract/ (one per resource): success, 404, 409 and 422 with its
 *   field path, and any status particular to a route, one request each;
 * - loops here over every operation that declares them: 401 (no key), 403 (a send key and a read
 *   key), 400, 413 and 415 (a body that is not JSON, too big, not JSON at all), the 409/422 of
 *   Idempotency-Key on a POST behind a key, and 429 from an address locked out for guessing keys
 *   and passwords (every route behind credentials);
 * - the same routes built over services that fail: 503 (store out of reach), 500 (a bug) and 429
 *   (a busy parser); every route behind a key answers 503 and 500 from authentication already.
 *
 * Covering a new route: declare its statuses honestly (docs/api.md, "Writing a route"), then in
 * the scenario file of its resource (or a new one, added to `resources` below) drive each status the
 * loops do not, and when it is a POST behind a key, or path parameters must be valid for it to run,
 * register a valid request with `c.input('POST /v1/things/:id', { params, body })`. This test then
 * fails naming each declared status never seen and each status seen but not declared.
 */
const resources = [
  driveMessages,
  driveDomains,
  driveFeedback,
  driveWebhooks,
  driveTemplates,
  driveEngagement,
  driveHealth,
  driveDelivery,
  driveAccess,
  driveAudit,
  driveCompat,
  driveSso,
  driveRetention,
  driveClassification,
  driveCompliance,
  // Last: it empties the sandbox.
  driveSandbox,
];

/** Operations that answer 429 OVERLOADED when the node sheds load (driven by the failing-services run). */
const shedsLoad = new Set(['POST /v1/messages', 'POST /v1/feedback']);

type Observed = Map<string, Set<number>>;
const merge = (into: Observed, from: Observed) => {
  for (const [k, v] of from) for (const s of v) (into.get(k) ?? into.set(k, new Set()).get(k)!).add(s);
};

test('every operation answers each status it declares, and no other', async (t) => {
  const dns = await startDnsServer(t, {
    'example.com': { MX: [{ exchange: 'mx.example.com', priority: 10 }], TXT: ['v=spf1 -all'] },
    '_dmarc.example.com': { TXT: ['v=DMARC1; p=none'] },
    'partner.example': { MX: [{ exchange: 'mx.partner.example', priority: 10 }] },
  });
  const p = await startPlatform(t, {
    config: {
      dns: { servers: [dns.address] },
      // Small bodies, so a body past the limit (413) is cheap to send.
      limits: { maxMessageBytes: 64 * 1024 },
      feedback: { maxMessageBytes: 64 * 1024 },
      lists: { maxImportBytes: 64 * 1024 },
      webhooks: { allowPrivateTargets: true },
    },
  });
  const check = p.platform.api.responseCheck;
  assert.ok(check, 'startPlatform builds the API with checkResponses');
  const c = await createContract(p);
  for (const drive of resources) await drive(c, t);

  // --- Statuses every route shares, driven on every route that declares them -------------------
  const { call, expect, fixtures } = c;
  const params = { id: fixtures.domain, domain: 'partner.example', address: 'gone@example.org', token: fixtures.token };
  for (const [op, statuses] of check.declared) {
    // The compatible endpoints read keys and answer errors their providers' way (contract/compat.ts).
    if (op.includes(' /compat/')) continue;
    const [method, route] = op.split(' ') as [string, string];
    const input = c.inputs.get(op) ?? {};
    const path = fill(route, { ...params, ...input.params });
    const access = accessFor(method, route);
    if (statuses.has(401) && access !== 'public') await expect(401, method, path, { key: null });
    // A route any signed-in caller may use answers 403 only for a missing CSRF token (contract/access.ts);
    // a public one only for what its own scenario drives (SSO_REFUSED: contract/sso.ts).
    if (statuses.has(403) && access !== 'signed-in' && access !== 'public') {
      const answers = [(await call(method, path, { key: c.keys.send })).status, (await call(method, path, { key: c.keys.read })).status];
      assert.ok(answers.includes(403), `${op} answered ${answers} to a send key and a read key`);
    }
    const hasBody = method !== 'GET' && method !== 'DELETE';
    if (hasBody && statuses.has(400)) await expect(400, method, path, { raw: { type: 'application/json', data: '{"unfinished' } });
    if (hasBody && statuses.has(415)) await expect(415, method, path, { raw: { type: 'text/plain', data: 'hello' } });
    if (hasBody && statuses.has(413))
      await expect(413, method, path, { raw: { type: 'application/json', data: `"${'x'.repeat(300_000)}"` } });
    if (method === 'POST' && statuses.has(409) && statuses.has(401)) {
      // Idempotency-Key: a first request with this key still running (409), a malformed key (422).
      const held = await holdIdempotencyKey(p, path, input.body);
      await expect(409, method, path, { body: input.body, headers: { 'idempotency-key': held } });
      await expect(422, method, path, { body: input.body, headers: { 'idempotency-key': 'not a key' } });
    }
  }

  // --- An address locked out for guessing keys and passwords: 429 on every route behind credentials
  const guesser = '127.0.0.200';
  for (const subject of [`key-ip:${guesser}`, `login-ip:${guesser}`]) {
    await p.platform.store.accessThrottle.recordFailure(subject, Date.now(), 0);
    await p.platform.store.accessThrottle.block(subject, Date.now() + 600_000);
  }
  for (const [op, statuses] of check.declared) {
    const [method, route] = op.split(' ') as [string, string];
    if (!statuses.has(429) || accessFor(method, route) === undefined || shedsLoad.has(op)) continue;
    const res = await p.platform.api.inject({
      method: method as 'GET',
      url: fill(route, { ...params, ...c.inputs.get(op)?.params }),
      remoteAddress: guesser,
      headers: { authorization: `Bearer ${p.key}`, 'content-type': 'application/json' },
      ...(method === 'GET' || method === 'DELETE' ? {} : { payload: JSON.stringify(op === 'POST /v1/auth/login' ? signIn : {}) }),
    });
    assert.equal(res.statusCode, 429, `${op} from a throttled address: ${res.body.slice(0, 200)}`);
    assert.match(String(res.headers['retry-after']), /^\d+$/);
  }

  // --- The same routes over failing services: store out of reach, a bug, a busy parser ---------
  const observed: Observed = new Map();
  merge(observed, check.observed);
  for (const other of c.checks) merge(observed, other.observed);
  const runs = [
    {
      status: 503,
      error: () => new PostwardenError('STORE_UNAVAILABLE', 'the store is out of reach', { retryAfter: 2 }),
      authenticate: false,
      verify: true,
    },
    { status: 500, error: () => new Error('a bug'), authenticate: false, verify: false },
    {
      status: 429,
      error: () => new PostwardenError('OVERLOADED', 'parsing queue full', { retryAfter: 5 }),
      authenticate: true,
      verify: true,
    },
  ];
  for (const run of runs) {
    const app = await buildApi(failingServices(p, run.error, run), { logger: false, checkResponses: true });
    const failing = caller(await listen(t, app), p.key);
    for (const [op, statuses] of app.responseCheck!.declared) {
      if (!statuses.has(run.status)) continue;
      const [method, route] = op.split(' ') as [string, string];
      // A /v1 route behind credentials answers 429 for a locked-out address (driven above); only these shed load.
      if (run.status === 429 && accessFor(method, route) !== undefined && !shedsLoad.has(op)) continue;
      const input = c.inputs.get(op) ?? {};
      const hasBody = method !== 'GET' && method !== 'DELETE';
      const req: Call = {
        ...(hasBody && input.raw ? { raw: input.raw } : {}),
        ...(hasBody && input.body !== undefined ? { body: input.body } : {}),
        ...(input.key === null ? { key: null } : {}),
        ...(input.headers ? { headers: input.headers(p.key) } : {}),
      };
      const res = await failing(method, fill(route, { ...params, ...input.params }), req);
      assert.equal(res.status, run.status, `${op} over failing services: ${res.text.slice(0, 300)}`);
      if (run.status !== 500) assert.match(res.headers.get('retry-after') ?? '', /^\d+$/, `${op}: Retry-After`);
    }
    // GET /v1/stats/tls on a node without TLS statistics.
    if (run.authenticate) assert.equal((await failing('GET', '/v1/stats/tls')).status, 404);
    assert.deepEqual(app.responseCheck!.violations, []);
    merge(observed, app.responseCheck!.observed);
  }

  assert.deepEqual(check.violations, [], 'every answer matched its declared schema');
  const missing: string[] = [];
  const undeclared: string[] = [];
  for (const [op, statuses] of check.declared) {
    const seen = observed.get(op) ?? new Set();
    for (const s of statuses) if (!seen.has(s)) missing.push(`${op} ${s}`);
    for (const s of seen) if (!statuses.has(s)) undeclared.push(`${op} ${s}`);
  }
  assert.deepEqual(missing, [], 'declared statuses that no scenario produced');
  assert.deepEqual(undeclared, [], 'statuses answered but not declared');
  assert.ok(check.declared.size >= 94, `${check.declared.size} operations`);
});

test('the OpenAPI document is valid 3.1, with a summary, description, tag and examples on every operation', async (t) => {
  const p = await startPlatform(t, { start: true });
  const doc = (await (await fetch(`${p.url}/openapi.json`)).json()) as any;
  const validator = new Validator();
  const result = await validator.validate(doc);
  assert.deepEqual(result.errors ?? [], []);
  assert.equal(result.valid, true);
  assert.equal(doc.openapi, '3.1.0');
  assert.ok(doc.components.securitySchemes.bearer);
  for (const x of doc.tags as { name: string; description?: string }[]) assert.ok(x.description, `tag ${x.name} has a description`);
  const tags = new Set((doc.tags as { name: string }[]).map((x) => x.name));
  const gaps: string[] = [];
  const hasExample = (media: { schema?: Record<string, unknown>; examples?: unknown; example?: unknown }): boolean =>
    media.example !== undefined ||
    media.examples !== undefined ||
    (media.schema !== undefined && exampleIn(media.schema as Record<string, unknown>, doc.components.schemas));
  let operations = 0;
  for (const [path, item] of Object.entries<Record<string, any>>(doc.paths)) {
    for (const [method, op] of Object.entries<any>(item)) {
      operations++;
      const name = `${method.toUpperCase()} ${path}`;
      if (!op.summary) gaps.push(`${name}: summary`);
      if (!op.description) gaps.push(`${name}: description`);
      if (!op.tags?.length || !op.tags.every((x: string) => tags.has(x))) gaps.push(`${name}: tags`);
      for (const [type, media] of Object.entries<any>(op.requestBody?.content ?? {})) {
        if (!hasExample(media)) gaps.push(`${name} request ${type}: example`);
      }
      for (const [status, response] of Object.entries<any>(op.responses)) {
        if (!response.description || response.description === 'Default Response') gaps.push(`${name} ${status}: description`);
        for (const [type, media] of Object.entries<any>(response.content ?? {})) {
          if (!hasExample(media)) gaps.push(`${name} ${status} ${type}: example`);
        }
        if (['429', '503'].includes(status) && !response.headers?.['retry-after']) gaps.push(`${name} ${status}: Retry-After`);
      }
      if (op.responses['202'] === undefined && name === 'POST /v1/messages') gaps.push(`${name}: 202`);
    }
  }
  assert.deepEqual(gaps, []);
  assert.ok(operations >= 46, `${operations} operations`);
  const ui = await fetch(`${p.url}/docs/`);
  assert.equal(ui.status, 200);
  assert.match(await ui.text(), /swagger/i);
});

/** A schema (or the component it references) carries `examples`. */
function exampleIn(schema: Record<string, unknown>, components: Record<string, Record<string, unknown>>): boolean {
  if (schema.examples !== undefined || schema.example !== undefined) return true;
  const ref = typeof schema.$ref === 'string' ? /#\/components\/schemas\/(.+)$/.exec(schema.$ref)?.[1] : undefined;
  if (ref && components[ref]) return exampleIn(components[ref]!, components);
  return false;
}
