import type { JetStreamClient, JetStreamManager, NatsConnection } from 'nats';
import { type Clock, eventWire, type SpineEvent } from '../../core/index.js';
import type { Store } from '../../store/index.js';
import { type Consumer, createConsumer } from '../consumer.js';

/**
 * The spine, published to NATS JetStream for those who outgrow webhooks (docs/event-stream.md).
 *
 * A durable consumer (consumer.ts, named `nats:<stream>`) reads the spine in commit order and
 * publishes each event to `<prefix>.<tenant id>.<event type>` with `Nats-Msg-Id` = the event id; the
 * position moves only after JetStream acknowledged the whole batch. So a crash loses nothing, and
 * what it repeats is at most the batch in flight, which JetStream drops as duplicates within the
 * stream's duplicate window (2 minutes by default). A node that comes back after the window has
 * passed must not repeat either: before its first batch the sink reads the stream's last message and
 * skips every event up to that message's `Postwarden-Cursor` header. That is sound because a batch
 * is published in cursor order on one connection and the stream stores it in that order, so what a
 * crash leaves in the stream is a prefix of the batch.
 *
 * One node at a time publishes (the consumer's job lease); another takes over from the stored
 * position when it lapses.
 */
export interface NatsSinkDeps {
  url: string;
  subjectPrefix: string;
  stream: string;
  store: Pick<Store, 'events' | 'consumerCursors' | 'jobLeases' | 'transaction'>;
  clock: Clock;
  owner: string;
  /** Events per batch (default 500). */
  batchSize?: number;
  pollMs?: number;
  leaseMs?: number;
  log?: { warn(obj: object, msg: string): void; info?(obj: object, msg: string): void };
}

export interface NatsSink {
  readonly consumer: Consumer;
  /** Connects (retrying until the server answers) and starts publishing. */
  start(): Promise<void>;
  /** Stops publishing after the batch in hand and closes the connection. */
  stop(): Promise<void>;
}

/** `<prefix>.<tenant>.<type>`: event types are `noun.verb-past`, so a type is two subject tokens. */
export function eventSubject(prefix: string, e: Pick<SpineEvent, 'tenantId' | 'type'>): string {
  // A subject token may not hold '.', '*', '>' or whitespace; tenant ids never do (ten_<ulid>), but a
  // token must never be able to widen a subscription.
  return `${prefix}.${e.tenantId.replace(/[.*>\s]/g, '_')}.${e.type}`;
}

export const cursorHeader = 'Postwarden-Cursor';
const notFound = (e: unknown) => /not found/i.test(String((e as Error)?.message ?? e));
/** Loaded when a sink starts: most nodes have none, and the client costs every process start ~0.2 s. */
const natsClient = () => import('nats');

export function createNatsSink(deps: NatsSinkDeps): NatsSink {
  let nc: NatsConnection | undefined;
  let js: JetStreamClient | undefined;
  /** Events at or below this cursor are already in the stream (read once per connection). */
  let inStreamUpTo: number | undefined;
  let connecting: Promise<void> | undefined;
  let stopped = false;

  async function ensureStream(jsm: JetStreamManager): Promise<void> {
    try {
      await jsm.streams.info(deps.stream);
    } catch (e) {
      if (!notFound(e)) throw e;
      const { nanos } = await natsClient();
      await jsm.streams.add({ name: deps.stream, subjects: [`${deps.subjectPrefix}.>`], duplicate_window: nanos(120_000) });
    }
  }

  async function lastCursorInStream(jsm: JetStreamManager): Promise<number> {
    const info = await jsm.streams.info(deps.stream);
    if (!info.state.messages) return 0;
    try {
      const last = await jsm.streams.getMessage(deps.stream, { seq: info.state.last_seq });
      return Number(last.header.get(cursorHeader)) || 0;
    } catch (e) {
      if (notFound(e)) return 0;
      throw e;
    }
  }

  async function publish(events: SpineEvent[]): Promise<void> {
    if (!nc || !js) throw new Error('the NATS sink is not connected');
    if (inStreamUpTo === undefined) {
      const jsm = await nc.jetstreamManager();
      await ensureStream(jsm);
      inStreamUpTo = await lastCursorInStream(jsm);
    }
    const skip = inStreamUpTo;
    const client = js;
    const due = events.filter((e) => Number(e.cursor) > skip);
    const { headers } = await natsClient();
    // Sent in order on one connection, acknowledged together: a failure throws and the consumer
    // keeps its position, so the batch is published again (duplicates dropped by Nats-Msg-Id).
    await Promise.all(
      due.map((e) => {
        const h = headers();
        h.set(cursorHeader, e.cursor);
        h.set('Postwarden-Schema-Version', String(e.schemaVersion));
        return client.publish(eventSubject(deps.subjectPrefix, e), JSON.stringify(eventWire(e)), {
          msgID: e.id,
          headers: h,
          expect: { streamName: deps.stream },
        });
      }),
    );
  }

  let wake: () => void = () => undefined;
  async function connectUntilStopped(): Promise<void> {
    for (let attempt = 0; !stopped; attempt++) {
      try {
        const { connect } = await natsClient();
        const c = await connect({ servers: deps.url, name: `postwarden ${deps.owner}`, maxReconnectAttempts: -1, timeout: 5000 });
        if (stopped) return void (await c.close());
        nc = c;
        js = c.jetstream();
        return;
      } catch (e) {
        if (attempt === 0) deps.log?.warn({ err: e, url: deps.url }, 'NATS sink: no connection yet; retrying');
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, Math.min(5000, 250 * 2 ** attempt));
          wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
      }
    }
  }

  const consumer = createConsumer({
    name: `nats:${deps.stream}`,
    store: deps.store,
    handle: publish,
    clock: deps.clock,
    owner: deps.owner,
    startAt: 'beginning',
    ...(deps.batchSize ? { batchSize: deps.batchSize } : {}),
    ...(deps.pollMs ? { pollMs: deps.pollMs } : {}),
    ...(deps.leaseMs ? { leaseMs: deps.leaseMs } : {}),
    ...(deps.log ? { log: deps.log } : {}),
  });

  return {
    consumer,
    async start() {
      // The node starts whether or not NATS is up: batches fail (and are retried from the stored
      // position) until the first connection; the client reconnects on its own after that.
      stopped = false;
      inStreamUpTo = undefined;
      connecting = connectUntilStopped();
      consumer.start();
    },
    async stop() {
      stopped = true;
      wake();
      await consumer.stop();
      await connecting;
      const c = nc;
      nc = undefined;
      js = undefined;
      await c?.drain();
    },
  };
}
