import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { breakingChanges, openApiDocument } from '../../src/api/index.js';

/**
 * The /v1 compatibility promise (docs/api.md): within /v1 fields and enum values are only ever
 * added. The released contract is test/fixtures/api/openapi.snapshot.json (`npm run api:snapshot`
 * records it, deliberately); this build's document must keep everything in it.
 */
type Doc = Parameters<typeof breakingChanges>[0];
const snapshot = (): Doc => JSON.parse(readFileSync(new URL('../fixtures/api/openapi.snapshot.json', import.meta.url), 'utf8')) as Doc;

test('no response field, enum value, operation or success status of the released contract is gone', async () => {
  const current = (await openApiDocument()) as Doc;
  assert.deepEqual(breakingChanges(snapshot(), current), []);
});

// The checker itself, on the real snapshot changed one way at a time.
const edit = (change: (doc: any) => void): Doc => {
  const doc = snapshot();
  change(doc);
  return doc;
};

test('a renamed response field is reported where it was', () => {
  const renamed = edit((d) => {
    const props = d.paths['/v1/keys'].get.responses['200'].content['application/json'].schema.properties.data.items.properties;
    props.key_hint = props.hint;
    delete props.hint;
  });
  assert.deepEqual(breakingChanges(snapshot(), renamed), [
    'GET /v1/keys 200 application/json /data/[]/hint: field is gone (removed or renamed)',
  ]);
});

test('a lost enum value and an optional field that was required are reported', () => {
  const changed = edit((d) => {
    const event = d.paths['/v1/events'].get.responses['200'].content['application/json'].schema.properties.data.items;
    event.properties.type.enum = event.properties.type.enum.filter((t: string) => t !== 'recipient.bounced');
    event.required = event.required.filter((f: string) => f !== 'seq');
  });
  assert.deepEqual(breakingChanges(snapshot(), changed), [
    'GET /v1/events 200 application/json /data/[]/type: enum lost "recipient.bounced"',
    'GET /v1/events 200 application/json /data/[]/seq: no longer always present',
  ]);
});

test('a gone operation and a newly required request field are reported; additions are not', () => {
  const changed = edit((d) => {
    delete d.paths['/v1/dns-watch'].get;
    d.paths['/v1/keys'].post.requestBody.content['application/json'].schema.required.push('name');
    // Additions: a field, an enum value, an operation, a status.
    const key = d.paths['/v1/keys'].post.responses['201'].content['application/json'].schema;
    key.properties.expires_at = { type: 'string' };
    key.properties.scopes.items.enum.push('billing');
    d.paths['/v1/keys/{id}'].get = { responses: {} };
    d.paths['/v1/keys'].get.responses['206'] = { description: 'partial' };
  });
  assert.deepEqual(breakingChanges(snapshot(), changed), [
    'POST /v1/keys request application/json /name: newly required',
    'GET /v1/dns-watch: the operation is gone',
  ]);
});
