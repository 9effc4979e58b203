import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { Worker } from 'node:worker_threads';
import { isPostwardenError, newId } from '../../src/core/index.js';
import { sealSecret } from '../../src/governance/index.js';
import { createDkimSigner, type DkimSignerDeps, dkimKeyAad, generateDkimKey, spawnDkimWorker } from '../../src/identity/index.js';
import { forEachDialect } from '../support/dialects.js';
import { dkimWorld, sampleMessage } from './dkim-fixture.js';

type World = Awaited<ReturnType<typeof dkimWorld>>;

function signerFor(w: World, t: { after(fn: () => unknown): void }, opts: Partial<DkimSignerDeps> = {}) {
  const signer = createDkimSigner({ store: w.store, masterKey: w.masterKey, clock: w.clock, threads: 0, ...opts });
  t.after(() => signer.close());
  return signer;
}

/** A worker that dies on its first message, as a crashing signing thread would. */
const dyingWorker = () => new Worker('require("node:worker_threads").parentPort.once("message", () => process.exit(7))', { eval: true });

for (const threads of [0, 1]) {
  const how = threads === 0 ? 'inline' : 'in a signing thread';

  forEachDialect(
    `an RSA-signed message verifies as DKIM pass (${how})`,
    async (t, dialect) => {
      const w = await dkimWorld(t, { dialect });
      const { dkim } = await w.addDomain('example.com');
      const signer = signerFor(w, t, { threads });
      const signed = await signer.sign(sampleMessage(), 'example.com');
      assert.deepEqual(signed.signatures, [{ domain: 'example.com', selector: dkim[0]!.selector, algorithm: 'rsa-2048' }]);
      assert.deepEqual(await w.verify(signed.raw), [
        { domain: 'example.com', selector: dkim[0]!.selector, algorithm: 'rsa-sha256', result: 'pass', comment: undefined },
      ]);
      assert.equal(signer.stats().threads, threads);
    },
    test,
  );

  forEachDialect(
    `a domain with RSA and Ed25519 keys gets both signatures, both pass (${how})`,
    async (t, dialect) => {
      const w = await dkimWorld(t, { dialect, algorithms: ['rsa-2048', 'ed25519'] });
      await w.addDomain('example.com');
      const signer = signerFor(w, t, { threads });
      const signed = await signer.sign(sampleMessage(), 'example.com');
      assert.deepEqual(
        signed.signatures.map((s) => s.algorithm),
        ['rsa-2048', 'ed25519'],
      );
      const verdicts = await w.verify(signed.raw);
      assert.deepEqual(
        verdicts.map((v) => [v.algorithm, v.result]),
        [
          ['rsa-sha256', 'pass'],
          ['ed25519-sha256', 'pass'],
        ],
      );
    },
    test,
  );

  test(`a tampered body fails verification (${how})`, async (t) => {
    const w = await dkimWorld(t, { algorithms: ['rsa-2048', 'ed25519'] });
    await w.addDomain('example.com');
    const signer = signerFor(w, t, { threads });
    const signed = await signer.sign(sampleMessage(), 'example.com');
    const tampered = Buffer.from(signed.raw.toString('latin1').replace('Your report', 'Our report'), 'latin1');
    assert.deepEqual(
      (await w.verify(tampered)).map((v) => v.result),
      ['neutral', 'neutral'],
    ); // body hash did not verify
  });
}

test('many concurrent messages through two signing threads all verify', async (t) => {
  const w = await dkimWorld(t, { algorithms: ['rsa-2048', 'ed25519'] });
  await w.addDomain('example.com');
  const signer = signerFor(w, t, { threads: 2 });
  const signed = await Promise.all(
    Array.from({ length: 40 }, (_, i) => signer.sign(sampleMessage(undefined, `message ${i}\r\n`), 'example.com')),
  );
  for (const s of signed.slice(0, 5))
    assert.deepEqual(
      (await w.verify(s.raw)).map((v) => v.result),
      ['pass', 'pass'],
    );
  assert.equal(new Set(signed.map((s) => s.raw.toString())).size, 40);
  assert.equal(signer.stats().inFlight, 0);
});

test('a subdomain without keys signs with its nearest registered parent; one with keys signs as itself', async (t) => {
  const w = await dkimWorld(t);
  const parent = await w.addDomain('example.com');
  const signer = signerFor(w, t);
  const viaParent = await signer.sign(sampleMessage('News <news@news.example.com>'), 'news.example.com');
  assert.deepEqual(viaParent.signatures, [{ domain: 'example.com', selector: parent.dkim[0]!.selector, algorithm: 'rsa-2048' }]);
  assert.deepEqual(
    (await w.verify(viaParent.raw)).map((v) => [v.domain, v.result]),
    [['example.com', 'pass']],
  );

  await w.addDomain('mail.example.com');
  const own = await signer.sign(sampleMessage('Ops <ops@mail.example.com>'), 'Mail.Example.com');
  assert.deepEqual(
    own.signatures.map((s) => s.domain),
    ['mail.example.com'],
  );
  assert.deepEqual(
    (await w.verify(own.raw)).map((v) => [v.domain, v.result]),
    [['mail.example.com', 'pass']],
  );
});

forEachDialect(
  "a registered subdomain whose key is still pending is not signed with another tenant's key on its parent",
  async (t, dialect) => {
    const w = await dkimWorld(t, { dialect });
    await w.addDomain('example.com'); // tenant acme, active key
    const other = await w.tenants.createTenant({ name: 'other' });
    const child = await w.addDomain('sub.example.com', other.id);
    const [childKey] = await w.store.dkimKeys.listByDomain(child.domain.id);
    // New keys start pending until their record verifies (the fixture's sandbox made it active).
    await w.store.dkimKeys.setStatus(childKey!.id, 'pending', w.clock.now());
    const asked: string[][] = [];
    const signer = signerFor(w, t, {
      activatePending: async (names) => {
        asked.push(names);
        return 0;
      },
    });
    const raw = sampleMessage('x@sub.example.com');
    const out = await signer.sign(raw, 'sub.example.com');
    assert.deepEqual(out.signatures, [], 'not signed d=example.com with the parent tenant’s key');
    assert.equal(out.raw, raw);
    assert.deepEqual(asked, [['sub.example.com']], 'only the child’s own pending keys may be activated');

    await w.store.dkimKeys.setStatus(childKey!.id, 'active', w.clock.now());
    w.clock.advance(60_001);
    assert.deepEqual(
      (await signer.sign(raw, 'sub.example.com')).signatures,
      [{ domain: 'sub.example.com', selector: childKey!.selector, algorithm: 'rsa-2048' }],
      'once its own key is active the child signs as itself',
    );
  },
  test,
);

test('an unknown domain gets the message back unsigned, without an error', async (t) => {
  const w = await dkimWorld(t);
  await w.addDomain('example.com');
  const signer = signerFor(w, t);
  const raw = sampleMessage('x@example.org');
  for (const from of ['example.org', 'notexample.com', 'not a domain']) {
    const out = await signer.sign(raw, from);
    assert.equal(out.raw, raw);
    assert.deepEqual(out.signatures, []);
  }
});

test('a newly activated key is used once the cache entry expires', async (t) => {
  const w = await dkimWorld(t);
  const { domain, dkim } = await w.addDomain('example.com');
  const signer = signerFor(w, t, { cacheTtlMs: 60_000 });
  assert.equal((await signer.sign(sampleMessage(), 'example.com')).signatures[0]!.selector, dkim[0]!.selector);

  // What rotation will do later: a new key becomes active and the old one retires.
  const material = await generateDkimKey('rsa-2048');
  const id = newId('dk');
  await w.store.dkimKeys.insert({
    id,
    tenantId: w.tenant.id,
    domainId: domain.id,
    domain: domain.name,
    selector: 'pw202611z',
    algorithm: 'rsa-2048',
    privateKey: sealSecret(Buffer.from(material.privateKeyPem), w.masterKey, dkimKeyAad(id)),
    publicKey: material.publicKey,
    status: 'active',
    createdAt: w.clock.now(),
    activatedAt: w.clock.now() + 1,
    retiredAt: null,
  });
  w.clock.advance(30_000);
  assert.equal((await signer.sign(sampleMessage(), 'example.com')).signatures[0]!.selector, dkim[0]!.selector, 'cached');
  w.clock.advance(30_001);
  assert.equal((await signer.sign(sampleMessage(), 'example.com')).signatures[0]!.selector, 'pw202611z', 'after the TTL');
});

test('a key that cannot be opened makes signing fail rather than send unsigned', async (t) => {
  const w = await dkimWorld(t);
  await w.addDomain('example.com');
  const signer = signerFor(w, t, { masterKey: randomBytes(32) });
  await assert.rejects(signer.sign(sampleMessage(), 'example.com'), (e) => {
    assert.ok(isPostwardenError(e) && e.code === 'INTERNAL');
    assert.match(e.message, /cannot be opened: .*master key/);
    return true;
  });
});

test('a signing thread that dies mid-message is replaced and the message is signed by its successor', async (t) => {
  const w = await dkimWorld(t);
  await w.addDomain('example.com');
  let spawned = 0;
  const signer = signerFor(w, t, { threads: 1, spawnWorker: () => (spawned++ === 0 ? dyingWorker() : spawnDkimWorker()) });
  const signed = await signer.sign(sampleMessage(), 'example.com');
  assert.deepEqual(
    (await w.verify(signed.raw)).map((v) => v.result),
    ['pass'],
  );
  assert.equal(signer.stats().restarts, 1);
  assert.equal(spawned, 2);
  assert.deepEqual(
    (await w.verify((await signer.sign(sampleMessage(), 'example.com')).raw)).map((v) => v.result),
    ['pass'],
  );
});

test('threads that keep dying fail the message instead of retrying forever, then back off', async (t) => {
  const w = await dkimWorld(t);
  await w.addDomain('example.com');
  let spawned = 0;
  const signer = signerFor(w, t, {
    threads: 1,
    spawnWorker: () => {
      spawned++;
      return dyingWorker();
    },
  });
  await assert.rejects(signer.sign(sampleMessage(), 'example.com'), /DKIM signing failed twice: signing thread exited with code 7/);
  // The second exit in a row backs off instead of respawning at once: meanwhile messages fail fast.
  await assert.rejects(signer.sign(sampleMessage(), 'example.com'), /DKIM signing threads are failing/);
  assert.equal(spawned, 2);
});

test('a full signing queue refuses with OVERLOADED instead of growing', async (t) => {
  const w = await dkimWorld(t);
  await w.addDomain('example.com');
  const signer = signerFor(w, t, { threads: 1, maxQueue: 2 });
  await signer.sign(sampleMessage(), 'example.com'); // warms the key cache, so the next three reach the queue together
  const results = await Promise.allSettled([1, 2, 3].map(() => signer.sign(sampleMessage(), 'example.com')));
  assert.deepEqual(
    results.map((r) => r.status),
    ['fulfilled', 'fulfilled', 'rejected'],
  );
  const reason = (results[2] as PromiseRejectedResult).reason;
  assert.ok(isPostwardenError(reason) && reason.code === 'OVERLOADED');
});

test('the private key is sealed in the database: no PEM in the row or anywhere in the file', async (t) => {
  const { mkdtempSync, readFileSync, readdirSync, rmSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const { createStore } = await import('../../src/store/index.js');
  const { createTenants } = await import('../../src/tenants/index.js');
  const { createDomains } = await import('../../src/identity/index.js');
  const { openSecret } = await import('../../src/governance/index.js');
  const dir = mkdtempSync(join(tmpdir(), 'pw-dkim-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const store = await createStore({ sqliteFile: join(dir, 'pw.db') });
  const clock = { now: () => Date.UTC(2026, 10, 23) };
  const masterKey = randomBytes(32);
  const tenants = createTenants({ store, clock });
  const tenant = await tenants.createTenant({ name: 't' });
  const { domain } = await createDomains({ store, tenants, clock, masterKey, dkim: { algorithms: ['rsa-2048', 'ed25519'] } }).addDomain(
    tenant.id,
    'example.com',
  );
  const rows = await store.dkimKeys.listByDomain(domain.id);
  await store.close();
  assert.equal(rows.length, 2);
  const files = Buffer.concat(readdirSync(dir).map((f) => readFileSync(join(dir, f))));
  for (const row of rows) {
    assert.match(row.privateKey, /^v1\./);
    const pem = openSecret(row.privateKey, masterKey, dkimKeyAad(row.id)).toString();
    const body = pem.split('\n').slice(1, -2).join('');
    assert.ok(body.length >= 64);
    assert.ok(!row.privateKey.includes(body.slice(0, 40)));
    for (let i = 0; i + 40 <= body.length; i += 40)
      assert.equal(files.indexOf(body.slice(i, i + 40)), -1, 'PEM text found in the database file');
    assert.equal(files.indexOf('PRIVATE KEY'), -1);
  }
});

test('signing threads start when the app runs through tsx register(), as bin/postwarden.mjs does', async (t) => {
  const { execFile } = await import('node:child_process');
  const { promisify } = await import('node:util');
  const { fileURLToPath } = await import('node:url');
  const { startDnsServer } = await import('../support/dns-server.js');
  const { Resolver } = await import('node:dns/promises');
  const { dkimVerify } = await import('mailauth');
  const root = fileURLToPath(new URL('../../', import.meta.url));
  // A plain node process (no --import tsx in its execArgv), registering tsx the way the bin does.
  const script = `
    import { register } from 'tsx/esm/api';
    register();
    const id = await import('./src/identity/index.ts');
    const gov = await import('./src/governance/index.ts');
    const masterKey = Buffer.alloc(32, 7);
    const m = await id.generateDkimKey('rsa-2048');
    const row = { id: 'dk_1', tenantId: 'ten_1', domainId: 'dom_1', domain: 'example.com', selector: 'pwboot', algorithm: 'rsa-2048',
      privateKey: gov.sealSecret(Buffer.from(m.privateKeyPem), masterKey, id.dkimKeyAad('dk_1')), publicKey: m.publicKey,
      status: 'active', createdAt: 0, activatedAt: 0, retiredAt: null };
    const signer = id.createDkimSigner({ store: { dkimKeys: { activeFor: async () => [row] } }, masterKey, clock: { now: () => Date.now() }, threads: 1 });
    const raw = Buffer.from('From: a@example.com\\r\\nSubject: boot\\r\\n\\r\\nhello\\r\\n');
    const signed = await signer.sign(raw, 'example.com');
    await signer.close();
    process.stdout.write(JSON.stringify({ raw: signed.raw.toString('base64'), txt: id.dkimTxtValue('rsa-2048', m.publicKey), execArgv: process.execArgv }));
  `;
  const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script], { cwd: root, timeout: 30_000 });
  const out = JSON.parse(stdout) as { raw: string; txt: string; execArgv: string[] };
  assert.ok(!out.execArgv.some((a) => a.startsWith('--import') || a.startsWith('--loader')), 'the child runs without tsx flags');
  const dns = await startDnsServer(t, { 'pwboot._domainkey.example.com': { TXT: [out.txt] } });
  const resolver = new Resolver({ timeout: 2000, tries: 2 });
  resolver.setServers([dns.address]);
  const verdict = await dkimVerify(Buffer.from(out.raw, 'base64'), { resolver: (name: string) => resolver.resolveTxt(name) });
  assert.deepEqual(
    verdict.results.map((r) => r.status.result),
    ['pass'],
  );
});
