import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Validator } from '@seriousme/openapi-schema-validator';
import { startPlatform } from '../support/platform.js';

/**
 * The template, dry-run and preflight-policy routes document real shapes: OpenAPI 3.1 that
 * validates, with a response schema (and examples) for success and problem+json for errors.
 */
test('the content routes publish valid OpenAPI with request and response schemas', async (t) => {
  const p = await startPlatform(t);
  const doc = await fetch(`${p.url}/openapi.json`).then((r) => r.json() as Promise<any>);
  const v = new Validator();
  const result = await v.validate(doc);
  assert.equal(result.valid, true, JSON.stringify(result.errors)?.slice(0, 2000));
  const ops: [string, string, string][] = [
    ['/v1/templates', 'post', '201'],
    ['/v1/templates', 'get', '200'],
    ['/v1/templates/{id}', 'get', '200'],
    ['/v1/templates/{id}', 'patch', '200'],
    ['/v1/templates/{id}/versions/{version}', 'get', '200'],
    ['/v1/templates/{id}/publish', 'post', '200'],
    ['/v1/templates/{id}/rollback', 'post', '200'],
    ['/v1/templates/{id}/preview', 'post', '200'],
    ['/v1/messages/dry-run', 'post', '200'],
    ['/v1/preflight/policy', 'get', '200'],
    ['/v1/preflight/policy', 'put', '200'],
  ];
  for (const [path, method, ok] of ops) {
    const op = doc.paths[path]?.[method];
    assert.ok(op, `${method.toUpperCase()} ${path} is documented`);
    assert.ok(op.summary && op.tags?.length, `${method} ${path}: summary and tags`);
    const success = op.responses[ok]?.content?.['application/json']?.schema;
    assert.ok(success?.properties || success?.type, `${method} ${path}: ${ok} has a schema`);
    // What each can answer (test/api/contract.test.ts drives them all): a key, a missing {id}, a body's fields.
    const errors = ['401', '403', ...(path.includes('{id}') ? ['404'] : []), ...(method === 'get' ? [] : ['422'])];
    for (const status of errors) assert.ok(op.responses[status], `${method} ${path}: ${status} is documented`);
  }
  assert.ok(
    doc.paths['/v1/messages'].post.requestBody.content['application/json'].schema.properties.template,
    'the send body documents template',
  );
});
