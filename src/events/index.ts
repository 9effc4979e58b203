export { type Consumer, type ConsumerDeps, createConsumer } from './consumer.js';
export {
  createEventExport,
  csvField,
  csvHeader,
  type EventExport,
  type ExportFormat,
  type ExportQuery,
  exportColumns,
} from './export.js';
export { createNatsSink, cursorHeader, eventSubject, type NatsSink, type NatsSinkDeps } from './sinks/nats-sink.js';
export { createSpine, type MessageView, type Spine } from './spine.js';
export { createWebhooks, type SecretBox, type WebhookEndpoints, type Webhooks, type WebhooksOptions } from './webhooks/index.js';
