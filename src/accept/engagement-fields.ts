import type { FieldError } from '../core/index.js';

/**
 * The send fields that engage content (src/content does the work at accept):
 * - `tracking: { opens?: boolean, clicks?: boolean }` turns open/click tracking on or off for this
 *   message (absent: the stream's setting, off by default);
 * - `experiment: { id }` assigns the send a variant of an A/B experiment;
 * - `list_id` names the contact list the recipient came from (its drip-feed applies).
 */
export interface EngagementFields {
  tracking?: { opens?: boolean; clicks?: boolean };
  experiment?: { id: string };
  listId?: string;
}

export const engagementFieldNames = ['tracking', 'experiment', 'list_id'] as const;

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

export function parseEngagementFields(body: Record<string, unknown>, errors: FieldError[]): EngagementFields {
  const out: EngagementFields = {};
  if (body.tracking !== undefined) {
    if (!isObject(body.tracking)) errors.push({ path: '/tracking', message: 'must be an object {opens?: boolean, clicks?: boolean}' });
    else {
      const t: { opens?: boolean; clicks?: boolean } = {};
      for (const [k, v] of Object.entries(body.tracking)) {
        if (k !== 'opens' && k !== 'clicks') errors.push({ path: `/tracking/${k}`, message: 'is not a known field' });
        else if (typeof v !== 'boolean') errors.push({ path: `/tracking/${k}`, message: 'must be true or false' });
        else t[k] = v;
      }
      out.tracking = t;
    }
  }
  if (body.experiment !== undefined) {
    const e = body.experiment;
    if (!isObject(e) || typeof e.id !== 'string' || !e.id)
      errors.push({ path: '/experiment/id', message: 'is required (an experiment id)' });
    else {
      for (const k of Object.keys(e)) if (k !== 'id') errors.push({ path: `/experiment/${k}`, message: 'is not a known field' });
      out.experiment = { id: e.id };
    }
  }
  if (body.list_id !== undefined) {
    if (typeof body.list_id !== 'string' || !body.list_id) errors.push({ path: '/list_id', message: 'must be a list id' });
    else out.listId = body.list_id;
  }
  return out;
}
