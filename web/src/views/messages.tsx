import { type FormEvent, useEffect, useState } from 'react';
import { type ApiError, getJson, query } from '../api';
import { ErrorNote, Page, TableWrap, Time } from '../components';
import { Link } from '../router';
import type { MessageSummary } from './types';

const states = ['', 'queued', 'in_flight', 'deferred', 'delivered', 'bounced', 'expired', 'suppressed', 'failed'];
const fields = [
  ['to', 'Recipient', 'ann@ or example.net'],
  ['from', 'Sender', 'hello@example.com'],
  ['q', 'Subject words', 'invoice march'],
  ['tag', 'Tag', 'welcome'],
  ['metadata', 'Metadata', 'key=value'],
] as const;
type Filters = Record<(typeof fields)[number][0] | 'state' | 'since' | 'until', string>;
const empty: Filters = { to: '', from: '', q: '', tag: '', metadata: '', state: '', since: '', until: '' };

/** Message search over GET /v1/messages, newest first, a page at a time. */
export function MessagesView() {
  const [form, setForm] = useState<Filters>(empty);
  const [applied, setApplied] = useState<Filters>(empty);
  const [rows, setRows] = useState<MessageSummary[] | null>(null);
  const [next, setNext] = useState<string | null>(null);
  const [error, setError] = useState<ApiError | null>(null);

  const load = async (f: Filters, before?: string) => {
    setError(null);
    try {
      const iso = (v: string) => (v ? new Date(v).toISOString() : undefined);
      const page = await getJson<{ data: MessageSummary[]; next_before: string | null }>(
        `/v1/messages${query({ ...f, since: iso(f.since), until: iso(f.until), before, limit: 25 })}`,
      );
      setRows((r) => (before && r ? [...r, ...page.data] : page.data));
      setNext(page.next_before);
    } catch (e) {
      setError(e as ApiError);
    }
  };
  // biome-ignore lint/correctness/useExhaustiveDependencies: the first page loads once; later ones on submit
  useEffect(() => {
    load(empty);
  }, []);
  const submit = (e: FormEvent) => {
    e.preventDefault();
    setApplied(form);
    load(form);
  };
  const set = (k: keyof Filters) => (e: { target: { value: string } }) => setForm({ ...form, [k]: e.target.value });

  return (
    <Page title="Messages">
      <form className="card search" onSubmit={submit} aria-label="Search messages">
        {fields.map(([k, label, hint]) => (
          <div key={k} className="field">
            <label htmlFor={`f-${k}`}>{label}</label>
            <input id={`f-${k}`} name={k} value={form[k]} onChange={set(k)} placeholder={hint} />
          </div>
        ))}
        <div className="field">
          <label htmlFor="f-state">Recipient state</label>
          <select id="f-state" name="state" value={form.state} onChange={set('state')}>
            {states.map((s) => (
              <option key={s} value={s}>
                {s ? s.replace('_', ' ') : 'any'}
              </option>
            ))}
          </select>
        </div>
        <div className="field">
          <label htmlFor="f-since">Since</label>
          <input id="f-since" name="since" type="datetime-local" value={form.since} onChange={set('since')} />
        </div>
        <div className="field">
          <label htmlFor="f-until">Until</label>
          <input id="f-until" name="until" type="datetime-local" value={form.until} onChange={set('until')} />
        </div>
        <div className="field buttons">
          <button type="submit">Search</button>
          <button
            type="button"
            className="quiet"
            onClick={() => {
              setForm(empty);
              setApplied(empty);
              load(empty);
            }}
          >
            Clear
          </button>
        </div>
      </form>
      {error && <ErrorNote error={error} />}
      {rows && (
        <section className="card" aria-label="Results">
          <p aria-live="polite" className="muted">
            {rows.length === 0 ? 'No message matches.' : `${rows.length}${next ? '+' : ''} message${rows.length === 1 ? '' : 's'}`}
          </p>
          {rows.length > 0 && (
            <TableWrap label="Messages">
              <thead>
                <tr>
                  <th scope="col">Accepted</th>
                  <th scope="col">Subject</th>
                  <th scope="col">From</th>
                  <th scope="col">Stream</th>
                  <th scope="col">Tags</th>
                </tr>
              </thead>
              <tbody>
                {rows.map((m) => (
                  <tr key={m.id}>
                    <td>
                      <Time at={m.created_at} />
                    </td>
                    <td>
                      <Link href={`/messages/${m.id}`}>{m.subject || '(no subject)'}</Link>
                    </td>
                    <td>{m.from}</td>
                    <td>{m.stream}</td>
                    <td>{m.tags.join(', ')}</td>
                  </tr>
                ))}
              </tbody>
            </TableWrap>
          )}
          {next && (
            <button type="button" onClick={() => load(applied, next)}>
              Load more
            </button>
          )}
        </section>
      )}
    </Page>
  );
}
