import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Validator } from '@seriousme/openapi-schema-validator';
import { startPlatform } from '../support/platform.js';

/** The engagement routes appear in a valid OpenAPI 3.1 document with their schemas and error answers. */
test('the OpenAPI document is valid and describes the tracking, experiment and list routes', async (t) => {
  const p = await startPlatform(t);
  const doc = (await fetch(`${p.url}/openapi.json`).then((r) => r.json())) as any;
  const result = await new Validator().validate(doc);
  assert.equal(result.valid, true, String(JSON.stringify(result)).slice(0, 2000));
  for (const [path, method] of [
    ['/v1/tracking/settings', 'put'],
    ['/v1/experiments', 'post'],
    ['/v1/experiments/{id}/results', 'get'],
    ['/v1/experiments/{id}/stop', 'post'],
    ['/v1/lists', 'post'],
    ['/v1/lists/{id}/import', 'post'],
    ['/v1/lists/{id}/imports/{import_id}/findings', 'get'],
  ] as const) {
    const op = doc.paths[path]?.[method];
    assert.ok(op, `${method} ${path} is documented`);
    assert.ok(op.summary && op.tags?.length, `${path} has a summary and tags`);
    assert.ok(op.responses['401'] && op.responses['422'], `${path} documents its problem answers`);
  }
  assert.ok(doc.paths['/v1/lists/{id}/import'].post.requestBody.content['text/csv'], 'the import takes text/csv');
  assert.ok(!Object.keys(doc.paths).some((k) => k.startsWith('/t/')), 'the public tracking endpoints are not part of the API document');
});
