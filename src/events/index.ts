export { type Consumer, type ConsumerDeps, createConsumer } from './consumer.js';
export { createSpine, type MessageView, type Spine } from './spine.js';
export { createWebhooks, type SecretBox, type WebhookEndpoints, type Webhooks, type WebhooksOptions } from './webhooks/index.js';
