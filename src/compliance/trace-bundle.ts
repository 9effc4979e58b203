import { createHash, createPublicKey, verify } from 'node:crypto';
import { canonicalJson } from '../audit/index.js';
import { isoTime, type SpineEvent } from '../core/index.js';
import type { MessageRow, RecipientRow } from '../store/index.js';

/**
 * A message trace as an evidence bundle an investigator can check offline (docs/compliance.md):
 *
 *   { "format": "postwarden-trace-bundle/1",
 *     "manifest": { created_at, tenant_id, query, files: { "trace.json": { sha256, bytes }, "trace.html": … },
 *                   key_id, public_key, public_key_sha256 },
 *     "files": { "trace.json": "<text>", "trace.html": "<text>" },
 *     "signature": "<Ed25519 over the canonical JSON of the manifest, base64>" }
 *
 * The file is written as `JSON.stringify(bundle)` and one newline, and `verifyTraceBundle` insists on
 * exactly that form, so any changed byte fails: in a file (its SHA-256 differs from the manifest),
 * in the manifest (the signature fails), in the signature, or in the framing itself. The key is the
 * platform's Ed25519 key (the one that signs audit checkpoints, RFC 8032); the bundle carries its
 * public half, and an investigator pins it with `--key-sha256` against the value the platform
 * publishes (`postwarden trace key`), since a key inside the bundle alone proves integrity, not origin.
 */
export const TRACE_FORMAT = 'postwarden-trace-bundle/1';

export interface TraceMessage {
  message: MessageRow;
  recipients: RecipientRow[];
  events: SpineEvent[];
}

export interface TraceManifest {
  format: string;
  created_at: string;
  tenant_id: string;
  query: Record<string, unknown>;
  files: Record<string, { sha256: string; bytes: number }>;
  key_id: string;
  public_key: string;
  public_key_sha256: string;
}

export interface TraceBundle {
  format: string;
  manifest: TraceManifest;
  files: Record<string, string>;
  signature: string;
}

const sha256 = (s: string | Buffer) => createHash('sha256').update(s).digest('hex');
export const publicKeySha256 = (spkiBase64: string) => sha256(Buffer.from(spkiBase64, 'base64'));

/** The trace document: each message with its recipients (addresses, states, last replies) and every event. */
export function traceJson(tenantId: string, query: Record<string, unknown>, traces: TraceMessage[], now: number): string {
  const doc = {
    tenant_id: tenantId,
    query,
    generated_at: isoTime(now),
    messages: traces.map((t) => ({
      id: t.message.id,
      from: t.message.from,
      subject: t.message.subject,
      message_id_header: t.message.messageIdHeader,
      stream: t.message.stream,
      source: t.message.source,
      size: t.message.size,
      created_at: isoTime(t.message.createdAt),
      recipients: t.recipients.map((r) => ({
        id: r.id,
        address: r.address,
        state: r.state,
        attempts: r.attempts,
        last_reply: r.lastReply,
        updated_at: isoTime(r.updatedAt),
      })),
      events: t.events.map((e) => ({ id: e.id, cursor: e.cursor, type: e.type, at: e.at, recipient_id: e.recipientId, data: e.data })),
    })),
  };
  return `${JSON.stringify(doc, null, 2)}\n`;
}

const esc = (s: unknown) =>
  String(s ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

/** The same trace for people: one section per message, its recipients and its events in order. */
export function traceHtml(json: string): string {
  const doc = JSON.parse(json) as {
    tenant_id: string;
    generated_at: string;
    query: unknown;
    messages: {
      id: string;
      from: string;
      subject: string;
      created_at: string;
      recipients: Record<string, unknown>[];
      events: Record<string, unknown>[];
    }[];
  };
  const sections = doc.messages
    .map(
      (m) => `<section><h2>${esc(m.id)}: ${esc(m.subject)}</h2><p>From ${esc(m.from)}, accepted ${esc(m.created_at)}</p>
<table><tr><th>Recipient</th><th>State</th><th>Attempts</th><th>Last reply</th></tr>
${m.recipients.map((r) => `<tr><td>${esc(r.address)}</td><td>${esc(r.state)}</td><td>${esc(r.attempts)}</td><td>${esc(JSON.stringify(r.last_reply))}</td></tr>`).join('\n')}
</table>
<table><tr><th>Time</th><th>Event</th><th>Details</th></tr>
${m.events.map((e) => `<tr><td>${esc(e.at)}</td><td>${esc(e.type)}</td><td><code>${esc(JSON.stringify(e.data))}</code></td></tr>`).join('\n')}
</table></section>`,
    )
    .join('\n');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Message trace ${esc(doc.tenant_id)}</title>
<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:4px;text-align:left;vertical-align:top}code{font-size:85%}</style></head>
<body><h1>Message trace</h1><p>Tenant ${esc(doc.tenant_id)}; query <code>${esc(JSON.stringify(doc.query))}</code>; generated ${esc(doc.generated_at)}. The signed manifest beside this page holds its SHA-256.</p>
${sections || '<p>No message matched.</p>'}
</body></html>
`;
}

/** Builds and signs the bundle; answers its file text. */
export function buildTraceBundle(o: {
  tenantId: string;
  query: Record<string, unknown>;
  traces: TraceMessage[];
  now: number;
  signer: { keyId: string; publicKey: string; sign(data: Buffer): string };
}): string {
  const json = traceJson(o.tenantId, o.query, o.traces, o.now);
  const files = { 'trace.json': json, 'trace.html': traceHtml(json) };
  const manifest: TraceManifest = {
    format: TRACE_FORMAT,
    created_at: isoTime(o.now),
    tenant_id: o.tenantId,
    query: o.query,
    files: Object.fromEntries(
      Object.entries(files).map(([name, text]) => [name, { sha256: sha256(text), bytes: Buffer.byteLength(text) }]),
    ),
    key_id: o.signer.keyId,
    public_key: o.signer.publicKey,
    public_key_sha256: publicKeySha256(o.signer.publicKey),
  };
  const bundle: TraceBundle = { format: TRACE_FORMAT, manifest, files, signature: o.signer.sign(Buffer.from(canonicalJson(manifest))) };
  return `${JSON.stringify(bundle)}\n`;
}

export interface TraceVerdict {
  ok: boolean;
  problems: string[];
  keyId?: string;
  publicKeySha256?: string;
  messages?: number;
}

/** Checks a bundle's text offline: framing, every file's hash, the signature, and the pinned key when given. */
export function verifyTraceBundle(text: string, pin?: { keySha256?: string }): TraceVerdict {
  const problems: string[] = [];
  let b: TraceBundle;
  try {
    b = JSON.parse(text) as TraceBundle;
  } catch (e) {
    return { ok: false, problems: [`not JSON: ${(e as Error).message}`] };
  }
  if (`${JSON.stringify(b)}\n` !== text) problems.push('the file is not in the form the platform writes (bytes were changed or added)');
  if (b?.format !== TRACE_FORMAT || typeof b.manifest !== 'object' || !b.manifest || typeof b.files !== 'object' || !b.files) {
    return { ok: false, problems: [...problems, `not a ${TRACE_FORMAT} bundle`] };
  }
  const m = b.manifest;
  const listed = Object.keys(m.files ?? {});
  for (const name of new Set([...listed, ...Object.keys(b.files)])) {
    const text = b.files[name];
    const want = m.files?.[name];
    if (typeof text !== 'string') problems.push(`${name}: listed in the manifest but missing`);
    else if (!want) problems.push(`${name}: not listed in the manifest`);
    else if (sha256(text) !== want.sha256 || Buffer.byteLength(text) !== want.bytes)
      problems.push(`${name}: SHA-256 does not match the manifest`);
  }
  let keySha = '';
  try {
    const key = createPublicKey({ key: Buffer.from(m.public_key, 'base64'), format: 'der', type: 'spki' });
    keySha = publicKeySha256(m.public_key);
    if (keySha !== m.public_key_sha256) problems.push('public_key_sha256 does not match the public key');
    if (!verify(null, Buffer.from(canonicalJson(m)), key, Buffer.from(String(b.signature), 'base64')))
      problems.push('the signature does not match the manifest');
  } catch (e) {
    problems.push(`the public key or signature cannot be read: ${(e as Error).message}`);
  }
  if (pin?.keySha256 && pin.keySha256.toLowerCase() !== keySha) problems.push(`signed by key ${keySha}, not the pinned ${pin.keySha256}`);
  let messages: number | undefined;
  try {
    messages = (JSON.parse(b.files['trace.json'] ?? '') as { messages: unknown[] }).messages.length;
  } catch {
    problems.push('trace.json cannot be read');
  }
  return { ok: problems.length === 0, problems, keyId: m.key_id, publicKeySha256: keySha, ...(messages !== undefined ? { messages } : {}) };
}
