import { type FieldError, type Stream, streams } from '../core/index.js';

/**
 * A tenant's sending limits: daily and weekly caps on accepted recipients, sending windows per stream
 * (quiet hours: mail accepted outside its window waits for it, it is not refused), and the
 * recipient-risk policy (disposable-address domains, role accounts). One JSON document per tenant
 * (table `tenant_sending_limits`), set through PATCH /v1/tenant and read by accept.
 */
export type Weekday = 'mon' | 'tue' | 'wed' | 'thu' | 'fri' | 'sat' | 'sun';
export const WEEKDAYS: readonly Weekday[] = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'];

export interface SendingWindow {
  /** IANA time zone the times and days are read in (Europe/Berlin). */
  timezone: string;
  days: Weekday[];
  /** Local opening and closing time, HH:MM; `end` may be 24:00. */
  start: string;
  end: string;
}

export interface SendingLimits {
  /** Recipients accepted per UTC day; null: no cap. */
  dailyCap: number | null;
  /** Recipients accepted per ISO week (Monday 00:00 UTC); null: no cap. */
  weeklyCap: number | null;
  windows: Partial<Record<Stream, SendingWindow>>;
  /** refuse: a recipient at a disposable-address domain fails the send with 422 RECIPIENT_DISPOSABLE. */
  disposable: 'allow' | 'refuse';
  /** flag: role accounts (info@, postmaster@…) are accepted with a warning on the answer. */
  roleAccounts: 'allow' | 'flag';
}

export const defaultSendingLimits = (): SendingLimits => ({
  dailyCap: null,
  weeklyCap: null,
  windows: {},
  disposable: 'allow',
  roleAccounts: 'allow',
});

const HHMM = /^(?:[01]\d|2[0-3]):[0-5]\d$|^24:00$/;

export function validTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return tz.length > 0;
  } catch {
    return false;
  }
}

const isObject = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);

/**
 * Applies a PATCH body (`{ quotas, sending_windows, recipient_risk }`, snake_case as on the wire) to
 * the current limits; field errors carry JSON paths.
 */
export function patchSendingLimits(
  current: SendingLimits,
  body: { quotas?: unknown; sending_windows?: unknown; recipient_risk?: unknown },
): { ok: true; limits: SendingLimits } | { ok: false; errors: FieldError[] } {
  const errors: FieldError[] = [];
  const next: SendingLimits = { ...current, windows: { ...current.windows } };
  const cap = (v: unknown, path: string): number | null | undefined => {
    if (v === undefined) return undefined;
    if (v === null) return null;
    if (typeof v === 'number' && Number.isInteger(v) && v >= 1) return v;
    errors.push({ path, message: 'must be a positive whole number of recipients, or null for no cap' });
    return undefined;
  };
  if (body.quotas !== undefined) {
    if (!isObject(body.quotas)) errors.push({ path: '/quotas', message: 'must be an object with daily and weekly' });
    else {
      const d = cap(body.quotas.daily, '/quotas/daily');
      const w = cap(body.quotas.weekly, '/quotas/weekly');
      if (d !== undefined) next.dailyCap = d;
      if (w !== undefined) next.weeklyCap = w;
    }
  }
  if (body.sending_windows !== undefined) {
    if (!isObject(body.sending_windows)) errors.push({ path: '/sending_windows', message: 'must map a stream to its window (or null)' });
    else {
      for (const [stream, w] of Object.entries(body.sending_windows)) {
        const path = `/sending_windows/${stream}`;
        if (!(streams as readonly string[]).includes(stream)) {
          errors.push({ path, message: `unknown stream; use ${streams.join(', ')}` });
          continue;
        }
        if (w === null) {
          delete next.windows[stream as Stream];
          continue;
        }
        const parsed = parseWindow(w, path, errors);
        if (parsed) next.windows[stream as Stream] = parsed;
      }
    }
  }
  if (body.recipient_risk !== undefined) {
    const r = body.recipient_risk;
    if (!isObject(r)) errors.push({ path: '/recipient_risk', message: 'must be an object with disposable and role_accounts' });
    else {
      if (r.disposable !== undefined) {
        if (r.disposable === 'allow' || r.disposable === 'refuse') next.disposable = r.disposable;
        else errors.push({ path: '/recipient_risk/disposable', message: "must be 'allow' or 'refuse'" });
      }
      if (r.role_accounts !== undefined) {
        if (r.role_accounts === 'allow' || r.role_accounts === 'flag') next.roleAccounts = r.role_accounts;
        else errors.push({ path: '/recipient_risk/role_accounts', message: "must be 'allow' or 'flag'" });
      }
    }
  }
  return errors.length ? { ok: false, errors } : { ok: true, limits: next };
}

function parseWindow(w: unknown, path: string, errors: FieldError[]): SendingWindow | undefined {
  if (!isObject(w)) {
    errors.push({ path, message: 'must be { timezone, days, start, end } or null' });
    return undefined;
  }
  const before = errors.length;
  const timezone = typeof w.timezone === 'string' ? w.timezone : '';
  if (!validTimeZone(timezone)) errors.push({ path: `${path}/timezone`, message: 'must be an IANA time zone such as Europe/Berlin' });
  const days = w.days === undefined ? [...WEEKDAYS] : w.days;
  if (!Array.isArray(days) || !days.length || !days.every((d) => (WEEKDAYS as readonly unknown[]).includes(d)))
    errors.push({ path: `${path}/days`, message: `must be a non-empty list of ${WEEKDAYS.join(', ')}` });
  const start = typeof w.start === 'string' ? w.start : '';
  const end = typeof w.end === 'string' ? w.end : '';
  if (!HHMM.test(start) || start === '24:00') errors.push({ path: `${path}/start`, message: 'must be a local time HH:MM' });
  if (!HHMM.test(end)) errors.push({ path: `${path}/end`, message: 'must be a local time HH:MM (24:00 for midnight)' });
  else if (HHMM.test(start) && end <= start) errors.push({ path: `${path}/end`, message: 'must be after start (same day)' });
  if (errors.length > before) return undefined;
  return { timezone, days: [...new Set(days as Weekday[])], start, end };
}

/** The stored JSON, read leniently: anything unreadable falls back to the defaults. */
export function readSendingLimits(json: string | undefined): SendingLimits {
  if (!json) return defaultSendingLimits();
  try {
    return { ...defaultSendingLimits(), ...(JSON.parse(json) as Partial<SendingLimits>) };
  } catch {
    return defaultSendingLimits();
  }
}

/** The wire form (GET/PATCH /v1/tenant). */
export function sendingLimitsJson(l: SendingLimits) {
  return {
    quotas: { daily: l.dailyCap, weekly: l.weeklyCap },
    sending_windows: l.windows,
    recipient_risk: { disposable: l.disposable, role_accounts: l.roleAccounts },
  };
}

// --- Time-zone arithmetic for windows (Intl only; no library) ------------------------------------

const formatters = new Map<string, Intl.DateTimeFormat>();
function partsIn(tz: string, at: number): { y: number; mo: number; d: number; h: number; mi: number; s: number; wd: Weekday } {
  let f = formatters.get(tz);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone: tz,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
      weekday: 'short',
    });
    formatters.set(tz, f);
  }
  const p = Object.fromEntries(f.formatToParts(new Date(at)).map((x) => [x.type, x.value]));
  return {
    y: Number(p.year),
    mo: Number(p.month),
    d: Number(p.day),
    h: Number(p.hour),
    mi: Number(p.minute),
    s: Number(p.second),
    wd: String(p.weekday).toLowerCase().slice(0, 3) as Weekday,
  };
}

/** The instant of a local wall time in `tz`. A time inside a DST gap lands just after the gap. */
function instantOf(tz: string, y: number, mo: number, d: number, h: number, mi: number): number {
  const wall = Date.UTC(y, mo - 1, d, h, mi);
  let at = wall;
  // Two passes settle the offset on either side of a change (the offset at the guess may differ).
  for (let i = 0; i < 2; i++) {
    const p = partsIn(tz, at);
    const offset = Date.UTC(p.y, p.mo - 1, p.d, p.h, p.mi, p.s) - at;
    at = wall - offset;
  }
  return at;
}

const minutesOf = (hhmm: string) => Number(hhmm.slice(0, 2)) * 60 + Number(hhmm.slice(3, 5));

/**
 * The first instant at or after `at` inside the window: `at` itself when the window is open, else
 * the next opening (looked for over the next 8 local days, which always holds one).
 */
export function nextOpening(w: SendingWindow, at: number): number {
  const p = partsIn(w.timezone, at);
  const now = p.h * 60 + p.mi;
  if (w.days.includes(p.wd) && now >= minutesOf(w.start) && now < minutesOf(w.end)) return at;
  const start = minutesOf(w.start);
  for (let i = 0; i <= 8; i++) {
    // Noon of the local day i days on: never near a DST change, so its date and weekday are right.
    const noon = instantOf(w.timezone, p.y, p.mo, p.d, 12, 0) + i * 86_400_000;
    const q = partsIn(w.timezone, noon);
    if (!w.days.includes(q.wd)) continue;
    if (i === 0 && now >= start) continue;
    return instantOf(w.timezone, q.y, q.mo, q.d, Math.floor(start / 60), start % 60);
  }
  return at;
}
