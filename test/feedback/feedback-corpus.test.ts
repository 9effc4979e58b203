import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { type Feedback, loadDefaultProviderMap, loadDefaultRuleset, parseFeedback } from '../../src/feedback/index.js';

const ruleset = loadDefaultRuleset();
const providers = loadDefaultProviderMap();
const dir = new URL('../fixtures/feedback/', import.meta.url);
const read = (name: string) => readFileSync(new URL(name, dir));
const parse = (name: string) => parseFeedback(read(name), { ruleset, providers, filename: name.split('/').pop()! });

interface RecipientExpectation {
  address: string;
  action: string;
  status?: string;
  code?: number;
  category: string;
  hard: boolean;
  rule?: string;
}

interface DsnExpectation {
  vendor: string;
  format: 'rfc3464' | 'heuristic';
  recipients: RecipientExpectation[];
  originalMessageId?: string;
  postwardenId?: string;
  returnPath?: string;
  envelopeId?: string;
}

/** Each bounce fixture and what must be read from it (README.md says where each came from). */
const bounces: Record<string, DsnExpectation> = {
  'rfc3464-postfix.eml': {
    vendor: 'postfix',
    format: 'rfc3464',
    recipients: [{ address: 'alice@example.org', action: 'failed', status: '5.1.1', code: 550, category: 'bad_mailbox', hard: true }],
    originalMessageId: '<msg_01JC0K7Q9V3R6ZP8M2N4T5W7XY@example.com>',
    postwardenId: 'msg_01JC0K7Q9V3R6ZP8M2N4T5W7XY',
    returnPath: 'b+k7Hq2mPx.alice=example.org@bounce.example.com',
    envelopeId: 'msg_01JC0K7Q9V3R6ZP8M2N4T5W7XY',
  },
  'postfix-delayed.eml': {
    vendor: 'postfix',
    format: 'rfc3464',
    recipients: [
      {
        address: 'bob@yahoo.com',
        action: 'delayed',
        status: '4.7.0',
        code: 421,
        category: 'throttling',
        hard: false,
        rule: 'yahoo-deferred-421',
      },
    ],
    postwardenId: 'msg_01JC2ZZ1Q',
  },
  'postfix-expired.eml': {
    vendor: 'postfix',
    format: 'rfc3464',
    recipients: [
      {
        address: 'carol@example.net',
        action: 'failed',
        status: '4.4.1',
        // The last attempt's cause (connection timed out) decides, not the fact that it gave up.
        category: 'transient',
        hard: false,
        rule: 'transient-network',
      },
    ],
  },
  'exim-text.eml': {
    vendor: 'exim',
    format: 'heuristic',
    recipients: [
      { address: 'dave@example.org', action: 'failed', status: '5.1.1', code: 550, category: 'bad_mailbox', hard: true },
      { address: 'erin@example.org', action: 'failed', status: '5.2.2', code: 552, category: 'mailbox_full', hard: false },
    ],
    originalMessageId: '<msg_01JC4BBB@example.com>',
    postwardenId: 'msg_01JC4BBB',
  },
  'sendmail.eml': {
    vendor: 'sendmail',
    format: 'rfc3464',
    recipients: [{ address: 'frank@example.net', action: 'failed', status: '5.1.1', code: 550, category: 'bad_mailbox', hard: true }],
    originalMessageId: '<msg_01JC5CCC@example.com>',
  },
  'qmail.eml': {
    vendor: 'qmail',
    format: 'heuristic',
    recipients: [
      { address: 'grace@example.org', action: 'failed', status: '5.1.1', code: 550, category: 'bad_mailbox', hard: true },
      { address: 'heidi@example.org', action: 'failed', status: '5.1.1', category: 'bad_mailbox', hard: true },
    ],
    postwardenId: 'msg_01JC6DDD',
  },
  'exchange-o365-ndr.eml': {
    vendor: 'exchange',
    format: 'rfc3464',
    recipients: [{ address: 'ivan@contoso.com', action: 'failed', status: '5.1.10', code: 550, category: 'bad_mailbox', hard: true }],
    originalMessageId: '<msg_01JC7EEE@example.com>',
    postwardenId: 'msg_01JC7EEE',
  },
  'exchange-2010-text.eml': {
    vendor: 'exchange',
    format: 'heuristic',
    recipients: [{ address: 'judy@corp.example.org', action: 'failed', status: '5.1.1', code: 550, category: 'bad_mailbox', hard: true }],
    originalMessageId: '<msg_01JC8FFF@example.com>',
    postwardenId: 'msg_01JC8FFF',
  },
  'gmail.eml': {
    vendor: 'gmail',
    format: 'rfc3464',
    recipients: [{ address: 'kim@example.org', action: 'failed', status: '5.1.1', code: 550, category: 'bad_mailbox', hard: true }],
    originalMessageId: '<msg_01JC9GGG@example.com>',
    postwardenId: 'msg_01JC9GGG',
  },
  'yahoo.eml': {
    vendor: 'yahoo',
    format: 'heuristic',
    recipients: [{ address: 'lena@yahoo.com', action: 'failed', code: 554, category: 'bad_mailbox', hard: true, rule: 'yahoo-no-account' }],
    originalMessageId: '<msg_01JCAHHH@example.com>',
  },
  'outlook-com.eml': {
    vendor: 'exchange',
    format: 'rfc3464',
    recipients: [{ address: 'henry@outlook.com', action: 'failed', status: '5.5.0', code: 550, category: 'bad_mailbox', hard: true }],
    originalMessageId: '<msg_01jcoutlook0000000000000000@example.com>',
  },
  'amazon-ses.eml': {
    vendor: 'amazon-ses',
    format: 'rfc3464',
    recipients: [{ address: 'mike@example.net', action: 'failed', status: '5.1.1', code: 550, category: 'bad_mailbox', hard: true }],
    postwardenId: 'msg_01JCBIII',
  },
  'hotmail-legacy.eml': {
    vendor: 'hotmail',
    format: 'heuristic',
    recipients: [{ address: 'nina@hotmail.com', action: 'failed', code: 550, category: 'bad_mailbox', hard: true }],
  },
  'german-bounce.eml': {
    vendor: 'generic',
    format: 'heuristic',
    recipients: [{ address: 'otto@beispiel.de', action: 'failed', status: '5.1.1', code: 550, category: 'bad_mailbox', hard: true }],
    originalMessageId: '<msg_01JCCJJJ@example.com>',
    returnPath: 'b+De00gg.otto=beispiel.de@bounce.example.com',
  },
  'no-dsn-part.eml': {
    vendor: 'generic',
    format: 'heuristic',
    recipients: [{ address: 'paul@example.org', action: 'failed', status: '5.7.1', code: 550, category: 'reputation_block', hard: false }],
    originalMessageId: '<msg_01JCDKKK@example.com>',
  },
  'lotus-domino.eml': {
    vendor: 'lotus-domino',
    format: 'heuristic',
    recipients: [{ address: 'quinn@notes.example.org', action: 'failed', category: 'bad_mailbox', hard: true }],
  },
  'postfix-plain-expanded.eml': {
    vendor: 'postfix',
    format: 'heuristic',
    recipients: [
      { address: 'alice@example.org', action: 'failed', status: '5.2.2', code: 552, category: 'mailbox_full', hard: false },
      { address: 'bob@example.org', action: 'failed', category: 'bad_mailbox', hard: true },
    ],
  },
  'courier.eml': {
    vendor: 'courier',
    format: 'rfc3464',
    recipients: [{ address: 'carl@example.org', action: 'failed', status: '5.0.0', code: 550, category: 'bad_mailbox', hard: true }],
  },
  'mdaemon.eml': {
    vendor: 'mdaemon',
    format: 'heuristic',
    recipients: [{ address: 'dora@example.net', action: 'failed', status: '5.1.1', code: 550, category: 'bad_mailbox', hard: true }],
  },
  'french.eml': {
    vendor: 'generic',
    format: 'heuristic',
    recipients: [{ address: 'eric@exemple.fr', action: 'failed', status: '5.2.2', code: 550, category: 'mailbox_full', hard: false }],
  },
  'exim-retry.eml': {
    vendor: 'exim',
    format: 'heuristic',
    recipients: [{ address: 'fay@example.net', action: 'failed', category: 'expired', hard: false }],
  },
  'icloud.eml': {
    vendor: 'postfix',
    format: 'heuristic',
    recipients: [
      {
        address: 'hal@icloud.com',
        action: 'failed',
        status: '5.7.1',
        code: 554,
        category: 'content_block',
        hard: false,
        rule: 'apple-content-cs01',
      },
    ],
  },
  'groupwise.eml': { vendor: 'groupwise', format: 'heuristic', recipients: [] },
  'mimecast.eml': {
    vendor: 'mimecast',
    format: 'rfc3464',
    recipients: [{ address: 'rita@example.co.uk', action: 'failed', status: '5.0.0', code: 550, category: 'bad_mailbox', hard: true }],
  },
  'amazon-ses-notification.eml': {
    vendor: 'amazon-ses',
    format: 'heuristic',
    recipients: [{ address: 'nora@example.net', action: 'failed', status: '5.1.1', code: 550, category: 'bad_mailbox', hard: true }],
    originalMessageId: '<msg_01JCSES1@example.com>',
    postwardenId: 'msg_01JCSES1',
  },
  'apache-james.eml': {
    vendor: 'apache-james',
    format: 'heuristic',
    recipients: [{ address: 'oscar@james.example.org', action: 'failed', code: 550, category: 'bad_mailbox', hard: true }],
    originalMessageId: '<msg_01JCJAM1@example.com>',
    postwardenId: 'msg_01JCJAM1',
  },
  'kddi-au.eml': {
    vendor: 'kddi',
    format: 'heuristic',
    recipients: [{ address: 'pia@ezweb.ne.jp', action: 'failed', category: 'mailbox_full', hard: false }],
    originalMessageId: '<msg_01JCAU01@example.com>',
  },
  'fml.eml': {
    vendor: 'fml',
    format: 'heuristic',
    recipients: [{ address: 'ml@lists.example.jp', action: 'failed', category: 'policy_block', hard: false }],
    originalMessageId: '<msg_01JCFML1@example.com>',
  },
  'mfilter.eml': {
    vendor: 'mfilter',
    format: 'heuristic',
    recipients: [{ address: 'ren@example.jp', action: 'failed', status: '5.1.1', code: 550, category: 'bad_mailbox', hard: true }],
    originalMessageId: '<msg_01JCMF01@example.com>',
  },
  'exchange-2003.eml': {
    vendor: 'exchange',
    format: 'heuristic',
    recipients: [{ address: 'sam@corp2003.example.org', action: 'failed', status: '5.1.1', category: 'bad_mailbox', hard: true }],
    originalMessageId: '<msg_01JCEX03@example.com>',
    postwardenId: 'msg_01JCEX03',
  },
  'postfix-generic-status.eml': {
    vendor: 'postfix',
    format: 'rfc3464',
    // Status: 5.0.0 in the report, 5.1.1 in the remote's reply: the specific one is reported.
    recipients: [{ address: 'tina@example.org', action: 'failed', status: '5.1.1', code: 550, category: 'bad_mailbox', hard: true }],
    originalMessageId: '<msg_01JCPG01@example.com>',
  },
  'postfix-gave-up-host-not-found.eml': {
    vendor: 'postfix',
    format: 'rfc3464',
    recipients: [
      { address: 'uma@gone.example', action: 'failed', status: '4.4.7', category: 'bad_domain', hard: true, rule: 'domain-not-found' },
    ],
    originalMessageId: '<msg_01JCPN01@example.com>',
  },
  'sendmail-host-unknown.eml': {
    vendor: 'sendmail',
    format: 'heuristic',
    recipients: [{ address: 'vic@nohost.example', action: 'failed', status: '5.1.2', code: 550, category: 'bad_domain', hard: true }],
    originalMessageId: '<msg_01JCSH01@example.com>',
  },
  'google-workspace-empty-status.eml': {
    vendor: 'gmail',
    format: 'heuristic',
    recipients: [{ address: 'wes@example.org', action: 'failed', status: '5.1.1', code: 550, category: 'bad_mailbox', hard: true }],
    originalMessageId: '<msg_01JCGW01@example.com>',
  },
  'exim-delay-warning.eml': {
    vendor: 'exim',
    format: 'heuristic',
    recipients: [{ address: 'xena@example.org', action: 'delayed', category: 'transient', hard: false }],
  },
  'google-french.eml': {
    vendor: 'gmail',
    format: 'heuristic',
    recipients: [{ address: 'yann@exemple.fr', action: 'failed', status: '5.1.1', code: 550, category: 'bad_mailbox', hard: true }],
  },
  'opensmtpd.eml': {
    vendor: 'opensmtpd',
    format: 'heuristic',
    recipients: [{ address: 'zoe@example.org', action: 'failed', category: 'policy_block', hard: false, rule: 'plain-access-denied' }],
    originalMessageId: '<msg_01JCOS01@example.com>',
  },
  'exim-after-data.eml': {
    vendor: 'exim',
    format: 'heuristic',
    // Accepted at RCPT TO, refused after the content: a filter, not a missing mailbox.
    recipients: [
      {
        address: 'yuri@example.org',
        action: 'failed',
        status: '5.1.1',
        code: 550,
        category: 'content_block',
        hard: false,
        rule: 'recipient-refused-after-data',
      },
    ],
    originalMessageId: '<msg_01JCEA01@example.com>',
  },
  'google-groups.eml': {
    vendor: 'gmail',
    format: 'heuristic',
    recipients: [{ address: 'team@example.org', action: 'failed', category: 'policy_block', hard: false }],
  },
};

function expectKind<K extends Feedback['kind']>(f: Feedback, kind: K): Extract<Feedback, { kind: K }> {
  assert.equal(f.kind, kind, f.kind === 'unknown' ? f.reason : JSON.stringify(f.evidence));
  return f as Extract<Feedback, { kind: K }>;
}

describe('bounces', () => {
  test('the corpus has a case for every bounce fixture file', () => {
    assert.deepEqual(readdirSync(new URL('bounces/', dir)).sort(), Object.keys(bounces).sort());
  });

  for (const [file, want] of Object.entries(bounces)) {
    test(`reads ${file} as a ${want.format} DSN from ${want.vendor}`, async () => {
      const f = expectKind(await parse(`bounces/${file}`), 'dsn');
      assert.equal(f.dsn.vendor, want.vendor);
      assert.equal(f.dsn.format, want.format);
      assert.equal(f.dsn.recipients.length, want.recipients.length, JSON.stringify(f.dsn.recipients.map((r) => r.address)));
      want.recipients.forEach((w, i) => {
        const r = f.dsn.recipients[i]!;
        assert.equal(r.address, w.address);
        assert.equal(r.action, w.action);
        if (w.status) assert.equal(r.status, w.status);
        if (w.code) assert.equal(r.reply?.code, w.code);
        assert.equal(r.classification.category, w.category, `${w.address}: rule ${r.classification.ruleId}`);
        assert.equal(r.classification.hard, w.hard);
        assert.equal(r.classification.rulesetVersion, ruleset.version);
        if (w.rule) assert.equal(r.classification.ruleId, w.rule);
      });
      if (want.originalMessageId) assert.equal(f.dsn.original.messageId, want.originalMessageId);
      if (want.postwardenId) assert.equal(f.dsn.original.postwardenHeaders['x-postwarden-message-id'], want.postwardenId);
      if (want.returnPath) assert.equal(f.dsn.original.returnPath, want.returnPath);
      if (want.envelopeId) assert.equal(f.dsn.originalEnvelopeId, want.envelopeId);
      assert.ok(
        f.message.to.some((a) => a.startsWith('b+')),
        'the bounce To (our VERP address) is exposed',
      );
    });
  }

  test('a Gmail DSN names its remote MTA provider and keeps the diagnostic without repeated prefixes', async () => {
    const f = expectKind(await parse('bounces/gmail.eml'), 'dsn');
    const r = f.dsn.recipients[0]!;
    assert.equal(r.provider, 'gmail');
    assert.equal(r.diagnosticType, 'smtp');
    assert.doesNotMatch(r.reply!.text, /550-5\.1\.1/);
    assert.match(r.reply!.text, /does not exist/);
  });

  test('Postfix text keeps the SMTP command a reply answered', async () => {
    const f = expectKind(await parse('bounces/postfix-delayed.eml'), 'dsn');
    assert.equal(f.dsn.recipients[0]!.willRetryUntil, 'Mon, 16 Nov 2026 09:38:02 +0000 (UTC)');
    assert.equal(f.dsn.reportingMta, 'relay.example.net');
  });

  test('a bounce that names no address keeps its classified failure for attribution by VERP', async () => {
    const f = expectKind(await parse('bounces/groupwise.eml'), 'dsn');
    assert.equal(f.dsn.unattributed?.classification.category, 'bad_mailbox');
    assert.match(f.dsn.unattributed?.diagnostic ?? '', /user not found/);
    assert.deepEqual(f.message.to, ['b+x8@bounce.example.com']);
  });

  test('bounces from a mail system that say Auto-Submitted: auto-replied are never auto-replies', async () => {
    for (const file of ['google-french.eml', 'exim-delay-warning.eml', 'google-groups.eml', 'postfix-generic-status.eml'])
      expectKind(await parse(`bounces/${file}`), 'dsn');
  });

  test('a damaged Amazon SES notification yields what it has and never throws', async () => {
    const head = 'From: AWS Notifications <no-reply@sns.amazonaws.com>\nTo: b+x@bounce.example.com\nSubject: AWS Notification Message\n\n';
    const bodies = [
      '{"notificationType":"Bounce","bounce":{"bouncedRecipients":"nobody"},"mail":{"headers":7}}',
      '{"notificationType":"Bounce","bounce":{"bouncedRecipients":[null,{"emailAddress":5},{"emailAddress":"a@example.org","status":null,"diagnosticCode":["x"]}]}}',
      '{"notificationType":"Bounce","bounce":null,"mail":{"commonHeaders":{"messageId":12}}}',
      '{"Type":"Notification","Message":"{not json"}',
      '{"notificationType":"Bounce"',
    ];
    for (const body of bodies) {
      const f = await parseFeedback(head + body, { ruleset });
      assert.ok(['dsn', 'unknown'].includes(f.kind), body);
    }
    const ok = expectKind(await parseFeedback(head + bodies[1], { ruleset }), 'dsn');
    assert.deepEqual(
      ok.dsn.recipients.map((r) => r.address),
      ['a@example.org'],
    );
  });

  test('an empty delivery-status part does not crash; the recipient is read from the text', async () => {
    const f = expectKind(await parse('bounces/google-workspace-empty-status.eml'), 'dsn');
    assert.equal(f.dsn.recipients[0]!.reply?.code, 550);
  });

  test('a DSN without a Diagnostic-Code takes the reply from its human-readable part', async () => {
    const f = expectKind(await parse('bounces/sendmail.eml'), 'dsn');
    assert.equal(f.dsn.recipients[0]!.reply?.text, '<frank@example.net>... User unknown');
    assert.ok(f.evidence.some((e) => /taken from the text/.test(e)));
  });
});

describe('complaints and DMARC failure reports', () => {
  test('reads an ARF abuse report with its complainant, source IP and the original message', async () => {
    const f = expectKind(await parse('arf/arf-abuse.eml'), 'arf');
    assert.equal(f.arf.feedbackType, 'abuse');
    assert.deepEqual(f.arf.originalRcptTo, ['sam@aol.com']);
    assert.equal(f.arf.sourceIp, '198.51.100.7');
    assert.equal(f.arf.userAgent, 'SomeGenerator/1.0');
    assert.equal(f.arf.version, '1');
    assert.equal(f.arf.incidents, 1);
    assert.deepEqual(f.arf.reportedDomains, ['example.com']);
    assert.deepEqual(f.arf.reportedUris, ['https://example.com/deals']);
    assert.equal(f.arf.originalMailFrom, 'b+Ab5usE.sam=aol.com@bounce.example.com');
    assert.equal(f.arf.original.messageId, '<msg_01JCEAAA@example.com>');
    assert.equal(f.arf.original.postwardenHeaders['x-postwarden-message-id'], 'msg_01JCEAAA');
    assert.equal(f.arf.original.returnPath, 'b+Ab5usE.sam=aol.com@bounce.example.com');
  });

  test('reads an ARF opt-out report with returned headers only', async () => {
    const f = expectKind(await parse('arf/arf-opt-out.eml'), 'arf');
    assert.equal(f.arf.feedbackType, 'opt-out');
    assert.equal(f.arf.sourceIp, '198.51.100.8');
    assert.equal(f.arf.original.source, 'text/rfc822-headers');
    assert.equal(f.arf.original.postwardenHeaders['x-postwarden-message-id'], 'msg_01JCEBBB');
  });

  test('reads an opt-out report written into the text as ARF, not as an auto-reply', async () => {
    const f = expectKind(await parse('arf/arf-opt-out-inline.eml'), 'arf');
    assert.equal(f.arf.feedbackType, 'opt-out');
    assert.deepEqual(f.arf.originalRcptTo, ['ada@isp.example.net']);
    assert.equal(f.arf.original.postwardenHeaders['x-postwarden-message-id'], 'msg_01JCOPT2');
  });

  test('report fields in the text make it ARF even when a postmaster address sends it', async () => {
    const raw = read('arf/arf-opt-out-inline.eml').toString('latin1').replace('fbl@isp.example.net', 'postmaster@isp.example.net');
    const f = expectKind(await parseFeedback(Buffer.from(raw, 'latin1'), { ruleset }), 'arf');
    assert.equal(f.arf.feedbackType, 'opt-out');
  });

  test('reads a plain-text DMARC failure report without an ARF part as a DMARC failure report', async () => {
    const f = expectKind(await parse('arf/dmarc-failure-plain.eml'), 'dmarc-failure');
    assert.equal(f.arf.feedbackType, 'auth-failure');
    assert.deepEqual(f.arf.authFailure?.authFailure, ['dmarc']);
    assert.equal(f.arf.authFailure?.deliveryResult, 'reject');
    assert.equal(f.arf.sourceIp, '203.0.113.66');
    assert.deepEqual(f.arf.reportedDomains, ['example.com']);
    assert.equal(f.arf.original.messageId, '<forged-456@phish.example>');
  });

  test('reads an auth-failure report as a DMARC failure report with RFC 6591 fields', async () => {
    const f = expectKind(await parse('arf/dmarc-failure.eml'), 'dmarc-failure');
    assert.deepEqual(f.arf.authFailure, {
      authFailure: ['dmarc'],
      deliveryResult: 'reject',
      dkimDomain: 'phish.example',
      dkimSelector: 's1',
      identityAlignment: 'none',
    });
    assert.deepEqual(f.arf.reportedDomains, ['example.com']);
    assert.equal(f.arf.original.messageId, '<forged-123@phish.example>');
  });
});

describe('DMARC aggregate reports', () => {
  for (const file of ['rfc7489-google.xml', 'google.com!example.com!1762732800!1762819199.xml.gz']) {
    test(`reads the RFC 7489 report ${file}`, async () => {
      const f = expectKind(await parse(`dmarc/${file}`), 'dmarc-aggregate');
      assert.equal(f.reports.length, 1);
      const r = f.reports[0]!;
      assert.equal(r.schema, 'rfc7489');
      assert.equal(r.metadata.orgName, 'google.com');
      assert.deepEqual(r.metadata.dateRange, { begin: 1762732800, end: 1762819199 });
      assert.deepEqual(r.policyPublished, { domain: 'example.com', adkim: 'r', aspf: 'r', p: 'quarantine', sp: 'quarantine', pct: 100 });
      assert.equal(r.records.length, 2);
      assert.deepEqual(r.records[1], {
        sourceIp: '203.0.113.9',
        count: 3,
        disposition: 'quarantine',
        dkim: 'fail',
        spf: 'fail',
        reasons: [{ type: 'local_policy', comment: 'arc=fail' }],
        headerFrom: 'example.com',
        authResults: { dkim: [], spf: [{ domain: 'phish.example', result: 'softfail' }] },
      });
    });
  }

  for (const file of ['dmarcbis.xml', 'receiver.example.net!example.com!1762732800!1762819199.zip', 'attached-zip.eml']) {
    test(`reads the DMARCbis report ${file} with np, testing and discovery_method`, async () => {
      const f = expectKind(await parse(`dmarc/${file}`), 'dmarc-aggregate');
      const r = f.reports[0]!;
      assert.equal(r.schema, 'dmarcbis');
      assert.equal(r.metadata.generator, 'ExampleDMARC 3.1');
      assert.equal(r.policyPublished.np, 'reject');
      assert.equal(r.policyPublished.testing, 'n');
      assert.equal(r.policyPublished.discoveryMethod, 'treewalk');
      assert.deepEqual(r.records[0]!.authResults.spf, [{ domain: 'bounce.example.com', scope: 'mfrom', result: 'fail' }]);
      assert.equal(r.records[0]!.envelopeFrom, 'bounce.example.com');
      assert.equal(r.records[0]!.sourceIp, '2001:db8::25');
    });
  }

  test('tolerates a Latin-1, truncated report with an unescaped ampersand and says what it tolerated', async () => {
    const f = expectKind(await parse('dmarc/malformed-latin1-truncated.xml'), 'dmarc-aggregate');
    const r = f.reports[0]!;
    assert.equal(r.metadata.orgName, 'Télécom & Co');
    assert.equal(r.metadata.reportId, '2026-11-10-example.com');
    assert.equal(r.policyPublished.domain, 'example.com');
    assert.equal(r.records.length, 2);
    assert.deepEqual(
      r.records.map((x) => x.count),
      [10, 2],
    );
    for (const w of ['declared encoding iso-8859-1', 'unescaped ampersand', 'document truncated; incomplete trailing data dropped'])
      assert.ok(r.warnings.includes(w), w);
  });
});

describe('TLS reports', () => {
  for (const file of ['rfc8460.json', 'receiver.example.net!example.com!1762732800!1762819199.json.gz', 'attached-gzip.eml']) {
    test(`reads the RFC 8460 report ${file}`, async () => {
      const f = expectKind(await parse(`tlsrpt/${file}`), 'tls-rpt');
      const r = f.reports[0]!;
      assert.equal(r.organizationName, 'Receiver Example');
      assert.equal(r.reportId, '5065427c-23d3-47ca-b6e0-946ea0e8c4be');
      assert.deepEqual(r.dateRange, { start: '2026-11-10T00:00:00Z', end: '2026-11-10T23:59:59Z' });
      const p = r.policies[0]!;
      assert.equal(p.policyType, 'sts');
      assert.equal(p.policyDomain, 'example.com');
      assert.deepEqual(p.mxHost, ['mx1.example.com']);
      assert.equal(p.totalSuccessfulSessionCount, 5326);
      assert.equal(p.totalFailureSessionCount, 303);
      assert.deepEqual(
        p.failureDetails.map((d) => [d.resultType, d.failedSessionCount]),
        [
          ['certificate-expired', 100],
          ['starttls-not-supported', 200],
          ['validation-failure', 3],
        ],
      );
      assert.equal(p.failureDetails[2]!.failureReasonCode, 'X509_V_ERR_PROXY_PATH_LENGTH_EXCEEDED');
    });
  }
});

describe('auto-replies and everything else', () => {
  const autoReplies: [string, string][] = [
    ['vacation-rfc3834.eml', 'vacation'],
    ['exchange-oof.eml', 'vacation'],
    ['german-abwesenheit.eml', 'vacation'],
  ];
  for (const [file, type] of autoReplies) {
    test(`recognises ${file} as an auto-reply, never a bounce`, async () => {
      const f = expectKind(await parse(`auto-reply/${file}`), 'auto-reply');
      assert.equal(f.autoReply.type, type);
      assert.ok(f.evidence.length > 0);
    });
  }

  test('the auto-reply keeps the id of the message it answers', async () => {
    const f = expectKind(await parse('auto-reply/vacation-rfc3834.eml'), 'auto-reply');
    assert.equal(f.autoReply.inReplyTo, '<msg_01JCECCC@example.com>');
  });

  test("a person's reply is unknown, with a reason", async () => {
    const f = expectKind(await parse('other/human-reply.eml'), 'unknown');
    assert.match(f.reason, /no delivery status/);
  });

  test('empty input and a corrupt archive are unknown with a clear reason', async () => {
    assert.equal(expectKind(await parseFeedback(Buffer.alloc(0), { ruleset }), 'unknown').reason, 'empty input');
    const corrupt = Buffer.from([0x1f, 0x8b, 0x08, 0x00, 1, 2, 3, 4, 5, 6]);
    assert.match(expectKind(await parseFeedback(corrupt, { ruleset }), 'unknown').reason, /unreadable archive/);
  });
});

test('every fixture file has a line in the fixtures README saying where it came from', () => {
  const readme = read('README.md').toString('utf8');
  for (const sub of ['bounces', 'arf', 'dmarc', 'tlsrpt', 'auto-reply', 'other']) {
    for (const file of readdirSync(new URL(`${sub}/`, dir)))
      assert.ok(readme.includes(`\`${file}\``), `${sub}/${file} is not described in README.md`);
  }
});
