import { Badge, BarChart, Loaded, Meter, Page, pct, seconds, TableWrap, Time, useApi } from '../components';
import type { Counts, Overview, Sli } from './types';

const countNames: (keyof Counts)[] = ['accepted', 'delivered', 'deferred', 'bounced', 'complained', 'suppressed', 'expired'];

interface Minute {
  minute: string;
  accepted: number;
  delivered: number;
  deferred: number;
  bounced: number;
  suppressed: number;
}

/** The operator's first page: what happened, the queue, the SLOs, what needs attention. */
export function OverviewView() {
  const overview = useApi<Overview>('/v1/overview');
  const minutes = useApi<{ data: Minute[] }>('/v1/stats/delivery?minutes=60');
  return (
    <Page
      title="Overview"
      actions={
        <button
          type="button"
          onClick={() => {
            overview.reload();
            minutes.reload();
          }}
        >
          Refresh
        </button>
      }
    >
      <Loaded r={overview}>
        {(o) => (
          <>
            <section aria-labelledby="alerts-h" className="card">
              <h2 id="alerts-h">Open alerts</h2>
              {o.alerts.length === 0 ? (
                <p>No open alerts: no DNS posture alerts in the last day, every circuit breaker closed.</p>
              ) : (
                <ul className="alerts">
                  {o.alerts.map((a) => (
                    <li key={`${a.kind}-${a.subject}-${a.at}`} className={`alert ${a.severity}`}>
                      <Badge value={a.severity} /> <strong>{a.kind === 'breaker' ? `Breaker ${a.subject}` : `DNS ${a.subject}`}</strong>{' '}
                      {a.message} <Time at={a.at} />
                    </li>
                  ))}
                </ul>
              )}
            </section>
            <div className="grid">
              <section aria-labelledby="counts-h" className="card">
                <h2 id="counts-h">Traffic</h2>
                <TableWrap label="Outcomes in the last hour and day">
                  <thead>
                    <tr>
                      <th scope="col">Outcome</th>
                      <th scope="col" className="num">
                        Last hour
                      </th>
                      <th scope="col" className="num">
                        Last day
                      </th>
                    </tr>
                  </thead>
                  <tbody>
                    {countNames.map((c) => (
                      <tr key={c}>
                        <th scope="row">{c}</th>
                        <td className="num" data-count={`hour-${c}`}>
                          {o.last_hour[c]}
                        </td>
                        <td className="num">{o.last_day[c]}</td>
                      </tr>
                    ))}
                  </tbody>
                </TableWrap>
              </section>
              <section aria-labelledby="queue-h" className="card">
                <h2 id="queue-h">Queue</h2>
                <dl className="facts">
                  <dt>Depth</dt>
                  <dd data-testid="queue-depth">{o.queue.depth} recipients</dd>
                  <dt>Time to drain</dt>
                  <dd>{o.queue.depth === 0 ? 'empty' : seconds(o.queue.time_to_drain_seconds)}</dd>
                </dl>
              </section>
            </div>
            <section aria-labelledby="slo-h" className="card">
              <h2 id="slo-h">Service level objectives</h2>
              <p className="muted">Over the last {o.slo.window_hours} h. Error budget: 100 % untouched, 0 % spent.</p>
              <TableWrap label="SLOs">
                <thead>
                  <tr>
                    <th scope="col">Indicator</th>
                    <th scope="col">Status</th>
                    <th scope="col" className="num">
                      Now
                    </th>
                    <th scope="col" className="num">
                      Objective
                    </th>
                    <th scope="col">Error budget left</th>
                  </tr>
                </thead>
                <tbody>
                  {o.slo.slis.map((s) => (
                    <SloRow key={s.name} s={s} />
                  ))}
                </tbody>
              </TableWrap>
            </section>
          </>
        )}
      </Loaded>
      <section aria-labelledby="minutes-h" className="card">
        <h2 id="minutes-h">Last 60 minutes</h2>
        <Loaded r={minutes}>
          {(m) => (
            <BarChart
              title="Recipients per minute"
              labels={m.data.map((x) => new Date(x.minute).toLocaleTimeString(undefined, { timeStyle: 'short' }))}
              series={[
                { name: 'delivered', tone: 'good', values: m.data.map((x) => x.delivered) },
                { name: 'deferred', tone: 'warn', values: m.data.map((x) => x.deferred) },
                { name: 'bounced', tone: 'bad', values: m.data.map((x) => x.bounced + x.suppressed) },
              ]}
            />
          )}
        </Loaded>
      </section>
    </Page>
  );
}

const names: Record<Sli['name'], string> = {
  queue_drain: 'Time to drain the queue',
  acceptance: 'Provider acceptance in time',
  retry: 'Soft bounces retried in time',
  api_availability: 'API availability',
};

function SloRow({ s }: { s: Sli }) {
  const fmt = (v: number | null) => (s.unit === 'seconds' ? seconds(v) : pct(v, 2));
  return (
    <tr data-sli={s.name}>
      <th scope="row">
        {names[s.name]}
        <div className="muted small">{s.description}</div>
      </th>
      <td>
        <Badge value={s.status} label={s.status === 'no_data' ? 'no data' : s.status} />
      </td>
      <td className="num">
        {fmt(s.value)}
        {s.total !== null && s.total > 0 && (
          <div className="muted small">
            {s.good}/{s.total}
          </div>
        )}
      </td>
      <td className="num">{s.unit === 'seconds' ? `≤ ${seconds(s.objective)}` : `≥ ${pct(s.objective, 2)}`}</td>
      <td>{s.error_budget_remaining === null ? '—' : <BudgetCell v={s.error_budget_remaining} name={names[s.name]} />}</td>
    </tr>
  );
}

function BudgetCell({ v, name }: { v: number; name: string }) {
  return (
    <div className="budget">
      <Meter value={v} label={`${name} error budget left`} />
      <span>{pct(v, 0)}</span>
    </div>
  );
}
