import type { KeyObject } from 'node:crypto';
import { availableParallelism } from 'node:os';
import type { Worker } from 'node:worker_threads';
import { type Clock, normaliseDomain, PostwardenError, startModuleWorker } from '../core/index.js';
import { openSecret } from '../governance/index.js';
import type { DkimAlgorithm, DkimKeyRow, Store } from '../store/index.js';
import { domainCandidates } from '../tenants/index.js';
import { checkDkimPrivateKey, dkimAlgorithms, dkimKeyAad } from './dkim-keys.js';
import { type DkimSignatureResult, signDkim } from './dkim-signature.js';
import { dkimWorkerMarker, type WorkerKeyRef, type WorkerSignReply, type WorkerSignRequest } from './dkim-worker.js';

/**
 * DKIM signing on the delivery hot path.
 *
 * Keys: the active key(s) of the signing domain, the most specific registered name among the From
 * domain and its parents (news.example.com, not registered itself, signs d=example.com, which aligns
 * under relaxed DMARC, RFC 7489 §3.1.1). A registered domain whose keys are not active yet signs
 * nothing rather than fall back to a parent: the parent may belong to another tenant, whose key must
 * never sign this tenant's mail. One RSA and, when the domain has one, one Ed25519 key: both
 * signatures go on the message (RFC 8463 §5 dual signing). Keys are read from the store, opened with
 * the master key once and kept in memory; the per-domain answer is cached for `cacheTtlMs` so a newly
 * activated key is picked up within that time. A domain without keys gets the message back unsigned:
 * the caller decides.
 *
 * Threads: an RSA-2048 signature is ~0.8 ms of CPU (bench/dkim.ts), which at 1,000 messages/s would
 * take most of the event loop. With `threads` > 0 signing runs in a pool of worker threads (the worker
 * caches the parsed keys by id); `threads: 0` signs inline. The pool is bounded (`maxQueue` messages
 * in flight; beyond that `sign` fails fast with OVERLOADED), a thread that exits is replaced and its
 * messages are retried once, and a thread that keeps dying backs off instead of spinning.
 */

export interface DkimSignerDeps {
  /**
   * Only the signing lookups are needed: active keys, and which domains are registered. Without
   * `domains` (a benchmark's stub) only the From domain's own keys sign, never a parent's.
   */
  store: { dkimKeys: Pick<Store['dkimKeys'], 'activeFor'>; domains?: Pick<Store['domains'], 'findByNames'> };
  masterKey: Buffer;
  clock: Clock;
  /** Signing threads; 0 signs inline on the event loop. Default: cores - 1, at least 1, at most 4. */
  threads?: number;
  /** How long a domain's key set is trusted before the store is asked again (default 60 s). */
  cacheTtlMs?: number;
  /** Messages in flight in the pool before `sign` refuses with OVERLOADED (default 1,024). */
  maxQueue?: number;
  /** Starts one signing thread; injected by tests to watch or kill threads. */
  spawnWorker?: () => Worker;
  log?: { warn(obj: object, msg: string): void };
  /**
   * Called when the signing domain has no active key: activates its pending keys whose record is
   * already published (identity's activatePublished), so mail sent right after publishing is
   * signed without waiting for the verification schedule. Resolves with how many it activated.
   */
  activatePending?: (domainNames: string[]) => Promise<number>;
  /**
   * Sign only with keys whose DNS record was seen (`verified_at` set). The platform sets it: an
   * active key that never was (made active while its tenant was in sandbox) must not sign live mail
   * until `activatePending` finds its record published.
   */
  requireVerified?: boolean;
}

export interface DkimSignatureInfo {
  domain: string;
  selector: string;
  algorithm: DkimAlgorithm;
}

export interface SignedMessage {
  /** The message with the DKIM-Signature header field(s) on top; `raw` itself when unsigned. */
  raw: Buffer;
  signatures: DkimSignatureInfo[];
}

export interface DkimSignerStats {
  threads: number;
  inFlight: number;
  /** Signing threads replaced after exiting unexpectedly. */
  restarts: number;
  cachedDomains: number;
}

export interface DkimSigner {
  /**
   * Signs `raw` as `fromDomain` (the RFC 5322 From domain). Unsigned when no key covers the domain;
   * throws when a key exists but cannot be used (unopenable, weak, not matching its DNS key), or the
   * pool is overloaded or failing: sending such mail unsigned would fail DMARC, so the caller defers.
   */
  sign(raw: Buffer, fromDomain: string): Promise<SignedMessage>;
  stats(): DkimSignerStats;
  close(): Promise<void>;
}

interface OpenKey extends DkimSignatureInfo {
  id: string;
  pem: string;
  key: KeyObject;
}

const MAX_CACHED_DOMAINS = 10_000;
const MAX_OPEN_KEYS = 10_000;

/**
 * The domain whose keys may sign mail from `fromDomain`: the most specific registered name among it
 * and its parents, whatever the state of its keys. Only that domain's active keys sign; a registered
 * domain without one signs nothing, even when a parent (possibly another tenant's) has an active key.
 */
async function signingDomainOf(store: DkimSignerDeps['store'], fromDomain: string): Promise<string | undefined> {
  if (!store.domains) return fromDomain;
  const candidates = domainCandidates(fromDomain);
  const registered = await store.domains.findByNames(candidates);
  return candidates.find((c) => registered.some((r) => r.name === c));
}

export function defaultDkimThreads(): number {
  return Math.max(1, Math.min(4, availableParallelism() - 1));
}

export function createDkimSigner(deps: DkimSignerDeps): DkimSigner {
  const { store, masterKey, clock } = deps;
  const ttl = deps.cacheTtlMs ?? 60_000;
  const threads = deps.threads ?? defaultDkimThreads();
  const byDomain = new Map<string, { expiresAt: number; keys: OpenKey[] }>();
  const openKeys = new Map<string, OpenKey>();
  const loading = new Map<string, Promise<OpenKey[]>>();
  const pool = threads > 0 ? createSigningPool(threads, deps.maxQueue ?? 1024, deps.spawnWorker ?? spawnDkimWorker, deps.log) : undefined;

  function open(row: DkimKeyRow): OpenKey {
    const cached = openKeys.get(row.id);
    if (cached) return cached;
    const where = `${row.selector}._domainkey.${row.domain} (${row.id})`;
    let pem: string;
    try {
      pem = openSecret(row.privateKey, masterKey, dkimKeyAad(row.id)).toString('utf8');
    } catch (e) {
      throw new PostwardenError('INTERNAL', `DKIM key ${where} cannot be opened: ${(e as Error).message}`, { keyId: row.id }, { cause: e });
    }
    const check = checkDkimPrivateKey(pem);
    if (!check.ok) throw new PostwardenError('INTERNAL', `DKIM key ${where} may not sign: ${check.error}`, { keyId: row.id });
    if (check.value.algorithm !== row.algorithm || check.value.publicKey !== row.publicKey) {
      throw new PostwardenError('INTERNAL', `DKIM key ${where} does not match the public key it publishes`, { keyId: row.id });
    }
    const key: OpenKey = { id: row.id, domain: row.domain, selector: row.selector, algorithm: row.algorithm, pem, key: check.value.key };
    if (openKeys.size >= MAX_OPEN_KEYS) openKeys.delete(openKeys.keys().next().value!);
    openKeys.set(row.id, key);
    return key;
  }

  async function load(domain: string): Promise<OpenKey[]> {
    const owner = await signingDomainOf(store, domain);
    const usable = async (name: string) =>
      (await store.dkimKeys.activeFor([name])).filter((r) => !deps.requireVerified || r.verifiedAt != null);
    let rows = owner ? await usable(owner) : [];
    if (owner && !rows.length && deps.activatePending && (await deps.activatePending([owner])) > 0) {
      rows = await usable(owner);
    }
    // Rows come newest-activated first: the first of each algorithm signs.
    const chosen = dkimAlgorithms.flatMap((alg) => rows.find((r) => r.algorithm === alg) ?? []);
    const keys = chosen.map(open);
    if (byDomain.size >= MAX_CACHED_DOMAINS) byDomain.delete(byDomain.keys().next().value!);
    byDomain.set(domain, { expiresAt: clock.now() + ttl, keys });
    return keys;
  }

  function keysFor(fromDomain: string): Promise<OpenKey[]> | OpenKey[] {
    const domain = normaliseDomain(fromDomain);
    if (!domain) return [];
    const hit = byDomain.get(domain);
    if (hit && hit.expiresAt > clock.now()) return hit.keys;
    let pending = loading.get(domain);
    if (!pending) {
      // One store read per domain however many messages wait for it.
      pending = load(domain).finally(() => loading.delete(domain));
      loading.set(domain, pending);
    }
    return pending;
  }

  return {
    async sign(raw, fromDomain) {
      const keys = await keysFor(fromDomain);
      if (!keys.length) return { raw, signatures: [] };
      const timeMs = clock.now();
      const result = pool ? await pool.sign(raw, keys, timeMs) : signDkim(raw, keys, timeMs);
      return { raw: Buffer.concat([Buffer.from(result.headers, 'latin1'), raw]), signatures: result.signatures };
    },
    stats: () => ({ threads, inFlight: pool?.inFlight() ?? 0, restarts: pool?.restarts() ?? 0, cachedDomains: byDomain.size }),
    async close() {
      await pool?.close();
      byDomain.clear();
      openKeys.clear();
    },
  };
}

/** Starts a signing thread (built .js or, under tsx, the .ts sources: see core/module-worker.ts). */
export function spawnDkimWorker(): Worker {
  const here = import.meta.url;
  const options = { workerData: { marker: dkimWorkerMarker }, resourceLimits: SIGNING_THREAD_HEAP };
  return startModuleWorker(here, 'dkim-worker', options);
}

/**
 * A signing thread holds parsed keys and the messages in flight, a few MB; left to V8's defaults its
 * heap grew to tens of MB of garbage between collections on a busy node. Capped, it collects sooner.
 * Were the cap ever reached the thread would exit and be replaced, its jobs sent again (onExit).
 */
const SIGNING_THREAD_HEAP = { maxOldGenerationSizeMb: 64, maxYoungGenerationSizeMb: 8 };

interface Job {
  id: number;
  raw: Buffer;
  keys: OpenKey[];
  timeMs: number;
  retried: boolean;
  resends: number;
  resolve(r: DkimSignatureResult): void;
  reject(e: Error): void;
}

interface Slot {
  worker: Worker | undefined;
  /** Key ids whose PEM this thread has been sent. */
  known: Set<string>;
  inflight: Map<number, Job>;
  /** Exits since the last answer; drives the back-off. */
  failures: number;
  lastError: string;
  timer: NodeJS.Timeout | undefined;
}

function createSigningPool(threads: number, maxQueue: number, spawn: () => Worker, log: DkimSignerDeps['log']) {
  let nextJob = 1;
  let inFlight = 0;
  let restarts = 0;
  let closed = false;
  const slots: Slot[] = Array.from({ length: threads }, () => ({
    worker: undefined,
    known: new Set(),
    inflight: new Map(),
    failures: 0,
    lastError: '',
    timer: undefined,
  }));

  const settle = (job: Job) => {
    inFlight--;
    return job;
  };

  // An idle pool must not keep the process alive; a busy one must, or awaited signatures vanish.
  const refresh = (slot: Slot) => {
    if (!slot.worker) return;
    if (slot.inflight.size > 0) slot.worker.ref();
    else slot.worker.unref();
  };

  function start(slot: Slot): void {
    slot.timer = undefined;
    const worker = spawn();
    slot.worker = worker;
    slot.known = new Set();
    worker.on('message', (reply: WorkerSignReply) => onReply(slot, reply));
    worker.on('error', (e) => {
      slot.lastError = e.message;
    });
    worker.on('exit', (code) => onExit(slot, worker, code));
    refresh(slot);
  }

  function post(slot: Slot, job: Job): void {
    slot.inflight.set(job.id, job);
    const keys: WorkerKeyRef[] = job.keys.map((k) => {
      const ref: WorkerKeyRef = { id: k.id, domain: k.domain, selector: k.selector, algorithm: k.algorithm };
      if (!slot.known.has(k.id)) ref.pem = k.pem;
      slot.known.add(k.id);
      return ref;
    });
    // A copy of exactly the message bytes, transferred: a pooled Buffer would drag its whole slab along.
    const raw = new Uint8Array(job.raw);
    slot.worker!.postMessage({ job: job.id, raw, keys, timeMs: job.timeMs } satisfies WorkerSignRequest, [raw.buffer]);
    refresh(slot);
  }

  function dispatch(job: Job): void {
    let best: Slot | undefined;
    for (const s of slots) if (s.worker && (!best || s.inflight.size < best.inflight.size)) best = s;
    if (!best) {
      settle(job).reject(new PostwardenError('INTERNAL', `DKIM signing threads are failing: ${slots[0]?.lastError || 'exited'}`));
      return;
    }
    post(best, job);
  }

  function onReply(slot: Slot, reply: WorkerSignReply): void {
    const job = slot.inflight.get(reply.job);
    if (!job) return;
    slot.failures = 0;
    slot.inflight.delete(reply.job);
    refresh(slot);
    if (reply.ok) {
      settle(job).resolve({ headers: reply.headers, signatures: reply.signatures });
    } else if (reply.missing && job.resends++ < 2) {
      for (const id of reply.missing) slot.known.delete(id);
      post(slot, job);
    } else {
      const why = reply.missing ? `keys ${reply.missing.join(', ')} missing in the signing thread` : reply.message;
      settle(job).reject(new PostwardenError('INTERNAL', `DKIM signing failed: ${why}`));
    }
  }

  function onExit(slot: Slot, worker: Worker, code: number): void {
    if (slot.worker !== worker) return;
    slot.worker = undefined;
    const jobs = [...slot.inflight.values()];
    slot.inflight.clear();
    if (closed) {
      for (const job of jobs) settle(job).reject(new PostwardenError('INTERNAL', 'DKIM signer closed'));
      return;
    }
    restarts++;
    slot.failures++;
    const reason = `signing thread exited with code ${code}${slot.lastError ? ` (${slot.lastError})` : ''}`;
    log?.warn({ code, error: slot.lastError, inFlight: jobs.length, failures: slot.failures }, 'DKIM signing thread exited; replacing it');
    // First exit: replace at once. Repeated exits with no answer in between: back off (0.25 s … 30 s).
    const delay = slot.failures <= 1 ? 0 : Math.min(30_000, 250 * 2 ** (slot.failures - 2));
    if (delay === 0) start(slot);
    else slot.timer = setTimeout(() => start(slot), delay).unref();
    for (const job of jobs) {
      if (job.retried) settle(job).reject(new PostwardenError('INTERNAL', `DKIM signing failed twice: ${reason}`));
      else {
        job.retried = true;
        dispatch(job);
      }
    }
  }

  // Threads start with the first signature, not with the node: a node that never signs (sandbox mode,
  // the CLI, a node with only the API role) never pays for them.
  let started = false;

  return {
    sign(raw: Buffer, keys: OpenKey[], timeMs: number): Promise<DkimSignatureResult> {
      if (closed) return Promise.reject(new PostwardenError('INTERNAL', 'DKIM signer closed'));
      if (!started) {
        started = true;
        for (const slot of slots) start(slot);
      }
      if (inFlight >= maxQueue) {
        return Promise.reject(new PostwardenError('OVERLOADED', `DKIM signing queue is full (${maxQueue} messages)`, { retryAfter: 1 }));
      }
      inFlight++;
      return new Promise((resolve, reject) => {
        dispatch({ id: nextJob++, raw, keys, timeMs, retried: false, resends: 0, resolve, reject });
      });
    },
    inFlight: () => inFlight,
    restarts: () => restarts,
    async close() {
      closed = true;
      await Promise.all(
        slots.map(async (slot) => {
          if (slot.timer) clearTimeout(slot.timer);
          const worker = slot.worker;
          if (worker) await worker.terminate(); // its exit handler rejects what was in flight
          slot.worker = undefined;
          for (const job of slot.inflight.values()) settle(job).reject(new PostwardenError('INTERNAL', 'DKIM signer closed'));
          slot.inflight.clear();
        }),
      );
    },
  };
}
