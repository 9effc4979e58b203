import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { Value } from 'typebox/value';
import { renderConfigDocs } from '../src/config/index.js';
import { errorCatalogue, eventDefinitions, eventTypes, renderErrorDocs, withEventTypeDocs } from '../src/core/index.js';

const read = (p: string) => readFileSync(new URL(`../${p}`, import.meta.url), 'utf8');

test('docs/config.md is current with the config schema (run npm run docs)', () => {
  assert.equal(read('docs/config.md'), renderConfigDocs());
});

test('docs/errors.md is current with the error catalogue (run npm run docs)', () => {
  assert.equal(read('docs/errors.md'), renderErrorDocs());
});

test('every error code that can surface in SMTP has a 4xx or 5xx reply with a matching enhanced class', () => {
  for (const [code, spec] of Object.entries(errorCatalogue)) {
    if (!('smtp' in spec) || !spec.smtp) continue;
    const cls = Math.floor(spec.smtp.code / 100);
    assert.ok(cls === 4 || cls === 5, code);
    assert.equal(spec.smtp.enhanced[0], String(cls), `${code}: enhanced class matches the basic code (RFC 3463 §3.1)`);
  }
});

test('docs/events.md documents every event type', () => {
  const doc = read('docs/events.md');
  for (const t of eventTypes) assert.ok(doc.includes(`\`${t}\``), `${t} is missing from docs/events.md`);
});

test('the event types in docs/events.md are current with the contract (run npm run docs)', () => {
  const doc = read('docs/events.md');
  assert.equal(doc, withEventTypeDocs(doc));
});

test("every event type's example payload satisfies its schema", () => {
  for (const t of eventTypes) {
    const def = eventDefinitions[t];
    assert.deepEqual(
      [...Value.Errors(def.payload, def.example)].map((e) => `${e.instancePath} ${e.message}`),
      [],
      t,
    );
  }
});
