import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import { builtInRoles, type Permission, permissions, rolePermissions, routePermissions } from '../../src/access/index.js';
import { startPlatform } from '../support/platform.js';

/**
 * Done 1 of issue 17: every /v1 route × every built-in role, generated from the one permission table
 * (src/access/route-permissions.ts). A role that holds the route's permission gets past the gate (any
 * answer but 401/403); one that does not gets 403 problem+json naming the missing permission, and
 * the database is byte-for-byte what it was before the call (a digest of every row of every table).
 * Each role is a signed-in user (cookie + CSRF token), the way the dashboard calls.
 */
const params: Record<string, string> = {
  id: 'x_missing',
  address: 'gone@example.org',
  domain: 'partner.example',
  token: 'not-a-token',
  version: '1',
  index: '0',
  import_id: 'imp_missing',
  name: 'matrix-role',
};
const fill = (route: string) => route.replace(/:(\w+)/g, (_, n: string) => encodeURIComponent(params[n] ?? 'x'));

/** A digest of every row of every table: any write, insert or update, changes it. */
function fingerprint(file: string): string {
  const db = new Database(file, { readonly: true });
  try {
    const hash = createHash('sha256');
    const tables = db.prepare("select name from sqlite_master where type = 'table' order by name").all() as { name: string }[];
    for (const { name } of tables) {
      hash.update(`\n${name}\n`);
      for (const row of db.prepare(`select * from "${name}" order by rowid`).iterate()) hash.update(JSON.stringify(row, bufferSafe));
    }
    return hash.digest('hex');
  } finally {
    db.close();
  }
}
const bufferSafe = (_k: string, v: unknown) => (typeof v === 'bigint' ? String(v) : v);

test('every /v1 route × every built-in role: allowed, or 403 naming the missing permission with nothing written', async (t) => {
  const p = await startPlatform(t, { start: false });
  const app = p.platform.api;
  const dbFile = join(p.config.dataDir, 'postwarden.db');
  // Logging out ends the session the sweep uses: it goes last.
  const routes = Object.entries(routePermissions).sort(
    ([a], [b]) => Number(a === 'POST /v1/auth/logout') - Number(b === 'POST /v1/auth/logout'),
  );

  let allowed = 0;
  let forbidden = 0;
  const wrong: string[] = [];
  for (const role of builtInRoles) {
    const password = `matrix password for ${role}`;
    await p.platform.access.users.createUser({ kind: 'host' }, { tenantId: p.tenantId, email: `${role}@matrix.example`, role, password });
    const login = await app.inject({ method: 'POST', url: '/v1/auth/login', payload: { email: `${role}@matrix.example`, password } });
    assert.equal(login.statusCode, 200, login.body);
    const cookie = /^(pw_session=[^;]+)/.exec(String(login.headers['set-cookie']))![1]!;
    const csrf = login.json().csrf_token as string;
    const held = new Set<string>(rolePermissions[role]);

    for (const [op, needed] of routes) {
      const [method, route] = op.split(' ') as [string, string];
      const unsafe = method !== 'GET';
      const call = () =>
        app.inject({
          method: method as 'GET',
          url: fill(route),
          headers: { cookie, 'x-csrf-token': csrf, ...(unsafe ? { 'content-type': 'application/json' } : {}) },
          ...(unsafe ? { payload: '{}' } : {}),
        });
      const may = needed === 'public' || needed === 'signed-in' || held.has(needed);
      if (may) {
        const res = await call();
        allowed++;
        if (res.statusCode === 401 || res.statusCode === 403)
          wrong.push(`${role} ${op}: allowed, but answered ${res.statusCode} ${res.body}`);
        continue;
      }
      const before = fingerprint(dbFile);
      const res = await call();
      forbidden++;
      const body = res.json();
      if (res.statusCode !== 403 || body.code !== 'FORBIDDEN' || body.permission !== needed || !String(body.detail).includes(needed)) {
        wrong.push(`${role} ${op}: expected 403 naming ${needed}, got ${res.statusCode} ${res.body}`);
      }
      if (!String(res.headers['content-type']).startsWith('application/problem+json')) wrong.push(`${role} ${op}: not problem+json`);
      if (fingerprint(dbFile) !== before) wrong.push(`${role} ${op}: a forbidden call changed the database`);
    }
  }
  assert.deepEqual(wrong, []);
  const routeCount = Object.keys(routePermissions).length;
  assert.equal(allowed + forbidden, routeCount * builtInRoles.length);
  t.diagnostic(`${routeCount} routes × ${builtInRoles.length} roles: ${allowed} allowed, ${forbidden} forbidden`);
  // The matrix is not vacuous: every role but owner and admin is refused somewhere.
  assert.ok(forbidden > 100, `${forbidden} forbidden calls`);
});

test('owner and admin hold every permission; the auditor reads everything but message content', () => {
  for (const role of ['owner', 'admin'] as const) assert.deepEqual([...rolePermissions[role]].sort(), [...permissions].sort());
  const auditor = new Set<Permission>(rolePermissions.auditor);
  assert.ok(auditor.has('audit:read'));
  assert.ok(!auditor.has('messages:read-body'));
  assert.ok(
    [...auditor].every((p) => p.endsWith(':read')),
    'the auditor changes nothing',
  );
});
