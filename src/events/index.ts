export { createSpine, type MessageView, type Spine } from './spine.js';
