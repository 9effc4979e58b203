import type { DnsRecordData, DnsRecordType, DnsResult, Resolver } from '../dns/index.js';

/**
 * The resolver an audit uses: it asks the configured resolver once per name and type (checks that
 * share a name share the answer), bounds every query with a timeout so one slow name cannot stall
 * the audit, and records each question with its answer. The record is the evidence an auditor reads:
 * "we asked X, the resolver said Y, with or without the AD bit".
 */
export interface RecordedQuery {
  name: string;
  type: DnsRecordType;
  /** answer, nxdomain, nodata or error. */
  outcome: DnsResult<DnsRecordType>['kind'];
  /** Each record in presentation form (TXT as its joined text), sorted. */
  answers: string[];
  /** The AD bit (RFC 4035 §3.2.3) as the configured resolver set it. */
  authenticated: boolean;
  error?: string;
}

export interface RecordingResolver extends Resolver {
  /** Every query asked so far, sorted by name then type (deterministic for digests). */
  recorded(): RecordedQuery[];
}

export function presentRecord(type: DnsRecordType, data: DnsRecordData[DnsRecordType]): string {
  switch (type) {
    case 'MX': {
      const mx = data as DnsRecordData['MX'];
      return `${mx.priority} ${mx.exchange || '.'}`;
    }
    case 'TLSA': {
      const t = data as DnsRecordData['TLSA'];
      return `${t.usage} ${t.selector} ${t.matchingType} ${t.data.toString('hex')}`;
    }
    case 'SOA': {
      const s = data as DnsRecordData['SOA'];
      return `${s.mname} ${s.rname} ${s.serial}`;
    }
    default:
      return String(data);
  }
}

export function createRecordingResolver(base: Resolver, opts: { timeoutMs: number }): RecordingResolver {
  const seen = new Map<string, Promise<DnsResult<DnsRecordType>>>();
  const log = new Map<string, RecordedQuery>();

  async function ask<T extends DnsRecordType>(name: string, type: T): Promise<DnsResult<T>> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<DnsResult<T>>((resolve) => {
      timer = setTimeout(
        () => resolve({ kind: 'error', name, type, failure: 'timeout', message: `no answer within ${opts.timeoutMs} ms` }),
        opts.timeoutMs,
      );
    });
    try {
      return await Promise.race([base.lookup(name, type), timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  return {
    lookup<T extends DnsRecordType>(name: string, type: T): Promise<DnsResult<T>> {
      const normal = name.toLowerCase().replace(/\.$/, '');
      const key = `${normal} ${type}`;
      let pending = seen.get(key);
      if (!pending) {
        pending = ask(normal, type).then((r) => {
          log.set(key, {
            name: normal,
            type,
            outcome: r.kind,
            answers: r.kind === 'answer' ? r.records.map((d) => presentRecord(type, d)).sort() : [],
            authenticated: r.kind !== 'error' && r.authenticated,
            ...(r.kind === 'error' ? { error: `${r.failure}: ${r.message}` } : {}),
          });
          return r as DnsResult<DnsRecordType>;
        });
        seen.set(key, pending);
      }
      return pending as Promise<DnsResult<T>>;
    },
    describe: () => base.describe(),
    recorded: () => [...log.values()].sort((a, b) => (a.name === b.name ? a.type.localeCompare(b.type) : a.name.localeCompare(b.name))),
  };
}
