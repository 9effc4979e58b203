/**
 * Egress pools and lanes: which local source address (and EHLO name) a message leaves from.
 *
 * A pool is a named set of local addresses with the EHLO name receivers see from them; each stream
 * (transactional, marketing, cold) is a lane mapped to its pools. Isolation is the point: receivers
 * judge reputation per sending IP, so once a stream is named by a pool it leaves only from its own
 * pools, even when they are throttled or paused (its mail waits, it never borrows a transactional
 * IP). A stream no pool names leaves from the pool `default` (`delivery.sourceAddresses`, or the
 * address the OS picks when that is empty), which keeps single-IP installs working unchanged.
 *
 * Within a pool, addresses are used in turn per transaction, so connections spread over them.
 *
 * A message whose classification policy names a pool (docs/classification.md) leaves from that pool
 * whatever its stream, with the same isolation: it waits for that pool, it never borrows the
 * stream's (delivery-policy.ts decides; a pool name not configured here falls back to the stream's
 * lane, and says so in the log).
 */
export interface EgressPoolConfig {
  sourceAddresses: string[];
  ehloName?: string;
  streams?: readonly string[];
  /** A new pool earning its volume per provider (rules/warmup.yaml). */
  warmup?: boolean;
}

/** Where one transaction leaves from. `sourceAddress` null: the OS chooses (pool `default` without addresses). */
export interface Lane {
  pool: string;
  sourceAddress: string | null;
  ehloName: string;
  /** The classification policy that chose the pool (docs/classification.md); absent: the stream's lane did. */
  rule?: string;
}

export interface EgressPools {
  /** The pools a stream may leave from, in preference order (never empty). */
  poolsFor(stream: string): string[];
  /** The next source address of a pool (round robin). */
  laneOf(pool: string): Lane;
  names(): string[];
  /** Pools configured with `warmup: true`. */
  warmingPools(): string[];
}

export const DEFAULT_POOL = 'default';

export function createEgressPools(o: {
  pools: Record<string, EgressPoolConfig>;
  defaultSourceAddresses: readonly string[];
  ehloName: string;
}): EgressPools {
  const pools = new Map<string, { addresses: Array<string | null>; ehloName: string; next: number }>();
  if (!o.pools[DEFAULT_POOL]) {
    const addresses = o.defaultSourceAddresses.length ? [...o.defaultSourceAddresses] : [null];
    pools.set(DEFAULT_POOL, { addresses, ehloName: o.ehloName, next: 0 });
  }
  const byStream = new Map<string, string[]>();
  for (const [name, p] of Object.entries(o.pools)) {
    if (!p.sourceAddresses.length) throw new Error(`delivery.pools.${name}.sourceAddresses: a pool needs at least one address`);
    pools.set(name, { addresses: [...p.sourceAddresses], ehloName: p.ehloName || o.ehloName, next: 0 });
    for (const stream of p.streams ?? []) byStream.set(stream, [...(byStream.get(stream) ?? []), name]);
  }
  return {
    poolsFor: (stream) => byStream.get(stream) ?? [DEFAULT_POOL],
    laneOf(name) {
      const p = pools.get(name);
      if (!p) throw new Error(`no egress pool named ${name}`);
      const sourceAddress = p.addresses[p.next % p.addresses.length] ?? null;
      p.next = (p.next + 1) % p.addresses.length;
      return { pool: name, sourceAddress, ehloName: p.ehloName };
    },
    names: () => [...pools.keys()],
    warmingPools: () => Object.entries(o.pools).flatMap(([name, p]) => (p.warmup ? [name] : [])),
  };
}
