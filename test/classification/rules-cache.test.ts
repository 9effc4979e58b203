import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createClassification } from '../../src/classification/index.js';
import { SETTINGS_CACHE_MS } from '../../src/core/index.js';
import { forEachDialect, openStore } from '../support/dialects.js';

/**
 * Accept reads a tenant's rules through the settings cache (core/shared-read.ts recentRead): a change
 * through this service applies to the next message at once; one written to the store by another
 * process (the CLI, another node) once SETTINGS_CACHE_MS has passed.
 */
forEachDialect(
  'classification rules: a change here applies to the next message, one made elsewhere within SETTINGS_CACHE_MS',
  async (t, dialect) => {
    const store = await openStore(t, dialect);
    let now = 1_767_225_600_000;
    const service = createClassification({ store, clock: { now: () => now }, readText: async (raw) => raw.toString() });
    const classOf = async () =>
      (
        await service.classify({
          tenantId: 'ten_1',
          tags: ['billing'],
          text: () => 'hello',
          recipientDomains: ['example.org'],
          recipientPath: '/to',
        })
      )?.classification;
    await service.setRules('ten_1', { tags: { billing: 'pci' } });
    assert.equal(await classOf(), 'pci');
    await service.setRules('ten_1', { tags: { billing: 'internal' } });
    assert.equal(await classOf(), 'internal', 'a change through the service applies at once');
    // Written by another process: the cached rules answer until the cache time is over.
    await store.classification.putPolicy({ tenantId: 'ten_1', doc: { tags: { billing: 'confidential' } }, updatedAt: now });
    assert.equal(await classOf(), 'internal');
    now += SETTINGS_CACHE_MS;
    assert.equal(await classOf(), 'confidential');
    // The API's read is never cached.
    assert.deepEqual((await service.getRules('ten_1')).tags, { billing: 'confidential' });
  },
  test,
);
