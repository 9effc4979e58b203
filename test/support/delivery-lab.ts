import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import type { Config, DeepPartial } from '../../src/config/index.js';
import type { Store } from '../../src/store/index.js';
import { type DnsTestServer, startDnsServer, type Zone } from './dns-server.js';
import { type SinkBehaviour, type SmtpSink, startSmtpSink } from './smtp-sink.js';

/**
 * A delivery lab on loopback for the delivery engine's system tests: one SMTP sink per recipient
 * domain, a DNS server that gives each domain the MX `mx.<domain>` at 127.0.0.1, and the
 * `delivery.portMap` that sends each MX host's "port 25" to its sink. It also holds the checks the
 * crash and multi-node tests share: what the sinks saw per recipient, the terminal event of each
 * recipient, and bounded waits.
 */
export interface DeliveryLab {
  dns: DnsTestServer;
  /** Recipient domain → its sink. */
  sinks: Map<string, SmtpSink>;
  /** The `dns` and `delivery.portMap` settings that point a platform at the lab. */
  config: { dns: { servers: string[]; timeoutMs: number }; delivery: { portMap: Record<string, number> } };
  /**
   * Writes a config file for `postwarden serve --config` (or POSTWARDEN_CONFIG): the lab's settings
   * merged with `extra` (delivery keys merge; other sections replace). JSON is YAML 1.2, so the
   * file is plain JSON.
   */
  writeConfig(dir: string, extra?: DeepPartial<Config>): string;
}

export async function startDeliveryLab(t: TestContext, destinations: Record<string, SinkBehaviour>): Promise<DeliveryLab> {
  const sinks = new Map<string, SmtpSink>();
  const zone: Zone = {};
  const portMap: Record<string, number> = {};
  for (const [domain, behaviour] of Object.entries(destinations)) {
    const sink = await startSmtpSink(t, behaviour);
    sinks.set(domain, sink);
    zone[domain] = { MX: [{ priority: 10, exchange: `mx.${domain}` }] };
    zone[`mx.${domain}`] = { A: ['127.0.0.1'] };
    portMap[`mx.${domain}`] = sink.port;
  }
  const dns = await startDnsServer(t, zone);
  const config = { dns: { servers: [dns.address], timeoutMs: 1000 }, delivery: { portMap } };
  return {
    dns,
    sinks,
    config,
    writeConfig(dir, extra = {}) {
      const file = join(dir, 'postwarden-lab.yaml');
      const merged = { ...extra, ...config, delivery: { ...extra.delivery, ...config.delivery } };
      writeFileSync(file, JSON.stringify(merged, null, 2));
      return file;
    },
  };
}

/** Lower-cased recipient address → how many times the sinks accepted a message for it. */
export function sinkTally(sinks: Iterable<SmtpSink>): Map<string, number> {
  const seen = new Map<string, number>();
  for (const sink of sinks) {
    for (const m of sink.messages) for (const to of m.to) seen.set(to.toLowerCase(), (seen.get(to.toLowerCase()) ?? 0) + 1);
  }
  return seen;
}

/** Messages the sinks accepted, summed (works in either record mode). */
export function acceptedBy(sinks: Iterable<SmtpSink>): number {
  let n = 0;
  for (const s of sinks) n += s.accepted;
  return n;
}

/**
 * Polls `check` every `intervalMs` until it is true; fails the test with `what` after `timeoutMs`
 * (a function is called then, so the message can tell how far things got).
 */
export async function waitUntil(
  what: string | (() => string),
  check: () => boolean | Promise<boolean>,
  timeoutMs: number,
  intervalMs = 20,
): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (let i = 0; i < Math.ceil(timeoutMs / intervalMs) + 1; i++) {
    if (await check()) return;
    if (Date.now() > until) break;
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  assert.fail(`timed out after ${timeoutMs} ms waiting until ${typeof what === 'function' ? what() : what}`);
}

export interface SendMessage {
  from: string;
  to: string;
  subject: string;
  text: string;
}

/** Sends through `POST /v1/messages/batch`, `batchSize` at a time; returns the accepted messages' ids. */
export async function sendBatches(baseUrl: string, key: string, messages: SendMessage[], batchSize = 500): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < messages.length; i += batchSize) {
    const res = await fetch(`${baseUrl}/v1/messages/batch`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ messages: messages.slice(i, i + batchSize) }),
    });
    const body = (await res.json()) as { messages?: { id?: string }[] };
    assert.equal(res.status, 202, `batch at ${i} was refused: ${JSON.stringify(body).slice(0, 500)}`);
    for (const m of body.messages ?? []) if (m.id) ids.push(m.id);
  }
  return ids;
}

const TERMINAL = new Set(['recipient.delivered', 'recipient.bounced', 'recipient.expired', 'recipient.failed', 'recipient.suppressed']);

export interface TerminalSummary {
  /** Lower-cased address → its one terminal event type. */
  endOf: Map<string, string>;
  /** Recipients with more than one terminal event, with their event types (must stay empty). */
  multiple: string[];
  /** Recipient rows per lower-cased address (each address is used once per run). */
  rows: number;
}

/**
 * Reads every recipient and the spine: each recipient's terminal event, and any recipient that has
 * more than one (a settle that was applied twice).
 */
export async function terminalSummary(store: Store): Promise<TerminalSummary> {
  const events = await store.events.page({ limit: 1_000_000 });
  const byRecipient = new Map<string, { email: string; ends: string[] }>();
  for (const e of events) {
    if (!e.recipientId || !TERMINAL.has(e.type)) continue;
    const entry = byRecipient.get(e.recipientId) ?? { email: String(e.data.email).toLowerCase(), ends: [] };
    entry.ends.push(e.type);
    byRecipient.set(e.recipientId, entry);
  }
  const endOf = new Map<string, string>();
  const multiple: string[] = [];
  for (const [id, { email, ends }] of byRecipient) {
    if (ends.length > 1) multiple.push(`${id} <${email}>: ${ends.join(', ')}`);
    endOf.set(email, ends[0]!);
  }
  return { endOf, multiple, rows: byRecipient.size };
}
