import type { KeyObject } from 'node:crypto';
import type { AuditEntryRow, Store } from '../store/index.js';
import { chainOf } from './audit-log.js';
import { entryHash, GENESIS_HASH } from './canonical.js';
import { checkSignature, trustedPublicKey } from './signing-key.js';

/**
 * Recomputes audit chains (`postwarden audit verify`). For each chain, in seq order:
 * - seq runs 1, 2, 3 … with no gap (a gap is a deleted entry);
 * - each entry's prev_hash is the previous entry's hash (GENESIS_HASH for seq 1);
 * - each entry's hash is the hash of its own contents (canonical.ts), so an edited column shows;
 * - the chain head (seq, hash) is the last entry, so deleting the newest entries shows too;
 * - each checkpoint names an entry that exists with that hash, and its Ed25519 signature verifies
 *   with a key whose private half opens under this node's master key.
 * The first problem of each chain is reported with the entry it concerns; checking stops there.
 */
export interface ChainProblem {
  chain: string;
  seq: number;
  /** The entry concerned, when there is one (a deleted entry has none; the next one is named). */
  id: string | null;
  problem: string;
}

export interface ChainReport {
  chain: string;
  entries: number;
  checkpoints: number;
  headSeq: number;
  ok: boolean;
  problem?: ChainProblem;
}

export interface VerifyReport {
  ok: boolean;
  chains: ChainReport[];
}

const PAGE = 1000;

export async function verifyAudit(
  store: Pick<Store, 'audit'>,
  opts: { tenantId?: string | null; masterKey?: Buffer } = {},
): Promise<VerifyReport> {
  const heads = await store.audit.heads();
  const wanted = opts.tenantId === undefined ? heads : heads.filter((h) => h.chain === chainOf(opts.tenantId));
  if (opts.tenantId !== undefined && !wanted.length) wanted.push({ chain: chainOf(opts.tenantId), seq: 0, hash: GENESIS_HASH });
  const chains: ChainReport[] = [];
  const keys = new Map<string, { key: KeyObject } | { problem: string }>();
  for (const head of wanted) chains.push(await verifyChain(store, head, opts.masterKey, keys));
  return { ok: chains.every((c) => c.ok), chains };
}

async function verifyChain(
  store: Pick<Store, 'audit'>,
  head: { chain: string; seq: number; hash: string },
  masterKey: Buffer | undefined,
  keys: Map<string, { key: KeyObject } | { problem: string }>,
): Promise<ChainReport> {
  const { chain } = head;
  const report: ChainReport = { chain, entries: 0, checkpoints: 0, headSeq: head.seq, ok: true };
  const fail = (seq: number, id: string | null, problem: string): ChainReport => ({
    ...report,
    ok: false,
    problem: { chain, seq, id, problem },
  });
  const hashAt = new Map<number, { hash: string; id: string }>();
  const checkpoints = await store.audit.checkpoints(chain);
  const checkpointSeqs = new Set(checkpoints.map((c) => c.seq));
  let prev: AuditEntryRow | undefined;
  for (;;) {
    const page = await store.audit.page({ chain, afterSeq: prev?.seq ?? 0, limit: PAGE });
    for (const e of page) {
      const expected = (prev?.seq ?? 0) + 1;
      if (e.seq !== expected) {
        return fail(expected, e.id, `entry seq ${expected} is missing (deleted): the next entry is seq ${e.seq} (${e.id})`);
      }
      const wantPrev = prev?.hash ?? GENESIS_HASH;
      if (e.prevHash !== wantPrev) {
        return fail(e.seq, e.id, `prev_hash ${short(e.prevHash)} is not the hash of seq ${e.seq - 1} (${short(wantPrev)})`);
      }
      let actual: string;
      try {
        actual = entryHash(e);
      } catch (err) {
        return fail(e.seq, e.id, `contents cannot be read (${(err as Error).message}): the row was edited`);
      }
      if (actual !== e.hash) {
        return fail(
          e.seq,
          e.id,
          `hash does not match the entry's contents (stored ${short(e.hash)}, computed ${short(actual)}): the row was edited`,
        );
      }
      if (e.chain !== chain || (e.tenantId ?? null) !== (chain === 'platform' ? null : chain)) {
        return fail(e.seq, e.id, `entry belongs to chain ${e.chain}, tenant ${e.tenantId}, not ${chain}`);
      }
      if (checkpointSeqs.has(e.seq)) hashAt.set(e.seq, { hash: e.hash, id: e.id });
      report.entries++;
      prev = e;
    }
    if (page.length < PAGE) break;
  }
  const lastSeq = prev?.seq ?? 0;
  if (lastSeq !== head.seq) {
    return fail(
      lastSeq + 1,
      null,
      `the chain head says seq ${head.seq} but the last entry is seq ${lastSeq}: entries after it were deleted`,
    );
  }
  if ((prev?.hash ?? GENESIS_HASH) !== head.hash) {
    return fail(lastSeq, prev?.id ?? null, `the chain head hash ${short(head.hash)} is not the last entry's hash`);
  }
  for (const c of checkpoints) {
    const at = hashAt.get(c.seq);
    if (at === undefined) return fail(c.seq, null, `checkpoint at seq ${c.seq} names an entry that does not exist`);
    if (at.hash !== c.hash) {
      return fail(c.seq, at.id, `checkpoint at seq ${c.seq} signed hash ${short(c.hash)}, but the entry's hash is ${short(at.hash)}`);
    }
    let trusted = keys.get(c.keyId);
    if (!trusted) {
      const row = await store.audit.getSigningKey(c.keyId);
      trusted = row ? trustedPublicKey(row, masterKey) : { problem: `signing key ${c.keyId} does not exist` };
      keys.set(c.keyId, trusted);
    }
    if ('problem' in trusted) return fail(c.seq, at.id, `checkpoint at seq ${c.seq}: ${trusted.problem}`);
    if (!checkSignature(trusted.key, chain, c.seq, c.hash, c.signature)) {
      return fail(c.seq, at.id, `checkpoint at seq ${c.seq}: the signature does not verify`);
    }
    report.checkpoints++;
  }
  return report;
}

const short = (h: string) => `${h.slice(0, 12)}…`;
