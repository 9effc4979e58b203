import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { test } from 'node:test';
import nodemailer from 'nodemailer';
import SMTPConnection from 'nodemailer/lib/smtp-connection';
import type SMTPTransport from 'nodemailer/lib/smtp-transport';
import { parseSmtpResponse } from '../../src/core/index.js';
import { createTestCa } from './certs.js';
import type { SmtpSink } from './smtp-sink.js';
import { startSmtpSink } from './smtp-sink.js';

type ClientOptions = Omit<SMTPTransport.Options, 'host' | 'port'>;

/** nodemailer as the remote client; self-signed certificates accepted unless a test says otherwise. */
function send(sink: SmtpSink, to: string | string[], opts: ClientOptions = {}, body = 'Hello from the test.') {
  const transport = nodemailer.createTransport({
    host: sink.host,
    port: sink.port,
    secure: false,
    name: 'client.test',
    connectionTimeout: 3000,
    greetingTimeout: 3000,
    socketTimeout: 3000,
    tls: { rejectUnauthorized: false },
    ...opts,
  });
  return transport.sendMail({ from: 'sender@example.test', to, subject: 'Sink test', text: body });
}

/** An SMTP error as nodemailer reports it: the reply code and the raw reply line. */
interface SmtpClientError extends Error {
  code?: string;
  responseCode?: number;
  response?: string;
  command?: string;
}

async function rejection(p: Promise<unknown>): Promise<SmtpClientError> {
  try {
    await p;
  } catch (e) {
    return e as SmtpClientError;
  }
  assert.fail('expected the send to fail');
}

/** Reads the greeting and the EHLO reply over a plain socket (bounded by a 3 s timer). */
async function ehlo(sink: SmtpSink): Promise<{ greeting: string; features: string[] }> {
  return new Promise((resolve, reject) => {
    const socket = connect(sink.port, sink.host);
    let greeting = '';
    let buffer = '';
    const finish = (features: string[]): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve({ greeting, features });
    };
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no EHLO reply in 3 s (greeting ${JSON.stringify(greeting)})`));
    }, 3000);
    socket.on('data', (chunk) => {
      buffer += chunk.toString('latin1');
      if (!greeting && /^\d{3} .*\r\n/m.test(buffer)) {
        greeting = buffer.trim();
        buffer = '';
        if (!greeting.startsWith('220')) return finish([]); // refused: there is no EHLO to read
        socket.write('EHLO probe.test\r\n');
      } else if (greeting && /^250 .*\r\n/m.test(buffer)) {
        finish(
          buffer
            .trim()
            .split('\r\n')
            .slice(1)
            .map((l) => l.slice(4)),
        );
      }
    });
    socket.on('error', () => undefined); // the timer reports a connection that never answers
  });
}

test('accepts a message and records envelope, body, HELO name and TLS details', async (t) => {
  const sink = await startSmtpSink(t);
  const info = await send(sink, 'rcpt@example.test');
  assert.match(info.response, /^250 2\.0\.0 Ok: queued as sink-1/);
  const [m] = await sink.waitFor(1, 2000);
  assert.ok(m);
  assert.equal(m.from, 'sender@example.test');
  assert.deepEqual(m.to, ['rcpt@example.test']);
  assert.match(m.raw.toString(), /Subject: Sink test/);
  assert.equal(m.heloName, 'client.test');
  assert.equal(m.remoteAddress, '127.0.0.1');
  assert.ok(m.tls, 'STARTTLS was used');
  assert.match(m.tls.protocol, /^TLSv1\.[23]$/);
  assert.ok(m.tls.cipher.length > 0);
  assert.equal(sink.connections, 1);
  assert.equal(sink.attemptsByRecipient.get('rcpt@example.test'), 1);
});

test('a 550 with an enhanced code at RCPT reaches the client intact', async (t) => {
  const sink = await startSmtpSink(t, {
    recipients: [{ match: 'Nobody@Example.test', reply: { code: 550, enhanced: '5.1.1', text: 'No such user' } }],
  });
  const e = await rejection(send(sink, 'nobody@example.test'));
  assert.equal(e.responseCode, 550);
  const parsed = parseSmtpResponse(e.response ?? '');
  assert.deepEqual(parsed && { code: parsed.code, enhanced: parsed.enhanced, text: parsed.text }, {
    code: 550,
    enhanced: '5.1.1',
    text: 'No such user',
  });
  assert.equal(sink.accepted, 0);
});

test('a rule can match recipients by predicate, and other recipients are still accepted', async (t) => {
  const sink = await startSmtpSink(t, {
    recipients: [{ match: (a) => a.endsWith('@blocked.test'), reply: { code: 554, enhanced: '5.7.1', text: 'Policy' } }],
  });
  const info = await send(sink, ['ok@example.test', 'x@blocked.test']);
  assert.deepEqual(info.accepted, ['ok@example.test']);
  assert.deepEqual(info.rejected, ['x@blocked.test']);
  const [m] = await sink.waitFor(1, 2000);
  assert.deepEqual(m?.to, ['ok@example.test']);
});

test('a reply scripted at DATA refuses the whole message after the body', async (t) => {
  const sink = await startSmtpSink(t, {
    recipients: [{ match: 'full@example.test', at: 'data', reply: { code: 452, enhanced: '4.2.2', text: 'Mailbox full' } }],
  });
  const e = await rejection(send(sink, 'full@example.test'));
  assert.equal(e.responseCode, 452);
  assert.equal(e.command, 'DATA');
  assert.match(e.response ?? '', /^452 4\.2\.2 Mailbox full/);
  assert.equal(sink.accepted, 0);
});

test('deferTimes answers 451 4.3.0 for the first attempts and then accepts', async (t) => {
  const sink = await startSmtpSink(t, { recipients: [{ match: 'later@example.test', deferTimes: 2 }] });
  for (let i = 0; i < 2; i++) {
    const e = await rejection(send(sink, 'later@example.test'));
    assert.equal(e.responseCode, 451);
    assert.match(e.response ?? '', /^451 4\.3\.0/);
  }
  await send(sink, 'later@example.test');
  assert.equal(sink.accepted, 1);
  assert.equal(sink.attemptsByRecipient.get('later@example.test'), 3);
});

test('delayMs holds the RCPT reply back', async (t) => {
  const sink = await startSmtpSink(t, { recipients: [{ match: 'slow@example.test', delayMs: 150 }] });
  const started = performance.now();
  await send(sink, 'slow@example.test');
  assert.ok(performance.now() - started >= 140, 'the send took at least the delay');
});

test('dropping the connection at RCPT surfaces as a client error', async (t) => {
  const sink = await startSmtpSink(t, { recipients: [{ match: 'cut@example.test', drop: 'rcpt' }] });
  const e = await rejection(send(sink, 'cut@example.test'));
  assert.equal(e.responseCode, undefined, 'no reply was ever sent');
  assert.equal(sink.accepted, 0);
});

test('dropping the connection mid-DATA surfaces as a client error and records nothing', async (t) => {
  const sink = await startSmtpSink(t, { recipients: [{ match: 'cut@example.test', drop: 'data' }] });
  const e = await rejection(send(sink, 'cut@example.test', {}, 'x'.repeat(50_000)));
  assert.equal(e.responseCode, undefined, 'no reply was ever sent');
  assert.match(`${e.code} ${e.message}`, /ECONNECTION|EPIPE|ECONNRESET|closed|unexpectedly/i);
  assert.equal(sink.accepted, 0);
  assert.equal(sink.messages.length, 0);
});

test('a client that verifies certificates rejects the default self-signed one', async (t) => {
  const sink = await startSmtpSink(t);
  const e = await rejection(send(sink, 'rcpt@example.test', { tls: { rejectUnauthorized: true } }));
  assert.match(e.message, /self[- ]signed/i);
});

test('a certificate from the test CA verifies for its hostname', async (t) => {
  const ca = createTestCa();
  const sink = await startSmtpSink(t, { tls: ca.issue({ hostnames: ['mx.example.test'] }) });
  await send(sink, 'rcpt@example.test', { tls: { ca: ca.cert, servername: 'mx.example.test', rejectUnauthorized: true } });
  const [m] = await sink.waitFor(1, 2000);
  assert.equal(m?.servername, 'mx.example.test');
  assert.ok(m?.tls);
});

test('a certificate for another hostname fails verification', async (t) => {
  const ca = createTestCa();
  const sink = await startSmtpSink(t, { tls: ca.issue({ hostnames: ['other.example.test'] }) });
  const e = await rejection(
    send(sink, 'rcpt@example.test', { tls: { ca: ca.cert, servername: 'mx.example.test', rejectUnauthorized: true } }),
  );
  assert.match(e.message, /does not match|altnames/i);
  assert.equal(sink.accepted, 0);
});

test('an expired certificate from the test CA fails verification', async (t) => {
  const ca = createTestCa();
  const sink = await startSmtpSink(t, { tls: ca.issue({ hostnames: ['mx.example.test'], expired: true }) });
  const e = await rejection(
    send(sink, 'rcpt@example.test', { tls: { ca: ca.cert, servername: 'mx.example.test', rejectUnauthorized: true } }),
  );
  assert.match(e.message, /expired/i);
});

test("tls 'none' advertises no STARTTLS and delivery happens in clear", async (t) => {
  const sink = await startSmtpSink(t, { tls: 'none' });
  const { features } = await ehlo(sink);
  assert.ok(!features.includes('STARTTLS'), features.join(','));
  await send(sink, 'rcpt@example.test');
  const [m] = await sink.waitFor(1, 2000);
  assert.equal(m?.tls, null);
});

test("tls 'none' fails a client that requires TLS", async (t) => {
  const sink = await startSmtpSink(t, { tls: 'none' });
  const e = await rejection(send(sink, 'rcpt@example.test', { requireTLS: true }));
  assert.match(e.message, /STARTTLS/);
});

test('the greeting carries the banner and EHLO advertises SIZE and STARTTLS but no AUTH', async (t) => {
  const sink = await startSmtpSink(t, { banner: 'Sink ready', size: 1234 });
  const { greeting, features } = await ehlo(sink);
  assert.match(greeting, /^220 localhost ESMTP Sink ready$/);
  assert.ok(features.includes('SIZE 1234'), features.join(','));
  assert.ok(features.includes('STARTTLS'));
  assert.ok(!features.some((f) => f.startsWith('AUTH')));
});

test('maxClients refuses a connection beyond the limit with 421', async (t) => {
  const sink = await startSmtpSink(t, { maxClients: 1, tls: 'none' });
  const first = connect(sink.port, sink.host);
  t.after(() => first.destroy());
  await new Promise((resolve) => first.once('data', resolve)); // greeted: the one slot is taken
  const { greeting } = await ehlo(sink);
  assert.match(greeting, /^421 .*Too many connected clients/);
});

test('a message over the size limit is refused with 552', async (t) => {
  const sink = await startSmtpSink(t, { size: 1000 });
  const e = await rejection(send(sink, 'rcpt@example.test', {}, 'y'.repeat(5000)));
  assert.equal(e.responseCode, 552);
  assert.equal(sink.accepted, 0);
});

test('throttle answers 421 4.7.0 after n accepted messages, until lifted', async (t) => {
  const sink = await startSmtpSink(t, { throttle: { after: 2 } });
  await send(sink, 'a@example.test');
  await send(sink, 'b@example.test');
  const e = await rejection(send(sink, 'c@example.test'));
  assert.equal(e.responseCode, 421);
  assert.match(e.response ?? '', /^421 4\.7\.0/);
  assert.equal(sink.accepted, 2);
  sink.setBehaviour({ throttle: undefined });
  await send(sink, 'c@example.test');
  assert.equal(sink.accepted, 3);
});

test('throttle also refuses MAIL on a connection that is already open', async (t) => {
  const sink = await startSmtpSink(t, { throttle: { after: 1 }, tls: 'none' });
  // One connection, two transactions (what the delivery pool does), through nodemailer's SMTP client.
  const conn = new SMTPConnection({ host: sink.host, port: sink.port, connectionTimeout: 3000, socketTimeout: 3000 });
  t.after(() => conn.close());
  await new Promise<void>((resolve, reject) => conn.connect((e) => (e ? reject(e) : resolve())));
  const sendOne = () =>
    new Promise<void>((resolve, reject) =>
      conn.send({ from: 'sender@example.test', to: ['a@example.test'] }, 'Subject: x\r\n\r\nx\r\n', (e) => (e ? reject(e) : resolve())),
    );
  await sendOne();
  const e = await rejection(sendOne());
  assert.equal(e.responseCode, 421);
  assert.equal(e.command, 'MAIL FROM');
  assert.equal(sink.connections, 1, 'refused on the open connection, not at a new greeting');
});

test('AUTH is offered and enforced when credentials are configured', async (t) => {
  const sink = await startSmtpSink(t, { auth: { username: 'relay', password: 's3cret' } });
  const e = await rejection(send(sink, 'rcpt@example.test', { auth: { user: 'relay', pass: 'wrong' } }));
  assert.equal(e.responseCode, 535);
  await send(sink, 'rcpt@example.test', { auth: { user: 'relay', pass: 's3cret' } });
  assert.equal(sink.accepted, 1);
});

test("record 'count' counts messages and bytes without keeping bodies", async (t) => {
  const sink = await startSmtpSink(t, { record: 'count' });
  await send(sink, 'a@example.test');
  await send(sink, 'b@example.test');
  assert.deepEqual(await sink.waitFor(2, 2000), []);
  assert.equal(sink.accepted, 2);
  assert.ok(sink.bytes > 0);
  assert.equal(sink.messages.length, 0);
});

test('waitFor rejects with the counts it saw when too few messages arrive in time', async (t) => {
  const sink = await startSmtpSink(t, { recipients: [{ match: 'no@example.test', reply: { code: 550, text: 'no' } }] });
  await rejection(send(sink, 'no@example.test'));
  await assert.rejects(
    sink.waitFor(1, 100),
    /waited 100 ms for 1 accepted message\(s\), got 0 \(connections: 1; RCPT attempts: no@example\.test×1\)/,
  );
});

test('waitFor resolves when the awaited message arrives later', async (t) => {
  const sink = await startSmtpSink(t);
  const waiting = sink.waitFor(1, 3000);
  await send(sink, 'rcpt@example.test');
  const got = await waiting;
  assert.equal(got.length, 1);
});
