import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type Stream, type SuppressionTarget, suppressionApplies } from '../../src/core/index.js';

const at = (scope: SuppressionTarget['scope'], domain: string | null = null, stream: Stream | null = null): SuppressionTarget => ({
  scope,
  domain,
  stream,
});

test('which entries stop a message, by scope, From domain and stream', () => {
  const cases: [SuppressionTarget, string, Stream, boolean][] = [
    [at('global'), 'acme.example', 'transactional', true],
    [at('tenant'), 'other.example', 'cold', true],
    [at('identity', 'acme.example'), 'acme.example', 'marketing', true],
    [at('identity', 'acme.example'), 'News.Acme.Example', 'marketing', true],
    [at('identity', 'acme.example'), 'notacme.example', 'marketing', false],
    [at('identity', 'acme.example'), 'other.example', 'marketing', false],
    [at('identity', null, 'marketing'), 'other.example', 'marketing', true],
    [at('identity', null, 'marketing'), 'acme.example', 'transactional', false],
    [at('identity', 'acme.example', 'cold'), 'acme.example', 'cold', true],
    [at('identity', 'acme.example', 'cold'), 'acme.example', 'marketing', false],
    [at('identity', 'acme.example', 'cold'), 'other.example', 'cold', false],
  ];
  for (const [entry, fromDomain, stream, expected] of cases) {
    assert.equal(suppressionApplies(entry, { fromDomain, stream }), expected, `${JSON.stringify(entry)} ${fromDomain} ${stream}`);
  }
});
