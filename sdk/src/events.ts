import type { HttpClient, RequestOptions } from './http-client.js';

/**
 * The events spine: GET /v1/events pages it in commit order by cursor. A consumer keeps the cursor
 * of the last event it handled and resumes from it (`after`), so it never misses one; it
 * de-duplicates by `id` because delivery to it may repeat.
 */
export const eventTypes = [
  'message.accepted',
  'recipient.queued',
  'recipient.suppressed',
  'recipient.deferred',
  'recipient.delivered',
  'recipient.bounced',
  'recipient.expired',
  'recipient.failed',
  'dns.changed',
  'dns.alert',
  'recipient.complained',
  'report.received',
  'recipient.unsubscribed',
  'recipient.cancelled',
  'message.updated',
  'webhook.disabled',
  'recipient.opened',
  'recipient.clicked',
  'experiment.regressed',
  'quota.warning',
  'reputation.changed',
  'pacing.changed',
  'recipient.held',
  'warmup.changed',
  'compliance.alert',
  'incident.opened',
  'incident.reminded',
  'self_assessment.regressed',
] as const;

/** The types this SDK version knows; a newer server may send others, so a `switch` keeps a default branch. */
export type EventType = (typeof eventTypes)[number];

export interface PostwardenEvent {
  /** `evt_…`: de-duplicate by it (webhook deliveries carry it as `webhook-id`). */
  id: string;
  /** The global position in commit order; pass it back as `after` to resume after this event. */
  cursor: string;
  type: EventType | (string & {});
  message_id: string | null;
  recipient_id: string | null;
  /** 1, 2, 3… per message, in the order things happened. */
  seq: number;
  at: string;
  data: Record<string, unknown>;
  /** In webhook deliveries: the Standard Webhooks name for when it happened (the same as `at`). */
  timestamp?: string;
  /** Present once the server versions event payloads; fields are only ever added within a version. */
  schema_version?: number;
}

export interface EventPage {
  data: PostwardenEvent[];
  /** The cursor to resume from: the last event's, or the one given when the page is empty. */
  next_cursor: string;
}

export interface EventQuery {
  /** A cursor from a previous page or event; omit to start at the beginning of the retained spine. */
  after?: string;
  types?: readonly (EventType | (string & {}))[];
  /** Events per page, 1 to 1000 (the server's default is 100). */
  limit?: number;
}

export class Events {
  readonly #http: HttpClient;

  constructor(http: HttpClient) {
    this.#http = http;
  }

  /** One page; hold on to `next_cursor` and pass it back as `after`. */
  async page(query: EventQuery = {}, options: RequestOptions = {}): Promise<EventPage> {
    const res = await this.#http.request<EventPage>({
      method: 'GET',
      path: '/v1/events',
      query: { after: query.after, type: query.types?.length ? query.types.join(',') : undefined, limit: query.limit },
      options,
    });
    return res.body;
  }

  /**
   * Every event after `after`, page by page, until the spine is exhausted (a page shorter than
   * `limit`). Iterate with `for await`; break out whenever you like. Store `event.cursor` to resume.
   */
  list(query: EventQuery = {}, options: RequestOptions = {}): AsyncIterable<PostwardenEvent> {
    const page = (q: EventQuery) => this.page(q, options);
    return {
      async *[Symbol.asyncIterator]() {
        const limit = query.limit ?? 100;
        let after = query.after;
        // Bounded by the data: each turn moves the cursor forward or ends.
        for (;;) {
          const p = await page({ ...query, after, limit });
          yield* p.data;
          if (p.data.length < limit || p.next_cursor === after) return;
          after = p.next_cursor;
        }
      },
    };
  }
}
