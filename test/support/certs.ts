/**
 * Certificates for tests: a test CA that issues leaf certificates (valid, for any hostnames, or
 * expired), and plain self-signed ones. Everything is ECDSA P-256 and synchronous, and cached for
 * the life of the process by its arguments, so a suite asking for the same certificate twice pays
 * for one key. Validity uses the real time, because node's TLS stack checks against the real time
 * whatever clock a test injects elsewhere.
 *
 * Synchronous because suites build their certificates at module load. @peculiar/x509's generator
 * (what `src/smtp/certificate.ts` uses) signs through WebCrypto and so is async; here the same
 * library's extension and name classes and its ASN.1 schema (@peculiar/asn1-x509) assemble the
 * RFC 5280 §4.1 structure, and node:crypto's synchronous `sign` signs it.
 */
import 'reflect-metadata';
import type { KeyObject } from 'node:crypto';
import { createHash, generateKeyPairSync, randomBytes, sign } from 'node:crypto';
import { isIP } from 'node:net';
import { AsnConvert } from '@peculiar/asn1-schema';
import {
  AlgorithmIdentifier,
  Certificate,
  Extension,
  Extensions,
  Name,
  SubjectPublicKeyInfo,
  TBSCertificate,
  Validity,
  Version,
} from '@peculiar/asn1-x509';
import * as x509 from '@peculiar/x509';

export interface TestCertificate {
  cert: string;
  key: string;
}

export interface IssuedCertificate extends TestCertificate {
  /** The leaf followed by the CA certificate, as a server configured with its chain would send it. */
  chain: string;
}

export interface TestCa extends TestCertificate {
  name: string;
  /** A leaf signed by this CA. Same arguments, same certificate (cached). */
  issue(opts: { hostnames: string[]; days?: number; expired?: boolean }): IssuedCertificate;
}

const DAY_MS = 86_400_000;
/** ecdsa-with-SHA256, no parameters (RFC 5758 §3.2). */
const ECDSA_SHA256 = new AlgorithmIdentifier({ algorithm: '1.2.840.10045.4.3.2' });
const cas = new Map<string, TestCa>();
const selfSignedCache = new Map<string, TestCertificate>();

interface Party {
  name: x509.JsonName;
  privateKey: KeyObject;
  publicKey: KeyObject;
}

function party(commonName: string): Party {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  return { name: [{ O: ['Postwarden tests'] }, { CN: [commonName] }], privateKey, publicKey };
}

/** RFC 5280 §4.2.1.2 method (1): SHA-1 of the subjectPublicKey bits, as hex. */
function keyId(p: Party): string {
  const spki = AsnConvert.parse(p.publicKey.export({ type: 'spki', format: 'der' }), SubjectPublicKeyInfo);
  return createHash('sha1').update(Buffer.from(spki.subjectPublicKey)).digest('hex');
}

function build(o: { subject: Party; issuer: Party; hostnames: string[]; notBefore: number; notAfter: number; ca?: boolean }): string {
  const F = x509.KeyUsageFlags;
  const usage = o.ca ? F.digitalSignature | F.keyCertSign | F.cRLSign : F.digitalSignature;
  const extensions: x509.Extension[] = [
    new x509.BasicConstraintsExtension(o.ca === true, o.ca ? 0 : undefined, true),
    new x509.KeyUsagesExtension(usage, true),
    new x509.SubjectKeyIdentifierExtension(keyId(o.subject)),
    new x509.AuthorityKeyIdentifierExtension(keyId(o.issuer)),
  ];
  if (o.hostnames.length > 0) {
    const names = o.hostnames.map((h): x509.JsonGeneralName => ({ type: isIP(h) ? 'ip' : 'dns', value: h }));
    extensions.push(new x509.SubjectAlternativeNameExtension(names));
  }
  if (!o.ca) extensions.push(new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth]));
  const serial = randomBytes(16);
  serial[0] = (serial[0]! & 0x7f) | 0x01; // positive and non-zero (RFC 5280 §4.1.2.2)
  const tbs = new TBSCertificate({
    version: Version.v3,
    serialNumber: new Uint8Array(serial).buffer,
    signature: ECDSA_SHA256,
    issuer: AsnConvert.parse(new x509.Name(o.issuer.name).toArrayBuffer(), Name),
    validity: new Validity({ notBefore: new Date(o.notBefore), notAfter: new Date(o.notAfter) }),
    subject: AsnConvert.parse(new x509.Name(o.subject.name).toArrayBuffer(), Name),
    subjectPublicKeyInfo: AsnConvert.parse(o.subject.publicKey.export({ type: 'spki', format: 'der' }), SubjectPublicKeyInfo),
    extensions: new Extensions(extensions.map((e) => AsnConvert.parse(e.rawData, Extension))),
  });
  // node signs ECDSA as a DER ECDSA-Sig-Value, the form X.509 carries (RFC 5758 §3.2).
  const signature = sign('sha256', Buffer.from(AsnConvert.serialize(tbs)), o.issuer.privateKey);
  const der = AsnConvert.serialize(
    new Certificate({ tbsCertificate: tbs, signatureAlgorithm: ECDSA_SHA256, signatureValue: new Uint8Array(signature).buffer }),
  );
  return `${x509.PemConverter.encode(der, 'CERTIFICATE')}\n`;
}

const keyPem = (p: Party): string => p.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();

/** A CA named `name` (its CN); the same name returns the same CA within a process. */
export function createTestCa(name = 'Postwarden Test CA'): TestCa {
  const cached = cas.get(name);
  if (cached) return cached;
  const authority = party(name);
  const now = Date.now();
  const caCert = build({
    subject: authority,
    issuer: authority,
    hostnames: [],
    notBefore: now - DAY_MS,
    notAfter: now + 3650 * DAY_MS,
    ca: true,
  });
  const leaves = new Map<string, IssuedCertificate>();
  const ca: TestCa = {
    name,
    cert: caCert,
    key: keyPem(authority),
    issue({ hostnames, days = 30, expired = false }) {
      const cacheKey = `${hostnames.join(',')}|${days}|${expired}`;
      const hit = leaves.get(cacheKey);
      if (hit) return hit;
      const leaf = party(hostnames[0] ?? 'leaf');
      const t = Date.now();
      // Expired: the whole validity window lies before now, ending a day ago.
      const notAfter = expired ? t - DAY_MS : t + days * DAY_MS;
      const notBefore = expired ? notAfter - days * DAY_MS : t - DAY_MS;
      const cert = build({ subject: leaf, issuer: authority, hostnames, notBefore, notAfter });
      const issued = { cert, key: keyPem(leaf), chain: cert + caCert };
      leaves.set(cacheKey, issued);
      return issued;
    },
  };
  cas.set(name, ca);
  return ca;
}

/** A self-signed leaf for `hostnames` (cached per list). */
export function selfSigned(hostnames: string[] = ['localhost', '127.0.0.1']): TestCertificate {
  const cacheKey = hostnames.join(',');
  const hit = selfSignedCache.get(cacheKey);
  if (hit) return hit;
  const self = party(hostnames[0] ?? 'localhost');
  const now = Date.now();
  const made = {
    cert: build({ subject: self, issuer: self, hostnames, notBefore: now - DAY_MS, notAfter: now + 365 * DAY_MS }),
    key: keyPem(self),
  };
  selfSignedCache.set(cacheKey, made);
  return made;
}
