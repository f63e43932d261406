import type { Observation } from '../../common/model.js';
import type { Repositories } from '../store/contract.js';
import type { BaselineView } from '../store/queries.js';
import { ApiError } from './errors.js';

export type Candidate = { yaml: string } | { items: string[] };

/**
 * Compiles a candidate baseline into a predicate: the item key an observation would be a
 * deviation for, or null when the candidate allows it. Supplied by the engine (it owns item keys
 * and the declared-baseline format); throws an Error whose message names line and problem.
 */
export interface CandidateEvaluator {
  /** `allowedToday`: the item keys of the baseline in force (what an `extend` candidate adds to). */
  compile(baseline: BaselineView, candidate: Candidate, allowedToday: ReadonlySet<string>): (obs: Observation) => string | null;
}

export interface WhatIfItem {
  itemKey: string;
  kind: string;
  count: number;
  firstSeenMs: number;
  lastSeenMs: number;
  /** Whether the baseline in force allows it (false = a deviation today too). */
  allowedToday: boolean;
  pods: string[];
  /** One line about a sample (exe + args, or peer): attacker-controlled text, escape when shown. */
  sample: string;
}

export interface WhatIfResult {
  fromMs: number;
  toMs: number;
  scanned: number;
  /** True when the observation limit cut the scan short (the oldest ones were read). */
  truncated: boolean;
  deviations: WhatIfItem[];
}

function describe(o: Observation): string {
  if (o.kind === 'process') return `${o.process.exe} ${o.process.args}`.trim();
  const peer = o.peerName ?? o.peerIp ?? '';
  return `${o.direction} ${o.protocol} ${peer}${o.peerPort !== null ? ':' + o.peerPort : o.localPort !== null ? ' port ' + o.localPort : ''} (${o.process.exe})`;
}

/**
 * Which stored observations of the last `days` (event time, ending at the workload's newest
 * observation) the candidate would have turned into deviations, grouped by item.
 */
export async function runWhatIf(
  store: Repositories,
  evaluator: CandidateEvaluator,
  baseline: BaselineView,
  candidate: Candidate,
  days: number,
  maxObservations: number,
): Promise<WhatIfResult> {
  const today = new Set((await store.queries.baselineItems(baseline.id, baseline.version)).map((i) => i.key));
  let verdict: (obs: Observation) => string | null;
  try {
    verdict = evaluator.compile(baseline, candidate, today);
  } catch (err) {
    throw new ApiError('DW_ERR_BAD_BASELINE', (err as Error).message);
  }
  const newest = (await store.observations.newestOf(baseline.workloadId)) ?? 0;
  const fromMs = newest - days * 86_400_000;
  const rows = await store.observations.since(baseline.workloadId, fromMs, maxObservations + 1);
  const truncated = rows.length > maxObservations;
  if (truncated) rows.pop();
  const byKey = new Map<string, WhatIfItem>();
  for (const text of rows) {
    const obs = JSON.parse(text) as Observation;
    const key = verdict(obs);
    if (key === null) continue;
    let e = byKey.get(key);
    if (!e) {
      e = { itemKey: key, kind: obs.kind, count: 0, firstSeenMs: obs.time, lastSeenMs: obs.time, allowedToday: today.has(key), pods: [], sample: describe(obs) };
      byKey.set(key, e);
    }
    e.count += 1;
    e.firstSeenMs = Math.min(e.firstSeenMs, obs.time);
    e.lastSeenMs = Math.max(e.lastSeenMs, obs.time);
    if (obs.pod !== null && e.pods.length < 10 && !e.pods.includes(obs.pod)) e.pods.push(obs.pod);
  }
  return {
    fromMs,
    toMs: newest,
    scanned: rows.length,
    truncated,
    deviations: [...byKey.values()].sort((a, b) => b.count - a.count || a.itemKey.localeCompare(b.itemKey)),
  };
}
