import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { test } from 'node:test';
import { renderCatalogueMarkdown, renderControlsMarkdown } from '../../src/posture/index.js';

/**
 * docs/posture.md carries the finding catalogue and the control mapping generated from the code,
 * between markers. POSTWARDEN_UPDATE_FIXTURES=1 rewrites the blocks.
 */
const file = new URL('../../docs/posture.md', import.meta.url);

function block(doc: string, name: string): { start: number; end: number } {
  const open = `<!-- ${name}:start (generated; test/posture/docs.test.ts) -->\n`;
  const start = doc.indexOf(open);
  const end = doc.indexOf(`<!-- ${name}:end -->`);
  assert.ok(start >= 0 && end > start, `docs/posture.md has the ${name} markers`);
  return { start: start + open.length, end };
}

test('docs/posture.md lists every finding and the control mapping as the code defines them', () => {
  let doc = readFileSync(file, 'utf8');
  for (const [name, text] of [
    ['catalogue', renderCatalogueMarkdown()],
    ['controls', renderControlsMarkdown()],
  ] as const) {
    const b = block(doc, name);
    const expected = `${text}\n`;
    if (process.env.POSTWARDEN_UPDATE_FIXTURES === '1') doc = doc.slice(0, b.start) + expected + doc.slice(b.end);
    else assert.equal(doc.slice(b.start, b.end), expected, `the ${name} table in docs/posture.md is stale`);
  }
  if (process.env.POSTWARDEN_UPDATE_FIXTURES === '1') writeFileSync(file, doc);
});
