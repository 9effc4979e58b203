import { readFileSync } from 'node:fs';
import v8 from 'node:v8';
import { runCli } from './cli/index.js';

/**
 * The process entry: the only place (with config/) that touches process.env, argv, signals and the
 * exit code. Everything else receives them as arguments.
 */
// A reader that went away (`postwarden events tail | head`) ends the output, not the program with a
// stack trace: stop quietly, as the command did what it was asked for that reader.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code !== 'EPIPE') throw e;
    process.exit(0);
  });
}

// src/main.ts and dist/main.js both sit one level below package.json.
const { version } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };

const code = await runCli(process.argv.slice(2), {
  env: process.env,
  version,
  stdout: (s) => process.stdout.write(s),
  stderr: (s) => process.stderr.write(s),
  stderrIsTTY: process.stderr.isTTY === true,
  stdoutStream: process.stdout,
  // Loaded on demand: admin and client commands never pay for the HTTP and SMTP stacks.
  createPlatform: async (config, opts) => (await import('./platform.js')).createPlatform(config, opts),
  onSignal(handler) {
    process.on('SIGINT', handler);
    process.on('SIGTERM', handler);
    return () => {
      process.off('SIGINT', handler);
      process.off('SIGTERM', handler);
    };
  },
  exit: (c) => process.exit(c),
  // V8 reads this heuristic at every full collection, so setting it after start takes effect (Node
  // refuses it in NODE_OPTIONS). It bounds how far the heap may grow past its live size before the
  // next full collection; V8's own choice let a busy node carry ~200 MB of garbage.
  tuneHeap: (percent) => {
    if (percent > 0) v8.setFlagsFromString(`--heap-growing-percent=${percent}`);
  },
});
process.exitCode = code;
// The work is done; if a stray handle (a pool, a timer) still holds the event loop, do not hang.
// unref: when nothing else is pending the process exits at once and this never fires.
setTimeout(() => process.exit(code), 5000).unref();
