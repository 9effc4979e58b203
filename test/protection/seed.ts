import { loadConfig } from '../../src/config/index.js';
import { type NewEvent, newId } from '../../src/core/index.js';
import { storeEncryptionFrom } from '../../src/protection/index.js';
import { createStore, type Store } from '../../src/store/index.js';

/**
 * Stores for the encryption tests: a SQLite file in `dataDir` with the keys a server on that data
 * directory would use (dataDir/master.key, dataDir/kek), and content written through the store as
 * accept and delivery write it (synthesised rows: a message, its body, one recipient with a reply,
 * one event quoting the subject).
 */
export function encryptionFor(dataDir: string, over: Record<string, unknown> = {}) {
  const config = loadConfig({ overrides: { dataDir, encryption: over } });
  const { key } = loadMasterKey(dataDir);
  return storeEncryptionFrom(config.encryption, { masterKey: key, dataDir });
}

import { join } from 'node:path';
import { loadOrCreateMasterKey } from '../../src/governance/index.js';

const loadMasterKey = (dataDir: string) => loadOrCreateMasterKey(join(dataDir, 'master.key'));

export function openEncryptedStore(dataDir: string, over: Record<string, unknown> = {}): Promise<Store> {
  return createStore({ dataDir, encryption: encryptionFor(dataDir, over) });
}

export interface Seeded {
  id: string;
  tenantId: string;
  subject: string;
  body: string;
  to: string;
}

export async function seed(store: Store, tenantId: string, n: number, now = Date.now()): Promise<Seeded[]> {
  const out: Seeded[] = [];
  if (!(await store.tenants.get(tenantId))) {
    await store.tenants.insert({
      id: tenantId,
      name: tenantId,
      sandbox: false,
      maxMessageBytes: null,
      ratePerMinute: null,
      createdAt: now,
    });
  }
  for (let i = 0; i < n; i++) {
    const id = newId('msg', now);
    const rcp = newId('rcp', now);
    const s = {
      id,
      tenantId,
      subject: `Subject ${i} of ${tenantId}`,
      body: `Body ${i} of ${tenantId}\r\n`,
      to: `user${i}@${tenantId.toLowerCase()}.test`,
    };
    await store.transaction(async (tx) => {
      await tx.messages.insertMany([
        {
          message: {
            id,
            tenantId,
            stream: 'outbound',
            from: 'hello@example.com',
            subject: s.subject,
            messageIdHeader: `<${id}@example.com>`,
            size: s.body.length,
            tags: [],
            metadata: {},
            source: 'api',
            sandbox: false,
            createdAt: now,
          },
          raw: Buffer.from(`Subject: ${s.subject}\r\n\r\n${s.body}`),
        },
      ]);
      await tx.recipients.insertMany([
        {
          id: rcp,
          messageId: id,
          tenantId,
          address: s.to,
          domain: s.to.split('@')[1]!,
          kind: 'to',
          state: 'delivered',
          attempts: 1,
          nextAttemptAt: now,
          leaseOwner: null,
          leaseExpiresAt: null,
          lastReply: { code: 250, text: `ok queued for ${s.to}` },
          createdAt: now,
          updatedAt: now,
        },
      ]);
      await tx.events.append(
        [{ type: 'message.accepted', tenantId, messageId: id, data: { subject: s.subject, to: [s.to] } } as unknown as NewEvent],
        now,
        { fresh: true },
      );
    });
    out.push(s);
  }
  return out;
}

/** Reads every seeded message back through the store; throws on the first that does not match. */
export async function assertReadable(store: Store, rows: Seeded[]): Promise<void> {
  for (const s of rows) {
    const m = await (await store.messages.withBodies([s.id])).get(s.id);
    const subject = (await store.messages.get(s.id))?.subject;
    if (!m || subject !== s.subject || !m.body.toString().includes(s.body)) throw new Error(`message ${s.id} does not read back`);
    const [r] = await store.recipients.listByMessage(s.id);
    if (r?.address !== s.to || r.lastReply?.code !== 250) throw new Error(`recipient of ${s.id} does not read back`);
    const [e] = await store.events.forMessage(s.id);
    if (e?.data.subject !== s.subject) throw new Error(`event of ${s.id} does not read back`);
  }
}
