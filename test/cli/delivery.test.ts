import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type CliDeps, runCli } from '../../src/cli/index.js';
import { startPlatform } from '../support/platform.js';

test('postwarden delivery: health, pause, resume and reset against a running server, each override an event', async (t) => {
  const p = await startPlatform(t);
  async function cli(...args: string[]) {
    const io = { out: '', err: '' };
    const deps: CliDeps = {
      env: { POSTWARDEN_API_KEY: p.key, POSTWARDEN_URL: p.url },
      stdout: (s) => (io.out += s),
      stderr: (s) => (io.err += s),
      createPlatform: () => Promise.reject(new Error('not used')),
      onSignal: () => () => undefined,
      exit: () => undefined,
      fetch,
    };
    const code = await runCli(args, deps);
    return { code, ...io };
  }

  const health = await cli('delivery', 'health');
  assert.equal(health.code, 0, health.err);
  assert.match(health.out, /^pacing on \(rules\/pacing\.yaml \d{4}\.\d+\.\d+\)/);

  const paused = await cli('delivery', 'pause', 'gmail', '--reason', 'provider ticket 4411', '--minutes', '30');
  assert.equal(paused.code, 0, paused.err);
  assert.match(paused.out, /paused: gmail by key_\S+ until \S+: provider ticket 4411/);
  const json = JSON.parse((await cli('delivery', 'health', '--json')).out);
  assert.deepEqual(
    json.overrides.map((o: { target: string; pool: string | null }) => [o.target, o.pool]),
    [['gmail', null]],
  );

  assert.equal((await cli('delivery', 'pause', 'gmail')).code, 64, 'a reason is required');
  assert.equal((await cli('delivery', 'pause', 'gmail', '--reason', 'x y z', '--minutes', 'soon')).code, 64);
  const resumed = await cli('delivery', 'resume', 'gmail', '--reason', 'cleared', '--json');
  assert.deepEqual(JSON.parse(resumed.out).overrides, []);
  assert.equal((await cli('delivery', 'reset', 'gmail', '--reason', 'start over')).code, 0);

  const events = (await p.platform.store.events.page({ limit: 100 })).filter((e) => e.type === 'pacing.changed');
  assert.deepEqual(
    events.map((e) => [e.data.change, e.data.rule, e.data.reason]),
    [
      ['pause', 'override', 'provider ticket 4411'],
      ['resume', 'override', 'cleared'],
      ['reset', 'override', 'start over'],
    ],
  );
});
