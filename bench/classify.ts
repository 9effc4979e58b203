import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname, join } from 'node:path';
import { classifyLine, loadDefaultRuleset } from '../src/feedback/index.js';

/**
 * Bounce classifier throughput: the reply-line table (test/fixtures/feedback/reply-lines.tsv)
 * varied into N lines, classified R times; prints the best and median run and lines per second.
 * The figure: 10,000 reply lines in under 1 s.
 *   npm run bench -- classify [--lines 10000] [--runs 10] [--out bench/results/classify.json]
 */
const loadavg = () => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');

export async function main(argv: string[]): Promise<void> {
  const arg = (name: string, dflt: string) => {
    const i = argv.indexOf(`--${name}`);
    return i >= 0 && argv[i + 1] ? argv[i + 1]! : dflt;
  };
  const n = Number(arg('lines', '10000'));
  const runs = Number(arg('runs', '10'));
  const out = arg('out', join(import.meta.dirname, 'results', 'classify.json'));
  const table = readFileSync(join(import.meta.dirname, '../test/fixtures/feedback/reply-lines.tsv'), 'utf8')
    .split('\n')
    .filter((l) => l.trim() && !l.startsWith('#'))
    .map((l) => l.split('\t')[3]!);
  const lines = Array.from({ length: n }, (_, i) =>
    table[i % table.length]!.replace(/192\.0\.2\.1\b/g, `198.51.100.${i % 250}`).replace(/someone@/g, `user${i}@`),
  );
  const ruleset = loadDefaultRuleset();
  const before = loadavg();
  const times: number[] = [];
  for (let r = 0; r < runs; r++) {
    const start = performance.now();
    for (const l of lines) classifyLine(ruleset, l);
    times.push(performance.now() - start);
  }
  const sorted = [...times].sort((a, b) => a - b);
  const result = {
    lines: n,
    runs,
    ruleset_version: ruleset.version,
    rules: ruleset.rules.length,
    best_ms: Math.round(sorted[0]!),
    median_ms: Math.round(sorted[Math.floor(sorted.length / 2)]!),
    lines_per_second: Math.round(n / (sorted[Math.floor(sorted.length / 2)]! / 1000)),
    machine: { cores: cpus().length, cpu: cpus()[0]?.model ?? '', loadavg_before: before, loadavg_after: loadavg() },
  };
  console.log(
    `# classify: ${n} lines × ${runs} runs: best ${result.best_ms} ms, median ${result.median_ms} ms, ${result.lines_per_second} lines/s`,
  );
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, `${JSON.stringify(result, null, 2)}\n`);
}
