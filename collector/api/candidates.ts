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
      const { allow, deny, mode } = candidateDeclared(candidate.yaml);
      const replace = mode === 'replace';
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

/**
 * A candidate declared baseline (YAML in the baselines/ format) as the declared baselines in force
 * for the workload it is tried on: its selectors are not consulted; any document in `replace` mode
 * makes it replace what was learned. Throws an Error naming line and problem.
 */
export function candidateDeclared(yaml: string): EffectiveDeclared {
  const parsed = parseDeclaredFile('candidate.yaml', yaml);
  if ('errors' in parsed) throw new Error(parsed.errors.map(formatDeclaredError).join('; '));
  const docs = parsed.baselines;
  if (docs.length === 0) throw new Error('candidate.yaml: no baseline document in it');
  return {
    sources: docs.map((b) => `candidate.yaml#${b.name}`),
    mode: docs.some((b) => b.mode === 'replace') ? 'replace' : 'extend',
    imagePolicy: null,
    allow: { processes: docs.flatMap((b) => b.allow.processes), network: docs.flatMap((b) => b.allow.network) },
    deny: { processes: docs.flatMap((b) => b.deny.processes), network: docs.flatMap((b) => b.deny.network) },
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
