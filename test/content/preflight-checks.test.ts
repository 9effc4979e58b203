import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadContentRules, loadDefaultContentRules, localeChain } from '../../src/content/index.js';
import { openingLine } from '../../src/content/preflight-checks.js';
import { withoutSignatureValues } from '../../src/identity/index.js';

/** The pure pieces behind templates and the preflight, table by table. */
test('localeChain truncates a tag from the end (RFC 4647 §3.4 lookup)', () => {
  assert.deepEqual(localeChain('zh-Hant-TW'), ['zh-Hant-TW', 'zh-Hant', 'zh']);
  assert.deepEqual(localeChain('fr'), ['fr']);
  assert.deepEqual(localeChain(undefined), []);
});

test('openingLine skips a greeting, keeps the first sentence, and normalises it', () => {
  const cases: [string, string][] = [
    ['Hi Ann,\n\nI noticed your team is hiring. More here.', 'i noticed your team is hiring'],
    ['Dear Dr. Smith,\nWe met at the expo!', 'we met at the expo'],
    ['Quick question about Acme’s roadmap?\nThanks', 'quick question about acme s roadmap'],
    ['Hello,\n\n\n', ''],
  ];
  for (const [text, want] of cases) assert.equal(openingLine(text), want, text);
});

test('the shipped content rules load, and a bad file names each bad key', () => {
  const rules = loadDefaultContentRules();
  assert.equal(rules.thresholds.htmlClipBytes, 102 * 1024);
  assert.ok(rules.shorteners.includes('bit.ly'));
  assert.ok(rules.trackingParams.includes('utm_*'));
  assert.throws(
    () => loadContentRules('version: x\nthresholds: {html_clip_bytes: -1}\ntracking_params: [a]\nshorteners: nope\nspam_phrases: []\n'),
    (e: Error) =>
      /thresholds\.html_clip_bytes must be a number/.test(e.message) &&
      /thresholds\.min_words_per_image/.test(e.message) &&
      /shorteners must be a list/.test(e.message),
  );
});

test('withoutSignatureValues empties b= and leaves bh= and the other tags as signed', () => {
  const field =
    'DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=example.com;\r\n s=sel; t=1; h=from:to;\r\n bh=abc=;\r\n b=SIGNATURE\r\n PART2==\r\n';
  const two = field + field.replace('a=rsa-sha256', 'a=ed25519-sha256');
  const out = withoutSignatureValues(two);
  assert.equal(out.split('DKIM-Signature:').length - 1, 2);
  assert.doesNotMatch(out, /SIGNATURE|PART2/);
  assert.match(out, /bh=abc=;\r\n b=\r\nDKIM-Signature: v=1; a=ed25519-sha256;/);
  assert.ok(out.endsWith(' b=\r\n'));
});
