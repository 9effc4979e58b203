import { newId } from './src/core/index.js';
import { createStore } from './src/store/index.js';
import { createPostgresSchema } from './test/support/dialects.js';
const schema = await createPostgresSchema('postgres://postgres@127.0.0.1:5432/test');
const u = new URL(schema.url);
u.searchParams.set('options', `${u.searchParams.get('options')} -c session_preload_libraries=auto_explain -c auto_explain.log_min_duration=80 -c auto_explain.log_analyze=on -c auto_explain.log_buffers=on`);
const store = await createStore({ url: u.toString() });
const N = 21000; const now = Date.now(); const ep = 'whe_01JEXAMPLE0000000000000000';
const rows = [];
for (let m = 0; m < N / 3; m++) { const msg = newId('msg', now + m); for (let k = 0; k < 3; k++) rows.push({ id: newId('whd', now), endpointId: ep, tenantId: 'ten_x', eventId: newId('evt', now + m), eventCursor: m * 3 + k + 1, messageId: msg, origin: 'live' }); }
for (let i = 0; i < rows.length; i += 2000) await store.transaction((tx) => tx.webhookDeliveries.insertMany(rows.slice(i, i + 2000), now));
let pending: string[] = []; const times: string[] = []; const t0 = performance.now();
for (;;) {
  const c = await store.transaction(async (tx) => {
    const t1 = performance.now();
    if (pending.length) await tx.webhookDeliveries.settle({ ids: pending, owner: 'o', now: now + 1, outcome: { kind: 'done' } });
    const t2 = performance.now();
    const r = await tx.webhookDeliveries.claimDue({ owner: 'o', now: now + 1, leaseMs: 60000, limit: 1024, region: '' });
    times.push(`${(t2 - t1).toFixed(0)}+${(performance.now() - t2).toFixed(0)}`);
    return r;
  });
  pending = c.map((x) => x.id);
  if (!c.length) break;
}
console.log('total', (performance.now() - t0).toFixed(0), times.join(' '));
await store.close(); await schema.drop();
