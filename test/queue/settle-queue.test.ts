import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createSettleQueue } from '../../src/queue/index.js';

/**
 * A transaction over a list: what `fn` writes lands in `committed` only when it returns, and one
 * that throws leaves nothing. `commits` counts the transactions that committed.
 */
function fakeStore() {
  const s = { committed: [] as string[], commits: 0, failNext: false };
  const transaction = async <R>(fn: (tx: string[]) => Promise<R>): Promise<R> => {
    const tx: string[] = [];
    const r = await fn(tx);
    if (s.failNext) {
      s.failNext = false;
      throw new Error('the database is away');
    }
    s.committed.push(...tx);
    s.commits++;
    return r;
  };
  return { s, transaction };
}

test('queued settles commit in the next claim transaction, before the claim, as one commit', async () => {
  const { s, transaction } = fakeStore();
  const q = createSettleQueue<string, string[]>({ transaction, apply: async (tx, items) => void tx.push(...items), lingerMs: 60_000 });
  q.add('settle a');
  q.add('settle b');
  assert.equal(q.waiting(), true);
  const sawSettles = await q.claimWith(async (tx) => {
    const before = [...tx];
    tx.push('claim');
    return before;
  });
  assert.deepEqual(sawSettles, ['settle a', 'settle b'], 'the claim ran after the settles, in the same transaction');
  assert.deepEqual(s.committed, ['settle a', 'settle b', 'claim']);
  assert.equal(s.commits, 1);
  assert.equal(q.waiting(), false);
});

test('settles that no claim takes commit on their own after lingerMs', async () => {
  const { s, transaction } = fakeStore();
  const q = createSettleQueue<string, string[]>({ transaction, apply: async (tx, items) => void tx.push(...items), lingerMs: 5 });
  q.add('settle a');
  for (let i = 0; i < 200 && s.commits === 0; i++) await new Promise((r) => setTimeout(r, 10));
  assert.deepEqual(s.committed, ['settle a']);
  assert.equal(q.waiting(), false);
});

test('a claim transaction that fails puts its settles back, and the next transaction commits them', async () => {
  const { s, transaction } = fakeStore();
  const errors: unknown[] = [];
  const q = createSettleQueue<string, string[]>({
    transaction,
    apply: async (tx, items) => void tx.push(...items),
    lingerMs: 60_000,
    log: { error: (o) => errors.push(o) },
  });
  q.add('settle a');
  s.failNext = true;
  await assert.rejects(
    q.claimWith(async (tx) => tx.push('claim 1')),
    /away/,
  );
  assert.deepEqual(s.committed, []);
  assert.equal(q.waiting(), true, 'the settle waits again');
  q.add('settle b');
  await q.claimWith(async (tx) => tx.push('claim 2'));
  assert.deepEqual(s.committed, ['settle a', 'settle b', 'claim 2']);
  assert.equal(errors.length, 1);
});

test('drain commits what is queued without a claim', async () => {
  const { s, transaction } = fakeStore();
  const q = createSettleQueue<string, string[]>({ transaction, apply: async (tx, items) => void tx.push(...items), lingerMs: 60_000 });
  await q.drain();
  assert.equal(s.commits, 0, 'nothing queued, nothing committed');
  q.add('settle a');
  await q.drain();
  assert.deepEqual(s.committed, ['settle a']);
  assert.equal(q.waiting(), false);
});
