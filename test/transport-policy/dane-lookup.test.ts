import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { createResolver } from '../../src/dns/index.js';
import { daneStateFromLookup, lookupDane, tlsaOwner, tlsaRecordFor } from '../../src/transport-policy/index.js';
import { selfSigned } from '../support/certs.js';
import { startDnsServer } from '../support/dns-server.js';
import { createZoneResolver } from './zone-resolver.js';

const MX = 'mx1.example.com';
const OWNER = '_25._tcp.mx1.example.com';
const tlsa = tlsaRecordFor(selfSigned([MX]).cert, { usage: 3, selector: 1, matchingType: 1 });

describe('DANE state from DNS (RFC 7672 §2.2)', () => {
  test('names the TLSA owner for port 25', () => {
    assert.equal(tlsaOwner('MX1.Example.com.'), OWNER);
    assert.equal(tlsaOwner(MX, 587), '_587._tcp.mx1.example.com');
  });

  test('takes a DNSSEC-validated TLSA answer', () => {
    const state = daneStateFromLookup(
      { kind: 'answer', name: OWNER, type: 'TLSA', records: [tlsa], ttl: 300, authenticated: true },
      { hostSecure: true },
    );
    assert.deepEqual(state, { kind: 'secure', tlsa: [tlsa] });
  });

  test('ignores TLSA records that were not validated', () => {
    const state = daneStateFromLookup(
      { kind: 'answer', name: OWNER, type: 'TLSA', records: [tlsa], ttl: 300, authenticated: false },
      { hostSecure: true },
    );
    assert.equal(state.kind, 'none');
  });

  test('treats NXDOMAIN and NODATA as no DANE', () => {
    for (const kind of ['nxdomain', 'nodata'] as const) {
      assert.equal(daneStateFromLookup({ kind, name: OWNER, type: 'TLSA', authenticated: true }, { hostSecure: true }).kind, 'none');
    }
  });

  test('fails a signed host whose TLSA lookup fails, but not an unsigned one', () => {
    const error = { kind: 'error', name: OWNER, type: 'TLSA', failure: 'servfail', message: 'SERVFAIL' } as const;
    assert.equal(daneStateFromLookup(error, { hostSecure: true }).kind, 'failed');
    assert.equal(daneStateFromLookup(error, { hostSecure: false }).kind, 'none');
  });

  test('does not ask for TLSA when the host address is not validated', async () => {
    const resolver = createZoneResolver({ [MX]: { A: ['192.0.2.1'] }, [OWNER]: { TLSA: [tlsa] } });
    resolver.secure.add(OWNER);
    const state = await lookupDane(resolver, MX);
    assert.equal(state.kind, 'none');
    assert.deepEqual(
      resolver.lookups.map((l) => l.type),
      ['A'],
    );
  });

  test('reads the TLSA RRset of a validated host', async () => {
    const resolver = createZoneResolver({ [MX]: { A: ['192.0.2.1'] }, [OWNER]: { TLSA: [tlsa] } });
    resolver.secure.add(MX);
    resolver.secure.add(OWNER);
    assert.deepEqual(await lookupDane(resolver, MX), { kind: 'secure', tlsa: [tlsa] });
  });

  test('reads TLSA with the AD bit through the loopback DNS server', async (t) => {
    const dns = await startDnsServer(t, { [MX]: { A: ['192.0.2.1'] }, [OWNER]: { TLSA: [tlsa] } }, { authenticated: true });
    const resolver = createResolver({ servers: [dns.address], clock: { now: () => Date.now() }, cache: false, timeoutMs: 1000 });
    const state = await lookupDane(resolver, MX);
    assert.equal(state.kind, 'secure');
    assert.ok(state.kind === 'secure' && state.tlsa[0]?.data.equals(tlsa.data));
  });

  test('fails a validated host when its TLSA query gets SERVFAIL from the loopback DNS server', async (t) => {
    const dns = await startDnsServer(t, { [MX]: { A: ['192.0.2.1'] } }, { authenticated: true, servfail: [OWNER] });
    const resolver = createResolver({ servers: [dns.address], clock: { now: () => Date.now() }, cache: false, timeoutMs: 1000, tries: 1 });
    const state = await lookupDane(resolver, MX);
    assert.equal(state.kind, 'failed');
  });
});
