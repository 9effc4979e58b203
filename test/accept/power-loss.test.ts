import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type TestContext, test } from 'node:test';
import { createStore } from '../../src/store/index.js';
import { encryptionFor } from '../protection/seed.js';
import { tempDir } from '../support/dialects.js';
import { startServer } from '../support/server-process.js';
import { attachStrace, type DurabilityTrace, readDurabilityTrace, straceAvailable } from '../support/strace.js';

/**
 * A 202 must mean the message survives a power loss, not only a crash of the process. A power loss
 * drops what the kernel had not yet written to the disk, and a test cannot pull the plug; so it
 * checks the order of system calls instead. strace follows all the server's threads (SQLite and the
 * sockets live on the main one, the WAL's flush runs in Node's thread pool) while concurrent clients
 * send; every HTTP answer `HTTP/1.1 202` written to a socket must come after the end of a flush of
 * the WAL that began once the commit holding its message had been written (the log shows the pages,
 * so the message is found by its id; test/support/strace.ts).
 * Then the server is killed with SIGKILL right after a 202, and every acknowledged message must be
 * there after the restart. The second test runs the same check with `process-crash-safe` and expects
 * it to find unsynced answers, so the check is known to be able to fail.
 */

const skip = !straceAvailable && 'strace is not installed (apt-get install strace)';

async function acceptUnderStraceThenKill(
  t: TestContext,
  durability: 'power-loss-safe' | 'process-crash-safe',
): Promise<(DurabilityTrace & { acked: Map<string, string>; dataDir: string; key: string }) | null> {
  const dataDir = tempDir(t, 'pw-powerloss-');
  const env = { POSTWARDEN_STORE__DURABILITY: durability };
  const server = await startServer({ dataDir, args: ['--sandbox'], env });
  t.after(() => server.stop());
  const traceFile = join(dataDir, 'strace.log');
  const tracer = await attachStrace(server.child.pid!, traceFile).catch((e: Error) => {
    // Containers without CAP_SYS_PTRACE (or with yama's ptrace_scope ≥ 1 for non-root) refuse the attach.
    if (/not permitted/i.test(e.message)) return null;
    throw e;
  });
  if (!tracer) return null;
  t.after(() => {
    if (tracer.exitCode === null && tracer.signalCode === null) tracer.kill('SIGINT');
  });
  const base = `http://127.0.0.1:${server.http}`;
  const auth = { authorization: `Bearer ${server.key}`, 'content-type': 'application/json' };

  const acked = new Map<string, string>();
  const killAfter = 300;
  let killed = false;
  let next = 0;
  const workers = Array.from({ length: 24 }, async () => {
    for (let i = next++; i < 2000 && !killed; i = next++) {
      try {
        const res = await fetch(`${base}/v1/messages`, {
          method: 'POST',
          headers: auth,
          body: JSON.stringify({ from: 'a@bench.example', to: [`r${i}@example.net`], subject: `pl-${i}`, text: 'x' }),
        });
        const body = (await res.json()) as { id?: string };
        if (res.status === 202 && body.id) {
          acked.set(`pl-${i}`, body.id);
          // Right after a 202, while the other clients' requests are in flight.
          if (acked.size >= killAfter && !killed) {
            killed = true;
            server.child.kill('SIGKILL');
          }
        }
      } catch {
        // The connection died with the server: not acknowledged.
      }
    }
  });
  await Promise.all(workers);
  assert.ok(killed, `the server was killed (acknowledged ${acked.size})`);
  if (server.child.exitCode === null && server.child.signalCode === null) await new Promise((r) => server.child.once('exit', r));
  if (tracer.exitCode === null) await new Promise((r) => tracer.once('exit', r));
  return { ...readDurabilityTrace(readFileSync(traceFile, 'utf8')), acked, dataDir, key: server.key };
}

test('kill -9 right after a 202 under load: every acknowledged message was fsynced before its answer and is there after restart', {
  skip,
  timeout: 240_000,
}, async (t) => {
  const run = await acceptUnderStraceThenKill(t, 'power-loss-safe');
  if (!run) return t.skip('strace may not attach to processes here (ptrace not permitted)');
  t.diagnostic(
    `202s traced ${run.answers202} in ${run.batches} batches (unsynced ${run.unsynced202}, unattributed ${run.unattributed202}), WAL writes ${run.walWrites}, WAL fsyncs ${run.walSyncs}, acknowledged ${run.acked.size}`,
  );
  assert.ok(run.answers202 >= run.acked.size, `strace saw every 202 the clients got (${run.answers202} < ${run.acked.size})`);
  assert.equal(run.unattributed202, 0, 'every 202 was traced to the commit that holds its message');
  assert.equal(run.unsynced202, 0, "no 202 was written before a flush of the WAL that began after its message's commit had ended");

  const again = await startServer({ dataDir: run.dataDir, args: ['--sandbox'], bootstrap: false, key: run.key });
  t.after(() => again.stop());
  const store = await createStore({ dataDir: run.dataDir, encryption: encryptionFor(run.dataDir) });
  t.after(() => store.close());
  for (const [subject, id] of run.acked) {
    const m = await store.messages.get(id);
    assert.ok(m, `acknowledged message ${id} (${subject}) is missing after the kill`);
    assert.equal(m.subject, subject);
    assert.equal((await store.recipients.listByMessage(id)).length, 1);
  }
});

test('the same check finds 202s answered before the fsync when durability is process-crash-safe', { skip, timeout: 240_000 }, async (t) => {
  const run = await acceptUnderStraceThenKill(t, 'process-crash-safe');
  if (!run) return t.skip('strace may not attach to processes here (ptrace not permitted)');
  t.diagnostic(`202s traced ${run.answers202}, unsynced ${run.unsynced202}, WAL fsyncs ${run.walSyncs}`);
  assert.ok(run.answers202 > 0);
  assert.ok(run.unsynced202 > 0, 'without an fsync per commit, answers go out before the WAL reaches the disk');
});
