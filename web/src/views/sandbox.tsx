import { useState } from 'react';
import { request, send } from '../api';
import { ErrorNote, Loaded, Page, TableWrap, Time, useApi } from '../components';
import { Link, useRoute } from '../router';

interface InboxRow {
  id: string;
  message_id: string;
  subject: string;
  from: string;
  envelope_to: string;
  captured_at: string;
}
interface Content {
  id: string;
  message_id: string;
  subject: string;
  from: string;
  to: string;
  date: string | null;
  captured_at: string;
  envelope_to: string;
  headers: { name: string; value: string }[];
  text: string | null;
  has_html: boolean;
  preview: { url: string; remote_url: string; expires_at: string } | null;
  attachments: { index: number; filename: string | null; content_type: string; size: number }[];
}

/** What sandbox delivery captured instead of sending, as a mail client lists it. */
export function SandboxView() {
  const r = useApi<{ data: InboxRow[]; next_before: string | null }>('/v1/sandbox/inbox?limit=100');
  const [error, setError] = useState<Error | null>(null);
  const clear = async () => {
    if (!window.confirm('Delete every captured message of this tenant?')) return;
    try {
      await send('DELETE', '/v1/sandbox/messages');
      r.reload();
    } catch (e) {
      setError(e as Error);
    }
  };
  return (
    <Page
      title="Sandbox inbox"
      actions={
        <div className="actions">
          <button type="button" onClick={r.reload}>
            Refresh
          </button>
          <button type="button" className="danger" onClick={clear}>
            Clear inbox
          </button>
        </div>
      }
    >
      {error && <ErrorNote error={error} />}
      <Loaded r={r}>
        {(d) =>
          d.data.length === 0 ? (
            <p className="card">Nothing captured. In sandbox mode (or for a sandboxed tenant) sent mail lands here instead of leaving.</p>
          ) : (
            <section className="card" aria-label="Captured messages">
              <TableWrap label="Captured messages">
                <thead>
                  <tr>
                    <th scope="col">Subject</th>
                    <th scope="col">From</th>
                    <th scope="col">To</th>
                    <th scope="col">Captured</th>
                  </tr>
                </thead>
                <tbody>
                  {d.data.map((c) => (
                    <tr key={c.id}>
                      <td>
                        <Link href={`/sandbox/${c.id}`}>{c.subject || '(no subject)'}</Link>
                      </td>
                      <td>{c.from}</td>
                      <td>{c.envelope_to}</td>
                      <td>
                        <Time at={c.captured_at} />
                      </td>
                    </tr>
                  ))}
                </tbody>
              </TableWrap>
            </section>
          )
        }
      </Loaded>
    </Page>
  );
}

const tabs = ['HTML', 'Text', 'Headers', 'Raw'] as const;

/**
 * One capture. Its HTML is only ever shown inside `<iframe sandbox>` (no allow-scripts, no
 * allow-same-origin), loaded from a URL whose CSP also forbids scripts and, until the person asks,
 * every remote load. It is never put into this page's own DOM.
 */
export function SandboxMessageView({ id }: { id: string }) {
  const r = useApi<Content>(`/v1/sandbox/messages/${encodeURIComponent(id)}/content`);
  const raw = useApi<{ raw: string }>(`/v1/sandbox/messages/${encodeURIComponent(id)}`);
  const [tab, setTab] = useState<(typeof tabs)[number]>('HTML');
  const [remote, setRemote] = useState(false);
  const [error, setError] = useState<Error | null>(null);
  const { go } = useRoute();
  const remove = async () => {
    try {
      await send('DELETE', `/v1/sandbox/messages/${encodeURIComponent(id)}`);
      go('/sandbox');
    } catch (e) {
      setError(e as Error);
    }
  };
  const download = async (index: number, name: string) => {
    try {
      const res = await request(`/v1/sandbox/messages/${encodeURIComponent(id)}/attachments/${index}`);
      const url = URL.createObjectURL(await res.blob());
      const a = document.createElement('a');
      a.href = url;
      a.download = name;
      a.click();
      setTimeout(() => URL.revokeObjectURL(url), 10_000);
    } catch (e) {
      setError(e as Error);
    }
  };
  return (
    <Loaded r={r}>
      {(c) => (
        <Page
          title={c.subject || '(no subject)'}
          actions={
            <div className="actions">
              <Link href="/sandbox">Inbox</Link>
              <Link href={`/messages/${c.message_id}`}>Message path</Link>
              <button type="button" className="danger" onClick={remove}>
                Delete
              </button>
            </div>
          }
        >
          {error && <ErrorNote error={error} />}
          <section className="card">
            <dl className="facts">
              <dt>From</dt>
              <dd>{c.from}</dd>
              <dt>To</dt>
              <dd>{c.to || c.envelope_to}</dd>
              <dt>Date</dt>
              <dd>
                <Time at={c.date ?? c.captured_at} />
              </dd>
              {c.attachments.length > 0 && (
                <>
                  <dt>Attachments</dt>
                  <dd>
                    <ul className="plain">
                      {c.attachments.map((a) => (
                        <li key={a.index}>
                          <button type="button" className="link" onClick={() => download(a.index, a.filename ?? `attachment-${a.index}`)}>
                            Download {a.filename ?? `attachment ${a.index}`}
                          </button>{' '}
                          <span className="muted">
                            {a.content_type}, {a.size} bytes
                          </span>
                        </li>
                      ))}
                    </ul>
                  </dd>
                </>
              )}
            </dl>
          </section>
          <section className="card">
            <div role="tablist" aria-label="Message parts" className="tabs">
              {tabs.map((t) => (
                <button
                  key={t}
                  type="button"
                  role="tab"
                  id={`tab-${t}`}
                  aria-selected={tab === t}
                  aria-controls={`panel-${t}`}
                  tabIndex={tab === t ? 0 : -1}
                  onClick={() => setTab(t)}
                  onKeyDown={(e) => {
                    const i = tabs.indexOf(tab);
                    const next =
                      e.key === 'ArrowRight'
                        ? tabs[(i + 1) % tabs.length]
                        : e.key === 'ArrowLeft'
                          ? tabs[(i + tabs.length - 1) % tabs.length]
                          : undefined;
                    if (next) {
                      setTab(next);
                      document.getElementById(`tab-${next}`)?.focus();
                    }
                  }}
                >
                  {t}
                </button>
              ))}
            </div>
            <div role="tabpanel" id={`panel-${tab}`} aria-labelledby={`tab-${tab}`} className="panel">
              {tab === 'HTML' &&
                (c.preview ? (
                  <>
                    <p className="muted small">
                      Shown in a sandbox: scripts never run
                      {remote ? '; remote content is loaded' : ', and remote images and styles are blocked'}.{' '}
                      {!remote && (
                        <button type="button" className="link" onClick={() => setRemote(true)}>
                          Load remote content
                        </button>
                      )}
                    </p>
                    <iframe
                      title={`HTML part of ${c.subject || 'the message'}`}
                      sandbox=""
                      referrerPolicy="no-referrer"
                      src={remote ? c.preview.remote_url : c.preview.url}
                      className="preview"
                    />
                  </>
                ) : (
                  <p>The message has no HTML part.</p>
                ))}
              {tab === 'Text' && <pre className="mail-text">{c.text ?? 'The message has no text part.'}</pre>}
              {tab === 'Headers' && (
                <TableWrap label="Headers">
                  <tbody>
                    {c.headers.map((h, i) => (
                      // biome-ignore lint/suspicious/noArrayIndexKey: header fields repeat (Received); their order never changes
                      <tr key={`${h.name}-${i}`}>
                        <th scope="row">{h.name}</th>
                        <td className="wrap">{h.value}</td>
                      </tr>
                    ))}
                  </tbody>
                </TableWrap>
              )}
              {tab === 'Raw' && <Loaded r={raw}>{(x) => <pre className="mail-text">{x.raw}</pre>}</Loaded>}
            </div>
          </section>
        </Page>
      )}
    </Loaded>
  );
}
