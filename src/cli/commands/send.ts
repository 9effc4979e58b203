import { readFileSync } from 'node:fs';
import { type Command, Option } from 'commander';
import type { Act, CliContext } from '../context.js';
import { apiClientFor } from '../context.js';
import { collectHeader, collectList } from '../option-parsers.js';
import { CliError, table } from '../output.js';
import { formatReply } from './messages.js';

/**
 * `postwarden send`: POST /v1/messages on a running server. The server validates (one source of
 * truth); this command only turns flags into the JSON body and prints the answer.
 */
interface SendOptions {
  from: string;
  to?: string[];
  cc?: string[];
  bcc?: string[];
  replyTo?: string[];
  subject: string;
  text?: string;
  html?: string;
  textFile?: string;
  htmlFile?: string;
  header?: Record<string, string>;
  tag?: string[];
  stream?: string;
  sync?: boolean;
  idempotencyKey?: string;
}

interface SentRecipient {
  id: string;
  email: string;
  state: string;
  reason?: string;
  last_reply?: Record<string, unknown> | null;
}
interface Sent {
  id: string;
  status: string;
  sandbox?: boolean;
  recipients: SentRecipient[];
}

/** The longest a --sync send may wait on the server (its limit is at most 120 s), plus slack. */
const syncTimeoutMs = 130_000;

export function registerSend(program: Command, act: Act): void {
  program
    .command('send')
    .description('Send a message through a running server (POST /v1/messages)')
    .requiredOption('--from <address>', "sender; its domain must be one of the tenant's domains")
    .option('--to <address>', 'recipient (repeatable, or comma-separated)', collectList)
    .option('--cc <address>', 'copy recipient (repeatable)', collectList)
    .option('--bcc <address>', 'blind copy recipient (repeatable)', collectList)
    .option('--reply-to <address>', 'Reply-To address (repeatable)', collectList)
    .requiredOption('--subject <text>', 'subject line')
    .addOption(new Option('--text <body>', 'plain-text body').conflicts('textFile'))
    .addOption(new Option('--text-file <file>', 'plain-text body read from a file (UTF-8)'))
    .addOption(new Option('--html <body>', 'HTML body').conflicts('htmlFile'))
    .addOption(new Option('--html-file <file>', 'HTML body read from a file (UTF-8)'))
    .option('--header <line>', "extra header 'Name: value' (repeatable)", collectHeader)
    .option('--tag <tag>', 'tag for filtering and reports (repeatable)', collectList)
    .addOption(new Option('--stream <stream>', 'sending stream').choices(['transactional', 'marketing', 'cold']))
    .option('--sync', 'wait (bounded) for the first delivery outcome of each recipient')
    .option('--idempotency-key <key>', 'repeat-safe key: the same key and body return the first answer')
    .action(act((ctx, cmd) => send(ctx, cmd.opts<SendOptions>())));
}

async function send(ctx: CliContext, o: SendOptions): Promise<void> {
  const body = {
    from: o.from,
    ...(o.to ? { to: o.to } : {}),
    ...(o.cc ? { cc: o.cc } : {}),
    ...(o.bcc ? { bcc: o.bcc } : {}),
    ...(o.replyTo ? { reply_to: o.replyTo } : {}),
    subject: o.subject,
    ...bodyPart('text', o.text, o.textFile),
    ...bodyPart('html', o.html, o.htmlFile),
    ...(o.header ? { headers: o.header } : {}),
    ...(o.tag?.length ? { tags: o.tag } : {}),
    ...(o.stream ? { stream: o.stream } : {}),
  };
  const client = apiClientFor(ctx);
  const { body: sent } = await client.request<Sent>({
    method: 'POST',
    path: '/v1/messages',
    query: o.sync ? { mode: 'sync' } : undefined,
    body,
    headers: o.idempotencyKey ? { 'idempotency-key': o.idempotencyKey } : undefined,
    timeoutMs: o.sync ? syncTimeoutMs : undefined,
  });
  ctx.out.result(sent, () => [
    `${sent.id}  ${sent.status}${sent.sandbox ? ' (sandbox: captured, not delivered)' : ''}`,
    ...table(sent.recipients.map((r) => ['  ' + r.id, r.email, r.state, r.reason ?? (r.last_reply ? formatReply(r.last_reply) : '')])),
  ]);
}

function bodyPart(name: 'text' | 'html', inline: string | undefined, file: string | undefined): Record<string, string> {
  if (inline !== undefined) return { [name]: inline };
  if (file === undefined) return {};
  try {
    return { [name]: readFileSync(file, 'utf8') };
  } catch (e) {
    throw new CliError('INPUT_UNREADABLE', `cannot read --${name}-file ${file}: ${(e as Error).message}`);
  }
}
