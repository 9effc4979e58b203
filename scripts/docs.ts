// Writes the generated reference pages. `npm run docs`; test/docs.test.ts fails when they are stale.
import { writeFileSync } from 'node:fs';
import { renderConfigDocs } from '../src/config/index.js';
import { renderErrorDocs } from '../src/core/index.js';

writeFileSync(new URL('../docs/config.md', import.meta.url), renderConfigDocs());
writeFileSync(new URL('../docs/errors.md', import.meta.url), renderErrorDocs());
console.log('wrote docs/config.md and docs/errors.md');
