import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { test } from 'node:test';
import nodemailer from 'nodemailer';
import { createAccept } from '../../src/accept/index.js';
import { type ByteBudget, type Clock, createByteBudget } from '../../src/core/index.js';
import { createSubmissionServer } from '../../src/smtp/index.js';
import { createStore, type Store, type Tenant } from '../../src/store/index.js';
import { createTenants } from '../../src/tenants/index.js';
import { selfSigned } from '../support/certs.js';
import { type RawSmtp, rawSmtp } from '../support/raw-smtp.js';

/**
 * SMTP submission end to end over 127.0.0.1: a real store on a temp SQLite file, the real accept
 * service, nodemailer as the client where a normal client's view is enough, and a raw socket where
 * the exact reply line matters.
 */

const NODE_MAX_BYTES = 1_000_000;
const MAX_RECIPIENTS = 3;

interface LogEntry {
  level: 'info' | 'warn' | 'error';
  obj: Record<string, unknown>;
  msg: string;
}

interface Harness {
  port: number;
  store: Store;
  tenant: Tenant;
  sendKey: string;
  readKey: string;
  cert: string;
  logs: LogEntry[];
  /** Raw client sockets, destroyed before the server closes so close() need not wait them out. */
  sockets: Set<Socket>;
}

async function startSubmission(
  t: TestContext,
  opts: { maxQueued?: number; clock?: Clock; maxAuthFailures?: number; budget?: ByteBudget } = {},
): Promise<Harness> {
  const dir = await mkdtemp(join(tmpdir(), 'postwarden-submission-'));
  const store = await createStore({ sqliteFile: join(dir, 'test.db') });
  const clock = opts.clock ?? { now: () => Date.now() };
  const tenants = createTenants({ store, clock });
  const accept = createAccept({
    store,
    clock,
    hostname: 'mta.test',
    sandbox: true,
    limits: { maxMessageBytes: NODE_MAX_BYTES, maxRecipients: MAX_RECIPIENTS, ratePerMinute: 0, maxQueued: opts.maxQueued ?? 0 },
  });
  const tenant = await tenants.createTenant({ name: 'Acme' });
  await tenants.addDomain(tenant.id, 'example.com');
  const sendKey = (await tenants.createKey({ tenantId: tenant.id, scopes: 'send' })).secret;
  const readKey = (await tenants.createKey({ tenantId: tenant.id, scopes: 'read' })).secret;
  const logs: LogEntry[] = [];
  const record = (level: LogEntry['level']) => (obj: object, msg: string) => logs.push({ level, obj: obj as Record<string, unknown>, msg });
  const { key, cert } = selfSigned(['localhost', '127.0.0.1']);
  const server = createSubmissionServer({
    accept,
    tenants,
    hostname: 'mta.test',
    tls: { key, cert },
    limits: { maxMessageBytes: NODE_MAX_BYTES, maxRecipients: MAX_RECIPIENTS },
    listener: { closeTimeoutMs: 2000 },
    ...(opts.maxAuthFailures !== undefined ? { maxAuthFailures: opts.maxAuthFailures } : {}),
    ...(opts.budget ? { budget: opts.budget } : {}),
    log: { info: record('info'), warn: record('warn'), error: record('error') },
  });
  const { port } = await server.listen(0, '127.0.0.1');
  const sockets = new Set<Socket>();
  t.after(async () => {
    for (const s of sockets) s.destroy();
    await server.close();
    await accept.drain();
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });
  return { port, store, tenant, sendKey, readKey, cert, logs, sockets };
}

function transport(h: Harness, extra: Record<string, unknown> = {}) {
  return nodemailer.createTransport({
    host: '127.0.0.1',
    port: h.port,
    secure: false,
    requireTLS: true,
    auth: { user: 'anyone', pass: h.sendKey },
    tls: { ca: [h.cert] },
    connectionTimeout: 5000,
    greetingTimeout: 5000,
    socketTimeout: 5000,
    ...extra,
  });
}

const rawMessage = (headers: string[], body = 'Hello.') => `${headers.join('\r\n')}\r\n\r\n${body}\r\n`;

// ---------------------------------------------------------------------------------------------

/** A raw session past the greeting (test/support/raw-smtp.ts), closed before the server stops. */
async function rawSession(t: TestContext, h: Harness): Promise<RawSmtp> {
  const s = await rawSmtp(t, h.port);
  h.sockets.add(s.socket);
  assert.match(await s.read(), /^220 /);
  return s;
}

const plain = (secret: string) => Buffer.from(`\0anyone\0${secret}`).toString('base64');

/** Greeting, EHLO, STARTTLS, EHLO, AUTH PLAIN: a session ready for MAIL. */
async function authedSession(t: TestContext, h: Harness): Promise<RawSmtp> {
  const s = await rawSession(t, h);
  await s.command('EHLO client.test');
  await s.starttls(h.cert);
  await s.command('EHLO client.test');
  assert.equal(await s.command(`AUTH PLAIN ${plain(h.sendKey)}`), '235 2.7.0 Authentication successful');
  return s;
}

// ---------------------------------------------------------------------------------------------

test('submission with STARTTLS and AUTH PLAIN queues the message with its recipients and events', async (t) => {
  const h = await startSubmission(t);
  const info = await transport(h, { authMethod: 'PLAIN' }).sendMail({
    envelope: { from: 'app@example.com', to: ['alice@example.net', 'bob@example.org'] },
    raw: rawMessage(['From: App <app@example.com>', 'To: alice@example.net', 'Bcc: bob@example.org', 'Subject: Hi']),
  });
  const m = /^250 2\.0\.0 Ok: queued as (msg_\S+)$/.exec(info.response);
  assert.ok(m, info.response);
  const id = m[1]!;
  const message = await h.store.messages.get(id);
  assert.equal(message?.tenantId, h.tenant.id);
  assert.equal(message?.source, 'smtp');
  assert.equal(message?.from, 'app@example.com');
  assert.equal(message?.subject, 'Hi');
  const recipients = await h.store.recipients.listByMessage(id);
  assert.deepEqual(recipients.map((r) => [r.address, r.state]).sort(), [
    ['alice@example.net', 'queued'],
    ['bob@example.org', 'queued'],
  ]);
  const events = await h.store.events.forMessage(id);
  assert.deepEqual(
    events.map((e) => e.type),
    ['message.accepted', 'recipient.queued', 'recipient.queued'],
  );
  const body = (await h.store.messages.body(id))!.toString('utf8');
  assert.match(body, /^Message-ID: <msg_[^>]+@mta\.test>\r\n/im, 'a Message-ID is added when the client sent none');
  assert.equal(message?.messageIdHeader, /^Message-ID: (.*)$/im.exec(body)?.[1]?.trim());
  assert.doesNotMatch(body, /^Bcc:/im, 'Bcc never reaches the stored message');
  assert.match(body, /^To: alice@example\.net\r\n/m);
});

test('AUTH LOGIN with the API key as password works', async (t) => {
  const h = await startSubmission(t);
  const info = await transport(h, { authMethod: 'LOGIN', auth: { user: 'key-id-or-anything', pass: h.sendKey } }).sendMail({
    from: 'app@example.com',
    to: 'alice@example.net',
    subject: 'Login',
    text: 'Hello.',
  });
  assert.match(info.response, /^250 2\.0\.0 Ok: queued as msg_/);
  assert.equal(await h.store.messages.count(), 1);
});

test('EHLO advertises STARTTLS, AUTH, SIZE, 8BITMIME, SMTPUTF8, PIPELINING and enhanced codes', async (t) => {
  const h = await startSubmission(t);
  const s = await rawSession(t, h);
  const before = (await s.command('EHLO client.test')).split('\n').map((l) => l.slice(4));
  for (const ext of [
    'PIPELINING',
    '8BITMIME',
    'SMTPUTF8',
    'ENHANCEDSTATUSCODES',
    'STARTTLS',
    'AUTH PLAIN LOGIN',
    `SIZE ${NODE_MAX_BYTES}`,
  ]) {
    assert.ok(before.includes(ext), `${ext} in ${before.join(' | ')}`);
  }
  assert.ok(!before.includes('DSN'), 'DSN is not offered: we do not send DSNs to clients');
  await s.starttls(h.cert);
  const after = (await s.command('EHLO client.test')).split('\n').map((l) => l.slice(4));
  assert.ok(!after.includes('STARTTLS') && after.includes('AUTH PLAIN LOGIN') && after.includes('SMTPUTF8'));
});

test('AUTH before STARTTLS is refused with 538 5.7.11 before any credential is asked for', async (t) => {
  const h = await startSubmission(t);
  const s = await rawSession(t, h);
  await s.command('EHLO client.test');
  assert.equal(await s.command(`AUTH PLAIN ${plain(h.sendKey)}`), '538 5.7.11 Encryption required for requested authentication mechanism');
  // LOGIN is refused at the command, so the client is never prompted (334) for its password.
  assert.equal(await s.command('AUTH LOGIN'), '538 5.7.11 Encryption required for requested authentication mechanism');
  assert.equal(await s.command('MAIL FROM:<app@example.com>'), '530 5.7.0 Authentication required');
});

test('nodemailer without TLS sees the 538 refusal and nothing is queued', async (t) => {
  const h = await startSubmission(t);
  await assert.rejects(
    transport(h, { requireTLS: false, ignoreTLS: true }).sendMail({ from: 'app@example.com', to: 'a@example.net', text: 'x' }),
    (e: { responseCode?: number; response?: string }) => {
      assert.equal(e.responseCode, 538);
      assert.equal(e.response, '538 5.7.11 Encryption required for requested authentication mechanism');
      return true;
    },
  );
  assert.equal(await h.store.messages.count(), 0);
});

test('a wrong API key is refused with 535 5.7.8', async (t) => {
  const h = await startSubmission(t);
  await assert.rejects(
    transport(h, { auth: { user: 'anyone', pass: 'pw_not-a-real-key' } }).sendMail({
      from: 'app@example.com',
      to: 'a@example.net',
      text: 'x',
    }),
    (e: { responseCode?: number; response?: string }) => {
      assert.equal(e.response, '535 5.7.8 Authentication credentials invalid');
      return true;
    },
  );
  assert.ok(h.logs.some((l) => l.level === 'warn' && l.obj.code === 'UNAUTHENTICATED' && l.obj.stage === 'AUTH'));
  assert.ok(!JSON.stringify(h.logs).includes('pw_not-a-real-key'), 'the presented secret is never logged');
});

test('a key without the send scope is refused with 535 5.7.8', async (t) => {
  const h = await startSubmission(t);
  const s = await rawSession(t, h);
  await s.command('EHLO client.test');
  await s.starttls(h.cert);
  await s.command('EHLO client.test');
  assert.equal(await s.command(`AUTH PLAIN ${plain(h.readKey)}`), '535 5.7.8 Authentication credentials invalid');
  assert.ok(h.logs.some((l) => l.obj.code === 'UNAUTHENTICATED' && String(l.obj.detail).includes('lacks the send scope')));
});

test('a From domain the tenant does not own is refused with 550 5.7.1 and the detail is logged', async (t) => {
  const h = await startSubmission(t);
  await assert.rejects(
    transport(h).sendMail({
      envelope: { from: 'app@example.com', to: ['a@example.net'] },
      raw: rawMessage(['From: x@other.org', 'Subject: s']),
    }),
    (e: { response?: string }) => {
      assert.equal(e.response, '550 5.7.1 Sender domain not allowed for this account');
      return true;
    },
  );
  assert.equal(await h.store.messages.count(), 0);
  const entry = h.logs.find((l) => l.obj.code === 'SENDER_DOMAIN_NOT_ALLOWED');
  assert.match(String(entry?.obj.detail), /other\.org/);
});

test('a message without a From header is refused with 550 5.6.0 saying so', async (t) => {
  const h = await startSubmission(t);
  await assert.rejects(
    transport(h).sendMail({
      envelope: { from: 'app@example.com', to: ['a@example.net'] },
      raw: rawMessage(['To: a@example.net', 'Subject: s']),
    }),
    (e: { response?: string }) => {
      assert.equal(e.response, '550 5.6.0 Message rejected: the message has no From header');
      return true;
    },
  );
  assert.equal(await h.store.messages.count(), 0);
});

test('a SIZE= over the tenant limit is refused at MAIL FROM with 552 5.3.4', async (t) => {
  const h = await startSubmission(t);
  await h.store.tenants.update(h.tenant.id, { maxMessageBytes: 2048 });
  const s = await authedSession(t, h);
  assert.equal(await s.command('MAIL FROM:<app@example.com> SIZE=5000'), '552 5.3.4 Message too large: the limit is 2048 bytes');
  assert.equal(await s.command('MAIL FROM:<app@example.com> SIZE=2000'), '250 2.1.0 Accepted');
  await s.command('RSET');
  // Over the node-wide SIZE declared in EHLO, smtp-server refuses before our check (still 5.3.4).
  assert.match(await s.command(`MAIL FROM:<app@example.com> SIZE=${NODE_MAX_BYTES + 1}`), /^552 5\.3\.4 /);
});

test('a message over the tenant limit is refused after DATA with 552 5.3.4 and not stored', async (t) => {
  const h = await startSubmission(t);
  await h.store.tenants.update(h.tenant.id, { maxMessageBytes: 2048 });
  const s = await authedSession(t, h);
  assert.equal(await s.command('MAIL FROM:<app@example.com>'), '250 2.1.0 Accepted');
  assert.equal(await s.command('RCPT TO:<a@example.net>'), '250 2.1.5 Accepted');
  assert.match(await s.command('DATA'), /^354 /);
  s.write(rawMessage(['From: app@example.com', 'Subject: big'], 'x'.repeat(3000)));
  s.write('.\r\n');
  assert.equal(await s.read(), '552 5.3.4 Message too large: the limit is 2048 bytes');
  assert.equal(await h.store.messages.count(), 0);
  // The session survives the refusal: a small message goes through on the same connection.
  await s.command('MAIL FROM:<app@example.com>');
  await s.command('RCPT TO:<a@example.net>');
  await s.command('DATA');
  s.write(`${rawMessage(['From: app@example.com', 'Subject: small'])}.\r\n`);
  assert.match(await s.read(), /^250 2\.0\.0 Ok: queued as msg_/);
});

test('nodemailer sees 552 5.3.4 for an oversized message', async (t) => {
  const h = await startSubmission(t);
  await h.store.tenants.update(h.tenant.id, { maxMessageBytes: 2048 });
  await assert.rejects(
    transport(h).sendMail({ from: 'app@example.com', to: 'a@example.net', text: 'y'.repeat(4000) }),
    (e: { responseCode?: number; response?: string }) => {
      assert.equal(e.response, '552 5.3.4 Message too large: the limit is 2048 bytes');
      return true;
    },
  );
  // nodemailer declares no SIZE= for a composed message, so this was the count taken during DATA.
  assert.ok(h.logs.some((l) => l.obj.stage === 'DATA' && l.obj.code === 'MESSAGE_TOO_LARGE'));
});

test('recipients beyond the per-message limit get 452 4.5.3 and the others are still sent', async (t) => {
  const h = await startSubmission(t);
  const s = await authedSession(t, h);
  await s.command('MAIL FROM:<app@example.com>');
  for (let i = 1; i <= MAX_RECIPIENTS; i++) assert.equal(await s.command(`RCPT TO:<r${i}@example.net>`), '250 2.1.5 Accepted');
  assert.equal(await s.command('RCPT TO:<r9@example.net>'), '452 4.5.3 Too many recipients');
  // Repeating an accepted recipient is not a new one (RFC 5321 §3.3 lets servers merge duplicates).
  assert.equal(await s.command('RCPT TO:<R1@example.net>'), '250 2.1.5 Accepted');
  await s.command('DATA');
  s.write(`${rawMessage(['From: app@example.com', 'Subject: many'])}.\r\n`);
  const id = /queued as (msg_\S+)/.exec(await s.read())?.[1];
  assert.ok(id);
  assert.equal((await h.store.recipients.listByMessage(id)).length, MAX_RECIPIENTS);
});

test('a recipient with bad syntax is refused with 501 5.1.3', async (t) => {
  const h = await startSubmission(t);
  const s = await authedSession(t, h);
  await s.command('MAIL FROM:<app@example.com>');
  // smtp-server's own parser refuses these two; the reply is rewritten to the same words as ours.
  assert.equal(await s.command('RCPT TO:<a..b@example.net>'), '501 5.1.3 Bad recipient address syntax');
  assert.equal(await s.command('RCPT TO:<>'), '501 5.1.3 Bad recipient address syntax');
  // smtp-server takes these; parseAddress refuses them (a domain needs a dot; no IP literals).
  assert.equal(await s.command('RCPT TO:<user@localhost>'), '501 5.1.3 Bad recipient address syntax');
  assert.equal(await s.command('RCPT TO:<user@[127.0.0.1]>'), '501 5.1.3 Bad recipient address syntax');
  assert.equal(h.logs.filter((l) => l.obj.stage === 'RCPT').length, 2, 'our refusals are logged');
});

test('a bad sender address is refused with 501 5.1.7 and the null sender is accepted', async (t) => {
  const h = await startSubmission(t);
  const s = await authedSession(t, h);
  assert.equal(await s.command('MAIL FROM:<a..b@example.com>'), '501 5.1.7 Bad sender address syntax');
  assert.equal(await s.command('MAIL FROM:<>'), '250 2.1.0 Accepted');
});

test('an SMTPUTF8 recipient with a non-ASCII local part is accepted', async (t) => {
  const h = await startSubmission(t);
  const info = await transport(h).sendMail({
    envelope: { from: 'app@example.com', to: ['josé@example.net'] },
    raw: rawMessage(
      ['From: app@example.com', 'To: josé@example.net', 'Subject: Olá', 'Content-Type: text/plain; charset=utf-8'],
      'Olá, José.',
    ),
  });
  const id = /queued as (msg_\S+)/.exec(info.response)?.[1];
  assert.ok(id, info.response);
  const [rcpt] = await h.store.recipients.listByMessage(id);
  assert.equal(rcpt?.address, 'josé@example.net');
  assert.match((await h.store.messages.body(id))!.toString('utf8'), /Olá, José\./, '8-bit body kept byte for byte');
});

test('pipelined commands on a TLS session are each answered in order', async (t) => {
  const h = await startSubmission(t);
  const s = await rawSession(t, h);
  await s.command('EHLO client.test');
  await s.starttls(h.cert);
  // RFC 2920 §3.1: EHLO, AUTH (with initial response), MAIL, RCPT may go in one batch; DATA ends it.
  s.write(
    [
      'EHLO client.test',
      `AUTH PLAIN ${plain(h.sendKey)}`,
      'MAIL FROM:<app@example.com> SMTPUTF8 BODY=8BITMIME',
      'RCPT TO:<a@example.net>',
      'RCPT TO:<b@example.net>',
      'DATA',
    ].join('\r\n') + '\r\n',
  );
  assert.match(await s.read(), /^250-/);
  assert.equal(await s.read(), '235 2.7.0 Authentication successful');
  assert.equal(await s.read(), '250 2.1.0 Accepted');
  assert.equal(await s.read(), '250 2.1.5 Accepted');
  assert.equal(await s.read(), '250 2.1.5 Accepted');
  assert.match(await s.read(), /^354 /);
  s.write(`${rawMessage(['From: app@example.com', 'Subject: piped'])}.\r\nQUIT\r\n`);
  assert.match(await s.read(), /^250 2\.0\.0 Ok: queued as msg_/);
  assert.match(await s.read(), /^221 /);
  assert.equal(await h.store.messages.count(), 1);
});

test('a full queue sheds new transactions with 421 4.3.2 at MAIL FROM', async (t) => {
  let now = Date.parse('2030-01-01T00:00:00Z');
  const h = await startSubmission(t, { maxQueued: 1, clock: { now: () => now } });
  await transport(h).sendMail({ from: 'app@example.com', to: 'a@example.net', text: 'first' });
  now += 2000; // backpressure re-reads the queue depth at most once a second
  const s = await authedSession(t, h);
  assert.equal(await s.command('MAIL FROM:<app@example.com>'), '421 4.3.2 Service busy, try again later');
});

test('failed AUTH attempts close the session with 421 4.7.0 at the configured count', async (t) => {
  const h = await startSubmission(t, { maxAuthFailures: 3 });
  const s = await rawSession(t, h);
  await s.command('EHLO client.test');
  await s.starttls(h.cert);
  await s.command('EHLO client.test');
  assert.equal(await s.command(`AUTH PLAIN ${plain('pw_wrong-1')}`), '535 5.7.8 Authentication credentials invalid');
  assert.equal(await s.command(`AUTH PLAIN ${plain('pw_wrong-2')}`), '535 5.7.8 Authentication credentials invalid');
  assert.equal(
    await s.command(`AUTH PLAIN ${plain('pw_wrong-3')}`),
    '421 4.7.0 Too many failed authentication attempts, closing connection',
  );
  await s.closed; // the server closed the connection (a hang here fails the test on its timeout)
  assert.ok(h.logs.some((l) => l.msg === 'submission closed: too many failed AUTH attempts' && l.obj.failures === 3));
  // A fresh connection starts a fresh count, and a good key still works there.
  await authedSession(t, h);
});

test('a header line over 998 characters is refused with 550 5.6.0 and nothing is stored', async (t) => {
  const h = await startSubmission(t);
  const s = await authedSession(t, h);
  await s.command('MAIL FROM:<app@example.com>');
  await s.command('RCPT TO:<a@example.net>');
  await s.command('DATA');
  s.write(`${rawMessage(['From: app@example.com', `Subject: ${'x'.repeat(990)}`])}.\r\n`);
  assert.equal(await s.read(), '550 5.6.0 Message rejected: header line 2 is 999 characters; the limit is 998 (RFC 5322 §2.1.1)');
  assert.equal(await h.store.messages.count(), 0);
  // 998 exactly is legal, and so is a long body line (only the header section is judged).
  await s.command('MAIL FROM:<app@example.com>');
  await s.command('RCPT TO:<a@example.net>');
  await s.command('DATA');
  s.write(`${rawMessage(['From: app@example.com', `Subject: ${'x'.repeat(989)}`], 'y'.repeat(2000))}.\r\n`);
  assert.match(await s.read(), /^250 2\.0\.0 Ok: queued as msg_/);
});

test('a NUL in a recipient address is refused with 501 5.1.3', async (t) => {
  const h = await startSubmission(t);
  const s = await authedSession(t, h);
  await s.command('MAIL FROM:<app@example.com>');
  assert.equal(await s.command('RCPT TO:<nu\0l@example.net>'), '501 5.1.3 Bad recipient address syntax');
  assert.equal(await s.command('RCPT TO:<null@example.net>'), '250 2.1.5 Accepted');
});

test('with the byte budget in use, MAIL with SIZE= and a DATA that would pass it get 452 4.3.1', async (t) => {
  const budget = createByteBudget(4000);
  const h = await startSubmission(t, { budget });
  const other = budget.hold(); // another message being read on this node
  assert.ok(other.grow(3000));
  const s = await authedSession(t, h);
  assert.equal(await s.command('MAIL FROM:<app@example.com> SIZE=2000'), '452 4.3.1 Insufficient system resources, try again later');
  assert.equal(await s.command('MAIL FROM:<app@example.com> SIZE=500'), '250 2.1.0 Accepted');
  await s.command('RCPT TO:<a@example.net>');
  await s.command('DATA');
  s.write(`${rawMessage(['From: app@example.com', 'Subject: big'], 'z'.repeat(2000))}.\r\n`);
  assert.equal(await s.read(), '452 4.3.1 Insufficient system resources, try again later');
  assert.equal(await h.store.messages.count(), 0);
  assert.equal(budget.inFlight(), 3000, 'the refused read gave its bytes back');
  // Once the other read is done the same message goes through, and its bytes are returned after.
  other.release();
  await s.command('MAIL FROM:<app@example.com>');
  await s.command('RCPT TO:<a@example.net>');
  await s.command('DATA');
  s.write(`${rawMessage(['From: app@example.com', 'Subject: big'], 'z'.repeat(2000))}.\r\n`);
  assert.match(await s.read(), /^250 2\.0\.0 Ok: queued as msg_/);
  assert.equal(budget.inFlight(), 0);
});
