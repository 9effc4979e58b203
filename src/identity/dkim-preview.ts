import type { DkimSigner } from './dkim-signer.js';

/**
 * The DKIM-Signature fields a message would carry, without the signature values: the dry run shows
 * what is signed (d=, s=, a=, h=, bh=) and leaves `b=` empty (RFC 6376 §3.5), so the preview can
 * be shared without handing out a valid signature for content that was never sent. Use a signer
 * that does not activate keys (no `activatePending`): a preview changes nothing.
 */
export interface DkimPreview {
  /** The fields with `b=` emptied, each ending in CRLF; '' when the message would go unsigned. */
  headers: string;
  signatures: { domain: string; selector: string; algorithm: string }[];
}

export function createDkimPreview(signer: Pick<DkimSigner, 'sign'>) {
  return async (raw: Buffer, fromDomain: string): Promise<DkimPreview> => {
    const signed = await signer.sign(raw, fromDomain);
    const added = signed.raw.subarray(0, signed.raw.length - raw.length).toString('latin1');
    return { headers: withoutSignatureValues(added), signatures: signed.signatures };
  };
}

/** Empties the `b=` tag of each DKIM-Signature field (it is the last tag the signer writes). */
export function withoutSignatureValues(fields: string): string {
  return fields
    .split(/\r\n(?![ \t])/)
    .filter(Boolean)
    .map((f) => `${f.replace(/([;\s]b=)[\s\S]*$/, '$1')}\r\n`)
    .join('');
}
