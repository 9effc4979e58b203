import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { createStore, type Store } from '../../src/store/index.js';
import { encryptionFor } from '../protection/seed.js';
import { acceptedBy, sendBatches, sinkTally, startDeliveryLab, terminalSummary, waitUntil } from '../support/delivery-lab.js';
import { type BenchServer, startServer } from '../support/server-process.js';

/**
 * Done-means 2 of the delivery engine: the end-to-end run of Done-means 1 (1,000 messages to a
 * domain that accepts, one that defers twice, one that rejects some recipients), with the server as
 * a child process on SQLite that is killed with SIGKILL mid-delivery and restarted on the same data.
 *
 * What "exactly once" can mean here. A delivery is recorded in two places that no protocol can
 * commit together: the remote's spool (the sink) and our database. Between the end of DATA reaching
 * the remote and our settle transaction committing, a kill leaves the recipient `in_flight` with a
 * lease; after the restart the lease expires and the recipient is sent again. That is the window of
 * RFC 1047 ("Duplicate messages and SMTP"), the one RFC 5321 §4.5.3.2.6 warns of ("delivery of
 * multiple copies"); an MTA takes a duplicate over a loss. Our sink records a message when the end of DATA arrives, whether or not its 250 ever
 * reached the client (the client may already be dead), so it counts the window at its widest. The
 * test therefore asserts what the engine can promise:
 * - no loss: every accepted recipient reaches exactly one terminal state, and every one that ends
 *   delivered was seen by its sink;
 * - no re-send after a recorded outcome: a recipient seen twice was `in_flight` in the database at
 *   the kill (its outcome was not yet committed), it was seen at most twice, and so the duplicates
 *   are bounded by the transactions in flight at the kill (at most `concurrency`).
 * The number of duplicates is printed as a diagnostic on every run.
 */
const TOTAL = 1000;
const CONCURRENCY = 32;

test('kill -9 mid-delivery and a restart lose no recipient and re-send only what was in flight at the kill', {
  timeout: 150_000,
}, async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'pw-delivery-crash-'));
  const servers: BenchServer[] = [];
  let store: Store | undefined;
  // Registered first, so it runs first: the servers stop while the sinks still listen, and the
  // data directory goes last.
  t.after(async () => {
    await Promise.all(servers.map((s) => s.stop()));
    await store?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });
  // A delay at DATA keeps the run a few seconds long so the kill lands mid-delivery, and it keeps
  // transactions in the duplicate window (body sent, reply not yet recorded) when the kill comes.
  const lab = await startDeliveryLab(t, {
    'a.test': { default: { delayMs: 20, at: 'data' } },
    'b.test': { default: { deferTimes: 2, delayMs: 20, at: 'data' } },
    'c.test': {
      default: { delayMs: 20, at: 'data' },
      recipients: [{ match: (addr) => addr.startsWith('bad'), reply: { code: 550, enhanced: '5.1.1', text: 'no such user' } }],
    },
  });
  const configFile = lab.writeConfig(dataDir, {
    sandbox: false,
    delivery: {
      retryMinutes: [0.001],
      // Work held by the killed process comes back once its lease expires (5 s is the minimum).
      leaseSeconds: 5,
      concurrency: CONCURRENCY,
      maxConnections: 4,
      pollMs: 50,
      commandTimeoutMs: 5000,
      dataTimeoutMs: 5000,
    },
  });
  const env = { POSTWARDEN_CONFIG: configFile };
  const started = Date.now();
  const server = await startServer({ dataDir, env });
  servers.push(server);

  const domains = ['a.test', 'b.test', 'c.test'];
  const rcpt = (i: number) => `${i % 3 === 2 && i % 5 === 0 ? 'bad' : 'user'}${i}@${domains[i % 3]}`;
  const messages = Array.from({ length: TOTAL }, (_, i) => ({
    from: 'sender@bench.example',
    to: rcpt(i),
    subject: `m${i}`,
    text: `message ${i}`,
  }));
  const ids = await sendBatches(`http://127.0.0.1:${server.http}`, server.key, messages);
  assert.equal(ids.length, TOTAL);
  const atSent = acceptedBy(lab.sinks.values());
  const expectedDelivered = messages.map((m) => m.to).filter((r) => !r.startsWith('bad'));

  // Kill once a few hundred were delivered.
  await waitUntil('the sinks accepted 300 messages', () => acceptedBy(lab.sinks.values()) >= 300, 60_000, 5);
  server.child.kill('SIGKILL');
  if (server.child.exitCode === null && server.child.signalCode === null) await new Promise((r) => server.child.once('exit', r));
  const atKill = acceptedBy(lab.sinks.values());

  // What the database held at the kill: the recipients whose outcome was not committed.
  const db = await createStore({ dataDir, encryption: encryptionFor(dataDir) });
  store = db;
  const rows = await db.recipients.listByMessages(ids);
  assert.equal(rows.length, TOTAL);
  const inFlightAtKill = new Set(rows.filter((r) => r.state === 'in_flight').map((r) => r.address.toLowerCase()));
  const openAtKill = rows.filter((r) => r.state === 'queued' || r.state === 'deferred' || r.state === 'in_flight').length;
  assert.ok(openAtKill >= 100, `the kill came mid-delivery: ${openAtKill} recipients were still open`);
  assert.ok(inFlightAtKill.size <= CONCURRENCY, `at most ${CONCURRENCY} recipients are leased at once, saw ${inFlightAtKill.size}`);

  servers.push(await startServer({ dataDir, env, bootstrap: false, key: server.key }));
  await waitUntil(
    'every recipient reached a terminal state after the restart',
    async () => (await db.recipients.countOpen()) === 0,
    60_000,
    100,
  );

  // Exactly one terminal state per recipient, the right one, nothing lost.
  const summary = await terminalSummary(db);
  assert.deepEqual(summary.multiple, [], 'no recipient has two terminal events');
  assert.equal(summary.rows, TOTAL, 'every accepted recipient has a terminal event');
  for (const m of messages) {
    assert.equal(
      summary.endOf.get(m.to),
      m.to.startsWith('bad') ? 'recipient.bounced' : 'recipient.delivered',
      `${m.to} ended in the right state`,
    );
  }

  // The sinks: every delivered recipient arrived; a second copy only for work in flight at the kill.
  const tally = sinkTally(lab.sinks.values());
  const duplicates: string[] = [];
  for (const address of expectedDelivered) {
    const n = tally.get(address) ?? 0;
    assert.ok(n >= 1, `${address} ended delivered but no sink saw it`);
    assert.ok(n <= 2, `${address} reached its sink ${n} times`);
    if (n === 2) {
      assert.ok(inFlightAtKill.has(address), `${address} was sent again although its outcome was recorded before the kill`);
      duplicates.push(address);
    }
  }
  for (const address of tally.keys()) assert.ok(!address.startsWith('bad'), `the sink accepted ${address}, which it rejects`);
  assert.ok(duplicates.length <= inFlightAtKill.size);
  // b.test deferred everyone twice before accepting, across the crash as well.
  for (const address of expectedDelivered.filter((a) => a.endsWith('@b.test'))) {
    assert.ok((lab.sinks.get('b.test')!.attemptsByRecipient.get(address) ?? 0) >= 3, `${address} was tried three times`);
  }
  t.diagnostic(
    `accepted ${TOTAL}; sinks had ${atSent} when the sends were answered, ${atKill} at the kill; open at kill ${openAtKill}, in flight ${inFlightAtKill.size}; ` +
      `duplicates ${duplicates.length}${duplicates.length ? ` (${duplicates.slice(0, 5).join(', ')}…)` : ''}; ${Date.now() - started} ms`,
  );
});
