import type { SpfRecordAnalysis } from '../identity/index.js';
import { serviceFor } from './known-senders.js';

/**
 * Who may send as the domain, read from its SPF tree: each include or redirect target (a known
 * service by name, or the target domain), and the domain's own address mechanisms. `mechanism` is
 * the term that authorizes it and `via` the chain of records it was found through.
 */
export interface AuthorizedSender {
  service: string;
  /** The included domain, or the record's own domain for address mechanisms. */
  domain: string;
  mechanism: string;
  via: string[];
  known: boolean;
}

const QUERYING = /^[+\-~?]?(include:|redirect=)/i;

export function senderInventory(tree: SpfRecordAnalysis, max = 100): AuthorizedSender[] {
  const out: AuthorizedSender[] = [];
  const visit = (node: SpfRecordAnalysis, via: string[]) => {
    for (const t of node.terms) {
      if (out.length >= max) return;
      if (QUERYING.test(t.term)) {
        const target = t.child?.domain ?? t.term.replace(QUERYING, '');
        const service = serviceFor(target);
        out.push({
          service: service ?? target,
          domain: target,
          mechanism: t.term,
          via: [...via, node.domain],
          known: service !== undefined,
        });
        // A known service's own includes are its business; an unknown one's are listed too.
        if (!service && t.child) visit(t.child, [...via, node.domain]);
      } else if (/^[+~?]?(ip4:|ip6:|a\b|mx\b|exists:)/i.test(t.term) && via.length === 0) {
        out.push({ service: `${node.domain} (own servers)`, domain: node.domain, mechanism: t.term, via: [node.domain], known: false });
      }
    }
  };
  visit(tree, []);
  return out;
}
