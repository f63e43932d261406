import { ItemDeriver, type NetworkScope } from '../../common/items/derive.js';
import type { Observation } from '../../common/model.js';
import { DeclaredBaselines, formatDeclaredError, matchRules, parseDeclaredFile, type DeclaredFileStatus, type EffectiveDeclared } from '../baselines/declared.js';
import type { BaselineView } from '../store/queries.js';
import type { Candidate, CandidateEvaluator } from './whatif.js';

/**
 * What-if evaluation with the engine's own item derivation and declared-baseline matching:
 * - an item list allows an observation when it holds one of the item's candidate keys (the exact
 *   key, or the broader prefix / class key a learned baseline may hold);
 * - a declared YAML document (the baselines/ format) allows what its `allow` rules match — in
 *   `extend` mode in addition to the baseline in force — and never what its `deny` rules match.
 */
export function createCandidateEvaluator(scope: NetworkScope): CandidateEvaluator {
  const deriver = new ItemDeriver(scope);
  return {
    compile(_baseline: BaselineView, candidate: Candidate, allowedToday: ReadonlySet<string>) {
      if ('items' in candidate) {
        const allowed = new Set(candidate.items);
        return (obs: Observation) => {
          const item = deriver.derive(obs);
          return deriver.candidateKeys(item).some((k) => allowed.has(k)) ? null : item.key;
        };
      }
      const parsed = parseDeclaredFile('candidate.yaml', candidate.yaml);
      if ('errors' in parsed) throw new Error(parsed.errors.map(formatDeclaredError).join('; '));
      // The candidate is evaluated as this workload's declared baseline: its selectors are not consulted.
      const matching = parsed.baselines;
      if (matching.length === 0) throw new Error('candidate.yaml: no baseline document in it');
      const replace = matching.some((b) => b.mode === 'replace');
      const allow = { processes: matching.flatMap((b) => b.allow.processes), network: matching.flatMap((b) => b.allow.network) };
      const deny = { processes: matching.flatMap((b) => b.deny.processes), network: matching.flatMap((b) => b.deny.network) };
      return (obs: Observation) => {
        const item = deriver.derive(obs);
        if (matchRules(deny, obs, item) !== null) return item.key;
        if (matchRules(allow, obs, item) !== null) return null;
        if (!replace && deriver.candidateKeys(item).some((k) => allowedToday.has(k))) return null;
        return item.key;
      };
    },
  };
}

/** What the API reads of the declared baselines: what applies to a workload, and each file's state. */
export interface DeclaredView {
  forWorkload(w: BaselineView['workload']): EffectiveDeclared;
  status(): DeclaredFileStatus[];
}

/**
 * The declared baselines of the collector's baselines directory read on each call, for an API
 * without the engine's (which the collector passes: it holds the last good content of broken files
 * across restarts). reload() only re-parses files whose text changed.
 */
export class DeclaredReader implements DeclaredView {
  private readonly declared: DeclaredBaselines;

  constructor(dir: string) {
    this.declared = new DeclaredBaselines({ dir });
  }

  forWorkload(w: BaselineView['workload']): EffectiveDeclared {
    this.declared.reload();
    return this.declared.forWorkload(w);
  }

  status(): DeclaredFileStatus[] {
    this.declared.reload();
    return this.declared.status();
  }
}
