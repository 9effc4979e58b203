import assert from 'node:assert/strict';
import type { TestContext } from 'node:test';
import type { FastifyInstance } from 'fastify';
import type { ResponseCheck } from '../../../src/api/contract/response-check.js';
import type { buildApi } from '../../../src/api/index.js';
import { jsonSha256 } from '../../../src/core/index.js';
import { dsn, type Sent, sendAndDeliver, verpOf } from '../../feedback/documents.js';
import type { TestPlatform } from '../../support/platform.js';

/**
 * What the contract test's scenario files (test/api/contract/*.ts) share: a caller that records
 * nothing itself (the platform's response check records every answer), the fixtures every resource
 * may use, and the registry of valid requests the shared loops of contract.test.ts replay.
 */

export interface Call {
  body?: unknown;
  /** Sent as is (with its own content type). */
  raw?: { type: string; data: string | Buffer };
  /** The Bearer key; null sends none. Default: the platform's admin key. */
  key?: string | null;
  headers?: Record<string, string>;
}

export interface Answer {
  status: number;
  headers: Headers;
  text: string;
  json(): any;
}

export type Caller = (method: string, path: string, c?: Call) => Promise<Answer>;

export function caller(base: string, defaultKey: string): Caller {
  return async (method, path, c = {}) => {
    const key = c.key === undefined ? defaultKey : c.key;
    const headers: Record<string, string> = { ...(key ? { authorization: `Bearer ${key}` } : {}), ...c.headers };
    let body: string | Buffer | undefined;
    if (c.raw) {
      headers['content-type'] = c.raw.type;
      body = c.raw.data;
    } else if (c.body !== undefined) {
      headers['content-type'] = 'application/json';
      body = JSON.stringify(c.body);
    }
    const res = await fetch(base + path, { method, headers, body });
    const text = await res.text();
    return { status: res.status, headers: res.headers, text, json: () => JSON.parse(text) };
  };
}

/**
 * A valid request of one operation (`POST /v1/webhooks`), for the shared loops: the Idempotency-Key
 * 409/422 (which need the request to pass validation) and the runs over failing services (whose
 * 429 needs the handler to be reached). `params` fill the path; `headers(key)` present the key the
 * way the operation reads it (the compatible endpoints); `raw` is a body that is not JSON.
 */
export interface OperationInput {
  body?: unknown;
  raw?: { type: string; data: string | Buffer };
  params?: Record<string, string>;
  headers?: (key: string) => Record<string, string>;
  /** null: a public operation, called without a key. */
  key?: null;
}

export interface Fixtures {
  /** A message delivered to the sandbox (bob@example.org). */
  sent: Sent;
  /** A capture of the sandbox (cap_…). */
  capture: string;
  /** The id of example.com (dom_…). */
  domain: string;
  /** A signed unsubscribe token of a marketing message to ann@example.net. */
  token: string;
  /** A valid send body. */
  send: { from: string; to: string; subject: string; text: string };
  /** A DSN about `sent` (RFC 3464), for POST /v1/feedback. */
  bounce: string;
}

export interface Contract {
  p: TestPlatform;
  call: Caller;
  /** Calls and asserts the status; answers the response. */
  expect(status: number, method: string, path: string, c?: Call): Promise<Answer>;
  /** Keys of the platform's tenant with one scope each (the admin key is p.key). */
  keys: { send: string; read: string };
  fixtures: Fixtures;
  /** Registers a valid request of `op` for the shared loops (see OperationInput). */
  input(op: string, i: OperationInput): void;
  inputs: Map<string, OperationInput>;
  /** Response checks of other APIs a scenario started (another platform): merged into what was observed. */
  checks: ResponseCheck[];
}

export async function createContract(p: TestPlatform): Promise<Contract> {
  const call = caller(p.url, p.key);
  const expect = async (status: number, method: string, path: string, c: Call = {}) => {
    const res = await call(method, path, c);
    assert.equal(res.status, status, `${method} ${path}: ${res.text.slice(0, 500)}`);
    return res;
  };
  const keyWith = async (scopes: ('send' | 'read' | 'admin')[]) =>
    (await p.platform.tenants.createKey({ tenantId: p.tenantId, scopes })).secret;
  const keys = { send: await keyWith(['send']), read: await keyWith(['read']) };

  // Fixtures: a message delivered to the sandbox, its capture, an unsubscribe token, the domain.
  const sent = await sendAndDeliver(p, ['bob@example.org']);
  const captures = (await expect(200, 'GET', '/v1/sandbox/messages')).json();
  const domains = (await expect(200, 'GET', '/v1/domains')).json();
  const marketing = await expect(202, 'POST', '/v1/messages', {
    body: { from: 'news@example.com', to: 'ann@example.net', subject: 'Offers', text: 'Hi', stream: 'marketing' },
  });
  const raw = (await p.platform.store.messages.body(marketing.json().id))!.toString('utf8');
  const token = /\/v1\/unsubscribe\/([^>\s]+)>/.exec(raw.replace(/\r\n[ \t]+/g, ''))?.[1];
  assert.ok(token, 'the marketing message carries a List-Unsubscribe link');
  const fixtures: Fixtures = {
    sent,
    capture: captures.data[0].id as string,
    domain: domains.data.find((d: { name: string }) => d.name === 'example.com').id as string,
    token,
    send: { from: 'shop@example.com', to: 'ada@example.org', subject: 'Receipt', text: 'Thanks' },
    bounce: dsn(sent, verpOf(p, sent, 'bob@example.org'), 'bob@example.org'),
  };
  const inputs = new Map<string, OperationInput>();
  return { p, call, expect, keys, fixtures, inputs, input: (op, i) => inputs.set(op, i), checks: [] };
}

/**
 * Reserves an Idempotency-Key as a first request still running would (same path and body), so the
 * next request with it answers 409 (IDEMPOTENCY_IN_PROGRESS) without running.
 */
export async function holdIdempotencyKey(p: TestPlatform, path: string, body: unknown): Promise<string> {
  const key = `contract-${path.replace(/[^a-z0-9]+/gi, '-')}`;
  const ttl = { now: Date.now(), ttlMs: 3_600_000, takeoverMs: 3_600_000 };
  await p.platform.store.idempotency.begin(p.tenantId, key, jsonSha256(`POST ${path}\n`, body ?? null), ttl);
  return key;
}

/** The path of an operation with its parameters filled in. */
export const fill = (route: string, params: Record<string, string>) =>
  route.replace(/:(\w+)/g, (_, name: string) => encodeURIComponent(params[name] ?? `missing-${name}`));

/** A reason to wait a little and look again (a message still being delivered, an attempt being recorded). */
export async function eventually<T>(what: string, probe: () => Promise<T | undefined>): Promise<T> {
  for (let i = 0; i < 200; i++) {
    const v = await probe();
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`${what}: not within 5 s`);
}

/** ApiServices whose every call fails with `error`, except what `keep` lets through. */
export function failingServices(p: TestPlatform, error: () => Error, keep: { authenticate: boolean; verify: boolean }) {
  const failing = () => Promise.reject(error());
  const fail = new Proxy({}, { get: () => failing });
  const limits = { ...p.config.limits, maxFeedbackBytes: p.config.feedback.maxMessageBytes };
  return {
    accept: fail,
    messageChanges: fail,
    tenants: keep.authenticate
      ? new Proxy({}, { get: (_t, name) => (name === 'authenticate' ? p.platform.tenants.authenticate : () => Promise.reject(error())) })
      : fail,
    // Sessions and the key throttle stay real: a failing store reaches them through tenants first.
    access: {
      ...p.platform.access,
      sessions: { ...p.platform.access.sessions, login: () => Promise.reject(error()) },
      sso: { oidc: fail, saml: fail, settings: failing, configure: failing, newBinding: () => 'binding' },
    },
    cookies: { secret: 'contract-test-cookie-secret', secure: 'auto' },
    domains: fail,
    spine: fail,
    posture: fail,
    feedback: fail,
    suppressions: fail,
    reputation: fail,
    audit: fail,
    delivery: fail,
    webhooks: fail,
    templates: fail,
    preflight: fail,
    engagement: { tracking: fail, experiments: fail, lists: fail, results: failing },
    health: { slo: fail, overview: failing, providers: failing, countRequest: () => {} },
    unsubscribe: {
      // Checking a token's signature reads no store: it fails only where the run says so (a bug).
      verify: () => {
        if (!keep.verify) throw error();
        return { address: 'ann@example.net', domain: 'example.com', stream: 'marketing' };
      },
      unsubscribe: () => Promise.reject(error()),
    },
    clock: { now: () => Date.now() },
    idempotencyStore: fail,
    ready: async () => ({ unreachable: [] }),
    metrics: { contentType: 'text/plain', text: async () => '' },
    limits,
    classification: fail,
    selfAssessment: () => fail,
    compliance: { register: fail, incidents: fail, credentials: fail },
  } as unknown as Parameters<typeof buildApi>[0];
}

export async function listen(t: TestContext, app: FastifyInstance): Promise<string> {
  t.after(() => app.close());
  await app.listen({ host: '127.0.0.1', port: 0 });
  const addr = app.server.address();
  assert.ok(addr && typeof addr === 'object');
  return `http://127.0.0.1:${addr.port}`;
}
