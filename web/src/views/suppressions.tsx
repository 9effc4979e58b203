import { type FormEvent, useState } from 'react';
import { query } from '../api';
import { Loaded, Page, TableWrap, Time, useApi } from '../components';

interface Suppression {
  id: string;
  address: string;
  scope: string;
  domain: string | null;
  stream: string | null;
  reason: string;
  source: string;
  created_at: string;
}
interface Change {
  id: string;
  address: string;
  action: string;
  actor: string;
  reason: string | null;
  source: string | null;
  at: string;
}

const reasons = ['', 'hard_bounce', 'complaint', 'unsubscribe', 'manual', 'import'];
const scopes = ['', 'tenant', 'identity', 'global'];

/** The suppression list: who, why (the event or key that caused it), in which scope, and every change. */
export function SuppressionsView() {
  const [form, setForm] = useState({ address: '', reason: '', scope: '' });
  const [applied, setApplied] = useState(form);
  const list = useApi<{ data: Suppression[]; next_cursor: string | null }>(`/v1/suppressions${query({ ...applied, limit: 200 })}`);
  const history = useApi<{ data: Change[] }>(`/v1/suppressions/history${query({ address: applied.address || undefined, limit: 50 })}`);
  const submit = (e: FormEvent) => {
    e.preventDefault();
    setApplied(form);
  };
  return (
    <Page title="Suppressions">
      <form className="card search" onSubmit={submit} aria-label="Search suppressions">
        <div className="field">
          <label htmlFor="s-address">Address</label>
          <input id="s-address" value={form.address} onChange={(e) => setForm({ ...form, address: e.target.value })} />
        </div>
        <div className="field">
          <label htmlFor="s-reason">Reason</label>
          <select id="s-reason" value={form.reason} onChange={(e) => setForm({ ...form, reason: e.target.value })}>
            {reasons.map((r) => (
              <option key={r} value={r}>
                {r || 'any'}
              </option>
            ))}
          </select>
        </div>
        <div className="field">
          <label htmlFor="s-scope">Scope</label>
          <select id="s-scope" value={form.scope} onChange={(e) => setForm({ ...form, scope: e.target.value })}>
            {scopes.map((r) => (
              <option key={r} value={r}>
                {r || 'any'}
              </option>
            ))}
          </select>
        </div>
        <div className="field buttons">
          <button type="submit">Search</button>
        </div>
      </form>
      <section className="card" aria-labelledby="sup-h">
        <h2 id="sup-h">Suppressed addresses</h2>
        <Loaded r={list}>
          {(l) =>
            l.data.length === 0 ? (
              <p>No suppression matches.</p>
            ) : (
              <TableWrap label="Suppressed addresses">
                <thead>
                  <tr>
                    <th scope="col">Address</th>
                    <th scope="col">Why</th>
                    <th scope="col">Scope</th>
                    <th scope="col">Cause</th>
                    <th scope="col">Since</th>
                  </tr>
                </thead>
                <tbody>
                  {l.data.map((x) => (
                    <tr key={x.id}>
                      <td>{x.address}</td>
                      <td>{x.reason.replace('_', ' ')}</td>
                      <td>
                        {x.scope}
                        {x.domain ? ` (${x.domain})` : ''}
                        {x.stream ? ` (${x.stream})` : ''}
                      </td>
                      <td>
                        <code>{x.source}</code>
                        <div className="muted small">{causeOf(x.source)}</div>
                      </td>
                      <td>
                        <Time at={x.created_at} />
                      </td>
                    </tr>
                  ))}
                </tbody>
              </TableWrap>
            )
          }
        </Loaded>
      </section>
      <section className="card" aria-labelledby="hist-h">
        <h2 id="hist-h">History</h2>
        <Loaded r={history}>
          {(h) =>
            h.data.length === 0 ? (
              <p>No change yet.</p>
            ) : (
              <TableWrap label="Suppression history">
                <thead>
                  <tr>
                    <th scope="col">When</th>
                    <th scope="col">Address</th>
                    <th scope="col">Change</th>
                    <th scope="col">By</th>
                    <th scope="col">Reason</th>
                  </tr>
                </thead>
                <tbody>
                  {h.data.map((c) => (
                    <tr key={c.id}>
                      <td>
                        <Time at={c.at} />
                      </td>
                      <td>{c.address}</td>
                      <td>{c.action}</td>
                      <td>
                        <code>{c.actor}</code>
                      </td>
                      <td>{c.reason ?? '—'}</td>
                    </tr>
                  ))}
                </tbody>
              </TableWrap>
            )
          }
        </Loaded>
      </section>
    </Page>
  );
}

const causeOf = (source: string) =>
  source.startsWith('evt_')
    ? 'the event that caused it (a bounce or complaint)'
    : source.startsWith('key_')
      ? 'added by this API key'
      : source.startsWith('imp_') || source.startsWith('batch')
        ? 'an import'
        : '';
