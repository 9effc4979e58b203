// Writes the generated reference pages. `npm run docs`; test/docs.test.ts fails when they are stale.
import { readFileSync, writeFileSync } from 'node:fs';
import { renderConfigDocs } from '../src/config/index.js';
import { renderErrorDocs, withEventTypeDocs } from '../src/core/index.js';

writeFileSync(new URL('../docs/config.md', import.meta.url), renderConfigDocs());
writeFileSync(new URL('../docs/errors.md', import.meta.url), renderErrorDocs());
const events = new URL('../docs/events.md', import.meta.url);
writeFileSync(events, withEventTypeDocs(readFileSync(events, 'utf8')));
console.log('wrote docs/config.md, docs/errors.md and the event types of docs/events.md');
