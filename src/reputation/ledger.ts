import { type Clock, isoTime, type NewEvent, newEvent, type SpineEvent } from '../core/index.js';
import { type Consumer, createConsumer } from '../events/index.js';
import type { CountIncrement, Repositories, ReputationHoldRow, ReputationKeyRow, Store } from '../store/index.js';
import { contributionOf, keyOf, type LedgerKeyParts, messageContext } from './event-contribution.js';
import { evaluateLedgerRules, type HoldVerdict, type LedgerRule } from './ledger-rules.js';
import { type Assessment, assess, type ReputationState, type Thresholds } from './state.js';
import { bucketOf, type Cells, cellKey, LOOKBACK_MS, RESOLUTIONS, sumWindow } from './windows.js';

/**
 * The reputation ledger: a consumer of the events spine that counts, per ledger key (tenant, stream,
 * identity, provider), what happened to the mail it sent, in time buckets, and keeps each key's
 * state (healthy, watch, throttled, paused, warming) with the rule and numbers behind it.
 *
 * Exactly rebuildable. Everything it stores is a function of the spine in cursor order: counts go
 * into buckets by the event's own time, the state is decided after each event at that event's time
 * (never the wall clock, never per batch), and the context later events need (a message's stream
 * and identity, a recipient's provider) is itself kept from earlier events. So replaying the spine
 * into an empty ledger (`rebuild`) reproduces the live rows, whatever the batch sizes were.
 *
 * Counted once. The consumer hands a batch over at least once; the ledger keeps its own applied
 * position in the same transaction as the counts and skips what it already applied.
 *
 * Holds. The rules/pacing.yaml rules that need the ledger's figures (a complaint in the cold lane,
 * a complaint rate over Gmail's and Yahoo's 0.3 % line) are evaluated after each event too; one that
 * holds records a hold (the identity's stream paused at that provider until the event's time plus
 * the rule's recovery) and the key is `paused` until it ends. Delivery reads the holds in force.
 *
 * State changes are `reputation.changed` events, appended in the same transaction. A rebuild does
 * not append them again (they are on the spine already), and the ledger reads none of its own.
 */
export const LEDGER_NAME = 'reputation-ledger';

/** Buckets older than this behind the newest event fall out of every window and are dropped. */
const KEEP = { '5m': 2 * 3_600_000, '1h': LOOKBACK_MS + 3_600_000 } as const;

export interface LedgerDeps {
  store: Pick<Store, 'transaction' | 'reputation' | 'events' | 'consumerCursors' | 'jobLeases'>;
  clock: Clock;
  /** MX host or address → provider key (rules/providers.yaml). */
  provider: (hostOrAddress: string) => string | undefined;
  thresholds: Thresholds;
  /** Pause rules fed by the ledger (rules/pacing.yaml, ledger-rules.ts); none: the ledger only observes. */
  rules?: readonly LedgerRule[];
  owner: string;
  pollMs?: number;
  log?: { warn(obj: object, msg: string): void; info?(obj: object, msg: string): void };
}

interface Working {
  row: ReputationKeyRow;
  cells: Cells;
  /** The row changed in this batch. */
  dirty: boolean;
  hold: ReputationHoldRow | null;
  holdDirty: boolean;
}

export function createLedger(deps: LedgerDeps) {
  const { store, thresholds } = deps;

  /** Applies events in spine order; `emit`: append `reputation.changed` for state changes (live). */
  async function apply(events: readonly SpineEvent[], opts: { emit: boolean }): Promise<void> {
    if (!events.length) return;
    await store.transaction(async (tx) => {
      const applied = await tx.reputation.progress(LEDGER_NAME);
      const todo = events.filter((e) => Number(e.cursor) > applied && e.type !== 'reputation.changed');
      const last = Number(events[events.length - 1]!.cursor);
      if (!todo.length) {
        if (last > applied) await tx.reputation.setProgress(LEDGER_NAME, last);
        return;
      }
      const out = await applyBatch(tx, todo, opts.emit);
      await tx.reputation.setProgress(LEDGER_NAME, Math.max(last, applied));
      if (out.length) await tx.events.append(out, deps.clock.now());
    });
  }

  async function applyBatch(tx: Repositories, events: readonly SpineEvent[], emit: boolean): Promise<NewEvent[]> {
    const subjects = new Set<string>();
    for (const e of events) {
      if (e.messageId) subjects.add(`m:${e.messageId}`);
      if (e.recipientId) subjects.add(`r:${e.recipientId}`);
    }
    const contexts = await tx.reputation.contexts([...subjects]);
    const changedContexts = new Map<string, number>();
    const working = new Map<string, Working>();
    const increments = new Map<string, CountIncrement>();
    const emitted: NewEvent[] = [];
    /** The numbers of holds set in this batch (a stored hold keeps its reason, not its numbers). */
    const holdVerdicts = new Map<string, HoldVerdict>();
    const times = events.map((e) => Date.parse(e.at));
    const since = bucketOf(Math.min(...times) - LOOKBACK_MS - RESOLUTIONS['1h'], '1h');
    let newest = Math.max(...times);

    async function load(key: string, parts: LedgerKeyParts, at: number): Promise<Working> {
      const hit = working.get(key);
      if (hit) return hit;
      const [row] = await tx.reputation.keys([key]);
      const [hold] = await tx.reputation.holds([key]);
      const cells: Cells = new Map();
      for (const c of await tx.reputation.counts([key], since)) cells.set(cellKey(c.res, c.bucket, c.metric), c.n);
      const w: Working = {
        row: row ?? {
          key,
          tenantId: parts.tenantId,
          stream: parts.stream,
          domain: parts.domain,
          selector: parts.selector,
          pool: parts.pool,
          returnPath: parts.returnPath,
          provider: parts.provider,
          state: 'new',
          reason: '',
          since: at,
          deliveredTotal: 0,
          updatedAt: at,
        },
        cells,
        dirty: false,
        hold: hold ?? null,
        holdDirty: false,
      };
      working.set(key, w);
      return w;
    }

    for (const [i, e] of events.entries()) {
      const at = times[i]!;
      newest = Math.max(newest, at);
      const mctx = messageContext(e);
      if (mctx && e.messageId) {
        contexts.set(`m:${e.messageId}`, mctx);
        changedContexts.set(`m:${e.messageId}`, at);
        continue;
      }
      const c = contributionOf(
        e,
        {
          message: e.messageId ? contexts.get(`m:${e.messageId}`) : undefined,
          recipient: e.recipientId ? contexts.get(`r:${e.recipientId}`) : undefined,
        },
        deps.provider,
      );
      if (!c) continue;
      if (c.recipientContext && e.recipientId) {
        contexts.set(`r:${e.recipientId}`, c.recipientContext);
        changedContexts.set(`r:${e.recipientId}`, at);
      }
      const key = keyOf(c.parts);
      const w = await load(key, c.parts, at);
      for (const metric of c.metrics) {
        for (const res of ['5m', '1h'] as const) {
          const bucket = bucketOf(at, res);
          const ck = cellKey(res, bucket, metric);
          w.cells.set(ck, (w.cells.get(ck) ?? 0) + 1);
          const inc = increments.get(`${key}|${ck}`);
          if (inc) inc.n++;
          else increments.set(`${key}|${ck}`, { key, res, bucket, metric, n: 1 });
        }
        if (metric === 'delivered') w.row.deliveredTotal++;
      }
      w.row.updatedAt = at;
      w.dirty = true;
      if (!(w.hold && w.hold.until > at)) {
        const h = evaluateLedgerRules(deps.rules ?? [], c.parts, w.cells, at);
        if (h) {
          w.hold = { key, ...c.parts, rule: h.rule, reason: h.reason, since: at, until: h.until };
          w.holdDirty = true;
          holdVerdicts.set(key, h);
        }
      }
      const held = w.hold && w.hold.until > at ? w.hold : null;
      const verdict = held ? holdAssessment(held, holdVerdicts.get(key)) : assessCells(w.cells, w.row.deliveredTotal, at);
      if (verdict.state !== w.row.state || verdict.rule !== ruleOf(w.row.reason)) {
        const previous = w.row.state;
        w.row.state = verdict.state;
        w.row.reason = `${verdict.rule}: ${verdict.reason}`;
        if (previous !== verdict.state) {
          w.row.since = at;
          // The first state of a new key is not a change worth announcing unless it is already bad.
          const announce = previous !== 'new' || (verdict.state !== 'warming' && verdict.state !== 'healthy');
          if (emit && announce)
            emitted.push(changedEvent(w.row, previous === 'new' ? 'healthy' : previous, verdict, at, held?.until ?? null));
        }
      }
    }

    await tx.reputation.addCounts([...increments.values()]);
    for (const w of working.values()) if (w.dirty) await tx.reputation.putKey(w.row);
    for (const w of working.values()) if (w.holdDirty && w.hold) await tx.reputation.putHold(w.hold);
    await tx.reputation.putContexts([...changedContexts].map(([subject, at]) => ({ subject, data: contexts.get(subject)!, at })));
    await tx.reputation.pruneCounts('5m', bucketOf(newest - KEEP['5m'], '5m'));
    await tx.reputation.pruneCounts('1h', bucketOf(newest - KEEP['1h'], '1h'));
    return emitted;
  }

  function assessCells(cells: Cells, deliveredTotal: number, at: number): Assessment {
    return assess(
      { '1h': sumWindow(cells, '1h', at), '24h': sumWindow(cells, '24h', at), baseline: sumWindow(cells, 'baseline', at) },
      deliveredTotal,
      thresholds,
    );
  }

  const consumer: Consumer = createConsumer({
    name: LEDGER_NAME,
    store: deps.store,
    clock: deps.clock,
    owner: deps.owner,
    handle: (events) => apply(events, { emit: true }),
    ...(deps.pollMs ? { pollMs: deps.pollMs } : {}),
    ...(deps.log ? { log: deps.log } : {}),
  });

  return {
    consumer,
    /** Applies a batch as the live consumer does (tests drive it directly). */
    apply: (events: readonly SpineEvent[]) => apply(events, { emit: true }),
    /**
     * Empties the ledger and replays the whole spine into it, without announcing state changes again.
     * Bounded by the spine's length; pages of `pageSize`.
     */
    async rebuild(pageSize = 1000): Promise<{ events: number }> {
      await store.transaction((tx) => tx.reputation.clear(LEDGER_NAME));
      let after = 0;
      let count = 0;
      for (;;) {
        const page = await store.events.page({ after, limit: pageSize });
        if (!page.length) break;
        await apply(page, { emit: false });
        count += page.length;
        after = Number(page[page.length - 1]!.cursor);
        if (page.length < pageSize) break;
      }
      await store.consumerCursors.set(LEDGER_NAME, after, deps.clock.now());
      return { events: count };
    },
  };
}

export type Ledger = ReturnType<typeof createLedger>;

const ruleOf = (reason: string) => reason.slice(0, Math.max(0, reason.indexOf(':')));

/** The state of a key under a hold: paused by the rule, with its numbers when the hold was set now. */
function holdAssessment(h: ReputationHoldRow, v: HoldVerdict | undefined): Assessment {
  return {
    state: 'paused',
    rule: h.rule,
    reason: h.reason,
    metric: v?.metric ?? null,
    window: v?.window ?? null,
    value: v?.value ?? null,
    threshold: v?.threshold ?? null,
    count: v?.count ?? null,
    denominator: v?.denominator ?? null,
  };
}

function changedEvent(row: ReputationKeyRow, previous: string, v: Assessment, at: number, pausedUntil: number | null): NewEvent {
  return newEvent(
    'reputation.changed',
    { tenantId: row.tenantId, messageId: null },
    {
      domain: row.domain,
      selector: row.selector,
      pool: row.pool,
      return_path: row.returnPath,
      provider: row.provider,
      stream: row.stream,
      previous_state: previous,
      state: v.state as ReputationState,
      rule: v.rule,
      reason: v.reason,
      metric: v.metric,
      window: v.window,
      value: v.value,
      threshold: v.threshold,
      count: v.count,
      denominator: v.denominator,
      at: isoTime(at),
      paused_until: pausedUntil === null ? null : isoTime(pausedUntil),
    },
  );
}
