import assert from 'node:assert/strict';
import { type TestContext, test } from 'node:test';
import { type CliDeps, runCli } from '../../src/cli/index.js';
import type { Config } from '../../src/config/index.js';
import { tempDir } from '../support/dialects.js';

/**
 * `serve` run in-process with a fake platform: the config it hands over, and its stop sequence,
 * so a stop that hangs and a second signal can be staged without real processes or 15-second waits.
 */
function harness(t: TestContext, stop: () => Promise<void>, opts: { args?: string[]; env?: Record<string, string> } = {}) {
  let config: Config | undefined;
  const io = { out: '', err: '', exits: [] as number[], handlers: new Set<(s: NodeJS.Signals) => void>() };
  let stops = 0;
  const heap: number[] = [];
  const deps: CliDeps = {
    env: { POSTWARDEN_LOG_LEVEL: 'silent', ...opts.env },
    stdout: (s) => (io.out += s),
    stderr: (s) => (io.err += s),
    createPlatform: async (c) => ({
      start: async () => {
        config = c;
        return { http: 41234 };
      },
      stop: () => {
        stops++;
        return stop();
      },
    }),
    onSignal(handler) {
      io.handlers.add(handler);
      return () => io.handlers.delete(handler);
    },
    exit: (code) => void io.exits.push(code),
    tuneHeap: (percent) => void heap.push(percent),
  };
  const done = runCli(opts.args ?? ['--data-dir', tempDir(t), 'serve', '--http-port', '0'], deps);
  const signal = (s: NodeJS.Signals) => {
    for (const h of [...io.handlers]) h(s);
  };
  const listening = async () => {
    // setImmediate and Date are not mocked; loading the config module takes a moment.
    const deadline = Date.now() + 20_000;
    while (!io.err.includes('listening') && !io.err.includes('error') && Date.now() < deadline) await new Promise((r) => setImmediate(r));
    assert.match(io.err, /Postwarden listening: http:\/\/127\.0\.0\.1:41234\n/);
  };
  /** Resolves once serve has called stop(), by which time its 15 s bound is armed. */
  const stopping = async () => {
    for (let i = 0; i < 10_000 && stops === 0; i++) await new Promise((r) => setImmediate(r));
    assert.equal(stops, 1);
  };
  return { io, done, signal, listening, stopping, stops: () => stops, config: () => config, heap };
}

test('a signal stops the platform gracefully, exits 0 and removes the signal handlers', async (t) => {
  const h = harness(t, async () => undefined);
  await h.listening();
  assert.deepEqual(h.heap, [50], 'serve sets the heap growth of server.heapGrowthPercent (default 50)');
  h.signal('SIGTERM');
  assert.equal(await h.done, 0);
  assert.equal(h.stops(), 1);
  assert.equal(h.io.handlers.size, 0);
  assert.deepEqual(h.io.exits, []);
  assert.match(h.io.err, /Postwarden stopped\n$/);
});

test('a second signal during the stop exits at once with 128 + the signal number', async (t) => {
  t.mock.timers.enable({ apis: ['setTimeout'] });
  const h = harness(t, () => new Promise(() => undefined));
  await h.listening();
  h.signal('SIGINT');
  await h.stopping();
  assert.deepEqual(h.io.exits, []);
  h.signal('SIGTERM');
  assert.deepEqual(h.io.exits, [143]);
  t.mock.timers.tick(15_000); // let the abandoned stop end the command
  await h.done;
});

test('a stop that overruns 15 s is abandoned with exit 70 and says so', async (t) => {
  t.mock.timers.enable({ apis: ['setTimeout'] });
  const h = harness(t, () => new Promise(() => undefined));
  await h.listening();
  h.signal('SIGINT');
  await h.stopping();
  t.mock.timers.tick(14_999);
  for (let i = 0; i < 100; i++) await new Promise((r) => setImmediate(r));
  assert.deepEqual(h.io.exits, [], 'still waiting just before the bound');
  t.mock.timers.tick(1);
  assert.equal(await h.done, 70);
  assert.deepEqual(h.io.exits, [70]);
  assert.match(h.io.err, /error: the platform did not stop within 15 s\n/);
});

test('flags win over the environment, and --dns-server sets the servers used for all DNS', async (t) => {
  const dataDir = tempDir(t);
  const h = harness(t, async () => undefined, {
    args: ['--data-dir', dataDir, '--dns-server', '127.0.0.1:5353', '--dns-server', '[::1]:53', 'serve', '--http-port', '0', '--sandbox'],
    env: { POSTWARDEN_HTTP_PORT: '9999', POSTWARDEN_SMTP_PORT: '2600', POSTWARDEN_DATA_DIR: '/nonexistent' },
  });
  await h.listening();
  h.signal('SIGINT');
  assert.equal(await h.done, 0);
  const c = h.config()!;
  assert.deepEqual(
    { dataDir: c.dataDir, http: c.server.httpPort, smtp: c.server.smtpPort, sandbox: c.sandbox, dns: c.dns.servers },
    { dataDir, http: 0, smtp: 2600, sandbox: true, dns: ['127.0.0.1:5353', '[::1]:53'] },
  );
});
