import nodemailer from 'nodemailer';

/** What a remote MTA saw when it handed a message to our MX. */
export interface MxDelivery {
  ok: boolean;
  code?: number;
  response?: string;
}

/**
 * Sends raw bytes to the inbound MX on `port` as a remote MTA would: STARTTLS, EHLO mx.example.org,
 * MAIL FROM:<`from`> (the null sender of a bounce unless given). A refusal is an answer, not a throw.
 */
export async function deliverToMx(port: number, to: string | string[], raw: string | Buffer, from = ''): Promise<MxDelivery> {
  const transport = nodemailer.createTransport({
    host: '127.0.0.1',
    port,
    secure: false,
    requireTLS: true,
    tls: { rejectUnauthorized: false },
    name: 'mx.example.org',
  });
  try {
    const info = await transport.sendMail({ envelope: { from, to }, raw });
    return { ok: true, response: info.response };
  } catch (e) {
    const err = e as { responseCode?: number; response?: string };
    return { ok: false, code: err.responseCode, response: err.response };
  } finally {
    transport.close();
  }
}
