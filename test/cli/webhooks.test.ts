import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type CliDeps, runCli } from '../../src/cli/index.js';
import { startPlatform } from '../support/platform.js';
import { startWebhookReceiver } from '../support/webhook-receiver.js';

test('postwarden webhooks: create, list, update, test, attempts, rotate-secret, replay, delete against a running server', async (t) => {
  const receiver = await startWebhookReceiver(t);
  const p = await startPlatform(t, { config: { webhooks: { allowPrivateTargets: true, pollMs: 20 } } });
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

  const created = await cli('webhooks', 'create', receiver.url, '--event', 'message.accepted', '--description', 'crm', '--json');
  assert.equal(created.code, 0, created.err);
  const hook = JSON.parse(created.out);
  assert.match(hook.secret, /^whsec_/);
  receiver.secrets.push(hook.secret);

  const human = await cli('webhooks', 'show', hook.id);
  assert.match(human.out, /enabled/);
  assert.match(human.out, /events: {6}message\.accepted/);
  assert.doesNotMatch(human.out, /whsec_/);

  const listed = await cli('webhooks', 'list', '--json');
  assert.deepEqual(
    JSON.parse(listed.out).data.map((w: { id: string }) => w.id),
    [hook.id],
  );

  const updated = await cli('webhooks', 'update', hook.id, '--event', 'message.accepted,recipient.delivered', '--json');
  assert.deepEqual(JSON.parse(updated.out).events, ['message.accepted', 'recipient.delivered']);
  assert.equal((await cli('webhooks', 'update', hook.id)).code, 64, 'nothing to change is a usage error');

  const tested = await cli('webhooks', 'test', hook.id);
  assert.equal(tested.code, 0, tested.err + tested.out);
  assert.match(tested.out, /Delivered: 200/);
  assert.deepEqual(receiver.received[0]!.verifiedBy, [0]);

  const attempts = await cli('webhooks', 'attempts', hook.id, '--json');
  assert.equal(JSON.parse(attempts.out).data[0].status, 200);

  const rotated = await cli('webhooks', 'rotate-secret', hook.id, '--json');
  assert.notEqual(JSON.parse(rotated.out).secret, hook.secret);

  const replay = await cli('webhooks', 'replay', hook.id, '--from', '0', '--to', '999999', '--json');
  assert.equal(replay.code, 0, replay.err);
  assert.equal(JSON.parse(replay.out).queued, 0, 'nothing was sent yet');

  receiver.answer = () => 500;
  const failing = await cli('webhooks', 'test', hook.id);
  assert.equal(failing.code, 1);
  assert.match(failing.out, /Failed: 500/);

  const missing = await cli('webhooks', 'show', 'wh_01JD3Q7M5X0000000000000000');
  assert.notEqual(missing.code, 0);
  assert.match(missing.err, /does not exist/);

  const deleted = await cli('webhooks', 'delete', hook.id);
  assert.equal(deleted.code, 0);
  assert.match(deleted.out, /Deleted/);
});
