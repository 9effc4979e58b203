import { randomBytes } from 'node:crypto';
import type { TestContext } from 'node:test';
import { type EventType, newId } from '../../src/core/index.js';
import { createWebhooks, type WebhooksOptions } from '../../src/events/index.js';
import type { WebhooksDeps } from '../../src/events/webhooks/index.js';
import { openSecret, sealSecret } from '../../src/governance/index.js';
import type { DialectName, Store } from '../../src/store/index.js';
import { type FakeClock, fakeClock } from '../support/clock.js';
import { openStore } from '../support/dialects.js';
import { exampleEvent } from '../support/events.js';
import { startWebhookReceiver, type WebhookReceiver } from '../support/webhook-receiver.js';

/**
 * Webhooks on one store with a fake clock, driven by hand: `pump()` runs the dispatcher and the
 * worker until nothing more is due at the clock's time. Events are appended straight to the spine.
 */
export const TENANT = 'ten_webhooks_test';

export async function webhookHarness(
  t: TestContext,
  dialect: DialectName,
  options: Partial<WebhooksOptions> = {},
  deps: Pick<WebhooksDeps, 'poster'> = {},
) {
  const store: Store = await openStore(t, dialect);
  // Near real time, so replays stay inside the retention window and the spine's own times agree.
  const clock: FakeClock = fakeClock(Math.floor(Date.now() / 1000) * 1000);
  const receiver: WebhookReceiver = await startWebhookReceiver(t, { clock });
  const masterKey = randomBytes(32);
  const webhooks = createWebhooks({
    store,
    clock,
    owner: 'node-a',
    secrets: {
      seal: (plain, aad) => sealSecret(Buffer.from(plain), masterKey, aad),
      open: (sealed, aad) => openSecret(sealed, masterKey, aad).toString(),
    },
    options: {
      allowPrivateTargets: true,
      retryHours: 72,
      timeoutMs: 5000,
      concurrency: 64,
      pollMs: 50,
      leaseSeconds: 60,
      rotationGraceHours: 24,
      maxBatchSize: 100,
      retentionDays: 30,
      ...options,
    },
    random: () => 0.5,
    ...deps,
  });
  t.after(() => webhooks.stop());

  async function pump(): Promise<void> {
    for (let i = 0; i < 500; i++) {
      await webhooks.dispatcher.tick();
      const n = await webhooks.worker.tick();
      await webhooks.worker.idle();
      if (n === 0) return;
    }
    throw new Error('pump did not settle in 500 rounds');
  }

  /** `messages` messages with the given event types each, appended at the clock's time; their ids in order. */
  async function appendMessages(messages: number, types: EventType[] = ['recipient.queued', 'recipient.deferred', 'recipient.delivered']) {
    const ids: string[] = [];
    for (let m = 0; m < messages; m++) {
      const messageId = newId('msg', clock.now());
      ids.push(messageId);
      // One append per event, as delivery does (each outcome in its own settle).
      for (const type of types) await store.events.append([exampleEvent(type, { tenantId: TENANT, messageId }, { n: m })], clock.now());
    }
    return ids;
  }

  return { store, clock, receiver, webhooks, pump, appendMessages };
}

/** Every received body as events (batched bodies are arrays). */
export function receivedEvents(
  r: WebhookReceiver,
  acceptedOnly = true,
): { id: string; message_id: string | null; seq: number; type: string }[] {
  const list = acceptedOnly ? r.accepted() : r.received;
  return list.flatMap((x) => (Array.isArray(x.body) ? x.body : [x.body])) as {
    id: string;
    message_id: string | null;
    seq: number;
    type: string;
  }[];
}

/**
 * Per-message order at the receiver: no event of a message arrives (whatever the answer) before
 * every earlier event of the message was acknowledged. Returns the first violation, if any.
 */
export function orderViolation(r: WebhookReceiver): string | undefined {
  const acked = new Map<string, number>();
  for (const x of r.received) {
    const events = (Array.isArray(x.body) ? x.body : [x.body]) as { id: string; message_id: string | null; seq: number }[];
    for (const e of events) {
      if (!e.message_id) continue;
      const top = acked.get(e.message_id) ?? 0;
      if (e.seq > top + 1) return `${e.id} (seq ${e.seq} of ${e.message_id}) arrived before seq ${top + 1} was acknowledged`;
      if (x.status >= 200 && x.status < 300 && e.seq === top + 1) acked.set(e.message_id, e.seq);
    }
  }
  return undefined;
}
