import assert from 'node:assert/strict';
import { test } from 'node:test';
import { json, runPostwarden } from '../cli/postwarden-process.js';
import { tempDir } from '../support/dialects.js';

/** `postwarden tenants tls-policy`: show, set per stream, reject a bad level with its path, reset. */
test('tenants tls-policy shows, sets per stream, refuses a bad level with its path, and resets', { timeout: 60_000 }, async (t) => {
  const store = ['--data-dir', tempDir(t)];
  const tenant = json(await runPostwarden([...store, 'tenants', 'create', 'Acme', '--json']));
  assert.deepEqual(json(await runPostwarden([...store, 'tenants', 'tls-policy', tenant.id, '--json'])), {
    tenant_id: tenant.id,
    default: 'opportunistic',
    streams: {},
  });
  const set = json(
    await runPostwarden([
      ...store,
      'tenants',
      'tls-policy',
      tenant.id,
      '--default',
      'verified',
      '--stream',
      'marketing=opportunistic',
      '--json',
    ]),
  );
  assert.deepEqual(set, { tenant_id: tenant.id, default: 'verified', streams: { marketing: 'opportunistic' } });

  const bad = await runPostwarden([...store, 'tenants', 'tls-policy', tenant.id, '--stream', 'marketing=sometimes']);
  assert.equal(bad.code, 65);
  assert.match(bad.stderr, /\/streams\/marketing: must be one of opportunistic, required, verified/);

  const human = await runPostwarden([...store, 'tenants', 'tls-policy', tenant.id]);
  assert.match(human.stdout, /default verified\n {2}marketing: opportunistic/);
  const reset = json(await runPostwarden([...store, 'tenants', 'tls-policy', tenant.id, '--reset', '--json']));
  assert.equal(reset.default, 'opportunistic');
  assert.deepEqual(reset.streams, {});
});
