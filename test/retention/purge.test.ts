import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import { operatorActor } from '../../src/audit/index.js';
import { sendAndDeliver } from '../feedback/documents.js';
import { fakeClock } from '../support/clock.js';
import { forEachDialect } from '../support/dialects.js';
import { startPlatform } from '../support/platform.js';

/**
 * Issue #18, Done 3: with a fake clock, bodies are purged on schedule (7 days after the last
 * attempt by default), held data survives, metadata and fingerprints remain, and every purge run is
 * in the audit log with its counts.
 */
const DAY = 86_400_000;

forEachDialect(
  'bodies are purged on schedule, held ones survive, metadata and fingerprints remain, every run audited',
  async (t, dialect) => {
    const clock = fakeClock();
    const p = await startPlatform(t, { clock, dialect });
    const { retention, store } = p.platform;
    const who = operatorActor(p.tenantId);
    const free = await sendAndDeliver(p, ['free@example.org']);
    const byAddress = await sendAndDeliver(p, ['held@example.org']);
    const byMessage = await sendAndDeliver(p, ['other@example.org']);
    const sha = async (id: string) =>
      createHash('sha256')
        .update((await store.messages.body(id))!)
        .digest('hex');
    const freeSha = await sha(free.id);
    const addressSha = await sha(byAddress.id);

    const addressHold = await retention.placeHold(who, p.tenantId, {
      kind: 'address',
      address: 'Held@Example.org',
      reason: 'litigation 17',
    });
    await retention.placeHold(who, p.tenantId, { kind: 'message', messageId: byMessage.id, reason: 'regulator inquiry' });
    assert.equal(addressHold.address_hash?.includes('held'), false, 'a hold keeps only the keyed hash of the address');

    // Not due yet: a day, then six days after the last attempt.
    clock.advance(DAY);
    assert.equal((await retention.purgeDue()).purged, 0);
    clock.advance(5 * DAY);
    assert.equal((await retention.purgeDue()).purged, 0);
    assert.ok(await store.messages.body(free.id), 'the body is still there before its 7 days');

    // Past 7 days: the scheduled job (under its lease) purges the free one; the held two survive.
    clock.advance(2 * DAY);
    const job = p.platform.jobs.find((j) => j.name === 'retention-purge');
    assert.ok(job, 'the purge job is scheduled');
    assert.equal(await job.tick(), true);
    const [last] = await retention.runs(1);
    assert.deepEqual((last!.counts as { purged: number; held: number }).purged, 1);
    assert.equal((last!.counts as { held: number }).held, 2);
    assert.equal(await store.messages.body(free.id), undefined, 'the body is gone');
    assert.ok(await store.messages.body(byAddress.id), 'held by address: kept');
    assert.ok(await store.messages.body(byMessage.id), 'held by message: kept');

    // Metadata and the fingerprint remain; the message says when and why its body went.
    const kept = await store.retention.messageRetention(free.id);
    assert.equal(kept?.body_sha256, freeSha);
    assert.equal(Number(kept?.body_purged_at), clock.now());
    assert.equal(kept?.body_purge_reason, 'retention');
    const view = await p.request('GET', `/v1/messages/${free.id}`);
    assert.equal(view.status, 200);
    assert.equal(view.body.subject, 'November update');
    assert.equal(view.body.recipients[0].email, 'free@example.org');
    assert.equal(view.body.recipients[0].state, 'delivered');

    // Releasing a hold lets the next run take what it held.
    await retention.releaseHold(who, p.tenantId, addressHold.id);
    clock.advance(60_000);
    const after = await retention.purgeDue();
    assert.equal(after.purged, 1);
    assert.equal(after.held, 1);
    assert.equal((await store.retention.messageRetention(byAddress.id))?.body_sha256, addressSha);
    assert.ok(await store.messages.body(byMessage.id));

    // Every run is in the audit log with its counts (platform chain), each batch in the tenant's.
    const runs = await p.platform.store.audit.page({ chain: 'platform', action: 'retention.purge_run', limit: 100 });
    assert.equal(runs.length, 4, 'four runs, four entries');
    const auditedCounts = runs.map((r) => JSON.parse(r.afterJson!).purged);
    assert.deepEqual(auditedCounts, [0, 0, 1, 1]);
    const batches = await p.platform.store.audit.page({ chain: p.tenantId, action: 'retention.bodies_purged', limit: 100 });
    assert.deepEqual(
      batches.map((b) => JSON.parse(b.afterJson!).message_ids),
      [[free.id], [byAddress.id]],
    );
    const holds = await p.platform.store.audit.page({ chain: p.tenantId, action: 'legal_hold.placed', limit: 100 });
    assert.equal(holds.length, 2);
    assert.equal(JSON.stringify(holds).toLowerCase().includes('held@example.org'), false, 'the hold entry holds no address');
  },
  test,
);

forEachDialect(
  'events go by the events class once every consumer has handled them; held ones stay; each batch audited',
  async (t, dialect) => {
    const clock = fakeClock();
    const p = await startPlatform(t, { clock, dialect });
    const { retention, store } = p.platform;
    const who = operatorActor(p.tenantId);
    const put = await p.request('PUT', '/v1/retention', { policies: [{ data_class: 'events', max_days: 2, min_days: null }] });
    assert.equal(put.status, 200, JSON.stringify(put.body));
    const free = await sendAndDeliver(p, ['free@example.org']);
    const held = await sendAndDeliver(p, ['kept@example.org']);
    await retention.placeHold(who, p.tenantId, { kind: 'message', messageId: held.id, reason: 'regulator inquiry' });
    const freeEvents = (await store.events.forMessage(free.id)).length;
    assert.ok(freeEvents >= 2, `the message has its events (${freeEvents})`);

    // The platform's own consumers handle the events in real time: wait until all have.
    const last = await store.events.lastCursor();
    for (let i = 0; i < 250 && (await store.retention.eventsHorizon()).cursor < last; i++) await new Promise((r) => setTimeout(r, 20));
    assert.ok((await store.retention.eventsHorizon()).cursor >= last, 'every consumer handled the events');

    // Not due before their 2 days.
    clock.advance(DAY);
    assert.equal((await retention.purgeDue()).events.purged, 0);

    // Due, but a consumer that has not handled them holds them back.
    clock.advance(2 * DAY);
    await store.consumerCursors.set('lagging-test-consumer', 0, clock.now());
    const heldBack = await retention.purgeDue();
    assert.equal(heldBack.events.purged, 0);
    assert.deepEqual(heldBack.events.horizon, { cursor: 0, held_back_by: 'consumer lagging-test-consumer' });
    assert.equal((await store.events.forMessage(free.id)).length, freeEvents);

    // Once it has: the free message's events go, the held message's stay (counted as held).
    await store.consumerCursors.set('lagging-test-consumer', last, clock.now());
    const counts = await retention.purgeDue();
    assert.ok(counts.events.purged >= freeEvents, JSON.stringify(counts.events));
    assert.equal(counts.events.held, (await store.events.forMessage(held.id)).length);
    assert.ok(counts.events.held > 0);
    assert.equal((await store.events.forMessage(free.id)).length, 0);
    assert.equal(counts.purged, 0, 'bodies follow their own class (7 days), untouched');
    assert.ok(await store.messages.body(free.id));

    const batches = await store.audit.page({ chain: p.tenantId, action: 'retention.events_purged', limit: 100 });
    assert.equal(
      batches.reduce((n, b) => n + JSON.parse(b.afterJson!).purged, 0),
      counts.events.purged,
      'the batches audited add up to the run',
    );
    // A held time range: its events are kept and counted, later ones still go.
    const inRange = await sendAndDeliver(p, ['range@example.org']);
    const rangeAt = clock.now();
    clock.advance(60_000);
    const after = await sendAndDeliver(p, ['after@example.org']);
    await retention.placeHold(who, p.tenantId, { kind: 'range', from: rangeAt - 1000, until: rangeAt + 1000, reason: 'audit window' });
    const lastNow = await store.events.lastCursor();
    await store.consumerCursors.set('lagging-test-consumer', lastNow, clock.now());
    for (let i = 0; i < 250 && (await store.retention.eventsHorizon()).cursor < lastNow; i++) await new Promise((r) => setTimeout(r, 20));
    clock.advance(3 * DAY);
    const ranged = await retention.purgeDue();
    const inRangeEvents = (await store.events.forMessage(inRange.id)).length;
    assert.ok(inRangeEvents > 0, 'the events in the held range are kept');
    assert.equal((await store.events.forMessage(after.id)).length, 0, 'the events after it go');
    assert.equal(ranged.events.held, inRangeEvents + (await store.events.forMessage(held.id)).length);

    const run = (await retention.runs(10)).find((r) => r.id === counts.run);
    assert.ok(run, `run ${counts.run} is listed`);
    assert.equal((run.counts as { events: { purged: number } }).events.purged, counts.events.purged);
  },
  test,
);
