import { useState } from 'react';
import { request } from '../api';
import { Badge, CopyButton, ErrorNote, Loaded, Page, TableWrap, Time, useApi } from '../components';
import { Link } from '../router';

interface Domain {
  id: string;
  name: string;
  created_at: string;
  checked_at: string | null;
  verified_at: string | null;
}
interface DnsRecord {
  id: string;
  kind: string;
  type: string;
  name: string;
  value: string;
  why: string;
  required: boolean;
  action: string;
  status?: string;
}
interface DomainDetail extends Domain {
  dns_records: DnsRecord[];
  verification: Record<string, unknown> | null;
}
interface DkimKey {
  id: string;
  selector: string;
  algorithm: string;
  purpose: string;
  status: string;
  created_at: string;
  activated_at: string | null;
  verified_at: string | null;
  retired_at: string | null;
}
interface Advice {
  action: string;
  next: string;
  current: string;
  reasons: { id: string; severity: string; message: string }[];
}
interface Snapshot {
  snapshotId: string;
  takenAt: string;
  findings?: { id?: string; severity?: string; message?: string }[];
  alerts?: { kind?: string; severity?: string; message?: string }[];
  changes?: unknown[];
}

export function DomainsView() {
  const r = useApi<{ data: Domain[] }>('/v1/domains');
  return (
    <Page title="Domains">
      <Loaded r={r}>
        {(d) =>
          d.data.length === 0 ? (
            <p className="card">No sending domain yet: add one with POST /v1/domains.</p>
          ) : (
            <section className="card" aria-label="Sending domains">
              <TableWrap label="Sending domains">
                <thead>
                  <tr>
                    <th scope="col">Domain</th>
                    <th scope="col">Verification</th>
                    <th scope="col">Last checked</th>
                    <th scope="col">Added</th>
                  </tr>
                </thead>
                <tbody>
                  {d.data.map((x) => (
                    <tr key={x.id}>
                      <td>
                        <Link href={`/domains/${x.id}`}>{x.name}</Link>
                      </td>
                      <td>{x.verified_at ? <Badge value="met" label="verified" /> : <Badge value="pending" label="not verified" />}</td>
                      <td>
                        <Time at={x.checked_at} />
                      </td>
                      <td>
                        <Time at={x.created_at} />
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

/** One domain: the records to publish (each with a copy button), verification, DKIM keys, posture, DMARC advice. */
export function DomainView({ id }: { id: string }) {
  const base = `/v1/domains/${encodeURIComponent(id)}`;
  const r = useApi<DomainDetail>(base);
  const keys = useApi<{ data: DkimKey[] }>(`${base}/dkim`);
  const dmarc = useApi<{ advice: Advice; published_policy: string | null; reports: number }>(`${base}/dmarc`);
  const history = useApi<{ data: Snapshot[] }>(`${base}/dns-history?limit=20`);
  const [verifyError, setVerifyError] = useState<Error | null>(null);
  const verify = async () => {
    setVerifyError(null);
    try {
      await request(`${base}/verify`, { method: 'POST' });
      r.reload();
    } catch (e) {
      setVerifyError(e as Error);
    }
  };
  return (
    <Loaded r={r}>
      {(d) => (
        <Page title={d.name} actions={<Link href="/domains">All domains</Link>}>
          <section className="card" aria-labelledby="records-h">
            <h2 id="records-h">DNS records to publish</h2>
            <ul className="records">
              {d.dns_records.map((rec) => (
                <li key={rec.id} className="record" data-record={rec.kind}>
                  <div className="record-head">
                    <strong>{rec.kind.toUpperCase()}</strong> <span className="muted">{rec.type}</span>{' '}
                    {rec.required ? <Badge value="warning" label="required" /> : <Badge value="info" label="recommended" />}
                  </div>
                  <div className="record-line">
                    <span className="record-label">Name</span>
                    <code>{rec.name}</code>
                    <CopyButton text={rec.name} label={`${rec.kind} record name`} />
                  </div>
                  <div className="record-line">
                    <span className="record-label">Value</span>
                    <code className="wrap">{rec.value}</code>
                    <CopyButton text={rec.value} label={`${rec.kind} record value`} />
                  </div>
                  <p className="muted small">{rec.why}</p>
                </li>
              ))}
            </ul>
          </section>
          <section className="card" aria-labelledby="verify-h">
            <h2 id="verify-h">Verification</h2>
            <p>
              {d.verified_at ? (
                <>
                  <Badge value="met" label="verified" /> since <Time at={d.verified_at} />
                </>
              ) : (
                <>
                  <Badge value="pending" label="not verified" /> last checked <Time at={d.checked_at} />
                </>
              )}{' '}
              <button type="button" onClick={verify}>
                Check now
              </button>
            </p>
            {verifyError && <ErrorNote error={verifyError} />}
          </section>
          <section className="card" aria-labelledby="dkim-h">
            <h2 id="dkim-h">DKIM keys</h2>
            <Loaded r={keys}>
              {(k) => (
                <TableWrap label="DKIM keys">
                  <thead>
                    <tr>
                      <th scope="col">Selector</th>
                      <th scope="col">Algorithm</th>
                      <th scope="col">Status</th>
                      <th scope="col">Created</th>
                      <th scope="col">Activated</th>
                      <th scope="col">Retired</th>
                    </tr>
                  </thead>
                  <tbody>
                    {k.data.map((x) => (
                      <tr key={x.id}>
                        <td>
                          <code>{x.selector}</code>
                        </td>
                        <td>{x.algorithm}</td>
                        <td>
                          <Badge value={x.status === 'active' ? 'met' : 'info'} label={x.status} />
                        </td>
                        <td>
                          <Time at={x.created_at} />
                        </td>
                        <td>
                          <Time at={x.activated_at} />
                        </td>
                        <td>
                          <Time at={x.retired_at} />
                        </td>
                      </tr>
                    ))}
                  </tbody>
                </TableWrap>
              )}
            </Loaded>
          </section>
          <section className="card" aria-labelledby="posture-h">
            <h2 id="posture-h">DNS posture history</h2>
            <Loaded r={history}>
              {(h) =>
                h.data.length === 0 ? (
                  <p>No audit yet (the posture monitor audits managed domains on its schedule).</p>
                ) : (
                  <ol className="history">
                    {[...h.data].reverse().map((s) => (
                      <li key={s.snapshotId}>
                        <Time at={s.takenAt} />: {(s.findings ?? []).length} finding(s), {(s.alerts ?? []).length} alert(s)
                        <ul>
                          {[...(s.alerts ?? []), ...(s.findings ?? [])].slice(0, 8).map((f) => (
                            <li key={`${f.severity}-${f.message}`}>
                              <Badge value={f.severity ?? 'info'} /> {f.message}
                            </li>
                          ))}
                        </ul>
                      </li>
                    ))}
                  </ol>
                )
              }
            </Loaded>
          </section>
          <section className="card" aria-labelledby="dmarc-h">
            <h2 id="dmarc-h">DMARC advisor</h2>
            <Loaded r={dmarc}>
              {(x) => (
                <>
                  <p>
                    Policy now <strong>p={x.advice.current}</strong>; advice: <strong>{x.advice.action}</strong>
                    {x.advice.action !== 'hold' ? ` to p=${x.advice.next}` : ''} ({x.reports} aggregate report(s) in 30 days){' '}
                    <span className="rfc">RFC 7489 §6.3</span>
                  </p>
                  <ul>
                    {x.advice.reasons.map((reason) => (
                      <li key={reason.id}>
                        <Badge value={reason.severity === 'error' ? 'warning' : 'info'} label={reason.severity} /> {reason.message}
                      </li>
                    ))}
                  </ul>
                </>
              )}
            </Loaded>
          </section>
        </Page>
      )}
    </Loaded>
  );
}
