import assert from 'node:assert/strict';
import type { TestContext } from 'node:test';
import { test } from 'node:test';
import { connect as tlsConnect } from 'node:tls';
import nodemailer from 'nodemailer';
import { startPlatform, type TestPlatform } from '../support/platform.js';
import { idleConnections, rawSmtp } from '../support/raw-smtp.js';

/**
 * The limits both SMTP listeners share (src/smtp/listener.ts, enhanced-server.ts) and the MX's own,
 * on a whole platform over loopback. Loopback has every address of 127.0.0.0/8, so the hostile client
 * is 127.0.0.1 and the normal one 127.0.0.2: the limits are per address, not global.
 */

async function platform(t: TestContext, smtp: Record<string, unknown> = {}): Promise<TestPlatform> {
  // The test's clients are closed after the platform stops (after-hooks run in order), so stopping
  // would otherwise wait the default 30 s for them.
  const p = await startPlatform(t, { config: { smtp: { closeTimeoutSeconds: 1, ...smtp } } });
  assert.ok(p.smtpPort > 0 && p.mxPort > 0);
  return p;
}

/** A normal remote MTA at 127.0.0.2 delivering to the MX. */
async function deliverToMx(p: TestPlatform): Promise<string> {
  const transport = nodemailer.createTransport({
    host: '127.0.0.1',
    port: p.mxPort,
    localAddress: '127.0.0.2',
    secure: false,
    tls: { rejectUnauthorized: false },
    name: 'mx.example.org',
    connectionTimeout: 5000,
    greetingTimeout: 5000,
  });
  try {
    const info = await transport.sendMail({
      envelope: { from: 'someone@example.org', to: 'postmaster@pw.test' },
      raw: 'From: someone@example.org\r\nTo: postmaster@pw.test\r\nSubject: hello\r\n\r\nhi\r\n',
    });
    return info.response;
  } finally {
    transport.close();
  }
}

/** A normal application at 127.0.0.2 sending through submission with the tenant's key. */
async function submit(p: TestPlatform): Promise<string> {
  const transport = nodemailer.createTransport({
    host: '127.0.0.1',
    port: p.smtpPort,
    localAddress: '127.0.0.2',
    secure: false,
    requireTLS: true,
    auth: { user: 'app', pass: p.key },
    tls: { rejectUnauthorized: false },
    connectionTimeout: 5000,
    greetingTimeout: 5000,
  });
  try {
    const info = await transport.sendMail({ from: 'app@example.com', to: 'someone@example.net', subject: 'hi', text: 'Hello.' });
    return info.response;
  } finally {
    transport.close();
  }
}

test('300 idle connections to the MX and 1,200 to submission from one address lock nobody else out', async (t) => {
  // Each socket is two descriptors here (client and server in one process).
  const p = await platform(t);
  const mx = await idleConnections(t, p.mxPort, 300);
  const sub = await idleConnections(t, p.smtpPort, 1200);

  // The first connections of the address are served; the rest are refused at once, not kept.
  const greeted = (first: string[]) => first.filter((l) => l.startsWith('220 ')).length;
  const refused = (first: string[]) =>
    first.filter((l) => l === '421 4.7.0 pw.test Too many connections from your address, try again later').length;
  assert.equal(greeted(mx.first), p.config.smtp.mx.maxClientsPerIp);
  assert.equal(refused(mx.first), 300 - p.config.smtp.mx.maxClientsPerIp);
  assert.equal(greeted(sub.first), p.config.smtp.submission.maxClientsPerIp);
  assert.equal(refused(sub.first), 1200 - p.config.smtp.submission.maxClientsPerIp);

  // Another address still gets its greeting and delivers on both doors.
  assert.match(await deliverToMx(p), /^250 2\.0\.0 Ok: received as fb_/);
  const queued = /queued as (msg_\S+)/.exec(await submit(p))?.[1];
  assert.ok(queued, 'submission queued the message');
  assert.equal((await p.request('GET', `/v1/messages/${queued}`)).status, 200);

  // The refused sockets are gone; the greeted ones are still open (idle, within the timeouts).
  const open = (sockets: { destroyed: boolean; readyState: string }[]) => sockets.filter((s) => s.readyState === 'open').length;
  assert.equal(open(mx.sockets), p.config.smtp.mx.maxClientsPerIp);
  assert.equal(open(sub.sockets), p.config.smtp.submission.maxClientsPerIp);
});

test('a slot freed by a closed connection is available to the same address again', async (t) => {
  const p = await platform(t, { mx: { maxClientsPerIp: 2 } });
  const a = await rawSmtp(t, p.mxPort);
  const b = await rawSmtp(t, p.mxPort);
  assert.match(await a.read(), /^220 /);
  assert.match(await b.read(), /^220 /);
  const c = await rawSmtp(t, p.mxPort);
  assert.match(await c.read(), /^421 4\.7\.0 /);
  await c.closed;
  a.socket.destroy();
  await a.closed;
  // The server sees the close a moment later; poll briefly rather than sleep a fixed time.
  let greeting = '';
  for (let i = 0; i < 50 && !greeting.startsWith('220 '); i++) {
    const d = await rawSmtp(t, p.mxPort);
    greeting = await d.read();
    if (!greeting.startsWith('220 ')) await new Promise((r) => setTimeout(r, 20));
  }
  assert.match(greeting, /^220 /);
});

test('a client that never says EHLO is dropped after helloTimeoutSeconds; one that did is not', async (t) => {
  const p = await platform(t, { helloTimeoutSeconds: 1 });
  const silent = await rawSmtp(t, p.smtpPort);
  const talking = await rawSmtp(t, p.mxPort);
  assert.match(await silent.read(), /^220 /);
  assert.match(await talking.read(), /^220 /);
  assert.match(await talking.command('EHLO client.test'), /^250/);
  const started = Date.now();
  assert.equal(await silent.read(3000), '421 4.4.2 pw.test No EHLO/HELO in time, closing connection');
  await silent.closed;
  assert.ok(Date.now() - started < 2500);
  // The one that said EHLO is governed by the idle timeout (120 s) and still answers.
  assert.match(await talking.command('NOOP'), /^250 /);
});

test('STARTTLS forgets the EHLO name, but the hello timeout does not drop that client', async (t) => {
  const p = await platform(t, { helloTimeoutSeconds: 1 });
  const s = await rawSmtp(t, p.smtpPort);
  assert.match(await s.read(), /^220 /);
  assert.match(await s.command('EHLO client.test'), /^250/);
  assert.match(await s.command('STARTTLS'), /^220 /);
  s.socket.removeAllListeners('data');
  const secure = tlsConnect({ socket: s.socket, rejectUnauthorized: false });
  t.after(() => {
    secure.destroy();
  });
  await new Promise<void>((resolve, reject) => secure.once('secureConnect', resolve).once('error', reject));
  await new Promise((r) => setTimeout(r, 1500)); // past the hello timeout, before the idle one
  const reply = new Promise<string>((resolve) => secure.once('data', (d: Buffer) => resolve(d.toString('utf8'))));
  secure.write('NOOP\r\n');
  assert.match(await reply, /^250 /);
});

test('an idle session is closed after idleTimeoutSeconds', async (t) => {
  const p = await platform(t, { idleTimeoutSeconds: 1 });
  const s = await rawSmtp(t, p.mxPort);
  assert.match(await s.read(), /^220 /);
  assert.match(await s.command('EHLO client.test'), /^250/);
  assert.match(await s.read(3000), /^421 .*Timeout/);
  await s.closed;
});

test('the MX answers 452 4.5.3 past smtp.mx.maxRecipients RCPT commands, refused ones included', async (t) => {
  const p = await platform(t);
  const s = await rawSmtp(t, p.mxPort);
  await s.read();
  await s.command('EHLO mx.example.org');
  assert.match(await s.command('MAIL FROM:<>'), /^250 /);
  // Probing unknown mailboxes is what an uncapped RCPT loop allows.
  for (let i = 0; i < p.config.smtp.mx.maxRecipients; i++) assert.match(await s.command(`RCPT TO:<probe${i}@pw.test>`), /^550 5\.1\.1 /);
  assert.equal(await s.command('RCPT TO:<postmaster@pw.test>'), '452 4.5.3 Too many recipients');
  // A new transaction starts a new count.
  assert.match(await s.command('RSET'), /^250 /);
  assert.match(await s.command('MAIL FROM:<>'), /^250 /);
  assert.match(await s.command('RCPT TO:<postmaster@pw.test>'), /^250 /);
});

test('the MX refuses a header line over 998 characters with 550 5.6.0 and a NUL address with 501 5.1.3', async (t) => {
  const p = await platform(t);
  const s = await rawSmtp(t, p.mxPort);
  await s.read();
  await s.command('EHLO mx.example.org');
  await s.command('MAIL FROM:<someone@example.org>');
  assert.equal(await s.command('RCPT TO:<post\0master@pw.test>'), '501 5.1.3 Bad recipient address syntax');
  assert.match(await s.command('RCPT TO:<postmaster@pw.test>'), /^250 /);
  assert.match(await s.command('DATA'), /^354 /);
  s.write(`From: someone@example.org\r\nX-Long: ${'a'.repeat(1200)}\r\nSubject: hi\r\n\r\nhi\r\n.\r\n`);
  assert.equal(await s.read(), '550 5.6.0 Message rejected: header line 2 is 1208 characters; the limit is 998 (RFC 5322 §2.1.1)');
});
