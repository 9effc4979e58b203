import { randomBytes } from 'node:crypto';
import type { TestContext } from 'node:test';
import { connect, type NatsConnection } from 'nats';

/**
 * The NATS JetStream server of the CI machine (127.0.0.1:4222). `natsStreamOrSkip` connects or skips the
 * test visibly, and names a stream and subject prefix for one test, deleting the stream afterwards, so tests never see each other's messages.
 */
export const natsUrl = 'nats://127.0.0.1:4222';

async function natsOrSkip(t: TestContext): Promise<NatsConnection | undefined> {
  let nc: NatsConnection;
  try {
    nc = await connect({ servers: natsUrl, timeout: 1000, reconnect: false });
  } catch (e) {
    t.skip(`NATS JetStream not reachable at ${natsUrl} (${(e as Error).message})`);
    return undefined;
  }
  try {
    await (await nc.jetstreamManager()).getAccountInfo();
  } catch (e) {
    await nc.close();
    t.skip(`NATS at ${natsUrl} has no JetStream (${(e as Error).message})`);
    return undefined;
  }
  return nc;
}

export async function natsStreamOrSkip(t: TestContext): Promise<{ nc: NatsConnection; stream: string; subjectPrefix: string } | undefined> {
  const nc = await natsOrSkip(t);
  if (!nc) return undefined;
  const tag = randomBytes(5).toString('hex');
  const stream = `PW_TEST_${tag}`;
  t.after(async () => {
    const jsm = await nc.jetstreamManager();
    await jsm.streams.delete(stream).catch(() => false);
    await nc.close();
  });
  return { nc, stream, subjectPrefix: `pwtest.${tag}` };
}

/** Every message in the stream, read by an ordered consumer from the first: [subject, headers, body]. */
export async function readStream(
  nc: NatsConnection,
  stream: string,
): Promise<{ subject: string; msgId: string; cursor: string; body: any }[]> {
  const jsm = await nc.jetstreamManager();
  const total = (await jsm.streams.info(stream)).state.messages;
  const consumer = await nc.jetstream().consumers.get(stream);
  const out: { subject: string; msgId: string; cursor: string; body: any }[] = [];
  // Bounded: one fetch per 100 messages at most, plus one to see that nothing more comes.
  for (let round = 0; round <= Math.ceil(total / 100) + 1 && out.length < total; round++) {
    const batch = await consumer.fetch({ max_messages: 100, expires: 2000 });
    for await (const m of batch) {
      out.push({
        subject: m.subject,
        msgId: m.headers?.get('Nats-Msg-Id') ?? '',
        cursor: m.headers?.get('Postwarden-Cursor') ?? '',
        body: m.json(),
      });
    }
  }
  return out;
}
