import { randomBytes } from 'node:crypto';
import type { Kysely } from 'kysely';
import { newId, PostwardenError } from '../core/index.js';
import {
  addressHash,
  bytesKeyId,
  createKeyCache,
  type KekProvider,
  type LocalKekProvider,
  openBytes,
  openText,
  sealBytes,
  sealText,
  textKeyId,
} from '../protection/index.js';
import type { Database } from './schema.js';

/**
 * The store's side of envelope encryption (docs/encryption.md): repositories seal content on the way
 * in and open it on the way out, so callers only ever see plaintext. This file finds the keys: a
 * tenant's active data key for writes, any key by the id a sealed value carries for reads, each
 * unwrapped once through its KEK provider and then cached (bounded in count and age).
 *
 * Every call takes the database handle the repository was built on: inside a transaction the key
 * rows are read and created through that transaction (SQLite has one connection, and reaching past
 * it would wait for ourselves). A key created inside a transaction is not cached as "active" until
 * it is read back committed, so a rolled-back transaction cannot leave writes sealed with a key that
 * was never stored.
 */
export interface EncryptionOptions {
  /** Seal new writes. Reads open sealed values whatever this says. */
  enabled: boolean;
  local: LocalKekProvider;
  external?: KekProvider;
  /** Which provider wraps new data keys of tenants without their own key (BYOK uses external). */
  provider: 'local' | 'external';
  cacheMaxKeys: number;
  cacheTtlMs: number;
  now?: () => number;
}

export type KeyPurpose = 'content' | 'index';

/** What a text field reads as when the key that sealed it was destroyed. */
export const UNREADABLE_TEXT = '[unreadable: the data key that sealed this was destroyed]';
/** The tenant under which content with no tenant (inbound reports to no known domain) is sealed. */
export const PLATFORM_TENANT = '_platform';

type Db = Kysely<Database>;

export interface ContentCipher {
  /** True when new writes are sealed. */
  readonly sealing: boolean;
  /**
   * `shared`: the plaintext is kept for `openJson(..., { shared: true })` readers of the value sealed
   * here (events: every spine consumer of this process reads them back within a second).
   */
  sealText(db: Db, tenantId: string | null, where: string, plain: string, opts?: { shared?: boolean }): Promise<string>;
  sealBytes(db: Db, tenantId: string | null, where: string, plain: Buffer): Promise<Buffer>;
  /** Plaintext; UNREADABLE_TEXT when its key was destroyed. */
  openText(db: Db, where: string, stored: string): Promise<string>;
  /**
   * A JSON document; `{ unreadable: UNREADABLE_TEXT }` when its key was destroyed. `shared`: the
   * opened text may be kept briefly for other readers of the same stored value (events, below).
   */
  openJson<T = Record<string, unknown>>(db: Db, where: string, stored: string, opts?: { shared?: boolean }): Promise<T>;
  /** Plaintext; throws CONTENT_UNREADABLE when its key was destroyed. */
  openBytes(db: Db, where: string, stored: Uint8Array): Promise<Buffer>;
  /** The keyed hash of an address (null when sealing is off: nothing to look up by). */
  addressHash(db: Db, tenantId: string, address: string): Promise<string | null>;
  /** The data key id new writes of this tenant use (created when missing). */
  activeKeyId(db: Db, tenantId: string | null): Promise<string>;
  /** Unwraps and wraps again with the tenant's current provider and KEK; answers the new KEK id. */
  rewrap(db: Db, keyId: string): Promise<string>;
  /** Forgets cached keys (after a rotation or a shred in this process). */
  forget(tenantId?: string): void;
  /** How many times `forget` ran: holders of opened content elsewhere (the event tail) drop it when this moves. */
  readonly forgets: number;
  /** Wraps a fresh data key for a tenant: what a rotation inserts. */
  wrapNewKey(db: Db, tenantId: string, id: string): Promise<{ provider: string; keyRef: string | null; kekId: string; wrapped: string }>;
  /**
   * The keyed hash of an address whether or not new writes are sealed (erasure and legal holds keep
   * only this); null when the store has no encryption settings, or when `create` is false and the
   * tenant has no index key yet (a lookup must not write).
   */
  indexHash(db: Db, tenantId: string, address: string, create: boolean): Promise<string | null>;
}

class KeyDestroyed extends Error {}

// The last 22 characters are the base64url of the GCM tag: another sealing of the place differs.
const sharedSlot = (where: string, sealed: string) => `${where}\u0000${sealed.slice(-22)}`;

/** Opened texts kept for other readers: a few consumer pages of events. */
const SHARED_OPENED_MAX = 4096;

export function createContentCipher(opts: EncryptionOptions | undefined): ContentCipher {
  const now = opts?.now ?? Date.now;
  const keys = createKeyCache<Buffer>({ max: opts?.cacheMaxKeys ?? 1, ttlMs: opts?.cacheTtlMs ?? 0, now });
  const active = createKeyCache<{ id: string; key: Buffer }>({ max: opts?.cacheMaxKeys ?? 1, ttlMs: opts?.cacheTtlMs ?? 0, now });
  const tenantOf = (t: string | null) => t ?? PLATFORM_TENANT;
  // Every spine reader (the ledger, the alert consumer, the webhook dispatcher) opens each event it
  // pages through, within a second of its append: in a 2,000-message delivery run, 20,203 event
  // opens for 6,906 events. The plaintext of `shared` seals and opens is kept, bounded in count and
  // by the key cache's TTL, keyed by place and the sealed value's tag, so a rewritten row (erasure,
  // re-sealing) misses; `forget` (a rotation or shred in this process) empties it, and a shred by
  // another process is honoured within the TTL, as for the keys themselves.
  const opened = createKeyCache<string>({ max: SHARED_OPENED_MAX, ttlMs: opts?.cacheTtlMs ?? 0, now, evict: 'oldest-inserted' });
  let forgets = 0;

  function provider(name: string): KekProvider {
    if (!opts) throw new Error('this store was opened without encryption settings, so it cannot open sealed content');
    if (name === 'local') return opts.local;
    if (name === 'external' && opts.external) return opts.external;
    throw new PostwardenError(
      'CONTENT_UNREADABLE',
      `data key needs the ${name} KMS provider, which is not configured (encryption.external)`,
    );
  }

  async function byokRef(db: Db, tenantId: string): Promise<string | null> {
    const r = await db.selectFrom('tenant_kms').select('key_ref').where('tenant_id', '=', tenantId).executeTakeFirst();
    return r?.key_ref ?? null;
  }

  async function wrapNewKey(db: Db, tenantId: string, id: string, key: Buffer = randomBytes(32)) {
    const keyRef = await byokRef(db, tenantId);
    const name = keyRef ? 'external' : (opts?.provider ?? 'local');
    const { wrapped, kekId } = await provider(name).wrap(key, { tenantId, dataKeyId: id, keyRef });
    return { provider: name, keyRef, kekId, wrapped, key };
  }

  async function keyById(db: Db, id: string): Promise<Buffer> {
    const hit = keys.get(id);
    if (hit) return hit;
    const r = await db.selectFrom('data_keys').selectAll().where('id', '=', id).executeTakeFirst();
    if (!r) throw new PostwardenError('CONTENT_UNREADABLE', `data key ${id} is not in this database`);
    if (r.state === 'destroyed' || !r.wrapped) throw new KeyDestroyed(id);
    const key = await provider(r.provider).unwrap(r.wrapped, r.kek_id, { tenantId: r.tenant_id, dataKeyId: r.id, keyRef: r.key_ref });
    keys.set(id, key);
    return key;
  }

  /**
   * Several seals per message each ask for the tenant's active key: a cache hit answers without
   * the promise hops of `activeKey` (callers write `activeHit(...) ?? (await activeKey(...))`).
   */
  const activeHit = (tenantId: string, purpose: KeyPurpose) => active.get(`${purpose}:${tenantId}`);

  async function activeKey(db: Db, tenantId: string, purpose: KeyPurpose): Promise<{ id: string; key: Buffer }> {
    const slot = `${purpose}:${tenantId}`;
    const hit = active.get(slot);
    if (hit) return hit;
    const read = () =>
      db
        .selectFrom('data_keys')
        .select(['id'])
        .where('tenant_id', '=', tenantId)
        .where('purpose', '=', purpose)
        .where('state', '=', 'active')
        .orderBy('version', 'desc')
        .limit(1)
        .executeTakeFirst();
    let row = await read();
    let fresh = false;
    if (!row) {
      const last = await db
        .selectFrom('data_keys')
        .select((eb) => eb.fn.max('version').as('v'))
        .where('tenant_id', '=', tenantId)
        .where('purpose', '=', purpose)
        .executeTakeFirst();
      const id = newId('dek', now());
      const w = await wrapNewKey(db, tenantId, id);
      // Two writers may create the first key at once: the unique version lets one win, and both
      // then use the winner (PostgreSQL waits for the other insert and sees it committed).
      await db
        .insertInto('data_keys')
        .values({
          id,
          tenant_id: tenantId,
          purpose,
          version: Number(last?.v ?? 0) + 1,
          state: 'active',
          provider: w.provider,
          key_ref: w.keyRef,
          kek_id: w.kekId,
          wrapped: w.wrapped,
          created_at: now(),
          rewrapped_at: null,
          destroyed_at: null,
        })
        .onConflict((oc) => oc.columns(['tenant_id', 'purpose', 'version']).doNothing())
        .execute();
      row = await read();
      fresh = row?.id === id;
      if (fresh) keys.set(id, w.key);
    }
    if (!row) throw new Error(`no active ${purpose} data key for tenant ${tenantId} after creating one`);
    const out = { id: row.id, key: await keyById(db, row.id) };
    if (!fresh) active.set(slot, out);
    return out;
  }

  return {
    sealing: opts?.enabled ?? false,
    get forgets() {
      return forgets;
    },
    async sealText(db, tenantId, where, plain, o) {
      if (!opts?.enabled) return plain;
      const t = tenantOf(tenantId);
      const k = activeHit(t, 'content') ?? (await activeKey(db, t, 'content'));
      const sealed = sealText(k.key, k.id, where, plain);
      // A value sealed in a transaction that rolls back leaves an entry no stored value's tag finds.
      if (o?.shared) opened.set(sharedSlot(where, sealed), plain);
      return sealed;
    },
    async sealBytes(db, tenantId, where, plain) {
      if (!opts?.enabled) return plain;
      const t = tenantOf(tenantId);
      const k = activeHit(t, 'content') ?? (await activeKey(db, t, 'content'));
      return sealBytes(k.key, k.id, where, plain);
    },
    async openText(db, where, stored) {
      const id = textKeyId(stored);
      if (!id) return stored;
      try {
        return openText(keys.get(id) ?? (await keyById(db, id)), stored, where);
      } catch (e) {
        if (e instanceof KeyDestroyed) return UNREADABLE_TEXT;
        throw e;
      }
    },
    async openJson<T>(db: Db, where: string, stored: string, o?: { shared?: boolean }): Promise<T> {
      const slot = o?.shared && textKeyId(stored) ? sharedSlot(where, stored) : undefined;
      let text = slot ? opened.get(slot) : undefined;
      if (text === undefined) {
        text = await this.openText(db, where, stored);
        if (slot && text !== UNREADABLE_TEXT) opened.set(slot, text);
      }
      return (text === UNREADABLE_TEXT ? { unreadable: UNREADABLE_TEXT } : JSON.parse(text)) as T;
    },
    async openBytes(db, where, stored) {
      const id = bytesKeyId(stored);
      if (!id) return Buffer.from(stored);
      try {
        return openBytes(keys.get(id) ?? (await keyById(db, id)), stored, where);
      } catch (e) {
        if (e instanceof KeyDestroyed) {
          throw new PostwardenError(
            'CONTENT_UNREADABLE',
            `${where} was sealed with data key ${id}, which was destroyed (crypto-shredding)`,
            {
              keyId: id,
            },
          );
        }
        throw e;
      }
    },
    async addressHash(db, tenantId, address) {
      if (!opts?.enabled) return null;
      const k = activeHit(tenantId, 'index') ?? (await activeKey(db, tenantId, 'index'));
      return addressHash(k.key, address);
    },
    async activeKeyId(db, tenantId) {
      return (await activeKey(db, tenantOf(tenantId), 'content')).id;
    },
    async rewrap(db, keyId) {
      const r = await db.selectFrom('data_keys').selectAll().where('id', '=', keyId).executeTakeFirstOrThrow();
      if (r.state === 'destroyed' || !r.wrapped) return r.kek_id;
      const key = await keyById(db, keyId);
      const w = await wrapNewKey(db, r.tenant_id, r.id, key);
      await db
        .updateTable('data_keys')
        .set({ provider: w.provider, key_ref: w.keyRef, kek_id: w.kekId, wrapped: w.wrapped, rewrapped_at: now() })
        .where('id', '=', keyId)
        .where('state', '!=', 'destroyed')
        .execute();
      return w.kekId;
    },
    forget(tenantId) {
      forgets++;
      opened.clear();
      if (tenantId === undefined) {
        keys.clear();
        active.clear();
      } else {
        active.delete(`content:${tenantId}`);
        active.delete(`index:${tenantId}`);
        // Key ids do not name their tenant: drop them all; they unwrap again on the next read.
        keys.clear();
      }
    },
    async wrapNewKey(db, tenantId, id) {
      const w = await wrapNewKey(db, tenantId, id);
      keys.set(id, w.key);
      return { provider: w.provider, keyRef: w.keyRef, kekId: w.kekId, wrapped: w.wrapped };
    },
    async indexHash(db, tenantId, address, create) {
      if (!opts) return null;
      if (!create && !active.get(`index:${tenantId}`)) {
        const row = await db
          .selectFrom('data_keys')
          .select('id')
          .where('tenant_id', '=', tenantId)
          .where('purpose', '=', 'index')
          .where('state', '=', 'active')
          .executeTakeFirst();
        if (!row) return null;
      }
      return addressHash((await activeKey(db, tenantId, 'index')).key, address);
    },
  };
}
