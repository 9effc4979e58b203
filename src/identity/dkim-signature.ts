import { createHash, type KeyObject, sign } from 'node:crypto';
import type { DkimAlgorithm } from '../store/index.js';

/**
 * The DKIM-Signature computation (RFC 6376 §3.4, §3.5, §3.7; Ed25519 per RFC 8463 §3), relaxed/relaxed,
 * pure and synchronous so it runs the same inline or in a signing thread.
 *
 * Why not mailauth's `dkimSign` (4.13.3), which the tests use to verify: it parses the PEM private key
 * on every call (OpenSSL 3 makes that ~0.5 ms, as much as the RSA signature itself), streams the message
 * through a Writable with a setImmediate per chunk, and comes to ~2 ms of CPU per 4 KB message
 * against ~0.8 ms here with a cached KeyObject (bench/dkim.ts measures both); and it cannot oversign a
 * header (list a name in h= once more than it occurs). Canonicalisation is the small part below;
 * mailauth's `dkimVerify` checks every signature this file makes in test/identity.
 */

/**
 * Signed when present (RFC 6376 §5.4.1's list, trimmed to what senders set). `from` is required to
 * be signed (§5.4) and is also oversigned: listed once more than it occurs, so a From header added
 * in transit breaks the signature instead of being displayed unsigned (§8.15).
 */
export const signedHeaderNames: readonly string[] = [
  'from',
  'sender',
  'reply-to',
  'to',
  'cc',
  'subject',
  'date',
  'message-id',
  'in-reply-to',
  'references',
  'mime-version',
  'content-type',
  'content-transfer-encoding',
  'list-id',
  'list-unsubscribe',
  'list-unsubscribe-post',
];
export const oversignedHeaderNames: readonly string[] = ['from'];

export interface DkimSigningKey {
  /** d=, an A-label domain name. */
  domain: string;
  /** s= */
  selector: string;
  algorithm: DkimAlgorithm;
  key: KeyObject;
}

export interface DkimSignatureResult {
  /** The DKIM-Signature header fields, each ending in CRLF, to put on top of the message. */
  headers: string;
  signatures: { domain: string; selector: string; algorithm: DkimAlgorithm }[];
}

const CR = 0x0d;
const LF = 0x0a;
const SP = 0x20;
const TAB = 0x09;
const CRLF = Buffer.from('\r\n');

/** Signs `raw` with each key (one body hash shared by all), top-most signature first. */
export function signDkim(raw: Buffer, keys: readonly DkimSigningKey[], timeMs: number): DkimSignatureResult {
  if (!keys.length) return { headers: '', signatures: [] };
  const { fields, bodyStart } = splitHeader(raw);
  const bh = relaxedBodyHash(raw.subarray(bodyStart)).toString('base64');
  const { names, canonical } = selectHeaders(fields);
  const t = Math.floor(timeMs / 1000);
  let headers = '';
  for (const k of keys) {
    const a = k.algorithm === 'ed25519' ? 'ed25519-sha256' : 'rsa-sha256';
    const unsigned = foldTags([
      `v=1`,
      `a=${a}`,
      `c=relaxed/relaxed`,
      `d=${k.domain}`,
      `s=${k.selector}`,
      `t=${t}`,
      `h=${names.join(':')}`,
      `bh=${bh}`,
      'b=',
    ]);
    // RFC 6376 §3.7: the hash covers the signed headers, then this header with an empty b= and no CRLF.
    const data = Buffer.concat([canonical, relaxedHeader(unsigned, false)]);
    const signature =
      k.algorithm === 'ed25519'
        ? sign(null, createHash('sha256').update(data).digest(), k.key) // RFC 8463 §3: PureEdDSA over the SHA-256 hash
        : sign('sha256', data, k.key); // RSASSA-PKCS1-v1_5 with SHA-256 (RFC 6376 §3.3.1)
    headers += `${unsigned}${foldBase64(signature.toString('base64'))}\r\n`;
  }
  return { headers, signatures: keys.map((k) => ({ domain: k.domain, selector: k.selector, algorithm: k.algorithm })) };
}

interface HeaderField {
  /** Lower-cased field name. */
  name: string;
  /** The whole field as sent, folds included, without its final line break (latin1). */
  text: string;
}

/** Header fields in order, and where the body starts (after the first empty line). */
export function splitHeader(raw: Buffer): { fields: HeaderField[]; bodyStart: number } {
  const fields: HeaderField[] = [];
  let i = 0;
  while (i < raw.length) {
    const nl = raw.indexOf(LF, i);
    const end = nl === -1 ? raw.length : nl;
    const lineEnd = end > i && raw[end - 1] === CR ? end - 1 : end;
    const next = nl === -1 ? raw.length : nl + 1;
    if (lineEnd === i) return { fields, bodyStart: next }; // the empty line ends the header (RFC 5322 §2.1)
    const line = raw.toString('latin1', i, lineEnd);
    const last = fields[fields.length - 1];
    if ((raw[i] === SP || raw[i] === TAB) && last) last.text += `\r\n${line}`;
    else {
      const colon = line.indexOf(':');
      fields.push({ name: (colon === -1 ? line : line.slice(0, colon)).replace(/[ \t]+$/, '').toLowerCase(), text: line });
    }
    i = next;
  }
  return { fields, bodyStart: raw.length };
}

/**
 * h= and the canonical header data: each name once per instance, instances taken from the bottom up
 * (RFC 6376 §5.4.2), plus one more for oversigned names, which matches no field and adds nothing.
 */
function selectHeaders(fields: readonly HeaderField[]): { names: string[]; canonical: Buffer } {
  const names: string[] = [];
  const parts: Buffer[] = [];
  for (const name of signedHeaderNames) {
    const instances = fields.filter((f) => f.name === name).reverse();
    for (const f of instances) {
      names.push(name);
      parts.push(relaxedHeader(f.text, true));
    }
    if (instances.length && oversignedHeaderNames.includes(name)) names.push(name);
  }
  return { names, canonical: Buffer.concat(parts) };
}

/**
 * RFC 6376 §3.4.2 relaxed header canonicalisation: lower-case name, unfold, runs of WSP to one SP, no
 * WSP at the ends of the value or around the colon.
 */
export function relaxedHeader(text: string, withCrlf: boolean): Buffer {
  const colon = text.indexOf(':');
  const name = (colon === -1 ? text : text.slice(0, colon)).replace(/[ \t]+$/, '').toLowerCase();
  // WSP is SP and HTAB only (RFC 5234 B.1): String.trim() would also eat 0xA0, a UTF-8 continuation byte.
  const value = (colon === -1 ? '' : text.slice(colon + 1))
    .replace(/\r?\n(?=[ \t])/g, '')
    .replace(/[ \t]+/g, ' ')
    .replace(/^ | $/g, '');
  return Buffer.from(`${name}:${value}${withCrlf ? '\r\n' : ''}`, 'latin1');
}

/**
 * RFC 6376 §3.4.4 relaxed body canonicalisation, hashed as it goes: WSP at line ends removed, runs of
 * WSP made one SP, empty lines at the end dropped, a final CRLF ensured; an empty body hashes as
 * nothing. Bare LF counts as a line end, as it will once the message is on the wire (RFC 5321 §2.3.8).
 */
export function relaxedBodyHash(body: Buffer): Buffer {
  const hash = createHash('sha256');
  let pendingEmpty = 0;
  let i = 0;
  while (i < body.length) {
    const nl = body.indexOf(LF, i);
    const end = nl === -1 ? body.length : nl;
    const lineEnd = end > i && body[end - 1] === CR ? end - 1 : end;
    const line = relaxedLine(body.subarray(i, lineEnd));
    if (line.length === 0) pendingEmpty++;
    else {
      for (; pendingEmpty > 0; pendingEmpty--) hash.update(CRLF);
      hash.update(line);
      hash.update(CRLF);
    }
    i = nl === -1 ? body.length : nl + 1;
  }
  return hash.digest();
}

function relaxedLine(line: Buffer): Buffer {
  let clean = true;
  for (let j = 0; j < line.length; j++) {
    const c = line[j];
    if (c === TAB || (c === SP && (j === line.length - 1 || line[j + 1] === SP || line[j + 1] === TAB))) {
      clean = false;
      break;
    }
  }
  if (clean) return line; // the common case: nothing to change, no copy
  const out = Buffer.allocUnsafe(line.length);
  let n = 0;
  let inWsp = false;
  for (const c of line) {
    if (c === SP || c === TAB) inWsp = true;
    else {
      if (inWsp) out[n++] = SP;
      inWsp = false;
      out[n++] = c;
    }
  }
  return out.subarray(0, n);
}

/**
 * The header up to `b=`, folded before 78 columns (RFC 5322 §2.1.1) at the places RFC 6376 §3.5
 * allows FWS: between tags and after a colon inside h=. Relaxed canonicalisation unfolds it again,
 * so signer and verifier hash the same bytes.
 */
function foldTags(tags: readonly string[]): string {
  let out = 'DKIM-Signature:';
  let col = out.length;
  for (const [idx, tag] of tags.entries()) {
    const pieces = tag.startsWith('h=') ? tag.split(/(?<=:)/) : [tag];
    const sep = idx === tags.length - 1 ? '' : ';';
    for (const [p, piece] of pieces.entries()) {
      const text = piece + (p === pieces.length - 1 ? sep : '');
      const lead = p === 0 ? ' ' : '';
      // b= goes on a line of its own, so the signature folds evenly below it.
      if ((col + lead.length + text.length > 76 || tag === 'b=') && col > 1) {
        out += `\r\n ${text}`;
        col = 1 + text.length;
      } else {
        out += lead + text;
        col += lead.length + text.length;
      }
    }
  }
  return out;
}

/** b= is base64 and may hold FWS anywhere (RFC 6376 §3.5); verifiers strip it. */
function foldBase64(b64: string): string {
  return b64.replace(/.{72}(?=.)/g, '$&\r\n ');
}
