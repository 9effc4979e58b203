import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { Webhook } from 'standardwebhooks';
import { verifyWebhook, WebhookVerificationError, type WebhookVerificationReason } from '../../sdk/src/index.js';

/**
 * verifyWebhook against deliveries signed by the `standardwebhooks` package, an independent
 * implementation of the Standard Webhooks specification: what it signs we accept, and each kind of
 * tampering is refused with its reason.
 */
const newSecret = () => `whsec_${randomBytes(24).toString('base64')}`;
const oldSecret = newSecret();
const currentSecret = newSecret();
const now = Date.UTC(2026, 11, 6, 10, 0, 0);
const clock = { now: () => now };
const event = {
  id: 'evt_01JF0000000000000000000000',
  cursor: '42',
  type: 'recipient.delivered',
  message_id: 'msg_01JF0000000000000000000000',
  recipient_id: 'rcp_01JF0000000000000000000000',
  seq: 3,
  at: '2026-12-06T10:00:00.000Z',
  data: { email: 'ann@example.net', code: 250, reply: '250 2.0.0 OK ✓' },
};
const body = JSON.stringify(event);

function delivery(o: { secrets?: string[]; at?: number; payload?: string } = {}) {
  const at = new Date(o.at ?? now);
  const payload = o.payload ?? body;
  const signature = (o.secrets ?? [currentSecret]).map((s) => new Webhook(s).sign(event.id, at, payload)).join(' ');
  return {
    'webhook-id': event.id,
    'webhook-timestamp': String(Math.floor(at.getTime() / 1000)),
    'webhook-signature': signature,
  };
}

async function refusal(p: Promise<unknown>): Promise<WebhookVerificationReason> {
  const err = await p.then(
    () => assert.fail('the delivery was accepted'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof WebhookVerificationError, String(err));
  return err.reason;
}

test('a delivery signed by standardwebhooks verifies and its event is returned', async () => {
  assert.deepEqual(await verifyWebhook(body, delivery(), currentSecret, clock), event);
  // Raw bytes (what a server reads), a Fetch Headers object and upper-case names verify alike.
  const headers = new Headers(delivery());
  assert.deepEqual(await verifyWebhook(new TextEncoder().encode(body), headers, [currentSecret], clock), event);
  const shouted = Object.fromEntries(Object.entries(delivery()).map(([k, v]) => [k.toUpperCase(), v]));
  assert.deepEqual(await verifyWebhook(body, shouted, currentSecret, clock), event);
});

test('a tampered body is refused', async () => {
  const tampered = body.replace('ann@example.net', 'eve@example.net');
  assert.equal(await refusal(verifyWebhook(tampered, delivery(), currentSecret, clock)), 'invalid_signature');
  assert.equal(await refusal(verifyWebhook(`${body} `, delivery(), currentSecret, clock)), 'invalid_signature', 'one byte more');
  const { id, ...rest } = event;
  const reordered = JSON.stringify({ ...rest, id });
  assert.equal(await refusal(verifyWebhook(reordered, delivery(), currentSecret, clock)), 'invalid_signature', 'same JSON, other bytes');
});

test('a changed id or timestamp is refused: both are signed', async () => {
  const h = delivery();
  assert.equal(await refusal(verifyWebhook(body, { ...h, 'webhook-id': 'evt_other' }, currentSecret, clock)), 'invalid_signature');
  const later = String(Number(h['webhook-timestamp']) + 1);
  assert.equal(await refusal(verifyWebhook(body, { ...h, 'webhook-timestamp': later }, currentSecret, clock)), 'invalid_signature');
});

test('a delivery signed with another secret is refused', async () => {
  assert.equal(await refusal(verifyWebhook(body, delivery({ secrets: [newSecret()] }), currentSecret, clock)), 'invalid_signature');
});

test('a timestamp more than 5 minutes away is refused, either way; within 5 minutes it verifies', async () => {
  const stale = delivery({ at: now - 301_000 });
  assert.equal(await refusal(verifyWebhook(body, stale, currentSecret, clock)), 'timestamp_too_old');
  const future = delivery({ at: now + 301_000 });
  assert.equal(await refusal(verifyWebhook(body, future, currentSecret, clock)), 'timestamp_too_new');
  assert.deepEqual(await verifyWebhook(body, delivery({ at: now - 299_000 }), currentSecret, clock), event);
  assert.deepEqual(await verifyWebhook(body, stale, currentSecret, { ...clock, toleranceSeconds: 600 }), event);
  assert.equal(
    await refusal(verifyWebhook(body, { ...delivery(), 'webhook-timestamp': '2026-12-06T10:00:00Z' }, currentSecret, clock)),
    'invalid_timestamp',
  );
});

test('during a rotation both secrets verify: several signatures in the header, several secrets held', async () => {
  // The sender signs with old and new; a receiver still holding only the old one, or already only the new one, accepts.
  const both = delivery({ secrets: [oldSecret, currentSecret] });
  assert.match(both['webhook-signature'], /^v1,\S+ v1,\S+$/);
  assert.deepEqual(await verifyWebhook(body, both, oldSecret, clock), event);
  assert.deepEqual(await verifyWebhook(body, both, currentSecret, clock), event);
  // A receiver holding both accepts a delivery signed by either.
  assert.deepEqual(await verifyWebhook(body, delivery({ secrets: [oldSecret] }), [currentSecret, oldSecret], clock), event);
  assert.deepEqual(await verifyWebhook(body, delivery({ secrets: [currentSecret] }), [oldSecret, currentSecret], clock), event);
  // After the grace period the receiver drops the old secret: the old signature alone no longer verifies.
  assert.equal(await refusal(verifyWebhook(body, delivery({ secrets: [oldSecret] }), currentSecret, clock)), 'invalid_signature');
});

test('signatures of unknown versions and malformed entries are skipped, not trusted', async () => {
  const h = delivery();
  const v1 = h['webhook-signature'].slice(3);
  assert.equal(await refusal(verifyWebhook(body, { ...h, 'webhook-signature': `v2,${v1}` }, currentSecret, clock)), 'invalid_signature');
  assert.equal(await refusal(verifyWebhook(body, { ...h, 'webhook-signature': 'v1,!!!' }, currentSecret, clock)), 'invalid_signature');
  assert.deepEqual(await verifyWebhook(body, { ...h, 'webhook-signature': `v1a,xyz v1,${v1}` }, currentSecret, clock), event);
});

test('missing headers, a non-JSON body and unusable secrets are told apart', async () => {
  const { 'webhook-signature': _s, ...unsigned } = delivery();
  assert.equal(await refusal(verifyWebhook(body, unsigned, currentSecret, clock)), 'missing_header');
  const text = 'not json';
  assert.equal(await refusal(verifyWebhook(text, delivery({ payload: text }), currentSecret, clock)), 'invalid_payload');
  await assert.rejects(verifyWebhook(body, delivery(), [], clock), TypeError);
  await assert.rejects(verifyWebhook(body, delivery(), 'whsec_not base64!', clock), TypeError);
});

test('a node:http receiver answers 204 to a signed delivery and 400 to a forged one', async (t) => {
  // The README's receiver, in short: raw body in, verifyWebhook, 2xx only for what verified.
  const received: unknown[] = [];
  const server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    try {
      received.push(await verifyWebhook(Buffer.concat(chunks), req.headers, [currentSecret], clock));
      res.writeHead(204).end();
    } catch (e) {
      res.writeHead(e instanceof WebhookVerificationError ? 400 : 500).end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise((resolve) => server.close(resolve)));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks`;
  const post = (headers: Record<string, string>, payload = body) =>
    fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: payload }).then((r) => r.status);
  assert.equal(await post(delivery()), 204);
  assert.equal(await post(delivery({ secrets: [newSecret()] })), 400);
  assert.equal(await post(delivery(), body.replace('250', '550')), 400);
  assert.deepEqual(received, [event]);
});
