import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { operatorName } from '../../src/audit/index.js';
import { type CliDeps, runCli } from '../../src/cli/index.js';
import { seed } from '../protection/seed.js';
import { fakeClock } from '../support/clock.js';
import { startDnsServer, type Zone } from '../support/dns-server.js';
import { startPlatform, type TestPlatform } from '../support/platform.js';
import { startTransitStub } from '../support/transit-kms.js';

/**
 * The audited actions that need a peer or time to pass, on one platform: domain verification and
 * DKIM retirement (a loopback DNS server, a fake clock), SSO provider removal, and the encryption host
 * commands, BYOK included (a loopback Vault-transit stand-in). Each subtest reads the entry it caused
 * (action, actor, resource, before/after) and ends with `postwarden audit verify` passing.
 */
const DAY = 86_400_000;
const ua = { 'user-agent': 'audit-test/1' };

type Entry = {
  action: string;
  actor: { kind: string; id: string; tenant_id: string | null; ip: string | null; user_agent: string | null; key_id: string | null };
  resource: { type: string; id: string | null };
  before: any;
  after: any;
};

async function entries(p: TestPlatform, action: string): Promise<Entry[]> {
  const res = await p.request('GET', `/v1/audit?limit=1000&action=${action}`);
  assert.equal(res.status, 200, JSON.stringify(res.body));
  return res.body.data;
}

/** The newest entry of the tenant's chain with this action. */
async function last(p: TestPlatform, action: string): Promise<Entry> {
  const found = (await entries(p, action)).at(-1);
  assert.ok(found, `an entry ${action}`);
  return found;
}

/** The newest entry with this action made through the API with the tenant's key. */
async function lastByKey(p: TestPlatform, action: string): Promise<Entry> {
  const e = await last(p, action);
  assert.deepEqual([e.actor.kind, e.actor.ip, e.actor.user_agent], ['api_key', '127.0.0.1', 'audit-test/1']);
  assert.ok(e.actor.key_id?.startsWith('key_'));
  return e;
}

/** Entries of the platform chain with this action, as stored. */
async function platformEntries(p: TestPlatform, action: string) {
  const rows = await p.platform.store.audit.page({ chain: 'platform', action, limit: 1000 });
  return rows.map((r) => ({ ...r, after: JSON.parse(r.afterJson ?? 'null') }));
}

test('audited actions that need DNS, time or an external KMS leave their entries, and the chains verify', async (t) => {
  const clock = fakeClock(Date.now());
  const base: Zone = {};
  const dns = await startDnsServer(t, base);
  const kms = await startTransitStub(t, 'kms-token');
  const external = { url: kms.url, authToken: 'kms-token', defaultKeyRef: 'postwarden' };
  const p = await startPlatform(t, {
    clock,
    config: {
      // Only the API: no delivery or scheduled job writes in the background (the test ticks the identity
      // schedule itself). The CLI runs in this process and its re-wrap calls the KMS stand-in, also here,
      // inside a transaction: a background write would wait on it, synchronously, stalling the stand-in.
      server: { roles: ['api'] },
      sandbox: false,
      dns: { servers: [dns.address], timeoutMs: 1000 },
      identity: { dkimRotationDays: 180, dkimOverlapDays: 7 },
      encryption: { external },
    },
  });

  /** `postwarden --data-dir <the platform's> --json …` in process, as the host operator, with the same KMS. */
  async function cli(args: string[]): Promise<{ code: number; out: any; stderr: string }> {
    let stdout = '';
    let stderr = '';
    const deps: CliDeps = {
      env: {
        POSTWARDEN_HOSTNAME: 'mail.pw.test',
        POSTWARDEN_ENCRYPTION__EXTERNAL__URL: external.url,
        POSTWARDEN_ENCRYPTION__EXTERNAL__AUTH_TOKEN: external.authToken,
        POSTWARDEN_ENCRYPTION__EXTERNAL__DEFAULT_KEY_REF: external.defaultKeyRef,
      },
      stdout: (s) => (stdout += s),
      stderr: (s) => (stderr += s),
      createPlatform: () => Promise.reject(new Error('no server here')),
      onSignal: () => () => undefined,
      exit: () => undefined,
    };
    const code = await runCli(['--data-dir', p.config.dataDir, '--json', ...args], deps);
    return { code, out: stdout ? JSON.parse(stdout) : undefined, stderr };
  }
  const chainsVerify = async () => {
    const verified = await cli(['audit', 'verify']);
    assert.equal(verified.code, 0, `postwarden audit verify: ${verified.stderr}`);
  };
  const byOperator = (e: { actorKind: string; actorId: string }) =>
    assert.deepEqual([e.actorKind, e.actorId], ['operator', operatorName()]);

  const domainId = (await p.request('GET', '/v1/domains')).body.data[0].id as string;
  type DnsRecord = { kind: string; name: string; value: string; selector: string; action: string };
  const dkimRecords = async (): Promise<DnsRecord[]> =>
    (await p.request('GET', `/v1/domains/${domainId}`)).body.dns_records.filter((r: DnsRecord) => r.kind === 'dkim');
  const keyIdOf = async (selector: string): Promise<string> =>
    (await p.request('GET', `/v1/domains/${domainId}/dkim`)).body.data.find((k: { selector: string }) => k.selector === selector).id;
  const published = new Map<string, string>();
  const publish = (r: DnsRecord) => {
    published.set(r.name, r.value);
    const zone: Zone = structuredClone(base);
    for (const [name, value] of published) zone[name] = { TXT: [value] };
    dns.setZone(zone);
  };

  await t.test('domain.verified: a verification through the API, with the DKIM selector it activated', async () => {
    const [first] = await dkimRecords();
    assert.equal(first?.action, 'publish');
    publish(first!);
    const res = await p.request('POST', `/v1/domains/${domainId}/verify`, undefined, ua);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const e = await lastByKey(p, 'domain.verified');
    assert.deepEqual(e.resource, { type: 'domain', id: domainId });
    assert.deepEqual(e.before, { verified_at: null });
    assert.deepEqual(e.after, { verified: res.body.verified, activated_dkim: [first!.name] });
    await chainsVerify();
  });

  await t.test('dkim_key.retired: the identity schedule retires the old key after the overlap, as system', async () => {
    const [first] = await dkimRecords();
    // Later than the first key's activation, so the new key is the newest active one.
    clock.advance(60_000);
    const rotated = await p.request('POST', `/v1/domains/${domainId}/dkim/rotate`, {}, ua);
    assert.ok([200, 201].includes(rotated.status), JSON.stringify(rotated.body));
    const next = (await dkimRecords()).find((r) => r.selector !== first!.selector)!;
    publish(next);
    assert.deepEqual((await p.platform.identityMonitor.tick()).activated, [next.name]);
    clock.advance(6 * DAY);
    assert.deepEqual((await p.platform.identityMonitor.tick()).retired, [], 'not before the overlap ends');
    assert.equal((await entries(p, 'dkim_key.retired')).length, 0);
    clock.advance(DAY + 60_000);
    assert.deepEqual((await p.platform.identityMonitor.tick()).retired, [first!.name]);
    const e = await last(p, 'dkim_key.retired');
    assert.deepEqual([e.actor.kind, e.actor.id], ['system', 'dkim-rotation']);
    const [oldId, newId] = [await keyIdOf(first!.selector), await keyIdOf(next.selector)];
    assert.deepEqual(e.resource, { type: 'dkim_key', id: oldId });
    assert.deepEqual(e.before, { id: oldId, selector: first!.selector, algorithm: 'rsa-2048', status: 'active' });
    assert.deepEqual(e.after, { ...e.before, status: 'retired', replaced_by: newId });
    await chainsVerify();
  });

  await t.test('sso.removed: removing a provider records its settings (never the client secret)', async () => {
    const oidc = {
      issuer: 'https://sso.example.com/realms/acme',
      client_id: 'postwarden',
      client_secret: 'oidc-client-secret-1',
      role_mapping: [{ group: 'mail-devs', role: 'developer' }],
    };
    assert.equal((await p.request('PUT', '/v1/tenant/sso', { oidc }, ua)).status, 200);
    const removed = await p.request('PUT', '/v1/tenant/sso', { oidc: null }, ua);
    assert.equal(removed.status, 200, JSON.stringify(removed.body));
    const e = await lastByKey(p, 'sso.removed');
    assert.deepEqual(e.resource, { type: 'sso_provider', id: 'oidc' });
    assert.deepEqual([e.before.issuer, e.before.client_id, e.before.role_mapping], [oidc.issuer, oidc.client_id, oidc.role_mapping]);
    assert.equal(e.after, null);
    assert.equal((await p.request('PUT', '/v1/tenant/sso', { oidc: null }, ua)).status, 200);
    assert.equal((await entries(p, 'sso.removed')).length, 1, 'removing what is not there records nothing');
    assert.ok(!JSON.stringify(await entries(p, 'sso.configured')).includes(oidc.client_secret));
    assert.ok(!JSON.stringify(e).includes(oidc.client_secret));
    await chainsVerify();
  });

  await t.test('encryption.existing_content_sealing_started and each job it finishes, as the operator', async () => {
    // Content as accept and delivery store it, written straight (no delivery runs beside the commands).
    await seed(p.platform.store, p.tenantId, 2);
    const run = await cli(['encryption', 'encrypt-existing']);
    assert.equal(run.code, 0, run.stderr);
    assert.ok(run.out.jobs.length >= 1);
    const [e] = await platformEntries(p, 'encryption.existing_content_sealing_started');
    byOperator(e!);
    assert.deepEqual([e!.resourceType, e!.resourceId, e!.beforeJson], ['encryption_job', null, null]);
    assert.deepEqual(e!.after, { jobs: run.out.jobs });
    // Each job's finish is on its tenant's chain (the platform's own content on the platform chain).
    const finished = [
      ...(await p.platform.store.audit.page({ chain: p.tenantId, action: 'encryption.job_finished', limit: 100 })),
      ...(await p.platform.store.audit.page({ chain: 'platform', action: 'encryption.job_finished', limit: 100 })),
    ];
    assert.deepEqual(finished.map((f) => f.resourceId).sort(), [...run.out.jobs].sort());
    const mine = finished.find((f) => f.chain === p.tenantId)!;
    byOperator(mine);
    assert.equal(JSON.parse(mine.afterJson!).kind, 'reencrypt');
    await chainsVerify();
  });

  await t.test('encryption.tenant_kms_key_set: BYOK names the key in the external KMS, and re-wraps with it', async () => {
    const byok = await cli(['encryption', 'byok', '--tenant', p.tenantId, '--key-ref', 'tenant-a']);
    assert.equal(byok.code, 0, byok.stderr);
    assert.ok(kms.calls.includes('encrypt tenant-a'), `the tenant's keys went to the KMS: ${kms.calls.join(', ')}`);
    const [e] = await p.platform.store.audit.page({ chain: p.tenantId, action: 'encryption.tenant_kms_key_set', limit: 10 });
    byOperator(e!);
    assert.deepEqual([e!.resourceType, e!.resourceId, e!.beforeJson], ['tenant_kms', p.tenantId, null]);
    const after = JSON.parse(e!.afterJson!);
    assert.equal(after.kms_key_ref, 'tenant-a');
    assert.match(after.job_id, /^ejb_/);
    const done = await last(p, 'encryption.job_finished');
    assert.deepEqual([done.resource.id, done.after.kind, done.after.target], [after.job_id, 'rewrap', 'byok:tenant-a']);
    await chainsVerify();
  });

  await t.test('rotate-master whose entry cannot be written leaves no new KEK behind; then it rotates', async () => {
    const kekDir = join(p.config.dataDir, 'kek');
    const files = () => {
      try {
        return readdirSync(kekDir).sort();
      } catch {
        return [];
      }
    };
    const before = files();
    const jobsBefore = (await p.platform.store.encryption.jobs()).length;
    const sqlite = await import('better-sqlite3');
    const raw = new sqlite.default(join(p.config.dataDir, 'postwarden.db'));
    raw.exec("CREATE TRIGGER refuse_audit BEFORE INSERT ON audit_entries BEGIN SELECT RAISE(ABORT, 'audit log refused'); END");
    try {
      const refused = await cli(['encryption', 'rotate-master']);
      assert.notEqual(refused.code, 0, 'the rotation fails with its entry');
      assert.match(refused.stderr, /audit log refused/);
    } finally {
      raw.exec('DROP TRIGGER refuse_audit');
      raw.close();
    }
    assert.deepEqual(files(), before, 'no key file was left, and `current` did not move');
    assert.equal((await p.platform.store.encryption.jobs()).length, jobsBefore, 'no re-wrap job');

    const rotated = await cli(['encryption', 'rotate-master']);
    assert.equal(rotated.code, 0, rotated.stderr);
    const kekId = rotated.out.kek_id as string;
    assert.deepEqual(files(), [...before, `${kekId}.key`, 'current'].filter((f, i, a) => a.indexOf(f) === i).sort());
    assert.equal(readFileSync(join(kekDir, 'current'), 'utf8').trim(), kekId);
    const [e] = (await platformEntries(p, 'encryption.master_key_rotated')).slice(-1);
    byOperator(e!);
    assert.deepEqual([e!.resourceType, e!.resourceId, e!.after.kek_id], ['kek', kekId, kekId]);
    const [done] = (await platformEntries(p, 'encryption.job_finished')).slice(-1);
    assert.deepEqual([done!.resourceId, done!.after.kind, done!.after.target], [e!.after.job_id, 'rewrap', kekId]);
    await chainsVerify();
  });

  await t.test('encryption run records each job it finishes (here: one a killed rotate-tenant left)', async () => {
    const left = await p.platform.store.encryption.rotateTenantKey(p.tenantId, clock.now());
    const run = await cli(['encryption', 'run']);
    assert.equal(run.code, 0, run.stderr);
    const [e] = (await p.platform.store.audit.page({ chain: p.tenantId, action: 'encryption.job_finished', limit: 100 })).filter(
      (r) => r.resourceId === left.jobId,
    );
    assert.ok(e, 'the finished job is recorded');
    byOperator(e);
    const after = JSON.parse(e.afterJson!);
    assert.deepEqual([after.kind, after.target], ['reencrypt', left.keyId]);
    assert.ok(after.done >= 1, 'it re-encrypted the message sent earlier');
    await chainsVerify();
  });
});
