import type { PreflightMessage, RenderedForSend, TemplateRef } from '../content/index.js';
import {
  addressKey,
  type Clock,
  type FieldError,
  type Mailbox,
  type NewEvent,
  newEvent,
  newId,
  PostwardenError,
  type RecipientKind,
  type RecipientState,
  residencyRefusal,
  type Stream,
  type SuppressionScope,
  scopeRank,
  servesRegion,
  suppressionApplies,
  validationError,
} from '../core/index.js';
import { createBackpressure, createGroupCommitter } from '../queue/index.js';
import type { MessageRow, MessageTemplateRef, RecipientRow, Store, SuppressionRow } from '../store/index.js';
import { coveringDomain, domainCandidates, type Principal } from '../tenants/index.js';
import { composeMessage } from './compose.js';
import { listUnsubscribeHeaders, STREAM_HEADER, type UnsubscribeHeaders, withoutListUnsubscribe } from './list-unsubscribe.js';
import { createRateLimiter } from './rate-limit.js';
import { prepareSubmitted, readHeaders } from './raw-message.js';
import type { SendRequest } from './send-request.js';
import type { PolicyTicket, SendingPolicy } from './sending-policy.js';

/**
 * The front door both edges share: the HTTP API and SMTP submission hand a message here, and the
 * answer (202/250) is given only after the transaction holding the message, its recipients and
 * their first events has committed. Concurrent accepts share transactions (group commit).
 *
 * Checks that need no storage run first (recipient count, backpressure, size, rate limit). The
 * checks that read state (the sender's domain belongs to the tenant; suppression decides each
 * recipient's first state) run inside the batch transaction, one query for the whole batch: they
 * then see the same snapshot the insert commits against, and no read waits behind a running commit
 * (SQLite has one connection), which is what lets concurrent accepts gather into one batch.
 */
export interface AcceptLimits {
  maxMessageBytes: number;
  maxRecipients: number;
  ratePerMinute: number;
  maxQueued: number;
  /** How far ahead a send may be scheduled (default 30; 0 refuses send_at). */
  maxScheduleDays?: number;
}

export interface AcceptDeps {
  store: Store;
  clock: Clock;
  hostname: string;
  limits: AcceptLimits;
  /** Node-wide sandbox: every message is captured instead of sent. */
  sandbox: boolean;
  /** Called after a commit so the local scheduler can pick the work up at once. */
  onAccepted?: () => void;
  /**
   * The RFC 2369 / RFC 8058 unsubscribe header fields for one recipient of a marketing or cold
   * message (the feedback concern signs them); absent, no such headers are added.
   */
  unsubscribeHeaders?: UnsubscribeHeaders;
  /**
   * The sending identity of a From domain: return path and expected alignment (identity implements
   * it; platform.ts wires it). Absent: messages carry no identity.
   */
  identity?: { describe(input: { fromDomain: string; sandbox: boolean }): Promise<AcceptIdentity> };
  /** Renders a send's `template` (content implements it; platform.ts wires it). Absent: template sends are refused. */
  templates?: { renderForSend(tenantId: string, ref: TemplateRef, path: string): Promise<RenderedForSend> };
  /** The tenant's preflight refusals, checked on the composed message (content; platform.ts wires it). */
  preflight?: {
    enforce(m: PreflightMessage): Promise<void>;
    enforceSubmitted(m: { tenantId: string; stream: Stream; raw: Buffer; fromDomain: string }): Promise<void>;
  };
  /** Content shaping of API sends (src/content wires it): list drip-feed, experiment variant, tracking. */
  content?: AcceptContent;
  /** The tenant's quotas, sending windows and recipient risk (sending-policy.ts; platform.ts wires it). */
  sendingPolicy?: Pick<SendingPolicy, 'check'>;
  /**
   * This node's data region (`residency.region`; '' or absent: none). A tenant pinned to another
   * region is refused before anything is read or stored (403 RESIDENCY_MISMATCH; docs/residency.md).
   */
  region?: string;
  /** Classification and DLP (src/classification; platform.ts wires it). Absent: messages are not classified. */
  classification?: AcceptClassification;
}

/** What accept asks of classification: the decision (rule ids, never matched data) or a refusal. */
export interface AcceptClassification {
  classify(input: {
    tenantId: string;
    given?: { value: string; path: string; source: 'request' | 'header' };
    tags: string[];
    /** API sends: subject, text and HTML, joined only if stored rules read content. */
    text?: () => string;
    raw?: Buffer;
    recipientDomains: string[];
    recipientPath: string;
  }): Promise<AcceptClassificationDecision | undefined>;
}

export interface AcceptClassificationDecision {
  classification: string;
  classifications: string[];
  policies: string[];
  [field: string]: unknown;
}

/** What accept asks of content before composing an API send; `record` goes on `message.accepted`. */
export interface AcceptContent {
  prepare(input: {
    tenantId: string;
    messageId: string;
    stream: Stream;
    recipients: string[];
    subject: string;
    text?: string;
    html?: string;
    tracking?: SendRequest['tracking'];
    experiment?: SendRequest['experiment'];
    listId?: string;
  }): Promise<{ subject: string; text?: string; html?: string; record: Record<string, unknown> }>;
}

/**
 * An API send as it would be stored, before any state is read or written: its template rendered,
 * its List-Unsubscribe fields added, its MIME composed. The dry run shows exactly this.
 */
export interface SendDraft {
  /** The request with rendered content and the headers that were added. */
  request: SendRequest;
  recipients: { mailbox: Mailbox; kind: RecipientKind }[];
  raw: Buffer;
  ids: { id: string; messageIdHeader: string };
  template?: MessageTemplateRef;
  /** What the preflight reads of it. */
  preflight: PreflightMessage;
  /** Extra fields for `message.accepted` (content: experiment, tracking, list). */
  record: Record<string, unknown>;
}

/** What accept needs of a message's identity; the rest is stored and published as it is. */
export interface AcceptIdentity {
  return_path_domain: string;
  alignment: { dmarc_would_pass: boolean; spf: { envelope_domain: string; header_from: string }; dkim: { signing_domains: string[] } };
  problems: string[];
}

export interface AcceptedRecipient {
  id: string;
  email: string;
  state: RecipientState;
  reason?: string;
  /** Why a suppressed recipient is not sent to. */
  suppression?: { reason: string; scope: SuppressionScope; domain: string | null; stream: Stream | null; since: number; source: string };
}

export interface AcceptedMessage {
  id: string;
  stream: Stream;
  sandbox: boolean;
  recipients: AcceptedRecipient[];
  /** Quota use at 80 % or more, a send moved into its window, role accounts flagged. */
  warnings?: FieldError[];
}

interface Envelope {
  from: Mailbox;
  recipients: { mailbox: Mailbox; kind: RecipientKind }[];
  subject: string;
  stream: Stream;
  tags: string[];
  metadata: Record<string, string>;
  source: 'api' | 'smtp';
  /** A scheduled send: its recipients enter the queue at this time (ms), not at accept. */
  sendAt?: number;
  /** Extra fields for `message.accepted` (content: experiment, tracking, list). */
  record?: Record<string, unknown>;
}

interface Pending {
  principal: Principal;
  env: Envelope;
  raw: Buffer;
  ids: { id: string; messageIdHeader: string };
  /** JSON path of the sender, for the error when its domain is not the tenant's. */
  senderPath: string;
  sandbox: boolean;
  identity?: AcceptIdentity;
  template?: MessageTemplateRef;
  classification?: AcceptClassificationDecision;
}

type Committed = AcceptedMessage | PostwardenError;

export function createAccept(deps: AcceptDeps) {
  const { store, clock } = deps;
  const region = deps.region ?? '';
  /** Residency first: content of a tenant pinned elsewhere is not even composed here. */
  function checkResidency(p: Principal): void {
    if (!servesRegion(region, p.tenant.dataRegion)) throw residencyRefusal(region, p.tenant.dataRegion!);
  }
  const rates = createRateLimiter(clock);
  const backpressure = createBackpressure({ maxQueued: deps.limits.maxQueued, countOpen: () => store.recipients.countOpen(), clock });
  const committer = createGroupCommitter<Pending, Committed>({
    commit: (items) =>
      store.transaction(async (tx) => {
        const now = clock.now();
        const domains = await tx.domains.findByNames(items.flatMap((p) => domainCandidates(p.env.from.domain)));
        // Every entry (global, tenant, identity) for the batch's addresses; build() keeps the ones
        // that apply to each message's From domain and stream.
        const suppressed = new Map<string, SuppressionRow[]>();
        for (const tenantId of new Set(items.map((p) => p.principal.tenant.id))) {
          const keys = items
            .filter((p) => p.principal.tenant.id === tenantId)
            .flatMap((p) => p.env.recipients.map((r) => addressKey(r.mailbox.address)));
          suppressed.set(tenantId, await tx.suppressions.findForAddresses(tenantId, [...new Set(keys)]));
        }
        const results: Committed[] = [];
        const built: Built[] = [];
        for (const p of items) {
          const covering = coveringDomain(p.principal.tenant.id, p.env.from.domain, domains);
          if (!covering) {
            results.push(senderNotAllowed(p.env.from, p.senderPath));
            continue;
          }
          // Lanes stay apart: a domain restricted to some streams refuses the others.
          if (covering.streams?.length && !covering.streams.includes(p.env.stream)) {
            results.push(streamNotAllowed(p, covering.name, covering.streams));
            continue;
          }
          if (p.identity && !p.identity.alignment.dmarc_would_pass && p.principal.tenant.alignmentPolicy === 'reject') {
            results.push(misaligned(p, p.identity));
            continue;
          }
          const b = build(p, suppressed.get(p.principal.tenant.id)!, now);
          built.push(b);
          results.push(b.accepted);
        }
        await tx.messages.insertMany(built.map((b) => ({ message: b.message, raw: b.raw })));
        await tx.recipients.insertMany(built.flatMap((b) => b.recipients));
        await tx.events.append(
          built.flatMap((b) => b.events),
          now,
          { fresh: true },
        );
        return results;
      }),
  });

  const maxBytes = (p: Principal) => p.tenant.maxMessageBytes ?? deps.limits.maxMessageBytes;

  function checkSize(p: Principal, size: number): void {
    const limit = maxBytes(p);
    if (size > limit) {
      throw new PostwardenError('MESSAGE_TOO_LARGE', `the message is ${size} bytes; the limit is ${limit}`, { size, limit });
    }
  }

  function takeRate(p: Principal): void {
    const perMinute = p.tenant.ratePerMinute ?? deps.limits.ratePerMinute;
    const wait = rates.take(p.tenant.id, perMinute);
    if (wait > 0) {
      throw new PostwardenError('RATE_LIMITED', `the tenant's limit of ${perMinute} messages per minute is exhausted`, {
        retryAfter: wait,
        limit: perMinute,
      });
    }
  }

  /**
   * Takes the rate token and commits; a send refused from here on gives its quota back, and the
   * policy's warnings go on the answer.
   */
  async function withTicket(ticket: PolicyTicket | undefined, p: Principal, run: () => Promise<AcceptedMessage>): Promise<AcceptedMessage> {
    try {
      takeRate(p);
      const accepted = await run();
      return ticket?.warnings.length ? { ...accepted, warnings: ticket.warnings } : accepted;
    } catch (e) {
      await ticket?.release();
      throw e;
    }
  }

  async function commit(p: Pending): Promise<AcceptedMessage> {
    // Outside the batch transaction: it may ask DNS (cached), and no commit should wait on that.
    if (deps.identity) p.identity = await deps.identity.describe({ fromDomain: p.env.from.domain, sandbox: p.sandbox });
    const r = await committer.submit(p);
    if (r instanceof PostwardenError) {
      rates.give(p.principal.tenant.id);
      throw r;
    }
    deps.onAccepted?.();
    return r;
  }

  function dedupe(list: { mailbox: Mailbox; kind: RecipientKind }[]) {
    const seen = new Set<string>();
    return list.filter((r) => {
      const k = addressKey(r.mailbox.address);
      if (seen.has(k)) return false;
      seen.add(k);
      return true;
    });
  }

  function checkRecipientCount(n: number, path: string): void {
    if (n > deps.limits.maxRecipients) {
      throw new PostwardenError('TOO_MANY_RECIPIENTS', `the message has ${n} recipients; the limit is ${deps.limits.maxRecipients}`, {
        errors: [{ path, message: `must have at most ${deps.limits.maxRecipients} recipients in all` }],
      });
    }
  }

  const unsubscribeFor = (
    p: Principal,
    messageId: string,
    stream: Stream,
    from: Mailbox,
    recipients: { mailbox: Mailbox }[],
    path: string,
  ) => listUnsubscribeHeaders(deps.unsubscribeHeaders, { tenantId: p.tenant.id, messageId, stream, from, recipients, path });

  /** The send's subject/text/html after content (variant, tracking); unchanged without content. */
  async function shapeContent(p: Principal, messageId: string, req: SendRequest, recipients: { mailbox: Mailbox }[]) {
    const fields = { subject: req.subject, text: req.text, html: req.html };
    if (!deps.content) return { fields, record: {} };
    const out = await deps.content.prepare({
      tenantId: p.tenant.id,
      messageId,
      stream: req.stream,
      recipients: recipients.map((r) => r.mailbox.address),
      subject: req.subject,
      ...(req.text !== undefined ? { text: req.text } : {}),
      ...(req.html !== undefined ? { html: req.html } : {}),
      ...(req.tracking ? { tracking: req.tracking } : {}),
      ...(req.experiment ? { experiment: req.experiment } : {}),
      ...(req.listId ? { listId: req.listId } : {}),
    });
    return { fields: { subject: out.subject, text: out.text, html: out.html }, record: out.record };
  }

  const newIds = () => {
    const id = newId('msg', clock.now());
    return { id, messageIdHeader: `<${id.toLowerCase()}@${deps.hostname}>` };
  };

  /** The time a scheduled send becomes due; undefined when it is due now (absent, or in the past). */
  function scheduleOf(sendAt: number | undefined): number | undefined {
    if (sendAt === undefined || sendAt <= clock.now()) return undefined;
    const days = deps.limits.maxScheduleDays ?? 30;
    if (sendAt > clock.now() + days * 86_400_000) {
      throw new PostwardenError('VALIDATION_FAILED', `a send may be scheduled at most ${days} days ahead`, {
        errors: [
          {
            path: '/send_at',
            message: days
              ? `must be at most ${days} days ahead (limits.maxScheduleDays)`
              : 'scheduling is off on this platform (limits.maxScheduleDays is 0)',
          },
        ],
      });
    }
    return sendAt;
  }

  /** The template's content in place of subject/html/text; its stream must be the send's. */
  async function rendered(p: Principal, req: SendRequest): Promise<{ request: SendRequest; template?: MessageTemplateRef }> {
    if (!req.template) return { request: req };
    if (!deps.templates) throw validationError([{ path: '/template', message: 'templates are not available on this node' }]);
    const r = await deps.templates.renderForSend(p.tenant.id, req.template, '/template');
    if (r.stream && r.stream !== req.stream) {
      throw validationError([
        { path: '/stream', message: `template ${r.template.name} is for the ${r.stream} stream; send it with stream ${r.stream}` },
      ]);
    }
    const { template: _ref, ...literal } = req;
    return { request: { ...literal, subject: r.subject, html: r.html, text: r.text }, template: r.template };
  }

  /**
   * `shape` applies content's accept-time changes (list drip-feed, experiment variant, tracking). A
   * real send shapes; the dry run does not, since shaping spends drip-feed budget and records
   * experiment assignments (so a dry run of a tracked send shows its links unrewritten).
   */
  async function draft(p: Principal, req: SendRequest, opts: { shape?: boolean } = {}): Promise<SendDraft> {
    const recipients = dedupe([
      ...req.to.map((mailbox) => ({ mailbox, kind: 'to' as const })),
      ...req.cc.map((mailbox) => ({ mailbox, kind: 'cc' as const })),
      ...req.bcc.map((mailbox) => ({ mailbox, kind: 'bcc' as const })),
    ]);
    checkRecipientCount(recipients.length, '/to');
    const { request, template } = await rendered(p, req);
    const ids = newIds();
    const listHeaders = unsubscribeFor(p, ids.id, request.stream, request.from, recipients, '/to');
    const headers = listHeaders ? { ...withoutListUnsubscribe(request.headers), ...Object.fromEntries(listHeaders) } : request.headers;
    const shaped = opts.shape
      ? await shapeContent(p, ids.id, request, recipients)
      : { fields: { subject: request.subject, text: request.text, html: request.html }, record: {} };
    const composed = { ...request, ...shaped.fields, headers };
    const raw = await composeMessage(composed, { messageIdHeader: ids.messageIdHeader, date: new Date(clock.now()) });
    checkSize(p, raw.length);
    const preflight: PreflightMessage = {
      tenantId: p.tenant.id,
      stream: composed.stream,
      subject: composed.subject,
      ...(composed.html !== undefined ? { html: composed.html } : {}),
      ...(composed.text !== undefined ? { text: composed.text } : {}),
      fromDomain: composed.from.domain,
      replyToDomains: composed.replyTo.map((m) => m.domain),
      raw,
      fromTemplate: template !== undefined,
    };
    return { request: composed, recipients, raw, ids, ...(template ? { template } : {}), preflight, record: shaped.record };
  }

  return {
    /** An API send, already shape-checked by parseSendRequest. */
    async acceptRequest(p: Principal, req: SendRequest): Promise<AcceptedMessage> {
      checkResidency(p);
      const sendAt = scheduleOf(req.sendAt);
      await backpressure.check();
      const d = await draft(p, req, { shape: true });
      await deps.preflight?.enforce(d.preflight);
      const classification = await deps.classification?.classify({
        tenantId: p.tenant.id,
        ...(req.classification ? { given: { value: req.classification, path: '/classification', source: 'request' as const } } : {}),
        tags: d.request.tags,
        text: () => [d.request.subject, d.request.text ?? '', d.request.html ?? ''].join('\n'),
        recipientDomains: d.recipients.map((r) => r.mailbox.domain),
        recipientPath: '/to',
      });
      const ticket = await deps.sendingPolicy?.check({
        tenantId: p.tenant.id,
        stream: d.request.stream,
        recipients: d.recipients.map((r) => r.mailbox.address),
        recipientPath: '/to',
        ...(sendAt !== undefined ? { sendAt } : {}),
      });
      const due = ticket ? ticket.sendAt : sendAt;
      const env: Envelope = {
        from: d.request.from,
        recipients: d.recipients,
        subject: d.request.subject,
        stream: d.request.stream,
        tags: d.request.tags,
        metadata: d.request.metadata,
        source: 'api',
        ...(due !== undefined ? { sendAt: due } : {}),
        record: d.record,
      };
      return withTicket(ticket, p, () =>
        commit({
          principal: p,
          env,
          raw: d.raw,
          ids: d.ids,
          senderPath: '/from',
          sandbox: deps.sandbox || p.tenant.sandbox,
          ...(d.template ? { template: d.template } : {}),
          ...(classification ? { classification } : {}),
        }),
      );
    },

    /** What acceptRequest would store for this send, without storing or counting anything (the dry run). */
    draft,

    /** An SMTP submission: envelope recipients and the message as received. */
    async acceptSubmitted(p: Principal, rcpts: Mailbox[], raw: Buffer, streamArg?: Stream): Promise<AcceptedMessage> {
      checkResidency(p);
      const headers = readHeaders(raw);
      if (headers.streamProblem) {
        throw new PostwardenError('VALIDATION_FAILED', headers.streamProblem, {
          errors: [{ path: `/headers/${STREAM_HEADER}`, message: headers.streamProblem }],
        });
      }
      const stream = streamArg ?? headers.stream ?? 'transactional';
      if (!headers.from) {
        throw new PostwardenError('VALIDATION_FAILED', headers.fromProblem ?? 'the From header is invalid', {
          errors: [{ path: '/headers/From', message: headers.fromProblem ?? 'is invalid' }],
        });
      }
      const recipients = dedupe(rcpts.map((mailbox) => ({ mailbox, kind: 'rcpt' as const })));
      checkRecipientCount(recipients.length, '/envelope/to');
      await backpressure.check();
      const ids = newIds();
      const listHeaders = unsubscribeFor(p, ids.id, stream, headers.from, recipients, '/envelope/to');
      const prepared = prepareSubmitted(raw, {
        messageIdHeader: ids.messageIdHeader,
        date: new Date(clock.now()),
        // Ours replace any the client wrote: only our endpoint records the unsubscribe as suppression.
        drop: [
          STREAM_HEADER.toLowerCase(),
          'x-postwarden-classification',
          ...(listHeaders ? ['list-unsubscribe', 'list-unsubscribe-post'] : []),
        ],
        headers: listHeaders ?? [],
      });
      checkSize(p, prepared.raw.length);
      await deps.preflight?.enforceSubmitted({ tenantId: p.tenant.id, stream, raw: prepared.raw, fromDomain: headers.from.domain });
      const classification = await deps.classification?.classify({
        tenantId: p.tenant.id,
        ...(headers.classification
          ? { given: { value: headers.classification, path: '/headers/X-Postwarden-Classification', source: 'header' as const } }
          : {}),
        tags: [],
        raw: prepared.raw,
        recipientDomains: recipients.map((r) => r.mailbox.domain),
        recipientPath: '/envelope/to',
      });
      const ticket = await deps.sendingPolicy?.check({
        tenantId: p.tenant.id,
        stream,
        recipients: recipients.map((r) => r.mailbox.address),
        recipientPath: '/envelope/to',
      });
      const env: Envelope = {
        from: headers.from,
        recipients,
        subject: headers.subject,
        stream,
        tags: [],
        metadata: {},
        source: 'smtp',
        ...(ticket?.sendAt !== undefined ? { sendAt: ticket.sendAt } : {}),
      };
      return withTicket(ticket, p, () =>
        commit({
          principal: p,
          env,
          raw: prepared.raw,
          ids: { id: ids.id, messageIdHeader: prepared.messageIdHeader },
          senderPath: '/headers/From',
          sandbox: deps.sandbox || p.tenant.sandbox,
          ...(classification ? { classification } : {}),
        }),
      );
    },

    /** Early checks the SMTP edge makes before DATA (SIZE parameter, RCPT count); residency at MAIL FROM. */
    checkSize,
    checkResidency,
    maxMessageBytes: maxBytes,
    checkBackpressure: () => backpressure.check(),
    drain: () => committer.drain(),
  };
}

export type Accept = ReturnType<typeof createAccept>;

function streamNotAllowed(p: Pending, domain: string, allowed: string[]): PostwardenError {
  const path = p.env.source === 'api' ? '/stream' : p.senderPath;
  return new PostwardenError('SENDER_DOMAIN_NOT_ALLOWED', `${domain} may send only on the ${allowed.join(', ')} stream(s)`, {
    errors: [{ path, message: `stream ${p.env.stream} is not allowed for ${domain} (allowed: ${allowed.join(', ')})` }],
    domain,
    streams: allowed,
  });
}

function misaligned(p: Pending, identity: AcceptIdentity): PostwardenError {
  const a = identity.alignment;
  return new PostwardenError('SENDER_MISALIGNED', `a message from ${a.spf.header_from} would fail DMARC: ${identity.problems.join('; ')}`, {
    errors: [{ path: p.senderPath, message: identity.problems.join('; ') }],
    header_from: a.spf.header_from,
    return_path_domain: a.spf.envelope_domain,
    dkim_domains: a.dkim.signing_domains,
  });
}

function senderNotAllowed(from: Mailbox, path: string): PostwardenError {
  return new PostwardenError('SENDER_DOMAIN_NOT_ALLOWED', `${from.domain} is not a sending domain of this tenant`, {
    errors: [{ path, message: `domain ${from.domain} is not registered for this tenant; add it with POST /v1/domains` }],
  });
}

interface Built {
  message: MessageRow;
  raw: Buffer;
  recipients: RecipientRow[];
  events: NewEvent[];
  accepted: AcceptedMessage;
}

/** The rows and first events of one accepted message; suppression decides each recipient's first state. */
/** The entry that stops this recipient of this message, broadest scope first; undefined when none. */
function suppressionFor(entries: SuppressionRow[], address: string, env: Envelope): SuppressionRow | undefined {
  const key = addressKey(address);
  return entries
    .filter((e) => e.address === key && suppressionApplies(e, { fromDomain: env.from.domain, stream: env.stream }))
    .sort((a, b) => scopeRank[a.scope] - scopeRank[b.scope] || a.createdAt - b.createdAt)[0];
}

function build(p: Pending, suppressed: SuppressionRow[], now: number): Built {
  const { principal, env, raw, ids } = p;
  const tenantId = principal.tenant.id;
  const sandbox = p.sandbox;
  const message: MessageRow = {
    id: ids.id,
    tenantId,
    stream: env.stream,
    from: env.from.address,
    subject: env.subject,
    messageIdHeader: ids.messageIdHeader,
    size: raw.length,
    tags: env.tags,
    metadata: env.metadata,
    source: env.source,
    sandbox,
    createdAt: now,
    identity: p.identity ? { ...p.identity } : null,
    template: p.template ?? null,
    classification: p.classification ?? null,
  };
  const events: NewEvent[] = [
    newEvent(
      'message.accepted',
      { tenantId, messageId: ids.id },
      {
        from: env.from.address,
        subject: env.subject,
        size: raw.length,
        stream: env.stream,
        source: env.source,
        recipients: env.recipients.length,
        message_id_header: ids.messageIdHeader,
        sandbox,
        api_key: principal.keyId,
        ...(principal.clientIp ? { client_ip: principal.clientIp } : {}),
        ...(p.identity ? { identity: p.identity } : {}),
        ...(env.sendAt !== undefined ? { send_at: new Date(env.sendAt).toISOString() } : {}),
        ...(p.template ? { template: p.template } : {}),
        ...(p.classification ? { classification: p.classification } : {}),
        ...env.record,
      },
    ),
  ];
  const recipients: RecipientRow[] = [];
  const accepted: AcceptedRecipient[] = [];
  for (const r of env.recipients) {
    const sup = suppressionFor(suppressed, r.mailbox.address, env);
    const row: RecipientRow = {
      id: newId('rcp', now),
      messageId: ids.id,
      tenantId,
      address: r.mailbox.address,
      domain: r.mailbox.domain,
      kind: r.kind,
      state: sup ? 'suppressed' : 'queued',
      attempts: 0,
      // A scheduled recipient enters the queue at its send time: it is due then, and its age (for
      // delivery.maxAgeHours) counts from then.
      nextAttemptAt: env.sendAt ?? now,
      leaseOwner: null,
      leaseExpiresAt: null,
      lastReply: null,
      createdAt: env.sendAt ?? now,
      updatedAt: now,
    };
    recipients.push(row);
    if (sup) {
      events.push(
        newEvent(
          'recipient.suppressed',
          { tenantId, messageId: ids.id, recipientId: row.id },
          {
            email: row.address,
            reason: sup.reason,
            scope: sup.scope,
            domain: sup.domain,
            stream: sup.stream,
            since: new Date(sup.createdAt).toISOString(),
            source: sup.source,
            suppression_id: sup.id,
          },
        ),
      );
      const where = sup.scope === 'identity' ? ` for ${[sup.domain, sup.stream].filter(Boolean).join(' ')}` : '';
      const reason = `suppressed (${sup.scope}${where}) since ${new Date(sup.createdAt).toISOString()}: ${sup.reason} (${sup.source})`;
      const suppression = {
        reason: sup.reason,
        scope: sup.scope,
        domain: sup.domain,
        stream: sup.stream,
        since: sup.createdAt,
        source: sup.source,
      };
      accepted.push({ id: row.id, email: row.address, state: 'suppressed', reason, suppression });
    } else {
      events.push(
        newEvent(
          'recipient.queued',
          { tenantId, messageId: ids.id, recipientId: row.id },
          { email: row.address, kind: r.kind, ...(env.sendAt !== undefined ? { send_at: new Date(env.sendAt).toISOString() } : {}) },
        ),
      );
      accepted.push({ id: row.id, email: row.address, state: 'queued' });
    }
  }
  return { message, raw, recipients, events, accepted: { id: ids.id, stream: env.stream, sandbox, recipients: accepted } };
}
