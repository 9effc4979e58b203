import assert from 'node:assert/strict';
import { test } from 'node:test';
import nodemailer from 'nodemailer';
import { createStore } from '../../src/store/index.js';
import { encryptionFor } from '../protection/seed.js';
import { tempDir } from '../support/dialects.js';
import { startServer } from '../support/server-process.js';

/**
 * Done-means 4 of the spine: kill -9 the server while 1,000 messages are being accepted concurrently
 * over HTTP and SMTP. After a restart every message that got a 202/250 is there with its recipients
 * and events, none that was refused is, and a reader that paged the events during the writes saw no gap.
 */
const TOTAL = 1000;

test('kill -9 during 1,000 concurrent accepts loses no acknowledged message and shows no cursor gap', { timeout: 240_000 }, async (t) => {
  const dataDir = tempDir(t, 'pw-crash-');
  const server = await startServer({ dataDir, args: ['--sandbox'] });
  t.after(() => server.stop());
  const base = `http://127.0.0.1:${server.http}`;
  const auth = { authorization: `Bearer ${server.key}`, 'content-type': 'application/json' };

  const acked = new Map<string, string>(); // subject → message id
  const refused: string[] = [];
  let killed = false;
  let next = 0;

  // A reader paging the spine while the writes happen.
  const seen: number[] = [];
  const reader = (async () => {
    let after = '0';
    for (let i = 0; i < 100_000 && !killed; i++) {
      try {
        const res = await fetch(`${base}/v1/events?after=${after}&limit=500`, { headers: auth });
        const page = (await res.json()) as { data: { cursor: string }[]; next_cursor: string };
        for (const e of page.data) seen.push(Number(e.cursor));
        after = page.next_cursor;
      } catch {
        return; // the server died under us
      }
    }
  })();

  async function viaHttp(i: number): Promise<void> {
    // One in ten is refused on purpose: its From domain is not the tenant's.
    const bad = i % 10 === 3;
    const subject = `crash-${i}`;
    const res = await fetch(`${base}/v1/messages`, {
      method: 'POST',
      headers: auth,
      body: JSON.stringify({
        from: bad ? 'x@not-ours.example' : 'a@bench.example',
        to: [`r${i}@example.net`, `s${i}@example.org`],
        subject,
        text: 'x',
      }),
    });
    const body = (await res.json()) as { id?: string };
    if (res.status === 202 && body.id) acked.set(subject, body.id);
    else if (res.status === 422) refused.push(subject);
  }

  const smtp = nodemailer.createTransport({
    host: '127.0.0.1',
    port: server.smtp,
    secure: false,
    requireTLS: true,
    tls: { rejectUnauthorized: false },
    auth: { user: 'crash', pass: server.key },
    pool: true,
    maxConnections: 4,
  });
  async function viaSmtp(i: number): Promise<void> {
    const subject = `crash-${i}`;
    const info = await smtp.sendMail({ from: 'a@bench.example', to: [`r${i}@example.net`, `s${i}@example.org`], subject, text: 'x' });
    const id = /queued as (msg_\w+)/.exec(info.response)?.[1];
    if (id) acked.set(subject, id);
  }

  const workers = Array.from({ length: 40 }, async (_, w) => {
    for (let i = next++; i < TOTAL && !killed; i = next++) {
      try {
        await (w % 4 === 0 ? viaSmtp(i) : viaHttp(i));
      } catch {
        // The connection died with the server: neither acknowledged nor refused.
      }
    }
  });

  // Kill once a good share has been acknowledged, while many requests are in flight.
  for (let i = 0; i < 6000 && acked.size < TOTAL * 0.4; i++) await new Promise((r) => setTimeout(r, 10));
  assert.ok(acked.size > 50, `only ${acked.size} messages were acknowledged before the kill`);
  server.child.kill('SIGKILL');
  killed = true;
  await Promise.all(workers);
  await reader;
  smtp.close();
  if (server.child.exitCode === null && server.child.signalCode === null) await new Promise((r) => server.child.once('exit', r));

  // Restart on the same data and read back.
  const again = await startServer({ dataDir, args: ['--sandbox'], bootstrap: false, key: server.key });
  t.after(() => again.stop());
  const store = await createStore({ dataDir, encryption: encryptionFor(dataDir) });
  t.after(() => store.close());

  for (const [subject, id] of acked) {
    const m = await store.messages.get(id);
    assert.ok(m, `acknowledged message ${id} (${subject}) is missing after the crash`);
    assert.equal(m.subject, subject);
    const recipients = await store.recipients.listByMessage(id);
    assert.equal(recipients.length, 2, `${id} has its two recipients`);
    const events = await store.events.forMessage(id);
    assert.equal(events[0]?.type, 'message.accepted');
    assert.equal(events.filter((e) => e.type === 'recipient.queued').length, 2);
  }
  const subjects = new Set((await store.messages.list((await store.tenants.list())[0]!.id, { limit: 100_000 })).map((m) => m.subject));
  for (const s of refused) assert.ok(!subjects.has(s), `refused message ${s} is present`);

  // No gap: every event at or below the highest cursor the reader saw was seen by it.
  const all = (await store.events.page({ limit: 1_000_000 })).map((e) => Number(e.cursor));
  const highest = Math.max(0, ...seen);
  const seenSet = new Set(seen);
  const missed = all.filter((c) => c <= highest && !seenSet.has(c));
  assert.deepEqual(missed, [], 'the reader skipped no event below its high-water mark');
  assert.ok(seen.length > 0, 'the reader read during the writes');
  t.diagnostic(`acknowledged ${acked.size}, refused ${refused.length}, events seen by the reader ${seen.length} of ${all.length}`);
});
