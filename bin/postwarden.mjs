#!/usr/bin/env node
// Runs the compiled JavaScript in dist/ (`npm run build`; `npm ci` builds it through `prepare`). When
// dist/ is missing or older than a file in src/ (a checkout being edited), it runs the TypeScript
// sources through tsx instead, a dev dependency, so a stale build is never what runs.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const built = join(root, 'dist', 'main.js');

/** Newest modification time of a .ts file under dir (a few ms for the whole tree). */
function newestSource(dir) {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestSource(path));
    else if (entry.name.endsWith('.ts')) newest = Math.max(newest, statSync(path).mtimeMs);
  }
  return newest;
}

const sources = join(root, 'src');
const fresh = existsSync(built) && (!existsSync(sources) || statSync(built).mtimeMs >= newestSource(sources));
if (fresh) {
  await import(built);
} else {
  let register;
  try {
    ({ register } = await import('tsx/esm/api'));
  } catch {
    process.stderr.write(
      `postwarden: ${existsSync(built) ? 'dist/ is older than src/' : 'dist/ is missing'} and tsx (a dev dependency) is not installed: run \`npm run build\` in ${root}\n`,
    );
    process.exit(70);
  }
  register();
  await import('../src/main.ts');
}
