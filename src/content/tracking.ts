import { createHash } from 'node:crypto';
import { type Actor, type AuditRecorder, auditedChange, unattributed } from '../audit/index.js';
import { type Clock, newEvent, PostwardenError, type Stream } from '../core/index.js';
import type { RecipientRow, Repositories, Store, TrackingSettingsRow } from '../store/index.js';
import { rewriteHtml } from './tracking-html.js';
import { decodeTrackingToken, encodeTrackingToken, type TrackingClaims } from './tracking-token.js';
import { classifyUserAgent, type UserAgentClass } from './user-agent-class.js';

/**
 * Open and click tracking, off unless asked for: per message (`tracking: { opens, clicks }` on the
 * send) or per stream (the tenant's setting). The HTML is rewritten at accept time (tracking-html);
 * the public endpoints GET /t/o/{token}.gif and GET /t/c/{token} verify the signed token
 * (tracking-token) and append `recipient.opened` / `recipient.clicked` to the spine.
 *
 * Counting: one event per recipient, kind and link within `dedupeWindowMs` (a mark in the store
 * that every node shares); later hits inside the window still get the pixel or the redirect.
 * Attribution: the event names the recipient when the message has exactly one (an API send per
 * recipient, which is how bulk and experiment sends are made); a message with several recipients
 * has one body, so its opens and clicks are the message's (recipient_id null).
 * Machine hits are flagged, never dropped: `machine: true` with `machine_reason` apple_proxy, bot,
 * or scanner (a click within `scannerWindowMs` of delivery).
 */
export interface TrackingDeps {
  store: Pick<Store, 'tracking' | 'recipients' | 'events' | 'transaction'>;
  clock: Clock;
  /** Signing key first; older keys after it still verify. */
  keys: readonly Buffer[];
  /** The node's public base URL, used when the tenant has no tracking domain. */
  publicUrl: string;
  dedupeWindowMs: number;
  scannerWindowMs: number;
  /** Records settings changes in the audit log, in the change's transaction. */
  audit?: AuditRecorder;
}

export interface TrackingSettings {
  /** Host name of the tenant's tracking domain (a CNAME to the node), '' for the node's URL. */
  domain: string;
  /** Streams whose messages are tracked when the send does not say. */
  opensStreams: Stream[];
  clicksStreams: Stream[];
}

export interface TrackingChoice {
  opens?: boolean;
  clicks?: boolean;
}

export interface HitContext {
  userAgent?: string;
  ip?: string;
}

const SETTINGS_TTL_MS = 5000;
const SETTINGS_CACHE_SIZE = 10_000;
const HOST = /^(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)+$/;

export function createTracking(deps: TrackingDeps) {
  const { store, clock } = deps;
  const publicBase = deps.publicUrl.replace(/\/+$/, '');

  // Every HTML send reads its tenant's settings: a short cache keeps that off the accept path's
  // queries. A change made on this node applies at once; on other nodes within SETTINGS_TTL_MS.
  const cached = new Map<string, { at: number; settings: TrackingSettings }>();

  async function settings(tenantId: string): Promise<TrackingSettings> {
    const hit = cached.get(tenantId);
    if (hit && clock.now() - hit.at < SETTINGS_TTL_MS && clock.now() >= hit.at) return hit.settings;
    const s = await store.tracking.settings(tenantId);
    const out: TrackingSettings = {
      domain: s?.domain ?? '',
      opensStreams: (s?.opensStreams ?? []) as Stream[],
      clicksStreams: (s?.clicksStreams ?? []) as Stream[],
    };
    if (cached.size >= SETTINGS_CACHE_SIZE) cached.clear();
    cached.set(tenantId, { at: clock.now(), settings: out });
    return out;
  }

  const baseFor = (s: TrackingSettings) => (s.domain ? `https://${s.domain}` : publicBase);

  function verify(token: string, kind: TrackingClaims['kind']): TrackingClaims {
    const d = decodeTrackingToken(token, deps.keys);
    // A forged and an unknown token look the same from outside: there is nothing here.
    if (!d.ok && d.reason === 'bad_mac') throw new PostwardenError('NOT_FOUND', 'This tracking link is not valid.');
    if (!d.ok || d.claims.kind !== kind) throw new PostwardenError('MALFORMED_REQUEST', 'This is not a tracking link of this server.');
    return d.claims;
  }

  async function record(c: TrackingClaims, hit: HitContext): Promise<{ counted: boolean }> {
    const now = clock.now();
    const rows = (await store.recipients.listByMessages([c.messageId])).filter((r) => r.tenantId === c.tenantId);
    if (!rows.length) return { counted: false };
    const one: RecipientRow | undefined = rows.length === 1 ? rows[0] : undefined;
    const key = createHash('sha256')
      .update([c.messageId, one?.id ?? '', c.kind, c.url].join('\n'))
      .digest('base64url');
    if (!(await store.tracking.mark(key, now, deps.dedupeWindowMs))) return { counted: false };
    const uaClass: UserAgentClass = classifyUserAgent(hit.userAgent, hit.ip);
    const deliveredAt = one?.state === 'delivered' ? one.updatedAt : undefined;
    const scanner = c.kind === 'click' && deliveredAt !== undefined && now - deliveredAt <= deps.scannerWindowMs;
    const machineReason: 'apple_proxy' | 'bot' | 'scanner' | null =
      uaClass === 'apple_proxy' ? 'apple_proxy' : uaClass === 'bot' ? 'bot' : scanner ? 'scanner' : null;
    const subject = { tenantId: c.tenantId, messageId: c.messageId, recipientId: one?.id ?? null };
    const seen = {
      email: one?.address ?? null,
      user_agent: hit.userAgent ?? null,
      ua_class: uaClass,
      machine: machineReason !== null,
      machine_reason: machineReason,
      ...(deliveredAt !== undefined ? { seconds_after_delivery: Math.round((now - deliveredAt) / 1000) } : {}),
    };
    const event =
      c.kind === 'click' ? newEvent('recipient.clicked', subject, { ...seen, url: c.url }) : newEvent('recipient.opened', subject, seen);
    await store.events.append([event], now);
    return { counted: true };
  }

  return {
    settings,
    /**
     * Replaces the tracking settings, recorded as `tracking_settings.updated` (as the API shows
     * them) in the same transaction; the same settings (streams in any order) record nothing.
     */
    async setSettings(tenantId: string, s: TrackingSettings, actor: Actor = unattributed): Promise<TrackingSettings> {
      const domain = s.domain.trim().toLowerCase().replace(/\.$/, '');
      if (domain && !HOST.test(domain)) {
        throw new PostwardenError('VALIDATION_FAILED', `${s.domain} is not a host name`, {
          errors: [{ path: '/domain', message: 'must be a host name such as track.example.com, or empty' }],
        });
      }
      const row: TrackingSettingsRow = {
        tenantId,
        domain,
        opensStreams: [...new Set(s.opensStreams)],
        clicksStreams: [...new Set(s.clicksStreams)],
        updatedAt: clock.now(),
      };
      const shown = (x: { domain: string; opensStreams: readonly string[]; clicksStreams: readonly string[] }) => ({
        domain: x.domain,
        opens_streams: [...x.opensStreams].sort(),
        clicks_streams: [...x.clicksStreams].sort(),
      });
      const put = async (tx: Pick<Repositories, 'tracking'>) => {
        const stored = await tx.tracking.settings(tenantId);
        const before = shown(stored ?? { domain: '', opensStreams: [], clicksStreams: [] });
        if (JSON.stringify(before) === JSON.stringify(shown(row))) return { before, changed: false };
        await tx.tracking.setSettings(row);
        return { before, changed: true };
      };
      await auditedChange(deps.audit, store, put, (r) =>
        r.changed
          ? {
              actor,
              tenantId,
              action: 'tracking_settings.updated',
              resource: { type: 'tracking_settings', id: tenantId },
              before: r.before,
              after: shown(row),
            }
          : undefined,
      );
      cached.delete(tenantId);
      return settings(tenantId);
    },

    /**
     * The HTML as it will be stored and sent: unchanged when tracking is off for this message,
     * otherwise with signed click URLs and an open pixel. The send's choice wins over the stream's.
     */
    async rewrite(input: { tenantId: string; messageId: string; stream: Stream; html: string; choice?: TrackingChoice }) {
      const s = await settings(input.tenantId);
      const opens = input.choice?.opens ?? s.opensStreams.includes(input.stream);
      const clicks = input.choice?.clicks ?? s.clicksStreams.includes(input.stream);
      if (!opens && !clicks) {
        // data-pw-track is an instruction to us: it never reaches the recipient, tracked or not.
        const html = /data-pw-track/i.test(input.html) ? rewriteHtml(input.html, {}).html : input.html;
        return { html, opens, clicks, links: [] };
      }
      const base = baseFor(s);
      const token = (kind: TrackingClaims['kind'], url: string) =>
        encodeTrackingToken({ kind, tenantId: input.tenantId, messageId: input.messageId, url }, deps.keys[0]!);
      const r = rewriteHtml(input.html, {
        ...(clicks ? { clickUrl: (url: string) => `${base}/t/c/${token('click', url)}` } : {}),
        ...(opens ? { pixelUrl: `${base}/t/o/${token('open', '')}.gif` } : {}),
        skipPrefixes: [`${publicBase}/v1/unsubscribe/`, `${base}/t/`],
      });
      return { html: r.html, opens, clicks, links: r.links };
    },

    /** An open pixel fetch: verifies, records (once per window), never fails for a valid token. */
    async open(token: string, hit: HitContext): Promise<{ counted: boolean }> {
      return record(verify(token, 'open'), hit);
    },

    /** Drops dedup marks whose window has passed (the scheduled job); returns how many. */
    purgeMarks: () => store.tracking.purgeMarks(clock.now()),

    /** A click: verifies, records (once per window) and gives the signed target to redirect to. */
    async click(token: string, hit: HitContext): Promise<{ url: string; counted: boolean }> {
      const c = verify(token, 'click');
      return { url: c.url, ...(await record(c, hit)) };
    },
  };
}

export type Tracking = ReturnType<typeof createTracking>;
