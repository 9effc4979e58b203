import assert from 'node:assert/strict';
import { test } from 'node:test';
import { newId } from '../../src/core/index.js';
import type { MessageRow, Store, TlsAttemptRow } from '../../src/store/index.js';
import { forEachDialect, openStore } from '../support/dialects.js';
import { tlsAttemptRow } from '../support/tls-attempts.js';

/**
 * The aggregations behind the records of processing on both dialects: reading the classification
 * out of the stored decision (JSON text) is the one place SQLite and PostgreSQL differ, and grouping
 * by that expression must hold on both. Rows are written directly; the delivery path that writes
 * them is exercised in test/compliance/records-of-processing.test.ts.
 */
const T0 = Date.UTC(2026, 10, 22, 0, 0, 0);
const DAY = 86_400_000;

async function message(store: Store, tenantId: string, o: { stream?: string; classification?: string; sandbox?: boolean; at?: number }) {
  const id = newId('msg', o.at ?? T0);
  const row: MessageRow = {
    id,
    tenantId,
    stream: o.stream ?? 'transactional',
    from: 'a@example.com',
    subject: 's',
    messageIdHeader: `<${id}@example.com>`,
    size: 10,
    tags: [],
    metadata: {},
    source: 'api',
    sandbox: o.sandbox ?? false,
    createdAt: o.at ?? T0,
    classification: o.classification
      ? { classification: o.classification, classifications: [o.classification], raised_by: [], policies: [], required_tls: null }
      : null,
  };
  await store.messages.insertMany([{ message: row, raw: Buffer.from('x') }]);
  return id;
}

const delivered = (tenantId: string, messageId: string, o: Partial<TlsAttemptRow> = {}): TlsAttemptRow =>
  tlsAttemptRow(T0 + 1000, { tenantId, messageId, ...o });

forEachDialect(
  'messages and deliveries are counted per stream, classification and TLS evidence, for one tenant and period',
  async (t, dialect) => {
    const store = await openStore(t, dialect);
    for (const id of ['ten_a', 'ten_b'])
      await store.tenants.insert({ id, name: id, sandbox: false, maxMessageBytes: null, ratePerMinute: null, createdAt: T0 });
    const pci = await message(store, 'ten_a', { classification: 'pci' });
    const pci2 = await message(store, 'ten_a', { classification: 'pci' });
    const plain = await message(store, 'ten_a', {});
    await message(store, 'ten_a', { classification: 'pii', stream: 'marketing', sandbox: true });
    await message(store, 'ten_a', { classification: 'pci', at: T0 - 1 }); // before the period
    const theirs = await message(store, 'ten_b', { classification: 'pci' });
    await store.tlsAttempts.insert([
      delivered('ten_a', pci, { verification: 'dane-valid', enforcedBy: 'dane' }),
      delivered('ten_a', pci), // verified
      delivered('ten_a', pci2, { verified: false, verification: 'pkix-invalid: self-signed' }), // opportunistic
      delivered('ten_a', plain, { tls: false, verified: false, verification: 'none' }), // plaintext
      delivered('ten_a', plain, { outcome: 'deferred', tls: false, verified: false, verification: 'none' }), // not a delivery
      delivered('ten_a', pci2, { at: T0 + DAY }), // after the period
      delivered('ten_b', theirs),
    ]);
    const q = { tenantId: 'ten_a', from: T0, to: T0 + DAY };
    const sortBy = <T extends { stream: string; classification: string | null }>(rows: T[]) =>
      [...rows].sort((a, b) => `${a.stream}/${a.classification}`.localeCompare(`${b.stream}/${b.classification}`));

    assert.deepEqual(sortBy(await store.processingRecords.accepted(q)), [
      { stream: 'marketing', classification: 'pii', messages: 1, sandbox: 1 },
      { stream: 'transactional', classification: null, messages: 1, sandbox: 0 },
      { stream: 'transactional', classification: 'pci', messages: 2, sandbox: 0 },
    ]);
    const byEvidence = (await store.processingRecords.delivered(q))
      .map((d) => `${d.stream}/${d.classification}/${d.evidence}: ${d.recipients} recipient(s), ${d.messages} message(s)`)
      .sort();
    assert.deepEqual(byEvidence, [
      'transactional/null/plaintext: 1 recipient(s), 1 message(s)',
      'transactional/pci/dane: 1 recipient(s), 1 message(s)',
      'transactional/pci/opportunistic: 1 recipient(s), 1 message(s)',
      'transactional/pci/verified: 1 recipient(s), 1 message(s)',
    ]);
    assert.deepEqual(sortBy(await store.processingRecords.deliveredMessages(q)), [
      { stream: 'transactional', classification: null, messages: 1 },
      { stream: 'transactional', classification: 'pci', messages: 2 },
    ]);
    assert.deepEqual(await store.processingRecords.delivered({ ...q, tenantId: 'ten_b' }), [
      { stream: 'transactional', classification: 'pci', evidence: 'verified', recipients: 1, messages: 1 },
    ]);
  },
  test,
);
