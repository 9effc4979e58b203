import { PostwardenError } from './errors.js';

/**
 * Data residency (docs/residency.md): a node has a region (`residency.region`), a tenant may be
 * pinned to one (`data_region`). A pinned tenant's mail is accepted, stored and delivered only by
 * nodes of its region; an unpinned tenant is served everywhere. A node without a region serves no
 * pinned tenant: pinning is a promise about where content is processed, so a node that cannot say
 * where it runs must not keep it.
 *
 * Regions are short labels the operator chooses (`eu`, `us`, `eu-west`); they are compared exactly.
 */
export const REGION_PATTERN = /^[a-z][a-z0-9-]{0,31}$/;

/** `undefined` when the region is well formed, else why not. */
export function regionProblem(region: string): string | undefined {
  return REGION_PATTERN.test(region)
    ? undefined
    : 'must be a region label: lower-case letters, digits and hyphens, starting with a letter, at most 32 characters (e.g. eu, us, eu-west)';
}

/** Whether a node of `nodeRegion` ('' = none) may accept, store or deliver content of a tenant pinned to `tenantRegion`. */
export function servesRegion(nodeRegion: string, tenantRegion: string | null): boolean {
  return tenantRegion === null || tenantRegion === nodeRegion;
}

/** The refusal a node gives a pinned tenant of another region, naming both (403 RESIDENCY_MISMATCH). */
export function residencyRefusal(nodeRegion: string, tenantRegion: string, what = 'accept mail'): PostwardenError {
  const node = nodeRegion ? `region ${nodeRegion}` : 'no region (residency.region is not set)';
  return new PostwardenError(
    'RESIDENCY_MISMATCH',
    `this tenant's data is pinned to region ${tenantRegion}; this node is in ${node} and may not ${what} for it: use a node of region ${tenantRegion}`,
    { tenant_region: tenantRegion, node_region: nodeRegion || null },
  );
}
