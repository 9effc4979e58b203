import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { builtInRoles, permissionMeaning, permissions, rolePermissions, scopeAliases } from '../../src/access/index.js';

/** docs/access.md's roles × permissions table is the code's: a role change without the doc fails here. */
export function rolesTable(): string {
  const head = `| Permission | ${builtInRoles.join(' | ')} | key scopes | What it allows |`;
  const rule = `|---|${builtInRoles.map(() => ':-:').join('|')}|---|---|`;
  const rows = permissions.map((p) => {
    const cells = builtInRoles.map((r) => ((rolePermissions[r] as readonly string[]).includes(p) ? '✓' : ''));
    const scopes = Object.entries(scopeAliases)
      .filter(([, ps]) => (ps as readonly string[]).includes(p))
      .map(([s]) => s)
      .join(', ');
    return `| \`${p}\` | ${cells.join(' | ')} | ${scopes} | ${permissionMeaning[p]} |`;
  });
  return [head, rule, ...rows].join('\n');
}

test('docs/access.md carries the roles × permissions table of the code', () => {
  const doc = readFileSync(new URL('../../docs/access.md', import.meta.url), 'utf8');
  const table = rolesTable();
  assert.ok(doc.includes(table), `docs/access.md lacks the current table; paste:\n${table}`);
});
