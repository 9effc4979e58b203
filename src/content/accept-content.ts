import { PostwardenError, type Stream } from '../core/index.js';
import type { Experiments } from './experiments.js';
import type { Lists } from './list-import.js';
import type { Tracking, TrackingChoice } from './tracking.js';

/**
 * What content does to an API send at accept time, before the message is composed (so the stored
 * message is what is sent, and what the audit shows), in this order:
 *
 * 1. a send naming `list_id` passes the list's drip-feed budget (or is refused, RATE_LIMITED);
 * 2. a send naming `experiment` gets its variant's subject/html/text (one recipient per send);
 * 3. tracking rewrites the final HTML when asked for (per message, or the stream's setting).
 *
 * `record` goes on the message's `message.accepted` event (experiment id and variant, tracking).
 */
export interface ContentInput {
  tenantId: string;
  messageId: string;
  stream: Stream;
  recipients: string[];
  subject: string;
  text?: string;
  html?: string;
  tracking?: TrackingChoice;
  experiment?: { id: string };
  listId?: string;
}

export interface ContentOutput {
  subject: string;
  text?: string;
  html?: string;
  record: Record<string, unknown>;
}

export function createAcceptContent(deps: { tracking: Tracking; experiments: Experiments; lists: Lists }) {
  return {
    async prepare(input: ContentInput): Promise<ContentOutput> {
      const out: ContentOutput = {
        subject: input.subject,
        ...(input.text !== undefined ? { text: input.text } : {}),
        ...(input.html !== undefined ? { html: input.html } : {}),
        record: {},
      };
      if (input.listId) {
        await deps.lists.admitSend(input.tenantId, input.listId, input.recipients.length);
        out.record.list_id = input.listId;
      }
      if (input.experiment) {
        const a = await assignExperiment(deps.experiments, input);
        const v = a.variant;
        if (v.subject !== undefined) out.subject = v.subject;
        if (v.html !== undefined) out.html = v.html;
        if (v.text !== undefined) out.text = v.text;
        out.record.experiment = { id: input.experiment.id, variant: v.key, in_sample: a.inSample };
      }
      if (out.html !== undefined) {
        const t = await deps.tracking.rewrite({
          tenantId: input.tenantId,
          messageId: input.messageId,
          stream: input.stream,
          html: out.html,
          ...(input.tracking ? { choice: input.tracking } : {}),
        });
        out.html = t.html;
        if (t.opens || t.clicks) out.record.tracking = { opens: t.opens, clicks: t.clicks, links: t.links.filter((l) => l.tracked).length };
      }
      return out;
    },
  };
}

async function assignExperiment(experiments: Experiments, input: ContentInput) {
  if (input.recipients.length !== 1) {
    throw new PostwardenError('VALIDATION_FAILED', 'An experiment send has exactly one recipient.', {
      errors: [
        { path: '/experiment', message: 'a send in an experiment must have exactly one recipient (the variant is chosen per recipient)' },
      ],
    });
  }
  const a = await experiments.assign({
    tenantId: input.tenantId,
    experimentId: input.experiment!.id,
    messageId: input.messageId,
    recipient: input.recipients[0]!,
  });
  if (a.variant.template) {
    throw new PostwardenError('VALIDATION_FAILED', `Variant ${a.variant.key} names template ${a.variant.template.id}.`, {
      errors: [
        { path: '/experiment', message: 'template variants render once templates are rendered at accept (pending the templates work)' },
      ],
    });
  }
  return a;
}
