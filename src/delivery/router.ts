import { type MxRoute, type Resolver, resolveMxRoute } from '../dns/index.js';

/**
 * Recipient domain → where to connect. The MX route (RFC 5321 §5.1 with RFC 7505 Null MX) comes from
 * dns/, which caches by TTL; the router adds what delivery needs on top: the port to dial for each
 * host (25, or a test's port map) and the concurrent-lookup de-duplication that keeps a burst of
 * recipients for one domain from becoming a burst of identical queries.
 */
export interface RouterDeps {
  resolver: Resolver;
  /** Port for MX connections (25 in production). */
  port: number;
  /** Per-host port overrides, for tests that point every MX at a loopback sink. */
  portMap?: Record<string, number>;
  random?: () => number;
}

export interface Router {
  route(domain: string): Promise<MxRoute>;
  portFor(host: string): number;
}

export function createRouter(deps: RouterDeps): Router {
  const inflight = new Map<string, Promise<MxRoute>>();
  return {
    route(domain) {
      const key = domain.toLowerCase();
      let p = inflight.get(key);
      if (!p) {
        p = resolveMxRoute(deps.resolver, key, { random: deps.random }).finally(() => inflight.delete(key));
        inflight.set(key, p);
      }
      return p;
    },
    portFor(host) {
      return deps.portMap?.[host.toLowerCase()] ?? deps.port;
    },
  };
}
