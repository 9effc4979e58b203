import { type ChildProcess, spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Runs the real `postwarden` executable (bin/postwarden.mjs) as a child process from the repository
 * root, the way operators and scripts do. The child's environment carries none of our variables
 * from the parent (a developer's POSTWARDEN_* or DATABASE_URL must not leak into a test), except a
 * qualified POSTWARDEN_HOSTNAME.
 */
export const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const bin = join(repoRoot, 'bin', 'postwarden.mjs');

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

function childEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('POSTWARDEN_') && k !== 'DATABASE_URL') env[k] = v;
  // A qualified host name, so the records `domains add` prints do not depend on the test machine's
  // name (on a host named like `vm` they are refused: HOSTNAME_UNQUALIFIED).
  // Every answer of the server is held to its route's declared schema (docs/api.md): a CLI test then
  // fails when the API answers something the contract does not describe.
  return { ...env, POSTWARDEN_HOSTNAME: 'mail.pw.test', POSTWARDEN_SERVER__CHECK_RESPONSES: 'true', ...extra };
}

function collect(child: ChildProcess): { out: () => string; err: () => string } {
  let out = '';
  let err = '';
  child.stdout?.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr?.setEncoding('utf8').on('data', (d: string) => (err += d));
  return { out: () => out, err: () => err };
}

/** Runs one command to completion; killed (and failed) after `timeoutMs`. */
export function runPostwarden(args: string[], opts: { env?: Record<string, string>; timeoutMs?: number } = {}): Promise<RunResult> {
  const child = spawn(process.execPath, [bin, ...args], {
    cwd: repoRoot,
    env: childEnv(opts.env ?? {}),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const io = collect(child);
  const timeoutMs = opts.timeoutMs ?? 60_000;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`postwarden ${args.join(' ')} did not finish within ${timeoutMs} ms; stderr: ${io.err()}`));
    }, timeoutMs);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout: io.out(), stderr: io.err() });
    });
  });
}

export interface RunningServer {
  child: ChildProcess;
  url: string;
  stderr: () => string;
  /** Resolves when the process has exited. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** SIGKILLs the process if it is still running (cleanup after a failed test). */
  kill(): void;
}

/** Starts `postwarden serve` and waits (bounded) for its "listening" line. The caller calls kill() when done. */
export async function startServe(globalArgs: string[], serveArgs: string[] = [], timeoutMs = 60_000): Promise<RunningServer> {
  const child = spawn(
    process.execPath,
    [bin, ...globalArgs, 'serve', '--http-port', '0', '--smtp-port', '0', '--mx-port', '0', ...serveArgs],
    {
      cwd: repoRoot,
      env: childEnv({ POSTWARDEN_LOG_LEVEL: 'warn' }),
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const io = collect(child);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal })),
  );
  const kill = () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  };
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const m = /Postwarden listening: (http:\/\/[^\s,]+)/.exec(io.err());
    if (m) return { child, url: m[1]!, stderr: io.err, exited, kill };
    if (child.exitCode !== null) throw new Error(`serve exited with ${child.exitCode}: ${io.err()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  child.kill('SIGKILL');
  throw new Error(`serve did not report listening within ${timeoutMs} ms; stderr: ${io.err()}`);
}

/** Parses a command's stdout as the one JSON document --json promises. */
export function json<T = any>(r: RunResult): T {
  try {
    return JSON.parse(r.stdout) as T;
  } catch {
    throw new Error(`stdout is not one JSON document (exit ${r.code}): ${r.stdout}\nstderr: ${r.stderr}`);
  }
}

/** Starts any command in the background; the caller watches its stderr and kills it (kill -9 tests). */
export function spawnPostwarden(args: string[]): { child: ChildProcess; stderr: () => string; exited: Promise<unknown> } {
  const child = spawn(process.execPath, [bin, ...args], { cwd: repoRoot, env: childEnv({}), stdio: ['ignore', 'pipe', 'pipe'] });
  const io = collect(child);
  const exited = new Promise((resolve) => child.on('exit', resolve));
  return { child, stderr: io.err, exited };
}
