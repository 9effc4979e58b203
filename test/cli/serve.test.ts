import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { type AddressInfo, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { json, type RunningServer, runPostwarden, startServe } from './postwarden-process.js';

/**
 * `postwarden serve` as a real process on random loopback ports, with the client commands
 * talking to it over HTTP and the admin commands writing to its store beside it (SQLite WAL).
 * The node runs in sandbox mode, so nothing leaves the machine.
 */
describe('postwarden serve with the client commands', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'pw-cli-serve-'));
  const store = ['--data-dir', dataDir];
  let server: RunningServer;
  let env: Record<string, string>;
  let sentId = '';

  before(async () => {
    server = await startServe(store, ['--sandbox']);
    // Bootstrapped while the server runs: the admin commands share its store.
    const tenant = json(await runPostwarden([...store, 'tenants', 'create', 'Acme', '--json']));
    const key = json(await runPostwarden([...store, 'keys', 'create', '--tenant', tenant.id, '--scopes', 'send,read', '--json']));
    assert.equal((await runPostwarden([...store, 'domains', 'add', 'example.com', '--tenant', tenant.id])).code, 0);
    env = { POSTWARDEN_URL: server.url, POSTWARDEN_API_KEY: key.secret };
  });
  after(() => {
    server?.kill();
    rmSync(dataDir, { recursive: true, force: true });
  });

  test('GET /healthz answers 200 on the port serve printed', async () => {
    const res = await fetch(`${server.url}/healthz`, { signal: AbortSignal.timeout(5000) });
    assert.equal(res.status, 200);
  });

  test('send --sync returns the message id and its recipients delivered to the sandbox', async () => {
    const r = await runPostwarden(
      [
        'send',
        '--from',
        'Hello <hello@example.com>',
        '--to',
        'ann@example.net',
        '--to',
        'bob@example.org',
        '--subject',
        'Hi',
        '--text',
        'Hello',
        '--header',
        'X-Campaign: spring',
        '--tag',
        'welcome',
        '--sync',
        '--json',
      ],
      { env },
    );
    assert.equal(r.code, 0, r.stderr);
    const sent = json(r);
    assert.match(sent.id, /^msg_/);
    assert.equal(sent.status, 'completed');
    const states = sent.recipients.map((x: any) => `${x.email} ${x.state}`).sort();
    assert.deepEqual(states, ['ann@example.net delivered', 'bob@example.org delivered']);
    sentId = sent.id;
  });

  test('messages show prints the state, the recipients and one timeline line per event in order', async () => {
    assert.ok(sentId, 'needs the message sent by the previous test');
    const r = await runPostwarden(['messages', 'show', sentId], { env });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`^${sentId} {2}completed`));
    assert.match(r.stdout, /rcp_\S+ +to +ann@example\.net +delivered +attempts=1 +250 /);
    const timeline = r.stdout.split('timeline:\n')[1]!.trimEnd().split('\n');
    assert.deepEqual(
      timeline.map((l) => l.trim().split(/\s+/)[0]),
      ['1', '2', '3', '4', '5'],
    );
    assert.match(timeline[0]!, /message\.accepted .*subject=Hi/);
  });

  test('events tail --json prints one event per line in cursor order, then stops; --limit N prints N', async () => {
    const two = await runPostwarden(['events', 'tail', '--json', '--limit', '2'], { env });
    assert.equal(two.code, 0, two.stderr);
    assert.equal(two.stdout.trimEnd().split('\n').length, 2);
    const r = await runPostwarden(['events', 'tail', '--json'], { env });
    assert.equal(r.code, 0, r.stderr);
    const events = r.stdout
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l));
    assert.equal(events.length, 5);
    assert.deepEqual(
      events.map((e) => e.type),
      ['message.accepted', 'recipient.queued', 'recipient.queued', 'recipient.delivered', 'recipient.delivered'],
    );
    const cursors = events.map((e) => Number(e.cursor));
    assert.deepEqual(
      cursors,
      [...cursors].sort((a, b) => a - b),
    );
    const later = await runPostwarden(['events', 'tail', '--json', '--after', String(cursors[2]), '--type', 'recipient.delivered'], {
      env,
    });
    assert.equal(later.stdout.trimEnd().split('\n').length, 2);
  });

  test('a problem from the server is printed with its field paths and exits 65', async () => {
    const r = await runPostwarden(['send', '--from', 'hello@example.com', '--to', 'not-an-address', '--subject', 'Hi', '--text', 'x'], {
      env,
    });
    assert.equal(r.code, 65);
    assert.match(r.stderr, /^error: .+\n {2}\/to\/0: /);
  });

  test('an unknown API key exits 77 (EX_NOPERM)', async () => {
    const r = await runPostwarden(['--api-key', 'pw_not-a-real-key', 'events', 'tail'], { env: { POSTWARDEN_URL: server.url } });
    assert.equal(r.code, 77);
    assert.match(r.stderr, /^error: /);
  });

  test('SIGTERM stops the server gracefully with exit code 0 within a few seconds', async () => {
    const started = Date.now();
    server.child.kill('SIGTERM');
    const bound = new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), 10_000).unref());
    const result = await Promise.race([server.exited, bound]);
    assert.notEqual(result, 'timeout', `serve did not exit; stderr: ${server.stderr()}`);
    assert.deepEqual(result, { code: 0, signal: null });
    assert.ok(Date.now() - started < 10_000);
    assert.match(server.stderr(), /Postwarden stopped/);
  });
});

test('a client command exits 69 (EX_UNAVAILABLE) when no server answers', async () => {
  // A port that was just free: bound, then closed, so the connection is refused at once.
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as AddressInfo;
  await new Promise((resolve) => probe.close(resolve));
  const r = await runPostwarden(['--url', `http://127.0.0.1:${port}`, 'events', 'tail'], { env: { POSTWARDEN_API_KEY: 'pw_x' } });
  assert.equal(r.code, 69);
  assert.match(r.stderr, new RegExp(`^error: cannot reach http://127\\.0\\.0\\.1:${port} \\(ECONNREFUSED\\)`));
});
