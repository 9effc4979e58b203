import { Counter, Histogram, type Registry } from 'prom-client';
import { type Clock, isPostwardenError } from '../core/index.js';
import type { Accept } from './accept.js';

/**
 * Accept metrics for /metrics: messages and recipients accepted or refused by door (api, smtp) and
 * the time to a durable answer (validation, group commit, fsync), so an operator sees the front
 * door as well as delivery. Wraps an Accept; the accept path itself stays free of metrics.
 */
export function instrumentAccept(accept: Accept, registry: Registry, clock: Clock): Accept {
  const registers = [registry];
  const messages = new Counter({
    name: 'postwarden_accept_messages_total',
    help: 'Messages offered for acceptance by door (api, smtp) and outcome (accepted, or the error code that refused them).',
    labelNames: ['source', 'outcome'] as const,
    registers,
  });
  const recipients = new Counter({
    name: 'postwarden_accept_recipients_total',
    help: 'Recipients of accepted messages by their first state (queued, suppressed, …).',
    labelNames: ['state'] as const,
    registers,
  });
  const seconds = new Histogram({
    name: 'postwarden_accept_seconds',
    help: 'Time from the start of acceptance to its durable answer (committed or refused), by door.',
    labelNames: ['source'] as const,
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5],
    registers,
  });
  async function observed<T extends Awaited<ReturnType<Accept['acceptRequest']>>>(
    source: 'api' | 'smtp',
    run: () => Promise<T>,
  ): Promise<T> {
    const started = clock.now();
    try {
      const m = await run();
      messages.inc({ source, outcome: 'accepted' });
      for (const r of m.recipients) recipients.inc({ state: r.state });
      return m;
    } catch (e) {
      messages.inc({ source, outcome: isPostwardenError(e) ? e.code : 'error' });
      throw e;
    } finally {
      seconds.observe({ source }, (clock.now() - started) / 1000);
    }
  }
  return {
    ...accept,
    acceptRequest: (p, req) => observed('api', () => accept.acceptRequest(p, req)),
    acceptSubmitted: (p, rcpts, raw, stream) => observed('smtp', () => accept.acceptSubmitted(p, rcpts, raw, stream)),
  };
}
