import assert from 'node:assert/strict';
import { test } from 'node:test';
import { readDurabilityTrace } from './strace.js';

/**
 * The durability witness's reading of a strace log (test/accept/power-loss.test.ts), on logs written
 * by hand in strace's format: a WAL frame is a 24-byte header (bytes 4–7 non-zero on a commit) and a
 * page; a 202 is synced only after a WAL flush that began once its message's commit had been written.
 */

const WAL = '5</d/postwarden.db-wal>';
const ID = 'msg_01JXXXXXXXXXXXXXXXXXXXXXXX';
const header = (commit: boolean) =>
  `"\\0\\0\\0\\2\\0\\0\\0${commit ? '\\3' : '\\0'}\\1\\2\\3\\4\\5\\6\\7\\10\\11\\12\\13\\14\\15\\16\\17\\20"`;
const page = `"\\r\\0\\0\\0\\1\\17\\300\\0${ID}\\0\\0"`;
const answer = `100 writev(30<socket:[77]>, [{iov_base="HTTP/1.1 202 Accepted\\r\\n", iov_len=24}, {iov_base="{\\"id\\":\\"${ID}\\"}", iov_len=40}], 2) = 64`;
const frame = (tid: number, commit: boolean) => [
  `${tid} pwrite64(${WAL}, ${header(commit)}, 24, 32) = 24`,
  `${tid} pwrite64(${WAL}, ${page}, 4096, 56) = 4096`,
];

test('a 202 after a flush that began after its commit is synced; before its end, or without one, it is not', () => {
  const synced = readDurabilityTrace([...frame(100, true), `101 fdatasync(${WAL}) = 0`, answer].join('\n'));
  assert.deepEqual([synced.answers202, synced.unsynced202, synced.unattributed202, synced.walSyncs], [1, 0, 0, 1]);

  const noFlush = readDurabilityTrace([...frame(100, true), answer].join('\n'));
  assert.equal(noFlush.unsynced202, 1);

  const answeredDuringFlush = readDurabilityTrace(
    [...frame(100, true), `101 fdatasync(${WAL} <unfinished ...>`, answer, '101 <... fdatasync resumed>) = 0'].join('\n'),
  );
  assert.equal(answeredDuringFlush.unsynced202, 1, 'the flush had not ended');
});

test('a flush that began before the commit was written, or while its page was still being written, does not cover it', () => {
  const before = readDurabilityTrace([`101 fdatasync(${WAL}) = 0`, ...frame(100, true), answer].join('\n'));
  assert.equal(before.unsynced202, 1);

  const [h, p] = frame(100, true);
  const split = readDurabilityTrace(
    [h, `${p!.replace(' = 4096', '')} <unfinished ...>`, `101 fdatasync(${WAL}) = 0`, '100 <... pwrite64 resumed>) = 4096', answer].join(
      '\n',
    ),
  );
  assert.equal(split.unsynced202, 1, 'the commit frame ended after the flush began');
});

test('a message is committed by the commit frame that ends its transaction, not by its first page', () => {
  const log = [...frame(100, false), `101 fdatasync(${WAL}) = 0`, answer, ...frame(100, true), `101 fdatasync(${WAL}) = 0`, answer];
  const r = readDurabilityTrace(log.join('\n'));
  assert.equal(r.answers202, 2);
  assert.equal(r.unsynced202, 1, 'the first answer came before the commit frame');

  const unknown = readDurabilityTrace(
    [...frame(100, true), `101 fdatasync(${WAL}) = 0`, answer.replaceAll(ID, 'msg_01JYYYYYYYYYYYYYYYYYYYYYYY')].join('\n'),
  );
  assert.deepEqual([unknown.unattributed202, unknown.unsynced202], [1, 1]);
});
