import type { AuditRecorder } from '../audit/index.js';
import type { Clock } from '../core/index.js';
import type { Store } from '../store/index.js';
import { createAcceptContent } from './accept-content.js';
import { createExperimentResults, type ExperimentResults } from './experiment-results.js';
import { createExperiments, type Experiment } from './experiments.js';
import { createLists, type ListsDeps, type MxVerdict } from './list-import.js';
import { createTracking } from './tracking.js';
import { deriveTrackingKey } from './tracking-token.js';

/**
 * The engagement services, built once in platform.ts: tracking, experiments (definitions,
 * assignment, results), contact lists, and the hook accept calls for API sends.
 */
export interface EngagementDeps {
  store: Store;
  clock: Clock;
  masterKey: Buffer;
  /** Records tracking settings changes in the audit log (tracking.ts). */
  audit?: AuditRecorder;
  publicUrl: string;
  providerOf: (hostOrDomain: string) => string | undefined;
  mxRoute: (domain: string) => Promise<MxVerdict>;
  tracking: { dedupeWindowMinutes: number; scannerWindowSeconds: number };
  experiments: { alpha: number; minSample: number };
  lists: {
    dripBatchSize: number;
    dripIntervalMinutes: number;
    dripPhaseHours: number;
    dnsConcurrency: number;
    dnsCacheSize: number;
    importBatchRows: number;
  };
}

export function createEngagement(deps: EngagementDeps) {
  const { store, clock } = deps;
  const tracking = createTracking({
    store,
    clock,
    ...(deps.audit ? { audit: deps.audit } : {}),
    keys: [deriveTrackingKey(deps.masterKey)],
    publicUrl: deps.publicUrl,
    dedupeWindowMs: deps.tracking.dedupeWindowMinutes * 60_000,
    scannerWindowMs: deps.tracking.scannerWindowSeconds * 1000,
  });
  const experiments = createExperiments({ store, clock });
  const results = createExperimentResults({ store, clock, providerOf: deps.providerOf, ...deps.experiments });
  const l = deps.lists;
  const listsDeps: ListsDeps = {
    store,
    clock,
    mxRoute: deps.mxRoute,
    dnsConcurrency: l.dnsConcurrency,
    dnsCacheSize: l.dnsCacheSize,
    batchRows: l.importBatchRows,
    drip: { batchSize: l.dripBatchSize, intervalMinutes: l.dripIntervalMinutes, phaseHours: l.dripPhaseHours },
  };
  const lists = createLists(listsDeps);
  return {
    tracking,
    experiments,
    lists,
    acceptContent: createAcceptContent({ tracking, experiments, lists }),
    /** Results of one experiment; new regressions are announced (experiment.regressed). */
    async results(tenantId: string, id: string): Promise<{ experiment: Experiment; results: ExperimentResults }> {
      const experiment = await experiments.get(tenantId, id);
      return { experiment, results: await results.evaluate(experiment) };
    },
    /** Evaluates every running experiment (the scheduled job). */
    async evaluateRunning(): Promise<number> {
      const running = await experiments.listRunning();
      for (const e of running) await results.evaluate(e);
      return running.length;
    },
  };
}

export type Engagement = ReturnType<typeof createEngagement>;
