import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { type TestContext, test } from 'node:test';
import { isPostwardenError } from '../../src/core/index.js';
import { openBytes, openText, sealBytes, sealText, textKeyId } from '../../src/protection/index.js';
import { createStore, openSqlite, type Store } from '../../src/store/index.js';
import { tempDir } from '../support/dialects.js';
import { startTransitStub } from '../support/transit-kms.js';
import { assertReadable, encryptionFor, openEncryptedStore, seed } from './seed.js';

const UNREADABLE = '[unreadable: the data key that sealed this was destroyed]';

async function open(t: TestContext, dataDir: string, over: Record<string, unknown> = {}): Promise<Store> {
  const store = await openEncryptedStore(dataDir, over);
  t.after(() => store.close());
  return store;
}

/** Every row of a tenant's content, as stored: what "untouched" compares. */
function rawRows(dataDir: string, tenantId: string): string {
  const db = openSqlite(`${dataDir}/postwarden.db`, { readonly: true });
  try {
    const q = (sql: string) => JSON.stringify(db.prepare(sql).all([tenantId]));
    return [
      q('select * from messages where tenant_id = ? order by id'),
      q('select b.* from message_bodies b join messages m on m.id = b.message_id where m.tenant_id = ? order by b.message_id'),
      q('select * from recipients where tenant_id = ? order by id'),
      q('select * from events where tenant_id = ? order by id'),
      q('select * from data_keys where tenant_id = ? order by id'),
    ].join('\n');
  } finally {
    db.close();
  }
}

test('a sealed value opens only where it was written and names its key', () => {
  const key = randomBytes(32);
  const sealed = sealText(key, 'dek_1', 'messages.subject:msg_a', 'hello');
  assert.equal(textKeyId(sealed), 'dek_1');
  assert.equal(openText(key, sealed, 'messages.subject:msg_a'), 'hello');
  assert.throws(() => openText(key, sealed, 'messages.subject:msg_b'), /failed authentication/);
  assert.notEqual(sealText(key, 'dek_1', 'x', 'hello'), sealText(key, 'dek_1', 'x', 'hello'), 'a fresh nonce each time');
});

test('nonces drawn from the pool never repeat, across refills of the pool', () => {
  const key = randomBytes(32);
  const seen = new Set<string>();
  // Three pools' worth (341 nonces each): a refill that reused or overlapped positions would repeat.
  for (let i = 0; i < 1100; i++) {
    const sealed = sealBytes(key, 'dek_1', `x:${i}`, Buffer.from('same plaintext'));
    seen.add(sealed.subarray(5 + 1 + 5, 5 + 1 + 5 + 12).toString('hex'));
    assert.equal(openBytes(key, sealed, `x:${i}`).toString(), 'same plaintext');
  }
  assert.equal(seen.size, 1100);
});

test('event data kept for spine readers at write never outlives a rewrite of its row', async (t) => {
  const dir = tempDir(t);
  const store = await open(t, dir);
  const [s] = await seed(store, 'ten_A', 1);
  // The spine readers' path (shared opens): served from what the writer kept, then, after erasure
  // rewrote the row under the same place, the stored value, not the text kept from the first seal.
  const read = async () => (await store.events.page({ tenantId: 'ten_A', limit: 10 }))[0]?.data;
  assert.deepEqual(await read(), { subject: s!.subject, to: [s!.to] });
  const hash = await store.retention.addressHash('ten_A', s!.to);
  await store.retention.eraseAddress('ten_A', s!.to, hash, () => false, Date.now());
  const after = JSON.stringify(await read());
  assert.equal(after.includes(s!.to), false, after);
  assert.match(after, /Subject 0 of ten_A/);
});

test('rows written before encryption stay readable and encrypt-existing seals them', async (t) => {
  const dir = tempDir(t);
  const plain = await createStore({ dataDir: dir });
  const rows = await seed(plain, 'ten_OLD', 5);
  await plain.close();
  const store = await open(t, dir);
  await assertReadable(store, rows);
  const before = await store.encryption.coverage();
  assert.equal(before.sealed, 0);
  await store.encryption.encryptExisting(Date.now());
  await store.encryption.runJobs(Date.now, { batchSize: 2 });
  const after = await store.encryption.coverage();
  assert.equal(after.share, 1, JSON.stringify(after.columns));
  await assertReadable(store, rows);
  const found = await store.messages.search('ten_OLD', { to: rows[3]!.to, limit: 10 });
  assert.deepEqual(
    found.map((m) => m.id),
    [rows[3]!.id],
    'the address hash was filled in',
  );
});

test('a tenant key rotation writes with the new key and moves the old rows to it', async (t) => {
  const dir = tempDir(t);
  const store = await open(t, dir);
  const a = await seed(store, 'ten_A', 6);
  const { keyId } = await store.encryption.rotateTenantKey('ten_A', Date.now());
  const fresh = await seed(store, 'ten_A', 1);
  const db = openSqlite(`${dir}/postwarden.db`, { readonly: true });
  t.after(() => db.close());
  const subjectOf = (id: string) => (db.prepare('select subject from messages where id = ?').all([id])[0] as { subject: string }).subject;
  assert.equal(textKeyId(subjectOf(fresh[0]!.id)), keyId, 'new writes use the new key');
  assert.notEqual(textKeyId(subjectOf(a[0]!.id)), keyId, 'old rows keep theirs until the job runs');
  await store.encryption.runJobs(Date.now, { batchSize: 4 });
  for (const s of a) assert.equal(textKeyId(subjectOf(s.id)), keyId);
  await assertReadable(store, [...a, ...fresh]);
});

test("shredding a tenant's keys makes its content unreadable and leaves the others byte for byte", async (t) => {
  const dir = tempDir(t);
  const store = await open(t, dir);
  const a = await seed(store, 'ten_A', 3);
  const b = await seed(store, 'ten_B', 3);
  const bBefore = rawRows(dir, 'ten_B');
  // Read once before (spine readers keep opened event data for each other), and again after the
  // shred in the same process: nothing opened before may outlive the keys.
  assert.notDeepEqual((await store.events.forMessage(a[0]!.id))[0]?.data, { unreadable: UNREADABLE });
  assert.ok((await store.encryption.shredTenant('ten_A', Date.now())) >= 2);
  assert.deepEqual((await store.events.forMessage(a[0]!.id))[0]?.data, { unreadable: UNREADABLE });
  // A fresh process (no key cached) reads the same.
  await store.close();
  const again = await open(t, dir);
  const m = await again.messages.get(a[0]!.id);
  assert.equal(m?.subject, UNREADABLE);
  await assert.rejects(again.messages.body(a[0]!.id), (e) => isPostwardenError(e) && e.code === 'CONTENT_UNREADABLE');
  const [r] = await again.recipients.listByMessage(a[0]!.id);
  assert.equal(r?.address, UNREADABLE);
  const [e] = await again.events.forMessage(a[0]!.id);
  assert.deepEqual(e?.data, { unreadable: UNREADABLE });
  await assertReadable(again, b);
  assert.equal(rawRows(dir, 'ten_B'), bBefore);
});

test('the external KMS wraps data keys, and a tenant can bring its own key (BYOK)', async (t) => {
  const stub = await startTransitStub(t, 's3cret');
  const dir = tempDir(t);
  const external = { url: stub.url, authToken: 's3cret', defaultKeyRef: 'postwarden' };
  const store = await open(t, dir, { provider: 'external', external });
  const a = await seed(store, 'ten_A', 2);
  const b = await seed(store, 'ten_B', 2);
  assert.ok(stub.calls.includes('encrypt postwarden'), stub.calls.join(', '));
  await store.encryption.setTenantKmsKey('ten_A', 'tenant-a', Date.now());
  await store.encryption.runJobs(Date.now);
  const db = openSqlite(`${dir}/postwarden.db`, { readonly: true });
  t.after(() => db.close());
  const kek = db.prepare("select distinct provider, key_ref, kek_id from data_keys where tenant_id = 'ten_A'").all([]);
  assert.deepEqual(kek, [{ provider: 'external', key_ref: 'tenant-a', kek_id: 'tenant-a@v1' }]);
  // A new process unwraps through the KMS: A's with A's key, B's with the default one.
  await store.close();
  const again = await open(t, dir, { provider: 'external', external });
  await assertReadable(again, [...a, ...b]);
  assert.ok(stub.calls.includes('decrypt tenant-a'));
  // A wrong credential is a clear failure, not garbage.
  const denied = await open(t, dir, { provider: 'external', external: { ...external, authToken: 'nope' } });
  await assert.rejects(denied.messages.body(b[0]!.id), /answered 403/);
  // The tenant revokes its key: its content is gone; the other tenant reads on.
  stub.keys.delete('tenant-a');
  const revoked = await open(t, dir, { provider: 'external', external });
  await assert.rejects(revoked.messages.body(a[0]!.id), /encryption key not found: tenant-a/);
  await assertReadable(revoked, b);
});

test('a store without encryption settings refuses to open sealed content rather than return ciphertext', async (t) => {
  const dir = tempDir(t);
  const store = await open(t, dir);
  const [s] = await seed(store, 'ten_A', 1);
  await store.close();
  const bare = await createStore({ dataDir: dir });
  t.after(() => bare.close());
  await assert.rejects(bare.messages.body(s!.id), /without encryption settings/);
  assert.ok(encryptionFor(dir).enabled, 'encryption is on by default');
});
