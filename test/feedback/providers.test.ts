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

test('knows the main mailbox providers and corporate gateways by their MX hosts', () => {
  const cases: [string, string][] = [
    ['alt1.aspmx.l.google.com', 'gmail'],
    ['smtp.google.com', 'gmail'],
    ['mx1.smtp.goog', 'gmail'],
    ['contoso-com.mail.protection.outlook.com', 'microsoft'],
    ['mx1.eo.outlook.com', 'microsoft'],
    ['mta6.am0.yahoodns.net', 'yahoo'],
    ['mx02.mail.icloud.com', 'apple'],
    ['mx00.emig.gmx.net', 'gmx'],
    ['mx-ha03.web.de', 'gmx'],
    ['smtp-in.orange.fr', 'orange'],
    ['mx1.comcast.net', 'comcast'],
    ['mx.yandex.net', 'yandex'],
    ['mxs.mail.ru', 'mail-ru'],
    ['mx.zoho.com', 'zoho'],
    ['in2-smtp.messagingengine.com', 'fastmail'],
    ['us-smtp-inbound-2.mimecast.com', 'mimecast'],
    ['mx1-us1.ppe-hosted.com', 'proofpoint'],
    ['mx1.hc1234-56.iphmx.com', 'cisco'],
    ['d123.a.ess.barracudanetworks.com', 'barracuda'],
    ['cluster1.eu.messagelabs.com', 'broadcom'],
    ['acme-com.in.tmes.trendmicro.com', 'trend-micro'],
    ['mx-01-eu-west-1.prod.hydra.sophos.com', 'sophos'],
    ['cluster-a.mailcontrol.com', 'forcepoint'],
    ['mx01.hornetsecurity.com', 'hornetsecurity'],
  ];
  for (const [host, key] of cases) assert.equal(providerOf(map, host), key, host);
});

test('knows consumer mail domains when only the recipient address is known', () => {
  const cases: [string, string | undefined][] = [
    ['ada@hotmail.co.uk', 'microsoft'],
    ['ada@outlook.de', 'microsoft'],
    ['ada@aol.com', 'yahoo'],
    ['ada@yahoo.co.jp', 'yahoo'],
    ['ada@me.com', 'apple'],
    ['ada@web.de', 'gmx'],
    ['ada@wanadoo.fr', 'orange'],
    ['ada@ya.ru', 'yandex'],
    ['ada@inbox.ru', 'mail-ru'],
    ['ada@fastmail.fm', 'fastmail'],
    ['ada@example.com', undefined],
    // A label boundary, not a substring: notyahoo.com is not Yahoo.
    ['ada@notyahoo.com', undefined],
  ];
  for (const [address, key] of cases) assert.equal(providerOf(map, address), key, address);
  assert.equal(map.version, '2026.12.1');
});
