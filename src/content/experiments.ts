import { createHash } from 'node:crypto';
import { addressKey, type Clock, type FieldError, newId, PostwardenError } from '../core/index.js';
import type { ExperimentRow, Store } from '../store/index.js';

/**
 * A/B experiments. An experiment names two or more variants (field overrides, or a template
 * reference), their explicit sample sizes or shares, and the outcome metrics it reports. A send
 * that names `experiment: { id }` is assigned a variant at accept time, deterministically: the same
 * recipient always gets the same variant (its first assignment is reused; a new one is chosen by a
 * hash of experiment id and address, so the split does not depend on send order). The assignment is
 * stored per message and on its `message.accepted` event; results are read back from the spine
 * (experiment-results.ts), so they can be recomputed at any time and come out the same.
 *
 * Sample sizes: once a variant has its sample, new recipients are drawn among the variants still
 * open; once all are full, later sends get the control variant and are outside the sample (they are
 * not counted). Concurrent accepts may overshoot a sample size by the number of sends in flight.
 * Stopping or rolling back an experiment makes every later send get one variant (the control by
 * default), outside the sample.
 */
export const outcomeMetrics = ['delivered', 'opens', 'clicks', 'bounces', 'complaints', 'unsubscribes'] as const;
export type OutcomeMetric = (typeof outcomeMetrics)[number];

export interface Variant {
  /** Short key, e.g. "A". */
  key: string;
  name?: string;
  /** Overrides of the send's fields. */
  subject?: string;
  html?: string;
  text?: string;
  /** A template (and version) instead of field overrides; rendered by the templates concern. */
  template?: { id: string; version?: number };
  /** Relative share of recipients (any positive numbers; they are normalised). */
  share?: number;
  /** Explicit sample size in recipients. */
  sample_size?: number;
  /** The baseline the others are compared with (default: the first variant). */
  control?: boolean;
}

export interface ExperimentInput {
  name: string;
  variants: Variant[];
  metrics?: OutcomeMetric[];
}

export interface Experiment {
  id: string;
  tenantId: string;
  name: string;
  status: 'running' | 'stopped';
  variants: Variant[];
  metrics: OutcomeMetric[];
  control: string;
  serveVariant: string | null;
  createdAt: number;
}

export interface Assignment {
  variant: Variant;
  inSample: boolean;
}

const KEY = /^[A-Za-z0-9_-]{1,32}$/;

export function toExperiment(r: ExperimentRow): Experiment {
  const variants = r.variants as Variant[];
  return {
    id: r.id,
    tenantId: r.tenantId,
    name: r.name,
    status: r.status === 'stopped' ? 'stopped' : 'running',
    variants,
    metrics: r.metrics as OutcomeMetric[],
    control: (variants.find((v) => v.control) ?? variants[0]!).key,
    serveVariant: r.serveVariant,
    createdAt: r.createdAt,
  };
}

export function checkExperiment(input: ExperimentInput): FieldError[] {
  const errors: FieldError[] = [];
  const vs = input.variants;
  if (vs.length < 2 || vs.length > 10) errors.push({ path: '/variants', message: 'must name 2 to 10 variants' });
  const keys = new Set<string>();
  vs.forEach((v, i) => {
    const p = `/variants/${i}`;
    if (!KEY.test(v.key)) errors.push({ path: `${p}/key`, message: 'must be 1-32 letters, digits, _ or -' });
    if (keys.has(v.key)) errors.push({ path: `${p}/key`, message: `repeats variant ${v.key}` });
    keys.add(v.key);
    if (v.template && (v.subject !== undefined || v.html !== undefined || v.text !== undefined)) {
      errors.push({ path: `${p}/template`, message: 'a variant is a template or field overrides, not both' });
    }
    if (v.share !== undefined && v.sample_size !== undefined) {
      errors.push({ path: p, message: 'give share or sample_size, not both' });
    }
  });
  const withShare = vs.filter((v) => v.share !== undefined).length;
  const withSample = vs.filter((v) => v.sample_size !== undefined).length;
  if (withShare && withShare !== vs.length) errors.push({ path: '/variants', message: 'give every variant a share, or none' });
  if (withSample && withSample !== vs.length) errors.push({ path: '/variants', message: 'give every variant a sample_size, or none' });
  if (vs.filter((v) => v.control).length > 1) errors.push({ path: '/variants', message: 'at most one variant is the control' });
  return errors;
}

/** A number in [0, 1) from the experiment and the address: the same recipient lands in the same place. */
export function recipientPoint(experimentId: string, address: string): number {
  const h = createHash('sha256')
    .update(`${experimentId}\n${addressKey(address)}`)
    .digest();
  return h.readUInt32BE(0) / 2 ** 32;
}

/** The variant at `point` among `open`, weighted by share or sample size (equal when neither). */
export function pickVariant(open: Variant[], point: number): Variant {
  const weight = (v: Variant) => v.share ?? v.sample_size ?? 1;
  const total = open.reduce((s, v) => s + weight(v), 0);
  let acc = 0;
  for (const v of open) {
    acc += weight(v) / total;
    if (point < acc) return v;
  }
  return open[open.length - 1]!;
}

/** How long a node reuses an experiment's definition for assignments (a stop reaches other nodes within it). */
const DEFINITION_TTL_MS = 1000;

export function createExperiments(deps: { store: Pick<Store, 'experiments'>; clock: Clock }) {
  const { store, clock } = deps;
  // A batch of sends in one experiment reads its definition once, not once per message.
  const definitions = new Map<string, { at: number; row: ExperimentRow | undefined }>();
  async function definition(tenantId: string, id: string): Promise<ExperimentRow | undefined> {
    const key = `${tenantId}\n${id}`;
    const hit = definitions.get(key);
    const now = clock.now();
    if (hit && now >= hit.at && now - hit.at < DEFINITION_TTL_MS) return hit.row;
    const row = await store.experiments.get(tenantId, id);
    if (definitions.size >= 1000) definitions.clear();
    definitions.set(key, { at: now, row });
    return row;
  }

  async function get(tenantId: string, id: string): Promise<Experiment> {
    const r = await store.experiments.get(tenantId, id);
    if (!r) throw new PostwardenError('NOT_FOUND', `No experiment ${id}.`);
    return toExperiment(r);
  }

  return {
    get,
    async list(tenantId: string): Promise<Experiment[]> {
      return (await store.experiments.list(tenantId)).map(toExperiment);
    },
    async listRunning(): Promise<Experiment[]> {
      return (await store.experiments.list(undefined, 'running')).map(toExperiment);
    },
    async create(tenantId: string, input: ExperimentInput): Promise<Experiment> {
      const errors = checkExperiment(input);
      if (errors.length) throw new PostwardenError('VALIDATION_FAILED', 'The experiment has invalid fields.', { errors });
      const row: ExperimentRow = {
        id: newId('exp', clock.now()),
        tenantId,
        name: input.name,
        status: 'running',
        variants: input.variants,
        metrics: input.metrics?.length ? [...new Set(input.metrics)] : [...outcomeMetrics],
        serveVariant: null,
        createdAt: clock.now(),
      };
      await store.experiments.insert(row);
      return toExperiment(row);
    },
    /** Stops sampling; later sends get `serve` (default the control), outside the sample. */
    async stop(tenantId: string, id: string, serve?: string): Promise<Experiment> {
      const e = await get(tenantId, id);
      const key = serve ?? e.control;
      if (!e.variants.some((v) => v.key === key)) {
        throw new PostwardenError('VALIDATION_FAILED', `No variant ${key} in ${id}.`, {
          errors: [{ path: '/variant', message: `must be one of ${e.variants.map((v) => v.key).join(', ')}` }],
        });
      }
      await store.experiments.setStatus(id, 'stopped', key);
      definitions.delete(`${tenantId}\n${id}`);
      return { ...e, status: 'stopped', serveVariant: key };
    },
    /** The variant of one send (its single recipient), recorded for the message before it commits. */
    async assign(input: { tenantId: string; experimentId: string; messageId: string; recipient: string }): Promise<Assignment> {
      const notFound = () =>
        new PostwardenError('VALIDATION_FAILED', `No experiment ${input.experimentId}.`, {
          errors: [{ path: '/experiment/id', message: 'names no experiment of this tenant' }],
        });
      const row = await definition(input.tenantId, input.experimentId);
      if (!row) throw notFound();
      const e = toExperiment(row);
      const byKey = (k: string) => e.variants.find((v) => v.key === k) ?? e.variants[0]!;
      const recipient = addressKey(input.recipient);
      let chosen: Assignment;
      const earlier = await store.experiments.assignmentFor(e.id, recipient);
      if (e.serveVariant) chosen = { variant: byKey(e.serveVariant), inSample: false };
      else if (earlier) chosen = { variant: byKey(earlier.variant), inSample: earlier.inSample };
      else {
        let open = e.variants;
        if (e.variants.every((v) => v.sample_size !== undefined)) {
          const counts = await store.experiments.sampleCounts(e.id);
          open = e.variants.filter((v) => (counts.get(v.key) ?? 0) < v.sample_size!);
        }
        chosen = open.length
          ? { variant: pickVariant(open, recipientPoint(e.id, recipient)), inSample: true }
          : { variant: byKey(e.control), inSample: false };
      }
      await store.experiments.assign({
        messageId: input.messageId,
        experimentId: e.id,
        recipient,
        variant: chosen.variant.key,
        inSample: chosen.inSample,
        createdAt: clock.now(),
      });
      return chosen;
    },
  };
}

export type Experiments = ReturnType<typeof createExperiments>;
