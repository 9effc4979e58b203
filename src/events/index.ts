export { type Consumer, type ConsumerDeps, createConsumer } from './consumer.js';
export { createSpine, type MessageView, type Spine } from './spine.js';
