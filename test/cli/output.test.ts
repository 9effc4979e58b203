import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { cliConditions, errorExitCodes } from '../../src/cli/index.js';
import { CliError, createPrinter, failureOf, ProblemError } from '../../src/cli/output.js';
import { PostwardenError, validationError } from '../../src/core/index.js';
import { repoRoot } from './postwarden-process.js';

function capture(json: boolean) {
  const io = { out: '', err: '' };
  const printer = createPrinter(json, { stdout: (s) => (io.out += s), stderr: (s) => (io.err += s) });
  return { io, printer };
}

test('a failure prints one error line and one indented line per field error, on stderr only', () => {
  const { io, printer } = capture(false);
  printer.failure(
    failureOf(
      validationError([
        { path: '/to/0', message: 'is not an address' },
        { path: '/subject', message: 'is required' },
      ]),
    ),
  );
  assert.equal(io.out, '');
  assert.equal(io.err, 'error: The request has invalid fields.\n  /to/0: is not an address\n  /subject: is required\n');
});

test('with --json a failure is one problem object on stderr with its code and field errors', () => {
  const { io, printer } = capture(true);
  const f = failureOf(new PostwardenError('NOT_FOUND', 'message msg_1 does not exist', { id: 'msg_1' }));
  printer.failure(f);
  assert.equal(f.exit, 66);
  const problem = JSON.parse(io.err);
  assert.deepEqual(
    { type: problem.type, code: problem.code, detail: problem.detail, id: problem.id },
    { type: 'urn:postwarden:error:NOT_FOUND', code: 'NOT_FOUND', detail: 'message msg_1 does not exist', id: 'msg_1' },
  );
  assert.equal(io.err.trimEnd().includes('\n'), false);
});

test('a problem from the server keeps its fields and maps its code to an exit code', () => {
  const f = failureOf(
    new ProblemError(
      { code: 'RATE_LIMITED', detail: 'slow down', status: 429, retry_after: 3, errors: [{ path: '/x', message: 'y' }] },
      429,
    ),
  );
  assert.equal(f.exit, 75);
  assert.equal(f.problem.retry_after, 3);
  assert.deepEqual(f.problem.errors, [{ path: '/x', message: 'y' }]);
});

test('a problem code this CLI does not know is mapped by its HTTP status', () => {
  assert.equal(failureOf(new ProblemError({ code: 'SOMETHING_NEWER', detail: 'gone' }, 404)).exit, 66);
  assert.equal(failureOf(new ProblemError({ code: 'SOMETHING_NEWER', detail: '?' }, 418)).exit, 76);
});

test('an unexpected exception is INTERNAL with exit 70 and its message', () => {
  const f = failureOf(new TypeError('boom'));
  assert.deepEqual([f.exit, f.problem.code, f.problem.detail], [70, 'INTERNAL', 'boom']);
  assert.equal(failureOf(new CliError('UNREACHABLE', 'no')).exit, 69);
});

test('docs/cli.md lists every error code and CLI condition beside its exit code', () => {
  const doc = readFileSync(join(repoRoot, 'docs', 'cli.md'), 'utf8');
  const rows = new Map<string, number>();
  for (const line of doc.split('\n')) {
    const m = /^\| (\d+) \|.*\|([^|]*)\|$/.exec(line);
    if (!m) continue;
    for (const code of m[2]!.matchAll(/`([A-Z_]+)`/g)) rows.set(code[1]!, Number(m[1]));
  }
  const expected = [...Object.entries(errorExitCodes), ...Object.entries(cliConditions).map(([code, c]) => [code, c.exit] as const)];
  for (const [code, exit] of expected) assert.equal(rows.get(code), exit, `docs/cli.md: ${code} should be listed under exit ${exit}`);
  assert.equal(rows.size, expected.length, 'docs/cli.md lists a code the CLI does not have');
});
