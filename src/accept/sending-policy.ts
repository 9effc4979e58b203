import { type Clock, type FieldError, isoTime, newEvent, PostwardenError, type Stream } from '../core/index.js';
import type { Store } from '../store/index.js';
import { nextOpening, type SendingLimits } from '../tenants/index.js';

/**
 * The tenant's sending limits applied at accept, after the message is composed and before it is
 * committed (src/tenants/sending-limits.ts holds the settings):
 *
 * 1. Recipient risk. With `recipient_risk.disposable: refuse`, a recipient at a disposable-address
 *    domain (the `disposable-email-domains` list, as list imports use it) refuses the send with 422
 *    RECIPIENT_DISPOSABLE naming the setting, and each refusal is logged. With `role_accounts: flag`,
 *    info@, postmaster@… are accepted with a warning on the answer.
 * 2. Sending windows. A stream with a window sends only inside it, read in its IANA time zone: a
 *    send outside is scheduled for the next opening (its send_at moves), never refused.
 * 3. Quotas. Daily (UTC day) and weekly (from Monday 00:00 UTC) caps on accepted recipients, counted
 *    in the shared `rate_windows` table: a send takes its recipients only if they fit under the cap,
 *    in one statement answering the new total, so concurrent sends and nodes each see a distinct
 *    count, the cap holds exactly, and a refused send never counts (a batch that reaches it mid-way
 *    gets per-message answers). Past the cap: 429 QUOTA_EXCEEDED with the cap,
 *    the count and the reset time. At 80 % and above: a warning on the answer, and the send that
 *    crosses 80 % appends `quota.warning` once per period.
 */
export interface SendingPolicyDeps {
  store: Pick<Store, 'rateWindows' | 'events'>;
  clock: Clock;
  limitsOf(tenantId: string): Promise<SendingLimits>;
  isDisposable(domain: string): boolean;
  roleOf(local: string): string | undefined;
  log?: { info(obj: object, msg: string): void };
}

export interface PolicyInput {
  tenantId: string;
  stream: Stream;
  recipients: string[];
  /** JSON path of the recipient list (`/to`, `/envelope/to`). */
  recipientPath: string;
  sendAt?: number;
}

export interface PolicyTicket {
  /** The time the recipients become due when a window moved it (or the send_at given). */
  sendAt?: number;
  warnings: FieldError[];
  /** Gives back the quota this send took (its commit failed). */
  release(): Promise<void>;
}

const DAY = 86_400_000;
const WARN_AT = 0.8;

/** The UTC day and the week from Monday 00:00 UTC that hold `at`. */
export function quotaPeriods(at: number): { daily: { start: number; end: number }; weekly: { start: number; end: number } } {
  const day = at - (at % DAY);
  const weekday = (new Date(day).getUTCDay() + 6) % 7; // Monday 0
  const week = day - weekday * DAY;
  return { daily: { start: day, end: day + DAY }, weekly: { start: week, end: week + 7 * DAY } };
}

export function createSendingPolicy(deps: SendingPolicyDeps) {
  const { store, clock } = deps;

  function risk(limits: SendingLimits, input: PolicyInput, warnings: FieldError[]): void {
    const refused: FieldError[] = [];
    input.recipients.forEach((address, i) => {
      const at = address.lastIndexOf('@');
      const local = address.slice(0, at);
      const domain = address.slice(at + 1).toLowerCase();
      if (limits.disposable === 'refuse' && deps.isDisposable(domain)) {
        refused.push({
          path: `${input.recipientPath}/${i}`,
          message: `${domain} hands out disposable addresses (recipient_risk.disposable is refuse)`,
        });
        deps.log?.info(
          { tenant: input.tenantId, recipient_domain: domain, setting: 'recipient_risk.disposable', value: 'refuse' },
          'recipient refused: disposable-address domain',
        );
      }
      const role = limits.roleAccounts === 'flag' ? deps.roleOf(local) : undefined;
      if (role)
        warnings.push({
          path: `${input.recipientPath}/${i}`,
          message: `${role}@ is a role account (recipient_risk.role_accounts is flag)`,
        });
    });
    if (refused.length) {
      throw new PostwardenError(
        'RECIPIENT_DISPOSABLE',
        `the send names ${refused.length} recipient(s) at disposable-address domains, which this tenant refuses (setting recipient_risk.disposable)`,
        { errors: refused, setting: 'recipient_risk.disposable' },
      );
    }
  }

  function window(limits: SendingLimits, input: PolicyInput, warnings: FieldError[]): number | undefined {
    const w = limits.windows[input.stream];
    const base = input.sendAt ?? clock.now();
    if (!w) return input.sendAt;
    const open = nextOpening(w, base);
    if (open === base) return input.sendAt;
    warnings.push({
      path: '/send_at',
      message: `outside the ${input.stream} sending window (${w.days.join(',')} ${w.start}-${w.end} ${w.timezone}): scheduled for ${isoTime(open)}`,
    });
    return open;
  }

  async function quotas(limits: SendingLimits, input: PolicyInput, warnings: FieldError[]): Promise<() => Promise<void>> {
    const n = input.recipients.length;
    const now = clock.now();
    const periods = quotaPeriods(now);
    const taken: { key: string; start: number; end: number }[] = [];
    const giveBack = async () => {
      for (const t of taken.splice(0)) await store.rateWindows.increment(t.key, t.start, -n, t.end + DAY);
    };
    for (const period of ['daily', 'weekly'] as const) {
      const cap = period === 'daily' ? limits.dailyCap : limits.weeklyCap;
      if (cap === null || n === 0) continue;
      const { start, end } = periods[period];
      const key = `quota:${period}:${input.tenantId}`;
      const total = await store.rateWindows.take(key, start, n, cap, end + DAY);
      if (total === null) {
        await giveBack();
        const before = await store.rateWindows.count(key, start);
        throw new PostwardenError(
          'QUOTA_EXCEEDED',
          `the tenant's ${period} cap of ${cap} recipients is reached (${before} accepted; this send has ${n}); it resets at ${isoTime(end)}`,
          { period, cap, count: before, requested: n, reset_at: isoTime(end), retryAfter: Math.ceil((end - now) / 1000) },
        );
      }
      taken.push({ key, start, end });
      const before = total - n;
      if (total >= WARN_AT * cap) {
        warnings.push({
          path: '',
          message: `${Math.floor((total / cap) * 100)} % of the ${period} cap used (${total} of ${cap} recipients); it resets at ${isoTime(end)}`,
        });
      }
      if (before < WARN_AT * cap && total >= WARN_AT * cap) {
        await store.events.append(
          [
            newEvent(
              'quota.warning',
              { tenantId: input.tenantId, messageId: null },
              { period, cap, count: total, percent: Math.floor((total / cap) * 100), reset_at: isoTime(end) },
            ),
          ],
          now,
        );
      }
    }
    return giveBack;
  }

  return {
    async check(input: PolicyInput): Promise<PolicyTicket> {
      const limits = await deps.limitsOf(input.tenantId);
      const warnings: FieldError[] = [];
      risk(limits, input, warnings);
      const sendAt = window(limits, input, warnings);
      const release = await quotas(limits, input, warnings);
      return { ...(sendAt !== undefined ? { sendAt } : {}), warnings, release };
    },
  };
}

export type SendingPolicy = ReturnType<typeof createSendingPolicy>;
