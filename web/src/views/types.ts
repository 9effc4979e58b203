/** The API's answers, as the views read them (snake_case, as on the wire). */
export interface Sli {
  name: 'queue_drain' | 'acceptance' | 'retry' | 'api_availability';
  description: string;
  value: number | null;
  unit: 'seconds' | 'ratio';
  objective: number;
  good: number | null;
  total: number | null;
  error_budget_remaining: number | null;
  status: 'met' | 'breached' | 'no_data';
}
export interface SloReport {
  at: string;
  window_hours: number;
  slis: Sli[];
}
export type Counts = Record<'accepted' | 'delivered' | 'deferred' | 'bounced' | 'complained' | 'suppressed' | 'expired', number>;
export interface Overview {
  at: string;
  last_hour: Counts;
  last_day: Counts;
  queue: { depth: number; time_to_drain_seconds: number | null };
  slo: SloReport;
  alerts: { kind: 'dns' | 'breaker'; severity: string; subject: string; message: string; at: string }[];
}
export interface Bucket {
  start: string;
  accepted: number;
  deferred: Record<string, number>;
  deferred_total: number;
  bounced: number;
  blocked: number;
  latency_p50_ms: number | null;
  latency_p95_ms: number | null;
  tls_share: number | null;
}
export interface Breaker {
  state: 'closed' | 'open' | 'half-open';
  consecutive: number;
  trips: number;
  opened_at: string | null;
  retry_at: string | null;
  last_failure: string | null;
  reason: string;
}
export interface Site {
  site: string;
  provider: string;
  breaker: Breaker | null;
  last_reply: string | null;
  minute: Bucket[];
  five_minute: Bucket[];
}
export interface Providers {
  at: string;
  providers: { provider: string; hour: Bucket; sites: Site[] }[];
}
export interface MessageSummary {
  id: string;
  from: string;
  subject: string;
  stream: string;
  tags: string[];
  metadata: Record<string, string>;
  sandbox: boolean;
  created_at: string;
}
export interface Recipient {
  id: string;
  email: string;
  kind: string;
  state: string;
  attempts: number;
  next_attempt_at: string | null;
  last_reply: { code?: number; enhanced?: string | null; text?: string } | null;
  updated_at: string;
}
export interface SpineEvent {
  id: string;
  type: string;
  recipient_id: string | null;
  seq: number;
  at: string;
  data: Record<string, unknown>;
}
export interface MessageDetail extends MessageSummary {
  size: number;
  message_id_header: string;
  source: string;
  identity: Record<string, unknown> | null;
  state: string;
  recipients: Recipient[];
  events: SpineEvent[];
}
