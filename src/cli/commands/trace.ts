import { readFileSync, writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import type { Act, CliContext } from '../context.js';
import { configFor, openAdminStore } from '../context.js';
import { CliError } from '../output.js';

/**
 * Message trace evidence bundles (docs/compliance.md):
 * - `postwarden trace verify <bundle> [--key-sha256 <hex>]` checks a bundle offline, with nothing but
 *   the file: every file's SHA-256 against the manifest, the Ed25519 signature over the manifest, and
 *   the signing key against a pinned fingerprint when given. Exit 0 when intact, 65
 *   (TRACE_BUNDLE_INVALID) naming each problem otherwise.
 * - `postwarden trace export --tenant <id> (--message <id> | --to <addr> | --key <id>) [--since] [--until] --output <file>`
 *   builds a bundle from the store, signed with this node's platform key.
 * - `postwarden trace key` prints the fingerprint of that key, for investigators to pin.
 */
export function registerTrace(program: Command, act: Act): void {
  const trace = program.command('trace').description('Export and verify signed message trace evidence bundles');
  trace
    .command('verify <bundle>')
    .description('Verify a trace bundle offline: file hashes, Ed25519 signature, optionally the pinned key; non-zero exit when altered')
    .option('--key-sha256 <hex>', 'the fingerprint the signing key must have (postwarden trace key)')
    .action(act((ctx, cmd) => verify(ctx, String(cmd.args[0]), cmd.opts<{ keySha256?: string }>().keySha256)));
  trace
    .command('export')
    .description('Build a signed trace bundle of one message, or of the messages to an address or sent with a key in a time range')
    .requiredOption('--tenant <id>', 'the tenant (ten_…)')
    .option('--message <id>', 'one message (msg_…)')
    .option('--to <address>', 'messages to this address')
    .option('--key <id>', 'messages sent with this API key (key_…)')
    .option('--since <iso>', 'from this time (with --to or --key; default 30 days ago)')
    .option('--until <iso>', 'until this time (default now)')
    .requiredOption('--output <file>', 'where to write the bundle')
    .action(act((ctx, cmd) => exportBundle(ctx, cmd.opts())));
  trace
    .command('key')
    .description('Print the id and SHA-256 fingerprint of the platform key that signs trace bundles')
    .action(act((ctx) => key(ctx)));
}

async function verify(ctx: CliContext, file: string, keySha256: string | undefined): Promise<void> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new CliError('INPUT_UNREADABLE', `cannot read ${file}: ${(e as Error).message}`);
  }
  const { verifyTraceBundle } = await import('../../compliance/index.js');
  const verdict = verifyTraceBundle(text, keySha256 ? { keySha256 } : undefined);
  if (!verdict.ok) {
    throw new CliError(
      'TRACE_BUNDLE_INVALID',
      `${file} does not verify:\n${verdict.problems.join('\n')}`,
      verdict.problems.map((p) => ({ path: '/', message: p })),
    );
  }
  ctx.out.result(verdict, () => [
    `${file}: intact, ${verdict.messages} message(s), signed by ${verdict.keyId} (key SHA-256 ${verdict.publicKeySha256})`,
  ]);
}

interface ExportOptions {
  tenant: string;
  message?: string;
  to?: string;
  key?: string;
  since?: string;
  until?: string;
  output: string;
}

async function platformParts(ctx: CliContext) {
  const config = await configFor(ctx);
  const store = await openAdminStore(ctx, config);
  const [{ loadOrCreateMasterKey }, { join }, { systemClock }] = await Promise.all([
    import('../../governance/index.js'),
    import('node:path'),
    import('../../core/index.js'),
  ]);
  const masterKey = loadOrCreateMasterKey(config.security.masterKeyFile || join(config.dataDir, 'master.key')).key;
  return { config, store, masterKey, clock: systemClock };
}

async function exportBundle(ctx: CliContext, o: ExportOptions): Promise<void> {
  const chosen = [o.message, o.to, o.key].filter(Boolean).length;
  if (chosen !== 1) throw new CliError('USAGE', 'give exactly one of --message, --to or --key');
  const { config, store, masterKey, clock } = await platformParts(ctx);
  try {
    const { createIncidents } = await import('../../compliance/index.js');
    const incidents = createIncidents({ store, clock, masterKey, regimes: config.compliance.clocks });
    const time = (s: string | undefined, dflt: number, name: string) => {
      if (s === undefined) return dflt;
      const t = Date.parse(s);
      if (Number.isNaN(t)) throw new CliError('USAGE', `--${name} must be an ISO time`);
      return t;
    };
    const until = time(o.until, clock.now(), 'until');
    const since = time(o.since, until - 30 * 86_400_000, 'since');
    const q = o.message ? { message_id: o.message } : o.to ? { to: o.to, since, until } : { key_id: o.key!, since, until };
    const text = await incidents.traceBundle(o.tenant, q);
    try {
      writeFileSync(o.output, text);
    } catch (e) {
      throw new CliError('OUTPUT_UNWRITABLE', `cannot write ${o.output}: ${(e as Error).message}`);
    }
    const manifest = (JSON.parse(text) as { manifest: { public_key_sha256: string } }).manifest;
    ctx.out.result({ output: o.output, key_sha256: manifest.public_key_sha256 }, () => [
      `wrote ${o.output}; verify with: postwarden trace verify ${o.output} --key-sha256 ${manifest.public_key_sha256}`,
    ]);
  } finally {
    await store.close();
  }
}

async function key(ctx: CliContext): Promise<void> {
  const { store, masterKey, clock } = await platformParts(ctx);
  try {
    const [{ loadEvidenceSigner }, { publicKeySha256 }] = await Promise.all([
      import('../../audit/index.js'),
      import('../../compliance/index.js'),
    ]);
    const signer = await store.transaction((tx) => loadEvidenceSigner(tx, masterKey, clock.now(), new Map()));
    const out = { key_id: signer.keyId, public_key: signer.publicKey, sha256: publicKeySha256(signer.publicKey) };
    ctx.out.result(out, () => [`${out.key_id} SHA-256 ${out.sha256}`]);
  } finally {
    await store.close();
  }
}
