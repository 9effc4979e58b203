import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import nodemailer from 'nodemailer';
import pg from 'pg';
import pino from 'pino';
import { loadConfig } from '../../src/config/index.js';
import type { DeliveryJob, Transport } from '../../src/delivery/index.js';
import { createPlatform } from '../../src/platform.js';
import { fakeClock } from '../support/clock.js';
import { dialects } from '../support/dialects.js';
import { startPlatform, type TestPlatform } from '../support/platform.js';

/**
 * Issue #18, Done 5 (docs/residency.md): a node of region `us` refuses an `eu` tenant's sends (HTTP
 * 403 and SMTP 550 5.7.1, naming both regions) and never delivers its queued mail, which stays
 * queued, is reported held (`held_reason`, one `recipient.held` event), and is delivered by a node of
 * region `eu` sharing the database. Runs on SQLite, and on PostgreSQL when its URL is set.
 *
 * Time is the fake clock: mail is scheduled a minute ahead, the tenant pinned, then the clock moves.
 * No sleeps: a control tenant's message, due at the same time, shows when the us node has polled.
 */

/** A transport that records what it was asked to send and says it was delivered. */
function recordingTransport() {
  const sent: Array<{ tenantId: string; messageId: string; to: string[] }> = [];
  const transport: Transport = {
    async deliver(job: DeliveryJob) {
      sent.push({ tenantId: job.message.tenantId, messageId: job.message.id, to: job.recipients.map((r) => r.address) });
      return job.recipients.map((r) => ({
        recipientId: r.id,
        kind: 'delivered' as const,
        reply: { code: 250, enhanced: '2.0.0', text: 'ok' },
        details: {},
      }));
    },
  };
  return { sent, transport };
}

async function until<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, ms = 15_000): Promise<T> {
  const end = Date.now() + ms;
  for (let i = 0; i < 100_000; i++) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > end) break;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** Makes every insert into the audit log fail, as a full disk or a lost database would. */
async function failAuditWrites(p: TestPlatform): Promise<void> {
  if (p.platform.store.dialect === 'sqlite') {
    const db = new Database(join(p.config.dataDir, 'postwarden.db'));
    db.exec(`create trigger audit_fails before insert on audit_entries begin select raise(abort, 'audit storage failed'); end`);
    db.close();
    return;
  }
  const c = new pg.Client({ connectionString: p.config.store.url });
  await c.connect();
  await c.query(
    `create function audit_fails() returns trigger language plpgsql as $$ begin raise exception 'audit storage failed'; end $$`,
  );
  await c.query('create trigger audit_fails before insert on audit_entries for each row execute function audit_fails()');
  await c.end();
}

const send = (over: Record<string, unknown> = {}) => ({
  from: 'hello@example.com',
  to: 'ada@dest.test',
  subject: 'Residency',
  text: 'Only in the EU',
  ...over,
});

for (const dialect of dialects) {
  test(`${dialect}: a us node refuses an eu tenant's sends and leaves its queued mail to an eu node`, { timeout: 60_000 }, async (t) => {
    const clock = fakeClock();
    const us = recordingTransport();
    const p: TestPlatform = await startPlatform(t, {
      dialect,
      clock,
      transport: us.transport,
      config: { sandbox: false, residency: { region: 'us', holdAfterSeconds: 60 } },
    });

    // Mail queued while the tenant was not pinned, due in a minute.
    const sendAt = new Date(clock.now() + 60_000).toISOString();
    const queued = await p.request('POST', '/v1/messages', send({ send_at: sendAt }));
    assert.equal(queued.status, 202, JSON.stringify(queued.body));

    // Pin the tenant to eu: audited, shown on the tenant.
    const pinned = await p.request('PATCH', '/v1/tenant', { data_region: 'eu' });
    assert.equal(pinned.status, 200, JSON.stringify(pinned.body));
    assert.equal(pinned.body.data_region, 'eu');
    const bad = await p.request('PATCH', '/v1/tenant', { data_region: 'EU West' });
    assert.equal(bad.status, 422);
    assert.equal(bad.body.errors[0].path, '/data_region');

    // HTTP: one send and a batch, refused with 403 naming both regions.
    const refused = await p.request('POST', '/v1/messages', send());
    assert.equal(refused.status, 403, JSON.stringify(refused.body));
    assert.equal(refused.body.code, 'RESIDENCY_MISMATCH');
    assert.match(refused.body.detail, /pinned to region eu/);
    assert.match(refused.body.detail, /region us/);
    assert.equal(refused.body.tenant_region, 'eu');
    assert.equal(refused.body.node_region, 'us');
    const batch = await p.request('POST', '/v1/messages/batch', { messages: [send()] });
    assert.equal(batch.status, 403);
    assert.equal(batch.body.code, 'RESIDENCY_MISMATCH');

    // SMTP submission: refused at MAIL FROM with 550 5.7.1, before any content is sent.
    const mailer = nodemailer.createTransport({
      host: '127.0.0.1',
      port: p.smtpPort,
      secure: false,
      auth: { user: 'acme', pass: p.key },
      tls: { rejectUnauthorized: false },
    });
    t.after(() => mailer.close());
    /** A submission through SMTP: undefined when accepted, else nodemailer's error. */
    const submit = () =>
      mailer
        .sendMail({ from: 'hello@example.com', to: 'ada@dest.test', subject: 'x', text: 'y' })
        .then(() => undefined)
        .catch((e: { responseCode?: number; response?: string; command?: string }) => e);
    const smtpError = await submit();
    assert.ok(smtpError, 'the submission was accepted');
    assert.equal(smtpError.responseCode, 550);
    assert.equal(smtpError.command, 'MAIL FROM');
    assert.match(smtpError.response ?? '', /^550 5\.7\.1 .*region eu.*region us/);

    // A control tenant (not pinned), its message due at the same time as the held one.
    const other = await p.platform.tenants.createTenant({ name: 'Control' });
    const otherKey = (await p.platform.tenants.createKey({ tenantId: other.id, scopes: ['send', 'read'] })).secret;
    await p.platform.domains.addDomain(other.id, 'example.net');
    const control = await fetch(`${p.url}/v1/messages`, {
      method: 'POST',
      headers: { authorization: `Bearer ${otherKey}`, 'content-type': 'application/json' },
      body: JSON.stringify(send({ from: 'hello@example.net', send_at: sendAt })),
    });
    assert.equal(control.status, 202);
    const controlId = ((await control.json()) as { id: string }).id;

    // The minute passes: the us node delivers the control message and never the eu tenant's, due
    // as early (a claim takes every due row it may, earliest first, so it passed the eu one by).
    clock.advance(61_000);
    await until('the control message delivered', () => us.sent.find((s) => s.messageId === controlId));
    assert.equal(
      us.sent.filter((s) => s.tenantId === p.tenantId).length,
      0,
      `the us node sent the eu tenant's mail: ${JSON.stringify(us.sent)}`,
    );
    // Reads of the tenant's data are refused on this node too (audited once a minute per tenant);
    // what follows reads the shared store as the operator would.
    const read = await p.request('GET', `/v1/messages/${queued.body.id}`);
    assert.equal(read.status, 403, JSON.stringify(read.body));
    assert.equal(read.body.code, 'RESIDENCY_MISMATCH');
    assert.match(read.body.detail, /pinned to region eu.*region us/);
    assert.equal((await p.request('GET', '/v1/events')).status, 403);
    const settings = await p.request('GET', '/v1/tenant');
    assert.equal(settings.status, 200, 'its settings stay readable: where the pin is changed');
    // Audited at most once a minute per tenant: the sends a minute ago, then this read (the GET of
    // events right after it only counted).
    const refusals = (await p.platform.store.audit.page({ chain: p.tenantId, action: 'residency.refused', limit: 10 })).map((r) =>
      JSON.parse(r.afterJson!),
    );
    assert.deepEqual(refusals.map((r) => [r.method, r.route, r.node_region, r.tenant_region]).sort(), [
      ['GET', '/v1/messages/:id', 'us', 'eu'],
      ['POST', '/v1/messages', 'us', 'eu'],
    ]);
    const recipient = async () => (await p.platform.store.recipients.listByMessage(queued.body.id))[0]!;
    assert.equal((await recipient()).state, 'queued');

    // Held: reported once, after residency.holdAfterSeconds, with the regions.
    assert.equal(await p.platform.residencyHolds.sweep(), 0, 'held before holdAfterSeconds');
    clock.advance(60_000);
    assert.equal(await p.platform.residencyHolds.sweep(), 1);
    assert.equal(await p.platform.residencyHolds.sweep(), 0, 'a held recipient is reported once');
    assert.equal((await recipient()).state, 'queued');
    assert.match((await recipient()).heldReason ?? '', /pinned to region eu; a node of region us/);
    const events = await p.platform.store.events.forMessage(queued.body.id);
    const held = events.find((e) => e.type === 'recipient.held');
    assert.ok(held, JSON.stringify(events.map((e) => e.type)));
    assert.equal(held.data.tenant_region, 'eu');
    assert.equal(held.data.node_region, 'us');
    assert.equal(held.data.email, 'ada@dest.test');

    // An eu node on the same database delivers it; the us node still never did.
    const eu = recordingTransport();
    const euConfig = loadConfig({
      overrides: {
        ...p.config,
        server: { ...p.config.server, roles: ['delivery'] },
        residency: { region: 'eu', holdAfterSeconds: 60 },
      },
    });
    const euNode = await createPlatform(euConfig, { clock, transport: eu.transport, log: pino({ level: 'silent' }) });
    t.after(() => euNode.stop());
    await euNode.start();
    await until('the eu node delivered the held message', () => eu.sent.find((s) => s.messageId === queued.body.id));
    assert.deepEqual(
      eu.sent.map((s) => s.tenantId),
      [p.tenantId],
      'the eu node sent only the eu tenant',
    );
    assert.equal(us.sent.filter((s) => s.tenantId === p.tenantId).length, 0);
    const delivered = await until('the held message delivered', async () => {
      const r = await recipient();
      return r.state === 'delivered' ? r : undefined;
    });
    assert.equal(delivered.heldReason ?? null, null, 'the claim clears the hold');

    // An SMTP refusal is audited as the API's are (its first in a minute makes an entry).
    clock.advance(61_000);
    const again = await submit();
    assert.equal(again?.responseCode, 550);
    const entries = (await p.platform.store.audit.page({ chain: p.tenantId, action: 'residency.refused', limit: 10 })).map((r) =>
      JSON.parse(r.afterJson!),
    );
    const smtp = entries.find((r) => r.method === 'SMTP');
    // refused_since_previous_entry: the GET of events right after the previous entry, left out then.
    assert.deepEqual(smtp, { node_region: 'us', tenant_region: 'eu', method: 'SMTP', route: 'MAIL FROM', refused_since_previous_entry: 1 });
    // And the read's entry counted the batch and the first SMTP refusal, which followed the send's.
    assert.equal(entries.find((r) => r.method === 'GET')?.refused_since_previous_entry, 2);

    // With the audit store failing, the answers stay refusals (403, 550), not 500 and 451.
    await failAuditWrites(p);
    clock.advance(61_000);
    const readAnyway = await p.request('GET', '/v1/events');
    assert.equal(readAnyway.status, 403, JSON.stringify(readAnyway.body));
    clock.advance(61_000);
    const sendAnyway = await submit();
    assert.equal(sendAnyway?.responseCode, 550);
    const after = await p.platform.store.audit.page({ chain: p.tenantId, action: 'residency.refused', limit: 10 });
    assert.equal(after.length, entries.length, 'no entry could be written: the refusals did not depend on it');
  });
}
