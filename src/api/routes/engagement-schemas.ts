import { problems } from '../contract/problem-schema.js';

/** The error answers of an authenticated engagement route (tracking, experiments, lists); each route adds its own. */
export const authErrors = problems(401, 403, 422);
