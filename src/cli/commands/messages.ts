import type { Command } from 'commander';
import type { Act } from '../context.js';
import { apiClientFor } from '../context.js';
import { table } from '../output.js';

/** `postwarden messages show ID`: a message's state, recipients and ordered timeline (GET /v1/messages/ID). */
export interface EventWire {
  id: string;
  cursor: string;
  type: string;
  message_id: string | null;
  recipient_id: string | null;
  seq: number;
  at: string;
  data: Record<string, unknown>;
}

interface MessageWire {
  id: string;
  from: string;
  subject: string;
  stream: string;
  state: string;
  sandbox: boolean;
  created_at: string;
  recipients: { id: string; email: string; kind: string; state: string; attempts: number; last_reply: Record<string, unknown> | null }[];
  events: EventWire[];
}

export function registerMessages(program: Command, act: Act): void {
  const messages = program.command('messages').description('Inspect messages on a running server');
  messages
    .command('show')
    .description('Show a message: state, recipients and its timeline of events')
    .argument('<id>', 'message id (msg_…)')
    .action(
      act(async (ctx, cmd) => {
        const [id] = cmd.processedArgs as [string];
        const { body: m } = await apiClientFor(ctx).request<MessageWire>({ method: 'GET', path: `/v1/messages/${encodeURIComponent(id)}` });
        ctx.out.result(m, () => [
          `${m.id}  ${m.state}${m.sandbox ? '  (sandbox)' : ''}`,
          `from:     ${m.from}`,
          `subject:  ${m.subject}`,
          `stream:   ${m.stream}`,
          `created:  ${m.created_at}`,
          'recipients:',
          ...table(
            m.recipients.map((r) => [
              '  ' + r.id,
              r.kind,
              r.email,
              r.state,
              `attempts=${r.attempts}`,
              r.last_reply ? formatReply(r.last_reply) : '',
            ]),
          ),
          'timeline:',
          ...table(m.events.map((e) => ['  ' + String(e.seq), e.at, e.type, formatData(e.data)])),
        ]);
      }),
    );
}

/** An SMTP reply as people read it: `250 2.0.0 OK`. */
export function formatReply(reply: Record<string, unknown>): string {
  const { code, enhanced, text } = reply;
  if (typeof code !== 'number') return JSON.stringify(reply);
  return [code, enhanced, text].filter((p) => p !== undefined && p !== '').join(' ');
}

/** Event data on one line: `k=v` pairs, values with spaces quoted, the whole cut at 160 characters. */
export function formatData(data: Record<string, unknown>): string {
  const parts = Object.entries(data).map(([k, v]) => {
    const s = typeof v === 'string' ? (/[\s"=]/.test(v) || v === '' ? JSON.stringify(v) : v) : JSON.stringify(v);
    return `${k}=${s}`;
  });
  const line = parts.join(' ');
  return line.length > 160 ? `${line.slice(0, 159)}…` : line;
}
