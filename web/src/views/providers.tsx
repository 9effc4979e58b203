import { useState } from 'react';
import { Badge, BarChart, Loaded, ms, Page, pct, TableWrap, Time, useApi } from '../components';
import type { Bucket, Providers, Site } from './types';

/**
 * Per provider and destination site: what the sites answered in 1- or 5-minute buckets, latency to
 * acceptance, TLS share, and the circuit breaker with its reason. Read-only: pausing and resuming
 * come with the reputation work.
 */
export function ProvidersView() {
  const r = useApi<Providers>('/v1/providers');
  const [size, setSize] = useState<'minute' | 'five_minute'>('five_minute');
  return (
    <Page
      title="Providers"
      actions={
        <div className="actions">
          <fieldset className="segmented">
            <legend className="visually-hidden">Bucket size</legend>
            <label>
              <input type="radio" name="bucket" checked={size === 'minute'} onChange={() => setSize('minute')} /> 1 minute
            </label>
            <label>
              <input type="radio" name="bucket" checked={size === 'five_minute'} onChange={() => setSize('five_minute')} /> 5 minutes
            </label>
          </fieldset>
          <button type="button" onClick={r.reload}>
            Refresh
          </button>
        </div>
      }
    >
      <Loaded r={r}>
        {(data) =>
          data.providers.length === 0 ? (
            <p className="card">No deliveries to any provider in the last hour, and no circuit breaker open.</p>
          ) : (
            data.providers.map((p) => (
              <section key={p.provider} className="card" aria-labelledby={`prov-${p.provider}`}>
                <h2 id={`prov-${p.provider}`}>{p.provider}</h2>
                <HourFacts b={p.hour} />
                {p.sites.map((s) => (
                  <SiteCard key={s.site} s={s} size={size} />
                ))}
              </section>
            ))
          )
        }
      </Loaded>
    </Page>
  );
}

function HourFacts({ b }: { b: Bucket }) {
  return (
    <dl className="facts inline">
      <dt>Accepted (hour)</dt>
      <dd>{b.accepted}</dd>
      <dt>Deferred</dt>
      <dd>{b.deferred_total}</dd>
      <dt>Blocked</dt>
      <dd>{b.blocked}</dd>
      <dt>Bounced</dt>
      <dd>{b.bounced}</dd>
      <dt>Latency p50 / p95</dt>
      <dd>
        {ms(b.latency_p50_ms)} / {ms(b.latency_p95_ms)}
      </dd>
      <dt>TLS</dt>
      <dd>{pct(b.tls_share, 0)}</dd>
    </dl>
  );
}

function SiteCard({ s, size }: { s: Site; size: 'minute' | 'five_minute' }) {
  const buckets = s[size];
  const label = (b: Bucket) => new Date(b.start).toLocaleTimeString(undefined, { timeStyle: 'short' });
  const categories = [...new Set(buckets.flatMap((b) => Object.keys(b.deferred)))].sort();
  return (
    <article className="site" aria-label={`Site ${s.site}`}>
      <h3>
        {s.site}{' '}
        {s.breaker ? (
          <Badge value={s.breaker.state} label={`breaker ${s.breaker.state}`} />
        ) : (
          <Badge value="closed" label="breaker closed" />
        )}
      </h3>
      {s.breaker && s.breaker.state !== 'closed' && (
        <p className="alert critical" data-testid="breaker-reason">
          <strong>Circuit breaker {s.breaker.state}:</strong> {s.breaker.reason}. Opened <Time at={s.breaker.opened_at} />
          {s.breaker.retry_at && (
            <>
              , next probe <Time at={s.breaker.retry_at} />
            </>
          )}
          .
          {s.last_reply && (
            <>
              {' '}
              Last reply: <code>{s.last_reply}</code>
            </>
          )}
        </p>
      )}
      <BarChart
        title={`${s.site}, ${size === 'minute' ? '1-minute' : '5-minute'} buckets`}
        labels={buckets.map(label)}
        series={[
          { name: 'accepted', tone: 'good', values: buckets.map((b) => b.accepted) },
          { name: 'deferred', tone: 'warn', values: buckets.map((b) => b.deferred_total - countBlocked(b)) },
          { name: 'blocked', tone: 'bad', values: buckets.map((b) => b.blocked) },
        ]}
        height={80}
      />
      <TableWrap label={`${s.site} buckets`}>
        <thead>
          <tr>
            <th scope="col">From</th>
            <th scope="col" className="num">
              Accepted
            </th>
            <th scope="col">Deferred by category</th>
            <th scope="col" className="num">
              Blocked
            </th>
            <th scope="col" className="num">
              Bounced
            </th>
            <th scope="col" className="num">
              p50
            </th>
            <th scope="col" className="num">
              p95
            </th>
            <th scope="col" className="num">
              TLS
            </th>
          </tr>
        </thead>
        <tbody>
          {buckets
            .filter((b) => b.accepted + b.deferred_total + b.bounced > 0)
            .reverse()
            .map((b) => (
              <tr key={b.start}>
                <td>
                  <Time at={b.start} />
                </td>
                <td className="num">{b.accepted}</td>
                <td>
                  {categories
                    .filter((c) => b.deferred[c])
                    .map((c) => `${c} ${b.deferred[c]}`)
                    .join(', ') || '—'}
                </td>
                <td className="num">{b.blocked}</td>
                <td className="num">{b.bounced}</td>
                <td className="num">{ms(b.latency_p50_ms)}</td>
                <td className="num">{ms(b.latency_p95_ms)}</td>
                <td className="num">{pct(b.tls_share, 0)}</td>
              </tr>
            ))}
        </tbody>
      </TableWrap>
    </article>
  );
}

const countBlocked = (b: Bucket) => Object.entries(b.deferred).reduce((n, [c, v]) => n + (c.endsWith('_block') ? v : 0), 0);
