#!/usr/bin/env node
// `npm test`: transpiles the TypeScript once, then runs node's test runner on the JavaScript.
//
// Why not `node --import tsx --test`: a loader's hooks run on a separate thread in Node 20, and every
// module each test file's process loads (about 1,500, most of them typebox and kysely) crosses to it.
// That cost ~2.5 s of CPU per test file, ~200 files: minutes of every CI run. esbuild turns every .ts
// file into JavaScript in about a second, so the test processes start without any loader.
//
// The JavaScript goes to .build/, a mirror of the checkout: each .ts file has its .js beside it (and is
// there itself, as a symlink, for the tests that read sources), every other file and top-level folder is
// a symlink to the real one. So paths a test or the code computes from its own location (fixtures,
// docs/, rules/, bin/) land on the real files, and anything written through them lands there too.
//
//   npm test                          every test file
//   npm test -- test/api/x.test.ts    only those (paths as in the checkout)
//
// A single file can still run straight from the sources: `node --import tsx --test test/api/x.test.ts`.
import { spawn } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const out = join(root, '.build');
/** Folders whose TypeScript is transpiled; everything else at the top level is linked as it is. */
const transpiled = new Set(['src', 'test', 'scripts', 'bench', 'sdk']);
const skipped = new Set(['.build', '.git']);

const sources = [];
const testFiles = [];

function mirror(dir) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    const target = join(out, relative(root, path));
    if (entry.isDirectory() && entry.name !== 'node_modules') {
      mkdirSync(target, { recursive: true });
      mirror(path);
      continue;
    }
    symlinkSync(path, target);
    if (entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts')) {
      sources.push(path);
      if (entry.name.endsWith('.test.ts') && relative(root, path).startsWith(`test${'/'}`)) testFiles.push(relative(root, path));
    }
  }
}

rmSync(out, { recursive: true, force: true });
mkdirSync(out);
for (const entry of readdirSync(root, { withFileTypes: true })) {
  if (skipped.has(entry.name)) continue;
  if (entry.isDirectory() && transpiled.has(entry.name)) {
    mkdirSync(join(out, entry.name));
    mirror(join(root, entry.name));
  } else symlinkSync(join(root, entry.name), join(out, entry.name));
}
const tsconfig = JSON.parse(readFileSync(join(root, 'tsconfig.json'), 'utf8'));
await build({
  entryPoints: sources,
  outdir: out,
  outbase: root,
  bundle: false,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  sourcemap: 'inline',
  logLevel: 'warning',
  tsconfigRaw: { compilerOptions: tsconfig.compilerOptions },
});

const asked = process.argv.slice(2).map((f) => relative(root, resolve(f)));
const unknown = asked.filter((f) => !testFiles.includes(f));
if (unknown.length) {
  console.error(`npm test: not a test file of this checkout (test/**/*.test.ts): ${unknown.join(', ')}`);
  process.exit(64);
}
const files = (asked.length ? asked : testFiles.sort()).map((f) => join(out, f.replace(/\.ts$/, '.js')));
const child = spawn(process.execPath, ['--enable-source-maps', '--test', '--test-concurrency=2', '--test-reporter=spec', ...files], {
  stdio: 'inherit',
});
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
