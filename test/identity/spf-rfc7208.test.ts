import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { parse } from 'yaml';
import { checkSpf, type SpfLimits } from '../../src/identity/index.js';
import { type Zone, type ZoneEntry, zoneResolver } from './zone-resolver.js';

/** The RFC 7208 conformance table in test/fixtures/identity/spf-rfc7208.yaml, one test per case. */
interface FixtureEntry extends Omit<ZoneEntry, 'MX'> {
  MX?: string[];
}

interface FixtureCase {
  name: string;
  spec: string;
  ip: string;
  mailfrom: string;
  helo?: string;
  zone?: Record<string, FixtureEntry>;
  result: string | string[];
  explanation?: string | null;
  lookups?: number;
  voidLookups?: number;
  limits?: Partial<SpfLimits>;
  receiver?: string;
  now?: number;
}

interface Scenario {
  name: string;
  zone: Record<string, FixtureEntry>;
  cases: FixtureCase[];
}

function toZone(fixture: Record<string, FixtureEntry>): Zone {
  const zone: Zone = {};
  for (const [name, entry] of Object.entries(fixture)) {
    const { MX, ...rest } = entry;
    zone[name] = {
      ...rest,
      ...(MX
        ? {
            MX: MX.map((mx) => {
              const [priority, exchange] = mx.split(' ');
              return { priority: Number(priority), exchange: exchange === '.' ? '' : exchange! };
            }),
          }
        : {}),
    };
  }
  return zone;
}

const fixture = parse(readFileSync(new URL('../fixtures/identity/spf-rfc7208.yaml', import.meta.url), 'utf8')) as { scenarios: Scenario[] };

for (const scenario of fixture.scenarios) {
  describe(`RFC 7208: ${scenario.name}`, () => {
    for (const c of scenario.cases) {
      test(`${c.name} (${c.spec})`, async () => {
        const resolver = zoneResolver(toZone({ ...scenario.zone, ...c.zone }));
        const r = await checkSpf(
          { ip: c.ip, mailFrom: c.mailfrom, helo: c.helo ?? 'mail.client.example' },
          {
            resolver,
            limits: c.limits,
            receiver: c.receiver,
            clock: c.now === undefined ? undefined : { now: () => c.now! * 1000 },
          },
        );
        const expected = Array.isArray(c.result) ? c.result : [c.result];
        assert.ok(
          expected.includes(r.result),
          `got ${r.result} (${r.problem ?? ''}), expected ${expected.join('|')}\n${r.trace.join('\n')}`,
        );
        if (c.explanation !== undefined) assert.equal(r.explanation, c.explanation ?? undefined);
        if (c.lookups !== undefined) assert.equal(r.lookups, c.lookups);
        if (c.voidLookups !== undefined) assert.equal(r.voidLookups, c.voidLookups);
      });
    }
  });
}
