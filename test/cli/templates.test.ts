import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { type CliDeps, exitCodes, runCli } from '../../src/cli/index.js';
import { tempDir } from '../support/dialects.js';
import { startPlatform } from '../support/platform.js';

/** `postwarden templates …` against a running platform, in process, with --json and without. */
test('templates create, list, show, publish, preview and rollback through the CLI', { timeout: 60_000 }, async (t) => {
  const p = await startPlatform(t);
  const dir = tempDir(t);
  const cli = async (args: string[]) => {
    let stdout = '';
    let stderr = '';
    const deps: CliDeps = {
      env: { POSTWARDEN_URL: p.url, POSTWARDEN_API_KEY: p.key },
      stdout: (s) => (stdout += s),
      stderr: (s) => (stderr += s),
      createPlatform: () => Promise.reject(new Error('client commands start no platform')),
      onSignal: () => () => undefined,
      exit: () => undefined,
    };
    const code = await runCli(args, deps);
    return { code, stdout, stderr };
  };
  const file = join(dir, 'welcome.json');
  writeFileSync(
    file,
    JSON.stringify({
      subject: 'Welcome {{ name }}',
      html: '<p>Hello {{ name }}</p>',
      locales: { fr: { subject: 'Bienvenue {{ name }}' } },
    }),
  );

  const created = await cli(['templates', 'create', '--file', file, '--name', 'welcome', '--json']);
  assert.equal(created.code, 0, created.stderr);
  const id = JSON.parse(created.stdout).id as string;
  assert.match(id, /^tpl_/);

  const pub = await cli(['templates', 'publish', 'welcome', '--data', '{"name":"Ann"}']);
  assert.equal(pub.code, 0, pub.stderr);
  assert.match(pub.stdout, /Published welcome v1 \(now current\)/);
  assert.match(pub.stdout, /preview_text_missing/, 'preflight warnings are printed');

  const preview = await cli(['templates', 'preview', id, '--data', '{"name":"Zoé"}', '--locale', 'fr-CA', '--json']);
  assert.equal(preview.code, 0, preview.stderr);
  assert.deepEqual((({ subject, locale, text }) => ({ subject, locale, text }))(JSON.parse(preview.stdout)), {
    subject: 'Bienvenue Zoé',
    locale: 'fr',
    text: 'Hello Zoé',
  });
  const missing = await cli(['templates', 'preview', 'welcome', '--data', '{}']);
  assert.equal(missing.code, exitCodes.dataErr);
  assert.match(missing.stderr, /\/data\/name/);

  await p.request('PATCH', `/v1/templates/${id}`, { subject: 'Hi {{ name }}' });
  assert.equal((await cli(['templates', 'publish', id])).code, 0);
  const list = await cli(['templates', 'list']);
  assert.match(list.stdout, /welcome\s+v2/);
  const back = await cli(['templates', 'rollback', 'welcome', '1', '--json']);
  assert.equal(back.code, 0, back.stderr);
  assert.equal(JSON.parse(back.stdout).current_version, 1);
  const show = await cli(['templates', 'show', 'welcome']);
  assert.match(show.stdout, /current: +v1/);
  assert.match(show.stdout, /versions: +v1 .*, v2 /);
  const bad = await cli(['templates', 'rollback', 'welcome', 'two']);
  assert.equal(bad.code, exitCodes.usage);
});
