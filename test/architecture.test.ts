import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { test } from 'node:test';

/**
 * The folder rules of DESIGN.md, checked on every run (the idea of Kysely's check-esm-imports):
 * each concern imports only the concerns listed for it, only through their index.ts, never in a
 * cycle. Edges (api, smtp) may import store *types* but never store code. Root files (platform.ts,
 * main.ts) compose everything.
 */
const allowed: Record<string, string[]> = {
  core: [],
  config: ['core'],
  store: ['core', 'protection'],
  protection: ['core'],
  dns: ['core'],
  'transport-policy': ['core', 'dns'],
  access: ['core', 'store'],
  tenants: ['core', 'store', 'access', 'audit'],
  identity: ['core', 'dns', 'store', 'tenants', 'governance', 'audit'],
  queue: ['core', 'store'],
  events: ['core', 'store', 'queue', 'audit'],
  feedback: ['core', 'store', 'events', 'identity', 'audit'],
  delivery: ['core', 'dns', 'transport-policy', 'identity', 'queue', 'events', 'store', 'feedback'],
  governance: ['core', 'store'],
  audit: ['core', 'store', 'governance', 'queue'],
  posture: ['core', 'dns', 'transport-policy', 'identity', 'store', 'audit'],
  content: ['core', 'store', 'audit'],
  accept: ['core', 'store', 'queue', 'tenants', 'content'],
  health: ['core', 'store', 'feedback'],
  reputation: ['core', 'store', 'events'],
  compliance: ['core', 'store', 'events', 'queue', 'audit'],
  retention: ['core', 'store', 'audit'],
  classification: ['core', 'store', 'audit'],
  'self-assessment': ['core', 'store', 'events'],
  api: [
    'core',
    'access',
    'accept',
    'tenants',
    'events',
    'identity',
    'feedback',
    'posture',
    'delivery',
    'governance',
    'queue',
    'content',
    'health',
    'reputation',
    'audit',
    'retention',
    'classification',
    'self-assessment',
    'compliance',
  ],
  smtp: ['core', 'accept', 'tenants', 'feedback', 'identity'],
  cli: [
    'core',
    'config',
    'access',
    'protection',
    'store',
    'tenants',
    'identity',
    'feedback',
    'posture',
    'dns',
    'transport-policy',
    'governance',
    'audit',
    'compliance',
    'retention',
    'self-assessment',
  ],
  types: [],
};
const typeOnlyFrom: Record<string, string[]> = { api: ['store'], smtp: ['store'] };

const src = resolve(import.meta.dirname, '../src');

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? files(p) : p.endsWith('.ts') ? [p] : [];
  });
}

const concernOf = (file: string) => {
  const rel = relative(src, file).split('/');
  return rel.length === 1 ? '(root)' : rel[0]!;
};

interface Edge {
  from: string;
  to: string;
  file: string;
  spec: string;
  typeOnly: boolean;
}

function edges(): Edge[] {
  const out: Edge[] = [];
  const re = /^\s*(import|export)\s+(type\s+)?(?:[^'"]*?\sfrom\s+)?['"]([^'"]+)['"]/gm;
  for (const file of files(src)) {
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(re)) {
      const spec = m[3]!;
      if (!spec.startsWith('.')) continue;
      const target = resolve(dirname(file), spec.replace(/\.js$/, '.ts'));
      out.push({ from: concernOf(file), to: concernOf(target), file: relative(src, file), spec, typeOnly: !!m[2] });
    }
  }
  return out;
}

test('each concern imports only what DESIGN.md allows', () => {
  const bad = edges().filter((e) => {
    if (e.from === e.to || e.from === '(root)' || e.to === 'types') return false;
    const rules = allowed[e.from];
    assert.ok(rules, `src/${e.from} is a new concern: add it to DESIGN.md and to this test`);
    if (rules.includes(e.to)) return false;
    return !(e.typeOnly && typeOnlyFrom[e.from]?.includes(e.to));
  });
  assert.deepEqual(
    bad.map((e) => `${e.file} imports ${e.spec} (${e.from} → ${e.to})`),
    [],
  );
});

test('other concerns are imported only through their index.ts', () => {
  const deep = edges().filter((e) => e.from !== e.to && e.to !== '(root)' && e.to !== 'types' && !/\/index\.js$/.test(e.spec));
  assert.deepEqual(
    deep.map((e) => `${e.file} imports ${e.spec}`),
    [],
  );
});

test('concerns do not import each other in a cycle', () => {
  const graph = new Map<string, Set<string>>();
  for (const e of edges()) {
    if (e.from === e.to || e.from === '(root)' || e.typeOnly) continue;
    if (!graph.has(e.from)) graph.set(e.from, new Set());
    graph.get(e.from)!.add(e.to);
  }
  const cycles: string[] = [];
  const visit = (node: string, path: string[]) => {
    if (path.includes(node)) {
      cycles.push([...path.slice(path.indexOf(node)), node].join(' → '));
      return;
    }
    for (const next of graph.get(node) ?? []) visit(next, [...path, node]);
  };
  for (const node of graph.keys()) visit(node, []);
  assert.deepEqual(cycles, []);
});

test('nothing outside config/ and main.ts reads process.env', () => {
  const readers = files(src).filter((f) => /process\.env/.test(readFileSync(f, 'utf8').replace(/\/\/.*$|\/\*[\s\S]*?\*\//gm, '')));
  const rel = readers.map((f) => relative(src, f)).filter((f) => !f.startsWith('config/') && f !== 'main.ts');
  assert.deepEqual(rel, []);
});
