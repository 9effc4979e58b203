import { AUTHED, problems } from '../contract/problem-schema.js';

/** The error answers of every authenticated engagement route (tracking, experiments, lists); each route adds its own. */
export const authErrors = problems(...AUTHED);
