import type { ReactNode } from 'react';
import { Badge, Loaded, Page, TableWrap, Time, useApi } from '../components';
import { Link } from '../router';
import type { MessageDetail, Recipient, SpineEvent } from './types';

/**
 * The message path: every decision on a message in order, from the app's request to each
 * recipient's last reply, with the evidence the events carry and the RFC behind each decision.
 * Addresses in transcripts are redacted to their first letter and domain.
 */
export function MessagePathView({ id }: { id: string }) {
  const r = useApi<MessageDetail>(`/v1/messages/${encodeURIComponent(id)}`);
  return (
    <Loaded r={r}>
      {(m) => (
        <Page title={m.subject || '(no subject)'} actions={<Link href="/messages">Back to search</Link>}>
          <section className="card" aria-labelledby="req-h">
            <h2 id="req-h">Request</h2>
            <dl className="facts">
              <dt>Message</dt>
              <dd>
                <code>{m.id}</code> <Badge value={m.state} />
              </dd>
              <dt>Accepted</dt>
              <dd>
                <Time at={m.created_at} /> through {m.source === 'smtp' ? 'SMTP submission (RFC 6409)' : 'the HTTP API'}
              </dd>
              <dt>From</dt>
              <dd>{m.from}</dd>
              <dt>Stream</dt>
              <dd>
                {m.stream}
                {m.sandbox ? ' (sandbox: captured, never sent)' : ''}
              </dd>
              <dt>Message-ID</dt>
              <dd>
                <code>{m.message_id_header}</code>
              </dd>
              <dt>Size</dt>
              <dd>{m.size} bytes</dd>
              {m.tags.length > 0 && (
                <>
                  <dt>Tags</dt>
                  <dd>{m.tags.join(', ')}</dd>
                </>
              )}
            </dl>
            {m.identity && <Identity identity={m.identity} />}
          </section>
          <section className="card" aria-labelledby="rcpt-h">
            <h2 id="rcpt-h">Recipients</h2>
            {m.recipients.some((x) => x.state === 'suppressed') && (
              <p className="alert critical" role="note">
                <strong>Suppressed:</strong>{' '}
                {m.recipients
                  .filter((x) => x.state === 'suppressed')
                  .map((x) => x.email)
                  .join(', ')}{' '}
                {m.recipients.filter((x) => x.state === 'suppressed').length === 1 ? 'was' : 'were'} not sent to: the address is on the
                suppression list (see the path below for why).
              </p>
            )}
            <TableWrap label="Recipients">
              <thead>
                <tr>
                  <th scope="col">Recipient</th>
                  <th scope="col">State</th>
                  <th scope="col" className="num">
                    Attempts
                  </th>
                  <th scope="col">Last reply</th>
                </tr>
              </thead>
              <tbody>
                {m.recipients.map((x) => (
                  <tr key={x.id}>
                    <td>{x.email}</td>
                    <td>
                      <Badge value={x.state} />
                    </td>
                    <td className="num">{x.attempts}</td>
                    <td>{x.last_reply ? <code>{replyText(x.last_reply)}</code> : '—'}</td>
                  </tr>
                ))}
              </tbody>
            </TableWrap>
          </section>
          <section className="card" aria-labelledby="path-h">
            <h2 id="path-h">Path</h2>
            <ol className="path">
              {m.events.map((e) => (
                <PathStep key={e.id} e={e} recipient={m.recipients.find((x) => x.id === e.recipient_id)} />
              ))}
            </ol>
          </section>
        </Page>
      )}
    </Loaded>
  );
}

const replyText = (r: { code?: number; enhanced?: string | null; text?: string }) => [r.code, r.enhanced, r.text].filter(Boolean).join(' ');

function Identity({ identity }: { identity: Record<string, unknown> }) {
  const a = identity.alignment as
    | {
        spf?: { aligned?: boolean; envelope_domain?: string };
        dkim?: { aligned?: boolean; signing_domains?: string[] };
        dmarc_would_pass?: boolean;
      }
    | undefined;
  const problems = (identity.problems as string[] | undefined) ?? [];
  return (
    <>
      <h3>Authentication and alignment</h3>
      <dl className="facts">
        <dt>Return path</dt>
        <dd>
          {String(identity.return_path_domain ?? '—')} <Rfc n="RFC 5321 §4.4" />
        </dd>
        <dt>SPF alignment</dt>
        <dd>
          {a?.spf?.aligned ? 'aligned' : 'not aligned'} (envelope {a?.spf?.envelope_domain ?? '—'}) <Rfc n="RFC 7489 §3.1.2" />
        </dd>
        <dt>DKIM alignment</dt>
        <dd>
          {a?.dkim?.aligned ? 'aligned' : 'not aligned'} (d={a?.dkim?.signing_domains?.join(', ') || '—'}) <Rfc n="RFC 7489 §3.1.1" />
        </dd>
        <dt>DMARC verdict</dt>
        <dd>
          <Badge value={a?.dmarc_would_pass ? 'met' : 'breached'} label={a?.dmarc_would_pass ? 'would pass' : 'would fail'} />{' '}
          <Rfc n="RFC 7489 §4.2" />
        </dd>
        {problems.length > 0 && (
          <>
            <dt>Problems</dt>
            <dd>{problems.join('; ')}</dd>
          </>
        )}
      </dl>
    </>
  );
}

function Rfc({ n }: { n: string }) {
  return <span className="rfc">{n}</span>;
}

const titles: Record<string, [string, string]> = {
  'message.accepted': ['Accepted and stored', 'RFC 5321 §6.1'],
  'recipient.queued': ['Queued for delivery', 'RFC 5321 §4.5.4.1'],
  'recipient.suppressed': ['Suppressed: not sent', 'RFC 3463 5.7.1'],
  'recipient.deferred': ['Deferred (transient)', 'RFC 5321 §4.2.1, §4.5.4.1'],
  'recipient.delivered': ['Accepted by the receiver', 'RFC 5321 §4.2.1, §6.1'],
  'recipient.bounced': ['Bounced (permanent)', 'RFC 5321 §4.2.1; RFC 3463'],
  'recipient.expired': ['Expired: gave up', 'RFC 5321 §4.5.4.1'],
  'recipient.failed': ['Failed locally', 'RFC 3463 §3.4'],
  'recipient.complained': ['Complaint (feedback loop)', 'RFC 5965'],
  'recipient.unsubscribed': ['Unsubscribed', 'RFC 8058'],
};

function PathStep({ e, recipient }: { e: SpineEvent; recipient?: Recipient }) {
  const [title, rfc] = titles[e.type] ?? [e.type, ''];
  const d = e.data;
  const kind = e.type.split('.')[1] ?? '';
  return (
    <li className={`step ${kind}`} data-event={e.type}>
      <div className="step-head">
        <Time at={e.at} /> <strong>{title}</strong>
        {recipient && <span> · {recipient.email}</span>}
        {typeof d.attempt === 'number' && <span> · attempt {d.attempt}</span>}
        {rfc && <Rfc n={rfc} />}
      </div>
      <StepDetails type={e.type} d={d} />
    </li>
  );
}

function StepDetails({ type, d }: { type: string; d: Record<string, unknown> }) {
  const rows: [string, ReactNode][] = [];
  const str = (k: string) => (d[k] === undefined || d[k] === null ? undefined : String(d[k]));
  switch (type) {
    case 'message.accepted':
      rows.push([
        'Request',
        `${str('source') === 'smtp' ? 'SMTP submission' : 'API'} by key ${str('api_key') ?? '—'}, ${str('recipients')} recipient(s), ${str('size')} bytes`,
      ]);
      break;
    case 'recipient.suppressed':
      rows.push([
        'Why',
        `${str('reason')} (scope ${str('scope')}${str('domain') ? `, domain ${str('domain')}` : ''}${str('stream') ? `, stream ${str('stream')}` : ''})`,
      ]);
      rows.push(['Since', <Time key="t" at={str('since')} />]);
      rows.push(['Cause', str('source') ?? '—']);
      break;
    default:
      break;
  }
  if (str('reply')) rows.push(['Reply', <code key="r">{str('reply')}</code>]);
  if (str('category'))
    rows.push(['Classified', `${str('category')}${d.hard ? ' (hard)' : ''} by rule ${str('rule')} of ruleset ${str('ruleset_version')}`]);
  if (str('next_attempt_at')) rows.push(['Next attempt', <Time key="n" at={str('next_attempt_at')} />]);
  if (str('local_throttle')) rows.push(['Held back', `local ${str('local_throttle')} limit for site ${str('site')} (no attempt spent)`]);
  if (str('reason') && type !== 'recipient.suppressed') rows.push(['Reason', str('reason')]);
  if (d.sandbox) rows.push(['Route', 'sandbox: captured, nothing left the machine']);
  const tls = d.tls as Record<string, unknown> | null | undefined;
  if (str('mx')) {
    rows.push(['Route', <RouteLine key="route" d={d} />]);
    rows.push(['TLS', <TlsLine key="tls" tls={tls ?? null} />]);
    rows.push(['Transcript', <Transcript key="tr" d={d} tls={tls ?? null} />]);
  }
  if (Array.isArray(d.dkim))
    rows.push([
      'DKIM',
      <span key="dk">
        {(d.dkim as string[]).length ? `signed: ${(d.dkim as string[]).join('; ')}` : 'not signed (no verified key for the From domain)'}{' '}
        <Rfc n="RFC 6376 §3.5" />
      </span>,
    ]);
  if (!rows.length) return null;
  return (
    <dl className="facts step-body">
      {rows.map(([k, v]) => (
        <div key={k} className="fact">
          <dt>{k}</dt>
          <dd>{v}</dd>
        </div>
      ))}
    </dl>
  );
}

function RouteLine({ d }: { d: Record<string, unknown> }) {
  return (
    <span>
      site {String(d.site)}, MX {String(d.mx)} ({String(d.ip ?? '?')}:{String(d.port ?? 25)}){d.reused ? ', reused connection' : ''}{' '}
      <Rfc n="RFC 5321 §5.1" />
    </span>
  );
}

function TlsLine({ tls }: { tls: Record<string, unknown> | null }) {
  if (!tls) return <span>no TLS evidence recorded</span>;
  const policy = (tls.policy ?? {}) as Record<string, unknown>;
  const by = policy.enforced_by === 'mta-sts' ? 'RFC 8461' : policy.enforced_by === 'dane' ? 'RFC 7672' : 'RFC 3207';
  return (
    <span>
      policy {String(policy.mode ?? '—')} ({String(policy.source ?? '—')});{' '}
      {tls.negotiated ? `${String(tls.version)} ${String(tls.cipher)}` : 'not negotiated'}, certificate{' '}
      {String(tls.verification ?? (tls.verified ? 'verified' : 'not verified'))} <Rfc n={by} />
    </span>
  );
}

/** The SMTP dialogue of one attempt, rebuilt from its evidence; the recipient's local part is redacted. */
function Transcript({ d, tls }: { d: Record<string, unknown>; tls: Record<string, unknown> | null }) {
  const email = String(d.email ?? '');
  const at = email.lastIndexOf('@');
  const redacted = at > 0 ? `${email[0]}…${email.slice(at)}` : '…';
  const session = d.reused
    ? [`(reused session to ${String(d.mx)} [${String(d.ip ?? '?')}]:${String(d.port ?? 25)})`]
    : [
        `connect ${String(d.mx)} [${String(d.ip ?? '?')}]:${String(d.port ?? 25)}${d.connect_ms !== undefined ? ` (${String(d.connect_ms)} ms)` : ''}`,
        'S: 220 …',
        'C: EHLO …',
        ...(tls?.negotiated ? ['C: STARTTLS', `   TLS ${String(tls.version)} ${String(tls.cipher)}`, 'C: EHLO …'] : []),
      ];
  const lines = [
    ...session,
    'C: MAIL FROM:<…>',
    `C: RCPT TO:<${redacted}>`,
    `S: ${String(d.reply ?? '')}${d.transaction_ms !== undefined ? `   (transaction ${String(d.transaction_ms)} ms)` : ''}`,
  ];
  return (
    <>
      <pre className="transcript">{lines.join('\n')}</pre>
      <span className="muted small">
        Rebuilt from the attempt's evidence (the final reply for this recipient is kept, not every line); addresses redacted.
      </span>
    </>
  );
}
