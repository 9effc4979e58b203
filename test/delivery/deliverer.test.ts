import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fakeClock } from '../support/clock.js';
import { startPlatform } from '../support/platform.js';

test('the delivery rate behind time-to-drain counts the last minute and forgets older deliveries', async (t) => {
  const clock = fakeClock();
  const p = await startPlatform(t, { clock });
  for (let i = 0; i < 3; i++) {
    const res = await p.request('POST', '/v1/messages?mode=sync&wait_ms=5000', {
      from: 'a@example.com',
      to: [`x${i}@example.net`, `y${i}@example.net`],
      subject: 's',
      text: 't',
    });
    assert.equal(res.body.status, 'completed');
  }
  assert.equal(p.platform.deliverer.deliveredLastMinute(), 6);
  clock.advance(30_000);
  assert.equal(p.platform.deliverer.deliveredLastMinute(), 6);
  clock.advance(31_000);
  assert.equal(p.platform.deliverer.deliveredLastMinute(), 0);
});
