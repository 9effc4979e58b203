import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadDefaultProviderMap, loadProviderMap, providerOf } from '../../src/feedback/index.js';

const map = loadDefaultProviderMap();

test('maps MX hosts to provider keys by label-boundary suffix', () => {
  const cases: [string, string | undefined][] = [
    ['gmail-smtp-in.l.google.com.', 'gmail'],
    ['aspmx.l.google.com', 'gmail'],
    ['example-com.mail.protection.outlook.com', 'microsoft'],
    ['eur.olc.protection.outlook.com', 'microsoft'],
    ['mta7.am0.yahoodns.net', 'yahoo'],
    ['mx01.mail.icloud.com', 'apple'],
    ['mx.zoho.eu', 'zoho'],
    ['mail.protonmail.ch', 'proton'],
    ['in1-smtp.messagingengine.com', 'fastmail'],
    ['eu-smtp-inbound-1.mimecast.com', 'mimecast'],
    ['mx0a-00123401.pphosted.com', 'proofpoint'],
    ['mx.example.org', undefined],
    ['notgoogle.com', undefined],
  ];
  for (const [host, key] of cases) assert.equal(providerOf(map, host), key, host);
});

test('accepts the Remote-MTA and Postfix forms of a host', () => {
  assert.equal(providerOf(map, 'dns; gmail-smtp-in.l.google.com'), 'gmail');
  assert.equal(providerOf(map, 'mta5.am0.yahoodns.net[192.0.2.1]'), 'yahoo');
});

test('rejects a map that gives one host suffix to two providers', () => {
  assert.throws(() => loadProviderMap('providers:\n  a: [example.com]\n  b: [example.com]\n'), /example\.com already belongs to a/);
  assert.throws(() => loadProviderMap('providers:\n  Bad_Key: [example.com]\n'), /kebab-case/);
});
