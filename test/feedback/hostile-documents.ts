/**
 * Hostile feedback, built in memory by each test (never committed as binary fixtures): deflate
 * streams that inflate far past what their zip entry declares, archives nested ten deep, DMARC
 * reports with more records than anyone sends, and MIME messages with too many or too deeply nested
 * parts. Synthesised from RFC 1951 §3.2.6 (fixed Huffman codes), APPNOTE.TXT §4.3 and RFC 2046 §5.1.
 */
import { gzipSync } from 'node:zlib';
import { deflateSync } from 'fflate';

/** LSB-first bit writer (RFC 1951 §3.1.1); Huffman codes go in MSB-first. */
function bitWriter() {
  const bytes: number[] = [];
  let cur = 0;
  let n = 0;
  const bit = (b: number) => {
    cur |= b << n;
    if (++n === 8) {
      bytes.push(cur);
      cur = 0;
      n = 0;
    }
  };
  return {
    bits(value: number, count: number) {
      for (let i = 0; i < count; i++) bit((value >> i) & 1);
    },
    code(value: number, count: number) {
      for (let i = count - 1; i >= 0; i--) bit((value >> i) & 1);
    },
    done: () => Uint8Array.from(n ? [...bytes, cur] : bytes),
  };
}

/**
 * A raw deflate stream of about `bytes` zero bytes: one fixed-Huffman block, a literal 0, then
 * copies of 258 bytes at distance 1 (13 bits each, the best ratio deflate has). Eight copies are
 * exactly 13 bytes, so the middle of the stream is one 13-byte period repeated.
 */
export function zerosDeflate(bytes: number): Uint8Array {
  const w = bitWriter();
  w.bits(1, 1); // BFINAL
  w.bits(1, 2); // BTYPE 01: fixed Huffman
  w.code(0x30, 8); // literal 0
  for (let i = 0; i < 16; i++) {
    w.code(0b11000101, 8); // length code 285: 258 bytes
    w.code(0, 5); // distance code 0: distance 1
  }
  w.code(0, 7); // end of block
  const small = w.done();
  const repeats = Math.max(0, Math.floor((bytes - 1 - 16 * 258) / (8 * 258)));
  const period = small.subarray(2, 15);
  const out = new Uint8Array(small.length + repeats * 13);
  out.set(small.subarray(0, 2), 0);
  for (let i = 0; i < repeats; i++) out.set(period, 2 + i * 13);
  out.set(small.subarray(2), 2 + repeats * 13);
  return out;
}

/** Size `zerosDeflate(bytes)` really inflates to. */
export function zerosDeflateSize(bytes: number): number {
  return 1 + 258 * (16 + 8 * Math.max(0, Math.floor((bytes - 1 - 16 * 258) / (8 * 258))));
}

/** A zip of deflated entries, each declaring whatever size it is given (APPNOTE.TXT §4.3.7, §4.3.12). */
export function zipDeclaring(entries: { name: string; deflated: Uint8Array; declaredSize: number }[]): Uint8Array {
  const chunks: Uint8Array[] = [];
  const central: Uint8Array[] = [];
  let offset = 0;
  for (const e of entries) {
    const name = new TextEncoder().encode(e.name);
    const local = new DataView(new ArrayBuffer(30));
    local.setUint32(0, 0x04034b50, true);
    local.setUint16(4, 20, true);
    local.setUint16(8, 8, true); // deflate
    local.setUint32(18, e.deflated.length, true);
    local.setUint32(22, e.declaredSize, true);
    local.setUint16(26, name.length, true);
    const cd = new DataView(new ArrayBuffer(46));
    cd.setUint32(0, 0x02014b50, true);
    cd.setUint16(4, 20, true);
    cd.setUint16(6, 20, true);
    cd.setUint16(10, 8, true);
    cd.setUint32(20, e.deflated.length, true);
    cd.setUint32(24, e.declaredSize, true);
    cd.setUint16(28, name.length, true);
    cd.setUint32(42, offset, true);
    chunks.push(new Uint8Array(local.buffer), name, e.deflated);
    central.push(new Uint8Array(cd.buffer), name);
    offset += 30 + name.length + e.deflated.length;
  }
  const cdSize = central.reduce((n, c) => n + c.length, 0);
  const end = new DataView(new ArrayBuffer(22));
  end.setUint32(0, 0x06054b50, true);
  end.setUint16(8, entries.length, true);
  end.setUint16(10, entries.length, true);
  end.setUint32(12, cdSize, true);
  end.setUint32(16, offset, true);
  return Buffer.concat([...chunks, ...central, new Uint8Array(end.buffer)]);
}

/** One entry that declares 1,000 bytes and inflates to about `inflatesTo` zero bytes. */
export function lyingZip(inflatesTo: number): Uint8Array {
  return zipDeclaring([{ name: 'report.xml', deflated: zerosDeflate(inflatesTo), declaredSize: 1000 }]);
}

/**
 * The lying zip inside an honest one, as a reporter's archive might hold another: the outer entry
 * tells the truth, so only the inner one's lie is left to catch, and the whole is a few kilobytes.
 */
export function wrappedLyingZip(inflatesTo: number): Uint8Array {
  const inner = lyingZip(inflatesTo);
  return zipDeclaring([{ name: 'report.zip', deflated: deflateSync(inner, { level: 9 }), declaredSize: inner.length }]);
}

/**
 * Zips nested `depth` deep, every level honest about its own sizes but holding, next to the level
 * below, a `wrappedLyingZip`: whichever way a reader walks the tree, it meets a lie on every level.
 */
export function nestedLyingZip(depth: number, inflatesTo: number): Uint8Array {
  const sibling = wrappedLyingZip(inflatesTo);
  let z = sibling;
  for (let i = 1; i < depth; i++) {
    z = zipDeclaring([
      { name: `report${i}.zip`, deflated: deflateSync(sibling, { level: 9 }), declaredSize: sibling.length },
      { name: `layer${i}.zip`, deflated: deflateSync(z, { level: 9 }), declaredSize: z.length },
    ]);
  }
  return z;
}

/**
 * A DMARC aggregate report with `records` records, gzipped. The records are one record repeated
 * (Buffer.fill), so even 100,000 of them (60 MB of XML) cost the test no JavaScript heap.
 */
export function bigDmarcReportGz(records: number, reportId = 'big-1', nowSec = Math.floor(Date.now() / 1000)): Buffer {
  const head = Buffer.from(
    `<?xml version="1.0" encoding="UTF-8"?>\n<feedback><report_metadata><org_name>big.example.net</org_name><email>dmarc@big.example.net</email><report_id>${reportId}</report_id><date_range><begin>${nowSec - 86400}</begin><end>${nowSec}</end></date_range></report_metadata><policy_published><domain>example.com</domain><p>none</p></policy_published>\n`,
  );
  const record = Buffer.from(
    '<record><row><source_ip>198.51.100.7</source_ip><count>1</count><policy_evaluated><disposition>none</disposition><dkim>fail</dkim><spf>fail</spf></policy_evaluated></row><identifiers><header_from>example.com</header_from><envelope_from>example.com</envelope_from></identifiers><auth_results><dkim><domain>example.com</domain><selector>s1</selector><result>fail</result></dkim><spf><domain>example.com</domain><scope>mfrom</scope><result>fail</result></spf></auth_results></record>\n',
  );
  const tail = Buffer.from('</feedback>\n');
  const xml = Buffer.alloc(head.length + record.length * records + tail.length);
  head.copy(xml, 0);
  if (records > 0) xml.fill(record, head.length, head.length + record.length * records);
  tail.copy(xml, head.length + record.length * records);
  return gzipSync(xml, { level: 1 });
}

/** A report mail as reporters send them: multipart/mixed with the payload base64 as an attachment. */
export function reportMail(payload: Uint8Array, filename: string, contentType: string, to = 'dmarc@pw.test'): Buffer {
  const b64 = Buffer.from(payload).toString('base64').replace(/.{76}/g, '$&\r\n');
  return Buffer.from(
    [
      'From: noreply-dmarc@receiver.example.net',
      `To: ${to}`,
      'Subject: Report domain: example.com Submitter: receiver.example.net',
      'Message-ID: <hostile-report@receiver.example.net>',
      'MIME-Version: 1.0',
      'Content-Type: multipart/mixed; boundary="b1"',
      '',
      '--b1',
      'Content-Type: text/plain',
      '',
      'DMARC aggregate report.',
      '--b1',
      `Content-Type: ${contentType}; name="${filename}"`,
      'Content-Transfer-Encoding: base64',
      `Content-Disposition: attachment; filename="${filename}"`,
      '',
      b64,
      '--b1--',
      '',
    ].join('\r\n'),
  );
}

/** multipart/mixed with `parts` small text parts. */
export function manyPartsMail(parts: number): Buffer {
  const lines = [
    'From: a@example.net',
    'To: dmarc@pw.test',
    'Subject: parts',
    'MIME-Version: 1.0',
    'Content-Type: multipart/mixed; boundary="p"',
    '',
  ];
  for (let i = 0; i < parts; i++) lines.push('--p', 'Content-Type: text/plain', '', `part ${i}`);
  lines.push('--p--', '');
  return Buffer.from(lines.join('\r\n'));
}

/** multiparts nested `depth` deep, each with its own boundary. */
export function deepMail(depth: number): Buffer {
  const head = [
    'From: a@example.net',
    'To: dmarc@pw.test',
    'Subject: deep',
    'MIME-Version: 1.0',
    'Content-Type: multipart/mixed; boundary="d0"',
    '',
  ];
  const open: string[] = [];
  const close: string[] = [];
  for (let i = 0; i < depth; i++) {
    open.push(`--d${i}`, `Content-Type: multipart/mixed; boundary="d${i + 1}"`, '');
    close.unshift(`--d${i}--`);
  }
  return Buffer.from(
    [...head, ...open, `--d${depth}`, 'Content-Type: text/plain', '', 'bottom', `--d${depth}--`, ...close, ''].join('\r\n'),
  );
}
