import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import Database from 'better-sqlite3';
import { Command } from 'commander';
import {
  builtInRoles,
  type CommandAccess,
  commandPermissions,
  type Permission,
  rolePermissions,
  routePermissions,
} from '../../src/access/index.js';
import { operatorName } from '../../src/audit/index.js';
import { authorizeCommand, commandPath } from '../../src/cli/command-access.js';
import { type CliDeps, exitCodes, runCli } from '../../src/cli/index.js';
import { createProgram } from '../../src/cli/program.js';
import { tempDir } from '../support/dialects.js';
import { startDnsServer } from '../support/dns-server.js';
import { startPlatform, type TestPlatform } from '../support/platform.js';

/**
 * Done 1 and 4 of issue 17 for the CLI: every `postwarden` command × every built-in role, generated
 * from the one table (src/access/command-permissions.ts), with the command list read from
 * commander's tree, so a new command without a row fails here. A store command run `--as` a user
 * whose role lacks the permission exits 77 naming it and leaves the database byte for byte as it was;
 * a client command is refused by the server for a key with the role's permissions, the same way; a
 * host command is refused `--as` anyone. The CLI runs in process against one platform (not started:
 * client commands reach its API through an injected fetch), on the platform's own data directory.
 */

/** Arguments that reach each command's permission gate (and, allowed, fail cheaply or do little). */
const samples: Record<string, (t: string) => string[]> = {
  serve: () => ['serve'],
  backup: () => ['backup', '/nonexistent/backup.db'],
  'tenants create': () => ['tenants', 'create', 'Other'],
  'tenants list': () => ['tenants', 'list'],
  'tenants tls-policy': (t) => ['tenants', 'tls-policy', t, '--default', 'required'],
  'tenants region': (t) => ['tenants', 'region', t, '--clear'],
  'users create': (t) => ['users', 'create', '--email', 'new@matrix.example', '--role', 'nosuchrole', '--tenant', t],
  'keys create': (t) => ['keys', 'create', '--tenant', t, '--scopes', 'nosuchscope'],
  'keys list': (t) => ['keys', 'list', '--tenant', t],
  'keys revoke': (t) => ['keys', 'revoke', 'key_missing', '--tenant', t],
  'domains add': (t) => ['domains', 'add', 'not a domain', '--tenant', t],
  'domains verify': (t) => ['domains', 'verify', 'dom_missing', '--tenant', t],
  'domains list': (t) => ['domains', 'list', '--tenant', t],
  'dkim list': (t) => ['dkim', 'list', '--tenant', t, '--domain', 'dom_missing'],
  'dkim rotate': (t) => ['dkim', 'rotate', '--tenant', t, '--domain', 'dom_missing'],
  'dkim verify-dns': (t) => ['dkim', 'verify-dns', '--tenant', t, '--domain', 'dom_missing'],
  'dns audit': () => ['dns', 'audit', 'example.test'],
  'dns report': () => ['dns', 'report', 'example.test'],
  'dns history': (t) => ['dns', 'history', 'example.test', '--tenant', t],
  'dns watch': (t) => ['dns', 'watch', 'not a domain', '--tenant', t],
  'dns unwatch': (t) => ['dns', 'unwatch', 'unwatched.test', '--tenant', t],
  'dns approved-mx': (t) => ['dns', 'approved-mx', '--tenant', t, '--set', 'mx.example.test'],
  'spf check': () => ['spf', 'check', '192.0.2.1', 'a@example.test'],
  'feedback parse': () => ['feedback', 'parse', '/nonexistent'],
  'bounces classify': () => ['bounces', 'classify', '550 5.1.1 no such user'],
  'trace export': (t) => ['trace', 'export', '--tenant', t, '--message', 'msg_missing', '--output', '/nonexistent/dir/b.json'],
  'trace key': () => ['trace', 'key'],
  'self-assess': () => ['self-assess', '--no-audit'],
  'trace verify': () => ['trace', 'verify', '/nonexistent/bundle.json'],
  'third-parties list': (t) => ['third-parties', 'list', '--tenant', t],
  'third-parties seed': (t) => ['third-parties', 'seed', '--tenant', t],
  'third-parties add': (t) => ['third-parties', 'add', 'Vendor', '--tenant', t],
  'compliance records': (t) => ['compliance', 'records', '--tenant', t],
  'credentials compromise': () => ['credentials', 'compromise', '--key', 'key_missing'],
  'suppressions list': (t) => ['suppressions', 'list', '--tenant', t],
  'suppressions add': (t) => ['suppressions', 'add', 'not-an-address', '--tenant', t],
  'suppressions remove': (t) => ['suppressions', 'remove', 'nobody@example.test', '--tenant', t],
  'suppressions export': (t) => ['suppressions', 'export', '--tenant', t, '--output', '/nonexistent/dir/out.csv'],
  'suppressions import': (t) => ['suppressions', 'import', '/nonexistent.csv', '--tenant', t],
  'suppressions history': (t) => ['suppressions', 'history', '--tenant', t],
  'audit verify': (t) => ['audit', 'verify', '--tenant', t],
  'audit export': (t) => ['audit', 'export', '--tenant', t],
  'encryption status': () => ['encryption', 'status'],
  'encryption rotate-master': () => ['encryption', 'rotate-master'],
  'encryption rotate-tenant': (t) => ['encryption', 'rotate-tenant', '--tenant', t],
  'encryption encrypt-existing': () => ['encryption', 'encrypt-existing'],
  'encryption run': () => ['encryption', 'run'],
  'encryption byok': (t) => ['encryption', 'byok', '--tenant', t, '--clear'],
  'encryption shred': (t) => ['encryption', 'shred', '--tenant', t, '--yes'],
  send: () => ['send', '--from', 'a@example.com', '--to', 'b@example.org', '--subject', 'hi', '--text', 'hi'],
  'messages show': () => ['messages', 'show', 'msg_missing'],
  'events tail': () => ['events', 'tail', '--limit', '1'],
  'events export': () => ['events', 'export', '--to', '2000-01-01T00:00:00Z'],
  reputation: () => ['reputation'],
  'delivery health': () => ['delivery', 'health'],
  'delivery pause': () => ['delivery', 'pause', 'nosuch.test', '--reason', 'matrix'],
  'delivery resume': () => ['delivery', 'resume', 'nosuch.test', '--reason', 'matrix'],
  'delivery reset': () => ['delivery', 'reset', 'nosuch.test', '--reason', 'matrix'],
  'templates list': () => ['templates', 'list'],
  'templates create': () => ['templates', 'create', '--file', templateFile, '--name', 'x'],
  'templates show': () => ['templates', 'show', 'tpl_missing'],
  'templates publish': () => ['templates', 'publish', 'tpl_missing'],
  'templates rollback': () => ['templates', 'rollback', 'tpl_missing', '1'],
  'templates preview': () => ['templates', 'preview', 'tpl_missing', '--data', '{}'],
  'retention status': () => ['retention', 'status'],
  'retention erase': () => ['retention', 'erase', '--address', 'not-an-address'],
  'retention hold': () => ['retention', 'hold', '--kind', 'nosuch', '--reason', 'matrix'],
  'retention release': () => ['retention', 'release', 'hld_missing'],
  'webhooks list': () => ['webhooks', 'list'],
  'webhooks create': () => ['webhooks', 'create', 'not a url'],
  'webhooks show': () => ['webhooks', 'show', 'wh_missing'],
  'webhooks update': () => ['webhooks', 'update', 'wh_missing', '--description', 'x'],
  'webhooks delete': () => ['webhooks', 'delete', 'wh_missing'],
  'webhooks rotate-secret': () => ['webhooks', 'rotate-secret', 'wh_missing'],
  'webhooks test': () => ['webhooks', 'test', 'wh_missing'],
  'webhooks attempts': () => ['webhooks', 'attempts', 'wh_missing'],
  'webhooks replay': () => ['webhooks', 'replay', 'wh_missing', '--from', '2000-01-01T00:00:00Z', '--to', '2000-01-02T00:00:00Z'],
};

/** Every leaf of commander's tree: what a user can run. */
function leafCommands(): string[] {
  const act = () => async () => undefined;
  const out: string[] = [];
  const walk = (c: Command) => {
    if (!c.commands.length) out.push(commandPath(c));
    for (const sub of c.commands) walk(sub);
  };
  for (const c of createProgram({ stdout: () => undefined, stderr: () => undefined }, act).commands) walk(c);
  return out.sort();
}

test('every command in the tree has exactly one row in the command table, and every row a command', () => {
  assert.deepEqual(leafCommands(), Object.keys(commandPermissions).sort());
  assert.deepEqual(Object.keys(samples).sort(), leafCommands(), 'every command has sample arguments in this test');
});

test('a command needs exactly what the same action over /v1 needs: the CLI is no way around the API', () => {
  for (const [path, access] of Object.entries(commandPermissions)) {
    if (access.via !== 'api' && access.via !== 'store') continue;
    for (const route of access.routes) assert.equal(routePermissions[route], access.needs, `${path} → ${route}`);
  }
});

test('a command with no row is refused before it runs (fail closed)', async () => {
  const program = new Command('postwarden');
  const bogus = program.command('bogus');
  const setting = { deps: { env: {} } as CliDeps, globals: {}, out: {} as never };
  await assert.rejects(authorizeCommand(setting, bogus), (e: Error & { code?: string }) => {
    assert.equal(e.code, 'FORBIDDEN');
    assert.match(e.message, /postwarden bogus` has no entry in the command permission table/);
    return true;
  });
});

/**
 * A digest of every row of every table: any write, insert or update, changes it. One read-only
 * connection for the file, its statements prepared once (WAL: each read sees the last commit).
 */
let reader: Database.Database | undefined;
const selects = new Map<string, Database.Statement>();
function fingerprint(file: string): string {
  reader ??= new Database(file, { readonly: true });
  const hash = createHash('sha256');
  const tables = reader.prepare("select name from sqlite_master where type = 'table' order by name").all() as { name: string }[];
  for (const { name } of tables) {
    hash.update(`\n${name}\n`);
    let select = selects.get(name);
    if (!select) selects.set(name, (select = reader.prepare(`select * from "${name}" order by rowid`)));
    for (const row of select.iterate()) hash.update(JSON.stringify(row, bigintSafe));
  }
  return hash.digest('hex');
}
const bigintSafe = (_k: string, v: unknown) => (typeof v === 'bigint' ? String(v) : v);

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

let p: TestPlatform;
let dbFile: string;
let templateFile: string;
let cli: (args: string[], env?: Record<string, string>) => Promise<Run>;
const keyOf = new Map<string, string>();

// One platform for the file; a top-level `before` has no `t.after`, so a stand-in context collects cleanups.
const cleanups: (() => Promise<void> | void)[] = [];
after(async () => {
  reader?.close();
  for (const fn of cleanups.reverse()) await fn();
});

before(async () => {
  const ctx = { after: (fn: () => Promise<void> | void) => cleanups.push(fn) } as never;
  const dns = await startDnsServer(ctx, {});
  // Each run opens and closes the store, and closing a WAL database syncs it: on a tmpfs the ~350 runs
  // cost CPU only. Elsewhere (no /dev/shm) the platform's own temp directory is used.
  const dataDir = existsSync('/dev/shm') ? mkdtempSync(join('/dev/shm', 'pw-cli-matrix-')) : undefined;
  if (dataDir) cleanups.push(() => rmSync(dataDir, { recursive: true, force: true }));
  p = await startPlatform(ctx, {
    start: false,
    config: {
      dns: { servers: [dns.address] },
      ...(dataDir ? { dataDir, security: { masterKeyFile: join(dataDir, 'master.key') } } : {}),
    },
  });
  dbFile = join(p.config.dataDir, 'postwarden.db');
  const app = p.platform.api;
  // Client commands reach the API in process: the same routes, auth and problem answers, no socket.
  const fetchApi = (async (input: URL | string, init: RequestInit = {}) => {
    const url = new URL(String(input));
    const res = await app.inject({
      method: (init.method ?? 'GET') as 'GET',
      url: url.pathname + url.search,
      headers: init.headers as Record<string, string>,
      ...(init.body !== undefined && init.body !== null ? { payload: init.body as string } : {}),
    });
    const empty = res.statusCode === 204 || res.rawPayload.length === 0;
    const headers = Object.entries(res.headers).map(([k, v]) => [k, String(v)] as [string, string]);
    return new Response(empty ? null : res.rawPayload, { status: res.statusCode, headers });
  }) as typeof fetch;
  templateFile = join(tempDir(ctx), 'template.json');
  writeFileSync(templateFile, JSON.stringify({ subject: 'Hi', html: '<p>Hi</p>' }));
  cli = async (args, env = {}) => {
    let stdout = '';
    let stderr = '';
    const deps: CliDeps = {
      env: { POSTWARDEN_HOSTNAME: 'mail.pw.test', POSTWARDEN_DNS_SERVER: dns.address, POSTWARDEN_URL: 'http://api.invalid', ...env },
      stdout: (s) => (stdout += s),
      stderr: (s) => (stderr += s),
      createPlatform: () => Promise.reject(new Error('the matrix starts no server')),
      onSignal: () => () => undefined,
      exit: () => undefined,
      fetch: fetchApi,
    };
    const code = await runCli(['--data-dir', p.config.dataDir, '--json', ...args], deps);
    return { code, stdout, stderr };
  };
  for (const role of builtInRoles) {
    await p.platform.access.users.createUser({ kind: 'host' }, { tenantId: p.tenantId, email: `${role}@matrix.example`, role });
    const { secret } = await p.platform.tenants.createKey({ tenantId: p.tenantId, scopes: [...rolePermissions[role]], name: role });
    keyOf.set(role, secret);
  }
});

/** The permission a refusal names, from the problem+json the CLI prints with --json. */
const refusal = (r: Run) => {
  try {
    return JSON.parse(r.stderr.trim().split('\n').pop() ?? '') as { code?: string; permission?: string; detail?: string };
  } catch {
    return {};
  }
};

test('every command × every built-in role: past the gate, or exit 77 naming the missing permission with nothing written', async (t) => {
  const wrong: string[] = [];
  let allowed = 0;
  let forbidden = 0;
  let unchecked = 0;
  let unchanged: string | undefined;
  for (const [path, access] of Object.entries(commandPermissions) as [string, CommandAccess][]) {
    const args = samples[path]!(p.tenantId);
    for (const role of builtInRoles) {
      const held = new Set<Permission>(rolePermissions[role]);
      let run: () => Promise<Run>;
      let needed: string;
      switch (access.via) {
        case 'none':
          unchecked++; // reads and writes no Postwarden data (and some look up live DNS): no gate to test
          continue;
        case 'host':
          run = () => cli(['--as', `${role}@matrix.example`, ...args]);
          needed = 'host';
          break;
        case 'store':
          run = () => cli(['--as', `${role}@matrix.example`, ...args]);
          needed = access.needs;
          break;
        case 'api':
          run = () => cli(args, { POSTWARDEN_API_KEY: keyOf.get(role)! });
          needed = access.needs;
          break;
      }
      if (needed !== 'host' && held.has(needed as Permission)) {
        const r = await run();
        allowed++;
        unchanged = undefined;
        if (r.code === exitCodes.noPerm) wrong.push(`${role} ${path}: allowed, but exited 77: ${r.stderr}`);
        continue;
      }
      const before = unchanged ?? fingerprint(dbFile);
      const r = await run();
      forbidden++;
      const problem = refusal(r);
      if (r.code !== exitCodes.noPerm || problem.code !== 'FORBIDDEN' || problem.permission !== needed) {
        wrong.push(`${role} ${path}: expected exit 77 naming ${needed}, got ${r.code} ${r.stderr}`);
      } else if (!String(problem.detail).includes(needed === 'host' ? 'host operator' : needed)) {
        wrong.push(`${role} ${path}: the message does not name ${needed}: ${problem.detail}`);
      }
      if (r.stdout !== '') wrong.push(`${role} ${path}: a refusal printed a result`);
      const after = fingerprint(dbFile);
      if (after !== before) wrong.push(`${role} ${path}: a forbidden command changed the database`);
      unchanged = after; // the next refusal starts from here, unless an allowed run comes between
    }
  }
  assert.deepEqual(wrong, []);
  const commands = Object.keys(commandPermissions).length;
  assert.equal(allowed + forbidden + unchecked, commands * builtInRoles.length);
  t.diagnostic(
    `${commands} commands × ${builtInRoles.length} roles: ${allowed} allowed, ${forbidden} forbidden, ${unchecked} touch no data`,
  );
  assert.ok(forbidden > 100, `${forbidden} forbidden runs`);
});

/** The newest audit entry of a chain, as stored. */
function lastEntry(chain: string): Record<string, unknown> {
  const db = new Database(dbFile, { readonly: true });
  try {
    return db.prepare('select * from audit_entries where chain = ? order by seq desc limit 1').get(chain) as Record<string, unknown>;
  } finally {
    db.close();
  }
}

test('the host operator is audited as operator:osuser@host; a user run --as is audited as that user, run by the operator', async () => {
  const created = await cli(['keys', 'create', '--tenant', p.tenantId, '--scopes', 'send', '--name', 'by operator']);
  assert.equal(created.code, 0, created.stderr);
  const mine = lastEntry(p.tenantId);
  assert.deepEqual([mine.action, mine.actor_kind, mine.actor_id], ['api_key.created', 'operator', operatorName()]);
  assert.match(String(mine.actor_id), /^.+@.+$/);

  const owner = await cli(['--as', 'owner@matrix.example', 'suppressions', 'add', 'gone@example.org', '--tenant', p.tenantId]);
  assert.equal(owner.code, 0, owner.stderr);
  const theirs = lastEntry(p.tenantId);
  const ownerId = (await p.platform.access.users.listUsers(p.tenantId)).find((u) => u.email === 'owner@matrix.example')!.id;
  assert.deepEqual([theirs.action, theirs.actor_kind, theirs.actor_id], ['suppression.added', 'user', ownerId]);
  assert.equal(theirs.actor_user_agent, `postwarden CLI run by operator:${operatorName()}`);

  // POSTWARDEN_ACTOR is --as from the environment: the same check, the same refusal.
  const envAs = await cli(['suppressions', 'remove', 'gone@example.org', '--tenant', p.tenantId], {
    POSTWARDEN_ACTOR: 'analyst@matrix.example',
  });
  assert.equal(envAs.code, exitCodes.noPerm);
  assert.equal(refusal(envAs).permission, 'suppressions:write');
});

test('users create makes the first owner on the host; --as, it holds to the rules of POST /v1/users', async () => {
  const first = await cli(['users', 'create', '--email', 'first-owner@matrix.example', '--role', 'owner', '--tenant', p.tenantId]);
  assert.equal(first.code, 0, first.stderr);
  assert.equal(JSON.parse(first.stdout).role, 'owner');
  const entry = lastEntry(p.tenantId);
  assert.deepEqual([entry.action, entry.actor_kind], ['user.created', 'operator']);

  // An admin holds users:write but only an owner makes an owner, over the API and here alike.
  const before = fingerprint(dbFile);
  const admin = await cli([
    '--as',
    'admin@matrix.example',
    'users',
    'create',
    '--email',
    'x@matrix.example',
    '--role',
    'owner',
    '--tenant',
    p.tenantId,
  ]);
  assert.equal(admin.code, exitCodes.noPerm);
  assert.match(refusal(admin).detail ?? '', /Only an owner can make or unmake an owner/);
  // A developer holds keys:write but cannot give a key a permission it lacks (POST /v1/keys says the same).
  const dev = await cli(['--as', 'developer@matrix.example', 'keys', 'create', '--tenant', p.tenantId, '--scopes', 'admin']);
  assert.equal(dev.code, exitCodes.noPerm);
  assert.match(refusal(dev).detail ?? '', /You cannot give a key "[a-z-]+:[a-z-]+": you do not hold it yourself/);
  // A user of one tenant cannot reach another, nor the whole installation.
  const other = await cli(['--as', 'owner@matrix.example', 'keys', 'list', '--tenant', 'ten_other']);
  assert.equal(other.code, exitCodes.noPerm);
  assert.match(refusal(other).detail ?? '', /belongs to tenant ten_/);
  const global = await cli(['--as', 'owner@matrix.example', 'suppressions', 'list', '--global']);
  assert.equal(global.code, exitCodes.noPerm);
  const unknown = await cli(['--as', 'nobody@matrix.example', 'keys', 'list', '--tenant', p.tenantId]);
  assert.equal(unknown.code, exitCodes.noPerm);
  assert.equal(refusal(unknown).code, 'UNAUTHENTICATED');
  assert.equal(fingerprint(dbFile), before, 'no refusal wrote anything');
});

test('--as does not apply to a client command: the server checks and audits its API key', async () => {
  const r = await cli(['--as', 'owner@matrix.example', 'templates', 'list'], { POSTWARDEN_API_KEY: keyOf.get('owner')! });
  assert.equal(r.code, exitCodes.usage);
  assert.match(refusal(r).detail ?? '', /--as does not apply to `postwarden templates list`/);
});

/** docs/access.md's command table, from the code. */
export function commandsTable(): string {
  const needs = (a: CommandAccess) => (a.via === 'host' ? 'host operator only' : a.via === 'none' ? '—' : `\`${a.needs}\``);
  const how = (a: CommandAccess) =>
    a.via === 'store'
      ? `store, as ${a.routes.map((r) => `\`${r}\``).join(', ')}${a.reading ? `; \`${a.reading}\` to only read` : ''}`
      : a.via === 'api'
        ? `API key: ${a.routes.map((r) => `\`${r}\``).join(', ')}`
        : a.why;
  const rows = Object.entries(commandPermissions).map(([path, a]) => `| \`${path}\` | ${needs(a)} | ${how(a)} |`);
  return ['| Command | Needs | Checked by, or why |', '|---|---|---|', ...rows].join('\n');
}

test('docs/access.md carries the command table of the code', () => {
  const doc = readFileSync(new URL('../../docs/access.md', import.meta.url), 'utf8');
  const table = commandsTable();
  assert.ok(doc.includes(table), `docs/access.md lacks the current command table; paste:\n${table}`);
});
