import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { test } from 'node:test';
import { type CliDeps, exitCodes, runCli } from '../../src/cli/index.js';
import { tempDir } from '../support/dialects.js';
import { runPostwarden } from './postwarden-process.js';

/** `feedback parse` and `bounces classify` run offline on files: no server, no store. */
const fixtures = join(import.meta.dirname, '../fixtures/feedback');

async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const deps: CliDeps = {
    env: {},
    stdout: (s) => (stdout += s),
    stderr: (s) => (stderr += s),
    createPlatform: () => Promise.reject(new Error('offline commands start no platform')),
    onSignal: () => () => undefined,
    exit: () => undefined,
  };
  const code = await runCli(args, deps);
  return { code, stdout, stderr };
}

const lines = (s: string) =>
  s
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));

test('feedback parse --json prints one object per file with kind and, for DSNs, classified recipients', async () => {
  const r = await cli([
    'feedback',
    'parse',
    join(fixtures, 'bounces/rfc3464-postfix.eml'),
    join(fixtures, 'arf/arf-abuse.eml'),
    join(fixtures, 'auto-reply/vacation-rfc3834.eml'),
    join(fixtures, 'tlsrpt/rfc8460.json'),
    '--json',
  ]);
  assert.equal(r.code, 0, r.stderr);
  const [dsn, arf, auto, tls] = lines(r.stdout);
  assert.equal(dsn.kind, 'dsn');
  assert.match(dsn.file, /rfc3464-postfix\.eml$/);
  assert.deepEqual(
    dsn.recipients.map((x: any) => [x.address, x.status, x.reply_code, x.category, x.hard, typeof x.rule, typeof x.diagnostic]),
    [['alice@example.org', '5.1.1', 550, 'bad_mailbox', true, 'string', 'string']],
  );
  assert.equal(dsn.original_message_id, '<msg_01JC0K7Q9V3R6ZP8M2N4T5W7XY@example.com>');
  assert.deepEqual([arf.kind, arf.feedback_type], ['arf', 'abuse']);
  assert.equal(auto.kind, 'auto-reply');
  assert.equal(tls.kind, 'tls-rpt');
});

test('feedback parse reads a maildir (cur and new), reports an unreadable file and goes on, exiting non-zero', async (t) => {
  const dir = tempDir(t);
  mkdirSync(join(dir, 'cur'));
  mkdirSync(join(dir, 'new'));
  mkdirSync(join(dir, 'tmp'));
  copyFileSync(join(fixtures, 'bounces/qmail.eml'), join(dir, 'cur', '1700000000.1.host:2,S'));
  copyFileSync(join(fixtures, 'bounces/exim-text.eml'), join(dir, 'new', '1700000001.2.host'));
  writeFileSync(join(dir, 'tmp', 'half-written'), 'From: x');
  const r = await cli(['feedback', 'parse', dir, join(dir, 'missing.eml'), '--json']);
  assert.equal(r.code, exitCodes.noInput);
  const out = lines(r.stdout);
  assert.deepEqual(
    out.map((o: any) => [o.file.slice(dir.length + 1), o.kind ?? null, o.error ?? null]),
    [
      ['cur/1700000000.1.host:2,S', 'dsn', null],
      ['new/1700000001.2.host', 'dsn', null],
      ['missing.eml', null, 'no such file or directory'],
    ],
  );
  for (const o of out.slice(0, 2)) assert.ok(o.recipients.length > 0 && o.recipients.every((x: any) => x.category && 'hard' in x));
});

test('feedback parse without --json prints one line per file and exit 0 when all were read', async () => {
  const r = await cli(['feedback', 'parse', join(fixtures, 'other/human-reply.eml'), join(fixtures, 'dmarc/rfc7489-google.xml')]);
  assert.equal(r.code, 0);
  const out = r.stdout.trim().split('\n');
  assert.equal(out.length, 2);
  assert.match(out[0]!, /human-reply\.eml: unknown/);
  assert.match(out[1]!, /rfc7489-google\.xml: dmarc-aggregate \(1 report\(s\)\)/);
});

test('bounces classify gives category, hard/soft, rule id and ruleset version for a line', async () => {
  const r = await cli(['bounces', 'classify', '550 5.1.1 <x@example.org>: Recipient address rejected: User unknown', '--json']);
  assert.equal(r.code, 0, r.stderr);
  const c = JSON.parse(r.stdout);
  assert.deepEqual([c.category, c.hard, c.reply_code, c.status], ['bad_mailbox', true, 550, '5.1.1']);
  assert.equal(typeof c.rule, 'string');
  assert.match(c.ruleset_version, /^\d{4}\.\d+\.\d+$/);
  const human = await cli(['bounces', 'classify', '452 4.2.2 Mailbox full']);
  assert.match(human.stdout, /mailbox_full\s+soft/);
});

test('bounces classify --file classifies every recipient of a bounce; a non-bounce is a clear error', async () => {
  const r = await cli(['bounces', 'classify', '--file', join(fixtures, 'bounces/gmail.eml'), '--json']);
  assert.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout);
  assert.ok(out.results.length >= 1);
  assert.ok(out.results.every((x: any) => x.category && x.ruleset_version === out.ruleset_version));
  const bad = await cli(['bounces', 'classify', '--file', join(fixtures, 'arf/arf-abuse.eml')]);
  assert.equal(bad.code, exitCodes.noInput);
  assert.match(bad.stderr, /not a bounce \(detected: arf\)/);
  const none = await cli(['bounces', 'classify']);
  assert.equal(none.code, exitCodes.usage);
});

test('the real executable runs feedback parse offline', async () => {
  const r = await runPostwarden(['feedback', 'parse', join(fixtures, 'bounces/yahoo.eml'), '--json']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(JSON.parse(r.stdout).kind, 'dsn');
});

test('feedback parse --json prints no error object for any well-formed fixture, nor for its bare-CR twin', async (t) => {
  const messages = (readdirSync(fixtures, { recursive: true }) as string[])
    .filter((f) => /\.(eml|xml|json|gz|zip)$/.test(f))
    .map((f) => join(fixtures, f));
  assert.ok(messages.length >= 50, `found only ${messages.length} fixtures`);
  // Old Mac exports end lines with a bare CR; the same message must read the same way.
  const dir = tempDir(t);
  const crTwins = messages
    .filter((f) => f.endsWith('.eml'))
    .map((f, i) => {
      const twin = join(dir, `${i}-${basename(f)}`);
      writeFileSync(twin, readFileSync(f, 'latin1').replace(/\r?\n/g, '\r'), 'latin1');
      return twin;
    });
  for (const batch of [messages, crTwins]) {
    const r = await cli(['feedback', 'parse', ...batch, '--json']);
    const printed = lines(r.stdout);
    assert.equal(printed.length, batch.length);
    assert.deepEqual(
      printed.filter((o: { error?: string }) => o.error).map((o: { file: string; error: string }) => `${o.file}: ${o.error}`),
      [],
    );
    assert.equal(r.code, 0, r.stderr);
  }
});
