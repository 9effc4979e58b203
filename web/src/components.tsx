import { type ReactNode, useCallback, useEffect, useId, useState } from 'react';
import { type ApiError, getJson } from './api';

/** Loads a JSON resource; `reload` fetches again. A newer load wins over a slower older one. */
export function useApi<T>(path: string | null): { data?: T; error?: ApiError; loading: boolean; reload: () => void } {
  const [state, setState] = useState<{ data?: T; error?: ApiError; loading: boolean }>({ loading: true });
  const [n, setN] = useState(0);
  // biome-ignore lint/correctness/useExhaustiveDependencies: n is the reload counter: a new value loads again
  useEffect(() => {
    if (!path) return;
    let live = true;
    setState((s) => ({ ...s, loading: true }));
    getJson<T>(path).then(
      (data) => live && setState({ data, loading: false }),
      (error: ApiError) => live && setState({ error, loading: false }),
    );
    return () => {
      live = false;
    };
  }, [path, n]);
  return { ...state, reload: useCallback(() => setN((x) => x + 1), []) };
}

export function Loaded<T>({ r, children }: { r: { data?: T; error?: ApiError; loading: boolean }; children: (data: T) => ReactNode }) {
  if (r.error) return <ErrorNote error={r.error} />;
  if (r.data === undefined) return <p aria-live="polite">Loading…</p>;
  return <>{children(r.data)}</>;
}

export function ErrorNote({ error }: { error: Error }) {
  return (
    <p role="alert" className="error">
      {error.message}
    </p>
  );
}

export function Page({ title, actions, children }: { title: string; actions?: ReactNode; children: ReactNode }) {
  useEffect(() => {
    document.title = `${title} · Postwarden`;
  }, [title]);
  return (
    <>
      <div className="page-head">
        <h1>{title}</h1>
        {actions}
      </div>
      {children}
    </>
  );
}

/** A table that scrolls sideways on a narrow screen, and can be scrolled with the keyboard. */
export function TableWrap({ label, children }: { label: string; children: ReactNode }) {
  return (
    // biome-ignore lint/a11y/noNoninteractiveTabindex: a scrollable region must be reachable by keyboard (WCAG 2.1.1)
    <section className="table-wrap" aria-label={label} tabIndex={0}>
      <table>{children}</table>
    </section>
  );
}

const tone: Record<string, string> = {
  delivered: 'good',
  met: 'good',
  closed: 'good',
  completed: 'good',
  queued: 'info',
  in_flight: 'info',
  pending: 'info',
  no_data: 'info',
  deferred: 'warn',
  'half-open': 'warn',
  warning: 'warn',
  bounced: 'bad',
  failed: 'bad',
  expired: 'bad',
  suppressed: 'bad',
  breached: 'bad',
  open: 'bad',
  critical: 'bad',
  complained: 'bad',
};

export function Badge({ value, label }: { value: string; label?: string }) {
  return <span className={`badge ${tone[value] ?? 'info'}`}>{label ?? value.replace('_', ' ')}</span>;
}

export function Time({ at }: { at: string | number | null | undefined }) {
  if (at === null || at === undefined) return <span>—</span>;
  const d = new Date(at);
  return (
    <time dateTime={d.toISOString()} title={d.toISOString()}>
      {d.toLocaleString(undefined, { dateStyle: 'short', timeStyle: 'medium' })}
    </time>
  );
}

const word = { idle: 'Copy', copied: 'Copied', failed: 'Copy failed:' } as const;

/** Copies a record's name or value; the button's own name says when it did (announced by screen readers). */
export function CopyButton({ text, label }: { text: string; label: string }) {
  const [done, setDone] = useState<'idle' | 'copied' | 'failed'>('idle');
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(text);
      setDone('copied');
    } catch {
      setDone('failed');
    }
    setTimeout(() => setDone('idle'), 2000);
  };
  return (
    <button type="button" className="copy" onClick={copy} aria-label={`${word[done]} ${label}`}>
      {word[done]}
    </button>
  );
}

export const pct = (v: number | null | undefined, digits = 1) => (v === null || v === undefined ? '—' : `${(v * 100).toFixed(digits)} %`);
export const ms = (v: number | null | undefined) =>
  v === null || v === undefined
    ? '—'
    : v < 1000
      ? `${Math.round(v)} ms`
      : v < 120_000
        ? `${(v / 1000).toFixed(1)} s`
        : `${(v / 60_000).toFixed(1)} min`;
export const seconds = (v: number | null | undefined) => (v === null || v === undefined ? '∞' : ms(v * 1000));

export interface Series {
  name: string;
  tone: 'good' | 'warn' | 'bad' | 'info';
  values: number[];
}

/**
 * A stacked bar chart drawn as inline SVG (no chart library): one bar per bucket, one colour per
 * series, with a text alternative listing the totals for screen readers.
 */
export function BarChart({ title, labels, series, height = 120 }: { title: string; labels: string[]; series: Series[]; height?: number }) {
  const id = useId();
  const totals = labels.map((_, i) => series.reduce((n, s) => n + (s.values[i] ?? 0), 0));
  const max = Math.max(1, ...totals);
  const w = 100 / Math.max(1, labels.length);
  const summary = series.map((s) => `${s.name} ${s.values.reduce((a, b) => a + b, 0)}`).join(', ');
  return (
    <figure className="chart">
      <svg viewBox={`0 0 100 ${height}`} preserveAspectRatio="none" role="img" aria-labelledby={`${id}-t`} height={height}>
        <title id={`${id}-t`}>{`${title}: ${summary}`}</title>
        <line x1="0" x2="100" y1={height - 0.5} y2={height - 0.5} className="axis" />
        {labels.map((label, i) => {
          let y = height;
          return (
            <g key={label}>
              {series.map((s) => {
                const v = s.values[i] ?? 0;
                const h = (v / max) * (height - 4);
                y -= h;
                return v ? (
                  <rect key={s.name} x={i * w + w * 0.1} width={w * 0.8} y={y} height={h} className={`bar ${s.tone}`}>
                    <title>{`${label}: ${s.name} ${v}`}</title>
                  </rect>
                ) : null;
              })}
            </g>
          );
        })}
      </svg>
      <figcaption>
        {title}
        <span className="legend">
          {series.map((s) => (
            <span key={s.name}>
              <span className={`swatch ${s.tone}`} aria-hidden="true" /> {s.name}
            </span>
          ))}
        </span>
      </figcaption>
    </figure>
  );
}

/** A horizontal gauge for a 0..1 share (error budget left), clipped at both ends. */
export function Meter({ value, label }: { value: number | null; label: string }) {
  const v = value === null ? 0 : Math.max(0, Math.min(1, value));
  return (
    <svg className="meter" viewBox="0 0 100 8" preserveAspectRatio="none" role="img" aria-label={`${label}: ${pct(value, 0)}`}>
      <rect x="0" y="0" width="100" height="8" className="meter-bg" />
      <rect x="0" y="0" width={v * 100} height="8" className={`bar ${v > 0.5 ? 'good' : v > 0 ? 'warn' : 'bad'}`} />
    </svg>
  );
}
