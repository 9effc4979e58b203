export { type Consumer, type ConsumerDeps, createConsumer } from './consumer.js';
export { createNatsSink, cursorHeader, eventSubject, type NatsSink, type NatsSinkDeps } from './sinks/nats-sink.js';
export { createSpine, type MessageView, type Spine } from './spine.js';
