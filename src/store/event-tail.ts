import type { SpineEvent } from '../core/index.js';

/**
 * The spine's recent tail, shared by this process's readers. Every spine consumer (the reputation
 * ledger, the alert consumer, the webhook dispatcher, the NATS sink) pages through the same recent
 * events within seconds of the others: `bench deliver` (5,000 messages) read 44,978 event rows for
 * about 15,000 appended, each opened, parsed and shaped again by every reader; with the tail, 17,315.
 * The tail keeps what the latest unfiltered pages read: every event with `from < cursor <= to`, in
 * order. A reader whose position falls in that range takes its page from memory and asks the
 * database only for what lies past `to`.
 *
 * That is sound because the spine's cursors become visible in order (the appenders' lock, see
 * repositories/events.ts): once a read has shown every event up to cursor c, no event at or below c
 * appears later. So coverage only ever grows by reading on from `to`.
 *
 * Bounded: `max` events, each kept `ttlMs` after it was read. A rewrite of event data or a delete
 * made through this store (erasure, retention), or a key forgotten by its cipher (a shred or
 * rotation in this process), empties it; a rewrite by another process reaches this process's readers
 * within `ttlMs`. Events are frozen (with their `data` at the top level): readers share them and
 * must not change them.
 */
export interface EventTail {
  /**
   * The events after `after`, at most `limit`: from the tail where it covers them, the rest from
   * `fetch` (an unfiltered page of the spine: `cursor > after` in cursor order, at most `limit`).
   */
  page(after: number, limit: number, fetch: (after: number, limit: number) => Promise<SpineEvent[]>): Promise<SpineEvent[]>;
  /** Drops what is held; a read in flight when this runs does not refill it. */
  forget(): void;
  /** What `publish` checks: a forget after this voids a publish. */
  mark(): number;
  /**
   * The last cursor held, which an appender's events must follow to be published; undefined when
   * nothing is held (there is nothing to continue, and counting from an old position scans the spine).
   */
  heldTo(): number | undefined;
  /**
   * Events this process has just committed, which its appender proved to be every event with
   * `base < cursor <=` the last of them (repositories/events.ts): they are held as if a read had
   * returned them, when they continue what is held (or nothing is), and nothing was forgotten since
   * `mark`; otherwise readers read them as before. Readers then page from memory instead of selecting,
   * shaping and opening the rows the appender wrote a moment ago.
   */
  publish(mark: number, base: number, events: SpineEvent[]): void;
}

/**
 * At `bench deliver`'s ~2,000 events a second, 1,500 events and 1 second held gave back only a fifth
 * of the reads (the ledger, which yields to delivery, trails the others by more); these give 60 %.
 */
export const EVENT_TAIL_MAX = 6_000;
/** How long a read event is served to other readers (and so how late a rewrite by another node is seen). */
export const EVENT_TAIL_MS = 3_000;
/** Trimmed entries at the front after which the arrays are copied down (when at least half the length). */
const COMPACT_AT = 1_024;

export function createEventTail(
  opts: {
    max?: number;
    ttlMs?: number;
    now?: () => number;
    /** Read at every page; when it has moved since the last, the tail is dropped (the cipher's forgets). */
    epoch?: () => number;
  } = {},
): EventTail {
  const max = opts.max ?? EVENT_TAIL_MAX;
  const ttlMs = opts.ttlMs ?? EVENT_TAIL_MS;
  const now = opts.now ?? (() => performance.now());
  let from = 0;
  let to = 0;
  let held = false;
  // Held events are events[head..]: trimming moves `head`, and the arrays are copied down only now
  // and then (copying ~6,000 entries at every publish and page was ~8 KB per message in profiles).
  let events: SpineEvent[] = [];
  let readAt: number[] = [];
  let head = 0;
  /** Moves on every forget, so a read that began before one does not store what it read. */
  let generation = 0;
  let epoch = opts.epoch?.();

  const cursorOf = (e: SpineEvent) => Number(e.cursor);
  const freeze = (e: SpineEvent) => {
    Object.freeze(e.data);
    return Object.freeze(e);
  };

  /** Drops events past their time or beyond the bound; the coverage then starts after the last dropped. */
  function trim(t: number): void {
    let drop = head;
    while (drop < events.length && (events.length - drop > max || t - readAt[drop]! > ttlMs)) drop++;
    if (drop === head) return;
    from = cursorOf(events[drop - 1]!);
    head = drop;
    if (head === events.length) empty();
    else if (head >= COMPACT_AT && head * 2 >= events.length) {
      events = events.slice(head);
      readAt = readAt.slice(head);
      head = 0;
    }
  }

  function empty(): void {
    held = false;
    events = [];
    readAt = [];
    head = 0;
  }

  /** The index of the first held event after `after` (events are in cursor order). */
  function firstAfter(after: number): number {
    let lo = head;
    let hi = events.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (cursorOf(events[mid]!) <= after) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  function forget(): void {
    generation++;
    empty();
  }

  return {
    async page(after, limit, fetch) {
      if (opts.epoch && opts.epoch() !== epoch) {
        epoch = opts.epoch();
        forget();
      }
      const t = now();
      trim(t);
      const gen = generation;
      if (held && after >= from && after <= to) {
        const i = firstAfter(after);
        const served = events.slice(i, i + limit);
        if (served.length === limit) return served;
        const end = to;
        const more = (await fetch(end, limit - served.length)).map(freeze);
        // Coverage grows only from where it ended, and only if nothing reset it meanwhile.
        if (gen === generation && held && to === end && more.length) {
          for (const e of more) events.push(e);
          for (let k = 0; k < more.length; k++) readAt.push(t);
          to = cursorOf(more[more.length - 1]!);
          trim(t);
        }
        return more.length ? served.concat(more) : served;
      }
      const read = (await fetch(after, limit)).map(freeze);
      // A reader behind the tail (catching up) leaves it to those at the head.
      if (gen === generation && (!held || after > to)) {
        from = after;
        to = read.length ? cursorOf(read[read.length - 1]!) : after;
        events = [...read];
        readAt = read.map(() => t);
        head = 0;
        held = true;
        trim(t);
      }
      return read;
    },
    forget,
    mark: () => generation,
    heldTo: () => (held ? to : undefined),
    publish(mark, base, published) {
      // A moved epoch needs no check here: the next page drops what is held, this included.
      if (mark !== generation || !published.length) return;
      if (held && to !== base) return;
      const t = now();
      if (!held) {
        empty();
        from = base;
        held = true;
      }
      for (const e of published) {
        events.push(freeze(e));
        readAt.push(t);
      }
      to = cursorOf(published[published.length - 1]!);
      trim(t);
    },
  };
}
