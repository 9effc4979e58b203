import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { repoRoot } from '../cli/postwarden-process.js';
import { tempDir } from '../support/dialects.js';
import { unitNodeFlags } from '../support/server-process.js';

/** The systemd unit shipped in deploy/ parses cleanly (docs/deploy.md installs it as is). */
const unit = join(repoRoot, 'deploy', 'postwarden.service');
const analyze = spawnSync('systemd-analyze', ['--version'], { encoding: 'utf8' });
const skip =
  analyze.status !== 0
    ? 'systemd-analyze is not installed here'
    : !existsSync('/usr/bin/node')
      ? 'the unit runs /usr/bin/node, which this machine does not have'
      : false;

test('deploy/postwarden.service passes systemd-analyze verify', { skip }, () => {
  const r = spawnSync('systemd-analyze', ['verify', unit], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stderr.trim(), '', 'systemd-analyze printed warnings');
});

test('systemd-analyze verify fails on a broken copy of the unit, so the check above can fail', { skip }, (t) => {
  const broken = join(tempDir(t), 'postwarden.service');
  writeFileSync(broken, readFileSync(unit, 'utf8').replace('ExecStart=/usr/bin/node', 'ExecStart=/nonexistent/node'));
  const r = spawnSync('systemd-analyze', ['verify', broken], { encoding: 'utf8' });
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /nonexistent\/node/);
});

test('the unit runs serve from the built release with a state directory and stops on SIGTERM', () => {
  const text = readFileSync(unit, 'utf8');
  // Node's own heap sizes (docs/deploy.md, "Memory and the collector": a larger young generation
  // took the 1,000,000-queued peak past 400 MB). Any flag added later must be one this Node accepts;
  // the benches read them the same way (`--server-node-args=unit`).
  const flags = unitNodeFlags();
  assert.deepEqual(flags, []);
  const r = spawnSync(process.execPath, [...flags, '-e', '0'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.match(text, /^StateDirectory=postwarden$/m);
  assert.match(text, /^Environment=POSTWARDEN_DATA_DIR=\/var\/lib\/postwarden$/m);
  assert.match(text, /^KillSignal=SIGTERM$/m);
});
