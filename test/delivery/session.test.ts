import assert from 'node:assert/strict';
import { createServer, type Server, type Socket } from 'node:net';
import { type TestContext, test } from 'node:test';
import { openSession, type SessionOptions, type SessionResult, type SmtpSession } from '../../src/delivery/session.js';
import { type SessionTlsOptions, sessionTlsFor } from '../../src/delivery/tls-evidence.js';
import { decideTls, tlsaRecordFor } from '../../src/transport-policy/index.js';
import { createTestCa, selfSigned } from '../support/certs.js';
import { type SinkBehaviour, type SmtpSink, startSmtpSink } from '../support/smtp-sink.js';

const TIMEOUTS = { connectMs: 2000, greetingMs: 2000, commandMs: 2000, dataBlockMs: 2000, dataMs: 2000 };
const RAW = Buffer.from('From: sender@example.test\r\nTo: rcpt@example.test\r\nSubject: session test\r\n\r\nHello.\r\n');

function options(port: number, tls: Partial<SessionTlsOptions> = {}, more: Partial<SessionOptions> = {}): SessionOptions {
  return {
    host: 'mx.example.test',
    address: '127.0.0.1',
    port,
    ehloName: 'out.postwarden.test',
    tls: { mode: 'opportunistic', servername: 'mx.example.test', ...tls },
    timeouts: TIMEOUTS,
    ...more,
  };
}

async function open(
  t: TestContext,
  port: number,
  tls: Partial<SessionTlsOptions> = {},
  more: Partial<SessionOptions> = {},
): Promise<SessionResult> {
  const r = await openSession(options(port, tls, more));
  if (r.ok) t.after(() => r.session.close());
  return r;
}

async function session(t: TestContext, sink: SmtpSink, tls: Partial<SessionTlsOptions> = {}): Promise<SmtpSession> {
  const r = await open(t, sink.port, tls);
  assert.ok(r.ok, r.ok ? '' : `${r.stage}: ${r.error}`);
  return r.session;
}

const codes = (m: Map<string, { code: number; enhanced?: string }>) =>
  Object.fromEntries([...m].map(([a, r]) => [a, `${r.code}${r.enhanced ? ` ${r.enhanced}` : ''}`]));

const MIXED: SinkBehaviour = {
  recipients: [
    { match: 'gone@example.test', reply: { code: 550, enhanced: '5.1.1', text: 'No such user' } },
    { match: 'full@example.test', reply: { code: 452, enhanced: '4.2.2', text: 'Mailbox full' } },
  ],
};

test('delivers one message to several recipients and keeps each RCPT refusal', async (t) => {
  const sink = await startSmtpSink(t, MIXED);
  const s = await session(t, sink);
  const to = ['a@example.test', 'gone@example.test', 'b@example.test', 'full@example.test'];
  const r = await s.send({ from: 'bounce@example.test', to, raw: RAW });
  assert.deepEqual(codes(r.perRecipient), {
    'a@example.test': '250 2.0.0',
    'gone@example.test': '550 5.1.1',
    'b@example.test': '250 2.0.0',
    'full@example.test': '452 4.2.2',
  });
  assert.equal(r.perRecipient.get('gone@example.test')?.command, 'RCPT');
  assert.equal(r.data?.command, 'DATA');
  assert.match(r.data?.text ?? '', /queued as sink-1/);
  assert.equal(r.stage, undefined);
  const [m] = await sink.waitFor(1);
  assert.deepEqual(m?.to, ['a@example.test', 'b@example.test']);
  assert.equal(m?.from, 'bounce@example.test');
  assert.equal(m?.heloName, 'out.postwarden.test');
  assert.ok(m?.raw.includes('Subject: session test'));
  assert.equal(s.messagesSent, 1);
  assert.ok(s.usable);
});

test('a refused DATA reply goes to every accepted recipient and the session stays usable', async (t) => {
  const sink = await startSmtpSink(t, {
    recipients: [
      { match: 'spam@example.test', at: 'data', reply: { code: 554, enhanced: '5.7.1', text: 'Message rejected as spam' } },
      ...(MIXED.recipients ?? []),
    ],
  });
  const s = await session(t, sink);
  const r = await s.send({ from: 's@example.test', to: ['spam@example.test', 'gone@example.test'], raw: RAW });
  assert.deepEqual(codes(r.perRecipient), { 'spam@example.test': '554 5.7.1', 'gone@example.test': '550 5.1.1' });
  assert.equal(r.stage, 'message');
  assert.equal(r.data?.code, 554);
  assert.ok(s.usable);
  const again = await s.send({ from: 's@example.test', to: ['ok@example.test'], raw: RAW });
  assert.equal(again.perRecipient.get('ok@example.test')?.code, 250);
  assert.equal(sink.connections, 1);
});

test('a deferred recipient gets 451 and is accepted on the next transaction over the same connection', async (t) => {
  const sink = await startSmtpSink(t, { recipients: [{ match: 'later@example.test', deferTimes: 1 }] });
  const s = await session(t, sink);
  const first = await s.send({ from: 's@example.test', to: ['later@example.test'], raw: RAW });
  assert.deepEqual(codes(first.perRecipient), { 'later@example.test': '451 4.3.0' });
  assert.equal(first.stage, 'rcpt');
  assert.equal(sink.accepted, 0);
  // The refused transaction left MAIL FROM open on the server; the session resets it before the next.
  const second = await s.send({ from: 's@example.test', to: ['later@example.test'], raw: RAW });
  assert.deepEqual(codes(second.perRecipient), { 'later@example.test': '250 2.0.0' });
  assert.equal(sink.attemptsByRecipient.get('later@example.test'), 2);
  assert.equal(sink.connections, 1);
  assert.equal(s.messagesSent, 2);
});

test('a connection dropped during DATA gives a synthetic 451 4.4.2 and never a delivery', async (t) => {
  const sink = await startSmtpSink(t, { recipients: [{ match: 'cut@example.test', drop: 'data' }, ...(MIXED.recipients ?? [])] });
  const s = await session(t, sink);
  const to = ['cut@example.test', 'other@example.test', 'gone@example.test'];
  const r = await s.send({ from: 's@example.test', to, raw: RAW });
  assert.deepEqual(codes(r.perRecipient), {
    'cut@example.test': '451 4.4.2',
    'other@example.test': '451 4.4.2',
    'gone@example.test': '550 5.1.1',
  });
  assert.equal(r.perRecipient.get('cut@example.test')?.text, 'connection lost during DATA');
  assert.equal(r.stage, 'message');
  assert.equal(r.data, undefined);
  assert.equal(s.usable, false);
  assert.equal(sink.accepted, 0);
  const after = await s.send({ from: 's@example.test', to: ['x@example.test'], raw: RAW });
  assert.equal(after.stage, 'connection');
  assert.equal(after.perRecipient.get('x@example.test')?.code, 451);
});

test('a connection dropped at RCPT defers every recipient with 451 4.4.2', async (t) => {
  const sink = await startSmtpSink(t, { recipients: [{ match: 'cut@example.test', drop: 'rcpt' }] });
  const s = await session(t, sink);
  const r = await s.send({ from: 's@example.test', to: ['a@example.test', 'cut@example.test'], raw: RAW });
  assert.deepEqual(codes(r.perRecipient), { 'a@example.test': '451 4.4.2', 'cut@example.test': '451 4.4.2' });
  assert.equal(r.perRecipient.get('a@example.test')?.text, 'connection lost before DATA');
  assert.equal(s.usable, false);
  assert.equal(sink.accepted, 0);
});

test('no answer to the final dot within dataMs defers the recipients', async (t) => {
  const sink = await startSmtpSink(t, { default: { at: 'data', delayMs: 600 } });
  const r = await openSession(options(sink.port, {}, { timeouts: { ...TIMEOUTS, dataMs: 150 } }));
  assert.ok(r.ok);
  t.after(() => r.session.close());
  const sent = await r.session.send({ from: 's@example.test', to: ['slow@example.test'], raw: RAW });
  assert.deepEqual(codes(sent.perRecipient), { 'slow@example.test': '451 4.4.2' });
  assert.equal(sent.perRecipient.get('slow@example.test')?.text, 'timed out during DATA');
  assert.equal(r.session.usable, false);
});

test('opportunistic STARTTLS with a self-signed certificate delivers and records it as unverified', async (t) => {
  const sink = await startSmtpSink(t);
  const s = await session(t, sink);
  const tls = s.evidence.tls;
  assert.ok(tls);
  assert.equal(tls.authorized, false);
  assert.match(tls.authorizationError ?? '', /SELF_SIGNED/);
  assert.match(tls.version ?? '', /^TLSv1\.[23]$/);
  assert.ok(tls.cipher);
  assert.match(tls.peerCertSha256 ?? '', /^[0-9a-f]{64}$/);
  assert.match(tls.spkiSha256 ?? '', /^[0-9a-f]{64}$/);
  assert.equal(tls.servername, 'mx.example.test');
  assert.ok(s.evidence.tlsMs !== null && s.evidence.tlsMs >= 0);
  assert.ok(s.evidence.ehlo.includes('PIPELINING'), s.evidence.ehlo.join(','));
  assert.equal(s.observedTls.tls, true);
  const r = await s.send({ from: 's@example.test', to: ['a@example.test'], raw: RAW });
  assert.equal(r.perRecipient.get('a@example.test')?.code, 250);
  const [m] = await sink.waitFor(1);
  assert.ok(m?.tls, 'the sink saw TLS');
  assert.equal(m?.servername, 'mx.example.test');
});

test('required TLS against a server without STARTTLS fails at tls-policy and sends nothing', async (t) => {
  const sink = await startSmtpSink(t, { tls: 'none' });
  const r = await open(t, sink.port, { mode: 'required' });
  assert.equal(r.ok, false);
  if (r.ok) return;
  assert.equal(r.stage, 'tls-policy');
  assert.match(r.error, /did not offer STARTTLS/);
  assert.equal(r.evidence.tls, null);
  assert.equal(r.observedTls?.tls, false);
  assert.equal(sink.attemptsByRecipient.size, 0);
  assert.equal(sink.accepted, 0);
});

test('required mode accepts TLS without verifying the certificate', async (t) => {
  const sink = await startSmtpSink(t);
  const s = await session(t, sink, { mode: 'required', minVersion: 'TLSv1.2' });
  assert.equal(s.evidence.tls?.authorized, false);
  const r = await s.send({ from: 's@example.test', to: ['a@example.test'], raw: RAW });
  assert.equal(r.perRecipient.get('a@example.test')?.code, 250);
});

test('verify-pkix accepts a certificate from the given CA for the MX name', async (t) => {
  const ca = createTestCa();
  const sink = await startSmtpSink(t, { tls: ca.issue({ hostnames: ['mx.example.test'] }) });
  const s = await session(t, sink, { mode: 'verify-pkix', ca: ca.cert });
  assert.equal(s.evidence.tls?.authorized, true);
  assert.equal(s.evidence.tls?.authorizationError, null);
  const r = await s.send({ from: 's@example.test', to: ['a@example.test'], raw: RAW });
  assert.equal(r.perRecipient.get('a@example.test')?.code, 250);
});

test('verify-pkix refuses a certificate for another name and sends nothing', async (t) => {
  const ca = createTestCa();
  const sink = await startSmtpSink(t, { tls: ca.issue({ hostnames: ['mx.example.test'] }) });
  const r = await open(t, sink.port, { mode: 'verify-pkix', ca: ca.cert, servername: 'other.example.test' });
  assert.equal(r.ok, false);
  if (r.ok) return;
  assert.equal(r.stage, 'tls-policy');
  assert.match(r.error, /other\.example\.test.*ALTNAME/);
  assert.equal(r.evidence.tls?.authorized, false);
  assert.equal(sink.attemptsByRecipient.size, 0);
  assert.equal(sink.accepted, 0);
});

test('verify-pkix refuses a self-signed certificate even for the right name', async (t) => {
  const sink = await startSmtpSink(t, { tls: selfSigned(['mx.example.test']) });
  const r = await open(t, sink.port, { mode: 'verify-pkix' });
  assert.equal(r.ok, false);
  if (!r.ok) assert.match(r.error, /SELF_SIGNED/);
});

/** A TLS decision as transport-policy makes it for an MX host with one DNSSEC-validated TLSA record. */
function daneTls(certPem: string): SessionTlsOptions {
  const record = tlsaRecordFor(certPem, { usage: 3, selector: 1, matchingType: 1 });
  const decision = decideTls({ mxHost: 'mx.example.test', tenantPolicy: 'opportunistic', dane: { kind: 'secure', tlsa: [record] } });
  assert.equal(decision.verify, 'dane');
  return sessionTlsFor(decision, { now: () => Date.now() });
}

test('dane mode accepts the certificate the TLSA record names, whatever its issuer', async (t) => {
  const cert = selfSigned(['mx.example.test']);
  const sink = await startSmtpSink(t, { tls: cert });
  const tls = daneTls(cert.cert);
  assert.equal(tls.mode, 'dane');
  const s = await session(t, sink, tls);
  assert.equal(s.evidence.tls?.dane?.ok, true);
  assert.equal(s.evidence.tls?.authorized, false, 'PKIX fails, DANE-EE does not care');
  const r = await s.send({ from: 's@example.test', to: ['a@example.test'], raw: RAW });
  assert.equal(r.perRecipient.get('a@example.test')?.code, 250);
});

test('dane mode refuses a certificate that no TLSA record names and sends nothing', async (t) => {
  const sink = await startSmtpSink(t, { tls: selfSigned(['mx.example.test']) });
  const r = await open(t, sink.port, daneTls(selfSigned(['someone-else.example.test']).cert));
  assert.equal(r.ok, false);
  if (r.ok) return;
  assert.equal(r.stage, 'tls-policy');
  assert.match(r.error, /DANE authentication failed/);
  assert.equal(r.evidence.tls?.dane?.ok, false);
  assert.equal(sink.attemptsByRecipient.size, 0);
});

test('a refused connection is a connect-stage failure value', async () => {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  const r = await openSession(options(port));
  assert.equal(r.ok, false);
  if (r.ok) return;
  assert.equal(r.stage, 'connect');
  assert.match(r.error, /ECONNREFUSED/);
  assert.equal(r.evidence.address, '127.0.0.1');
});

test('a 421 greeting is a greeting-stage failure with the reply', async (t) => {
  const sink = await startSmtpSink(t, { throttle: { after: 0 } });
  const r = await open(t, sink.port);
  assert.equal(r.ok, false);
  if (r.ok) return;
  assert.equal(r.stage, 'greeting');
  assert.deepEqual(r.reply, { code: 421, enhanced: '4.7.0', text: 'Too many messages, slow down', command: 'CONNECT' });
});

/**
 * A scripted SMTP peer for what the sink cannot do: never greet, offer STARTTLS and then answer it
 * with plaintext (a broken handshake), or offer no SMTPUTF8. Counts the messages it accepted.
 */
async function startScriptedPeer(t: TestContext, o: { greet?: boolean; starttls?: boolean }) {
  const peer = { accepted: 0, connections: 0, port: 0 };
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    peer.connections++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    let buffer = '';
    let inData = false;
    let handshake = false;
    if (o.greet !== false) socket.write('220 peer.test ESMTP\r\n');
    socket.on('data', (chunk) => {
      if (handshake) {
        // The client's TLS ClientHello, answered with plaintext: the handshake fails at once.
        socket.end('this is not a TLS record\r\n');
        return;
      }
      buffer += chunk.toString('latin1');
      for (let i = buffer.indexOf('\r\n'); i >= 0; i = buffer.indexOf('\r\n')) {
        const line = buffer.slice(0, i);
        buffer = buffer.slice(i + 2);
        if (inData) {
          if (line === '.') {
            inData = false;
            peer.accepted++;
            socket.write('250 2.0.0 queued\r\n');
          }
          continue;
        }
        const verb = line.slice(0, 4).toUpperCase();
        if (verb === 'EHLO') socket.write(`250-peer.test\r\n250-PIPELINING\r\n${o.starttls ? '250-STARTTLS\r\n' : ''}250 8BITMIME\r\n`);
        else if (verb === 'STAR') {
          handshake = true;
          socket.write('220 2.0.0 go ahead\r\n');
        } else if (verb === 'DATA') {
          inData = true;
          socket.write('354 go on\r\n');
        } else if (verb === 'QUIT') socket.end('221 2.0.0 bye\r\n');
        else socket.write('250 2.0.0 ok\r\n');
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  peer.port = (server.address() as { port: number }).port;
  t.after(() => {
    for (const s of sockets) s.destroy();
    return new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return peer;
}

test('a server that never greets is a greeting-stage failure after greetingMs', async (t) => {
  const peer = await startScriptedPeer(t, { greet: false });
  const r = await openSession(options(peer.port, {}, { timeouts: { ...TIMEOUTS, greetingMs: 150 } }));
  assert.equal(r.ok, false);
  if (!r.ok) assert.equal(r.stage, 'greeting');
});

test('opportunistic mode retries in plaintext on a fresh connection when STARTTLS breaks', async (t) => {
  const peer = await startScriptedPeer(t, { starttls: true });
  const s = await open(t, peer.port);
  assert.ok(s.ok, s.ok ? '' : `${s.stage}: ${s.error}`);
  assert.equal(peer.connections, 2);
  assert.equal(s.session.evidence.tls, null);
  assert.ok(s.session.evidence.plaintextFallback?.reason);
  const r = await s.session.send({ from: 's@example.test', to: ['a@example.test'], raw: RAW });
  assert.equal(r.perRecipient.get('a@example.test')?.code, 250);
  assert.equal(peer.accepted, 1);
});

test('required mode turns a broken STARTTLS into a tls-policy failure without a plaintext retry', async (t) => {
  const peer = await startScriptedPeer(t, { starttls: true });
  const r = await open(t, peer.port, { mode: 'required' });
  assert.equal(r.ok, false);
  if (!r.ok) assert.equal(r.stage, 'tls-policy');
  assert.equal(peer.connections, 1);
  assert.equal(peer.accepted, 0);
});

test('a message that needs SMTPUTF8 is refused locally when the server lacks it', async (t) => {
  const peer = await startScriptedPeer(t, {});
  const s = await open(t, peer.port);
  assert.ok(s.ok);
  const r = await s.session.send({ from: 's@example.test', to: ['üser@example.test'], raw: RAW, smtputf8: true });
  assert.deepEqual(codes(r.perRecipient), { 'üser@example.test': '553 5.6.7' });
  assert.equal(peer.accepted, 0);
  assert.equal(s.session.messagesSent, 0);
  assert.ok(s.session.usable);
});

test('a message over the announced SIZE is refused locally and the session stays usable', async (t) => {
  const sink = await startSmtpSink(t, { size: 200 });
  const s = await session(t, sink);
  assert.ok(s.evidence.ehlo.includes('SIZE 200'), s.evidence.ehlo.join(','));
  const r = await s.send({ from: 's@example.test', to: ['a@example.test'], raw: Buffer.alloc(500, 0x61) });
  assert.deepEqual(codes(r.perRecipient), { 'a@example.test': '552 5.3.4' });
  assert.equal(sink.attemptsByRecipient.size, 0);
  const ok = await s.send({ from: 's@example.test', to: ['a@example.test'], raw: RAW });
  assert.equal(ok.perRecipient.get('a@example.test')?.code, 250);
});

test('close sends QUIT and leaves the session unusable', async (t) => {
  const sink = await startSmtpSink(t);
  const s = await session(t, sink);
  await s.close();
  assert.equal(s.usable, false);
  const r = await s.send({ from: 's@example.test', to: ['a@example.test'], raw: RAW });
  assert.equal(r.stage, 'connection');
  assert.equal(sink.accepted, 0);
});

test('an envelope nodemailer refuses locally is a thrown local fault and the session stays usable', async (t) => {
  const sink = await startSmtpSink(t);
  const s = await session(t, sink);
  await assert.rejects(s.send({ from: 's@example.test', to: ['bad\r\nRCPT TO:<x@example.test>'], raw: RAW }), /refused locally/);
  assert.ok(s.usable);
  const r = await s.send({ from: 's@example.test', to: ['a@example.test'], raw: RAW });
  assert.equal(r.perRecipient.get('a@example.test')?.code, 250);
  assert.equal(sink.attemptsByRecipient.size, 1);
});
