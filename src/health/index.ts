export { type ApiAvailability, createApiAvailability } from './api-availability.js';
export { type Alert, createOverview, type Overview, type OverviewCount, overviewCounts } from './overview.js';
export {
  type BreakerView,
  type Bucket,
  breakerReason,
  createProviderHealth,
  type ProviderHealth,
  type SiteHealth,
} from './provider-health.js';
export { createSlo, type QueueNow, type Sli, type Slo, type SloObjectives, type SloReport } from './slo.js';
export { registerSloMetrics } from './slo-metrics.js';
