import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { test } from 'node:test';
import { eventTypes } from '../../sdk/src/index.js';
import { eventTypes as platformEventTypes } from '../../src/core/index.js';
import { tempDir } from '../support/dialects.js';

/**
 * sdk/ is a separate package published as @postwarden/sdk: no runtime dependencies, nothing shared
 * with the platform's code in either direction, not a workspace of the root package, not part of
 * its dist/. Its build must be importable by name through its `exports` map on plain Node.
 */
const root = resolve(import.meta.dirname, '../..');
const sdk = join(root, 'sdk');
const readJson = (p: string) => JSON.parse(readFileSync(p, 'utf8'));
const tsFiles = (dir: string): string[] =>
  readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? tsFiles(p) : p.endsWith('.ts') ? [p] : [];
  });
const specifiers = (file: string) =>
  [...readFileSync(file, 'utf8').matchAll(/^\s*(?:import|export)\s+(?:type\s+)?(?:[^'"]*?\sfrom\s+)?['"]([^'"]+)['"]/gm)].map((m) => m[1]!);

test('the SDK package has no runtime dependencies and runs on Node 20', () => {
  const pkg = readJson(join(sdk, 'package.json'));
  assert.equal(pkg.name, '@postwarden/sdk');
  assert.equal(pkg.version, '0.1.0');
  assert.equal(pkg.type, 'module');
  assert.equal(pkg.engines.node, '>=20');
  for (const field of ['dependencies', 'peerDependencies', 'optionalDependencies', 'bundleDependencies'])
    assert.equal(pkg[field], undefined, field);
});

test('the SDK imports only its own files, and the platform never imports the SDK', () => {
  for (const file of tsFiles(join(sdk, 'src'))) {
    for (const spec of specifiers(file)) assert.match(spec, /^\.\/[a-z-]+\.js$/, `${file} imports ${spec}`);
  }
  for (const file of tsFiles(join(root, 'src'))) {
    for (const spec of specifiers(file)) assert.doesNotMatch(spec, /(^|\/)sdk\//, `${file} imports ${spec}`);
  }
});

test('the SDK knows every event type the platform emits (update sdk/src/events.ts with core/events.ts)', () => {
  assert.deepEqual([...eventTypes].sort(), [...platformEventTypes].sort());
});

test('the SDK is neither a workspace of the root package nor built into its dist/', () => {
  assert.equal(readJson(join(root, 'package.json')).workspaces, undefined);
  const build = readJson(join(root, 'tsconfig.build.json'));
  assert.deepEqual(build.include, ['src']);
  assert.equal(build.compilerOptions.rootDir, 'src');
});

test('the built SDK is importable by its package name through the exports map', (t) => {
  const dir = tempDir(t, 'pw-sdk-build-');
  const pkgDir = join(dir, 'node_modules', '@postwarden', 'sdk');
  mkdirSync(pkgDir, { recursive: true });
  cpSync(join(sdk, 'package.json'), join(pkgDir, 'package.json'));
  execFileSync(
    process.execPath,
    [join(root, 'node_modules/typescript/bin/tsc'), '-p', join(sdk, 'tsconfig.build.json'), '--outDir', join(pkgDir, 'dist')],
    {
      stdio: 'pipe',
    },
  );
  assert.ok(statSync(join(pkgDir, 'dist', 'index.d.ts')).isFile(), 'types are emitted');
  const out = execFileSync(
    process.execPath,
    ['--input-type=module', '-e', "const m = await import('@postwarden/sdk'); console.log(Object.keys(m).sort().join(','))"],
    { cwd: dir, encoding: 'utf8' },
  );
  const names = out.trim().split(',');
  for (const name of ['Postwarden', 'PostwardenApiError', 'PostwardenConnectionError', 'WebhookVerificationError', 'verifyWebhook']) {
    assert.ok(names.includes(name), `${name} is exported (got ${out.trim()})`);
  }
});
