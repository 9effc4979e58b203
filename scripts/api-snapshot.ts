// Records the released /v1 contract: test/fixtures/api/openapi.snapshot.json. `npm run api:snapshot`.
// Run it deliberately, when a change to the API is released (docs/api.md, "Compatibility policy"):
// test/api/compatibility.test.ts compares every build with this file and fails on a removed or
// renamed field, a lost enum value or a gone operation; additions pass without it.
import { writeFileSync } from 'node:fs';
import { openApiDocument } from '../src/api/index.js';

const doc = await openApiDocument();
writeFileSync(new URL('../test/fixtures/api/openapi.snapshot.json', import.meta.url), `${JSON.stringify(doc, null, 2)}\n`);
console.log('wrote test/fixtures/api/openapi.snapshot.json');
