import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { type TestContext, test } from 'node:test';
import { type CliDeps, runCli } from '../../src/cli/index.js';
import type { EventType } from '../../src/core/index.js';
import { tempDir } from '../support/dialects.js';
import { exampleEvent } from '../support/events.js';
import { startPlatform, type TestPlatform } from '../support/platform.js';

/** `postwarden events export`: the file holds what the API streams; progress on a TTY; a cut export fails. */

async function cli(args: string[], extra: Partial<CliDeps> = {}) {
  const io = { out: '', err: '' };
  const deps: CliDeps = {
    env: {},
    stdout: (s) => (io.out += s),
    stderr: (s) => (io.err += s),
    createPlatform: () => Promise.reject(new Error('not used')),
    onSignal: () => () => undefined,
    exit: () => undefined,
    ...extra,
  };
  const code = await runCli(args, deps);
  return { code, ...io };
}

async function seeded(t: TestContext, n: number): Promise<TestPlatform> {
  // Exactly the seeded events: the reputation ledger would add its own reputation.changed events
  // for the seeded complaints.
  const p = await startPlatform(t, { config: { reputation: { enabled: false } } });
  const types: EventType[] = ['message.accepted', 'recipient.bounced', 'recipient.complained'];
  const events = Array.from({ length: n }, (_, i) =>
    exampleEvent(types[i % 3]!, { tenantId: p.tenantId, messageId: `msg_${i}` }, { n: i }),
  );
  await p.platform.store.events.append(events, Date.UTC(2026, 11, 1));
  return p;
}

const auth = (p: TestPlatform) => ['--url', p.url, '--api-key', p.key];

test('events export --output writes what GET /v1/events/export streams, NDJSON and CSV, with a summary', { timeout: 60_000 }, async (t) => {
  const p = await seeded(t, 2300);
  const dir = tempDir(t);
  for (const format of ['ndjson', 'csv'] as const) {
    const file = join(dir, `events.${format}`);
    const run = await cli([...auth(p), 'events', 'export', '--format', format, '--types', 'recipient.bounced', '--output', file]);
    assert.equal(run.code, 0, run.err);
    const api = await fetch(`${p.url}/v1/events/export?format=${format}&types=recipient.bounced`, {
      headers: { authorization: `Bearer ${p.key}` },
    });
    assert.equal(readFileSync(file, 'utf8'), await api.text());
    assert.equal(existsSync(`${file}.partial`), false);
    assert.match(run.err, /exported 767 events/);
    assert.doesNotMatch(run.err, /\r/, 'no progress redraws when stderr is not a terminal');
  }
  const json = await cli([...auth(p), '--json', 'events', 'export', '--output', join(dir, 'all.ndjson')]);
  assert.equal(json.code, 0, json.err);
  assert.equal(JSON.parse(json.out).events, 2300);
});

test('events export draws a progress bar on a terminal and writes to stdout without --output', { timeout: 60_000 }, async (t) => {
  const p = await seeded(t, 30);
  const run = await cli([...auth(p), 'events', 'export'], { stderrIsTTY: true });
  assert.equal(run.code, 0, run.err);
  assert.equal(run.out.trimEnd().split('\n').length, 30);
  assert.match(run.err, /\r\[#{30}\] 100% {2}30\/30 events/);
});

test('an export cut short fails with exit 75 and leaves no file; a bad type is exit 65 with its path', async (t) => {
  // A server that announces 10 rows, sends 4 and drops the connection.
  const server = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/x-ndjson', 'postwarden-event-count': '10', 'postwarden-last-cursor': '10' });
    res.write('{"event_id":"evt_1"}\n'.repeat(4));
    setTimeout(() => res.destroy(), 20);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const file = join(tempDir(t), 'cut.ndjson');
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const cut = await cli(['--url', url, '--api-key', 'pw_x', 'events', 'export', '--output', file]);
  assert.equal(cut.code, 75, cut.err);
  assert.match(cut.err, /4 of 10 events/);
  assert.equal(existsSync(file) || existsSync(`${file}.partial`), false);

  const p = await startPlatform(t);
  const bad = await cli([...auth(p), 'events', 'export', '--types', 'recipient.exploded']);
  assert.equal(bad.code, 65);
  assert.match(bad.err, /\/query\/types/);
});
