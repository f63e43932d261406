/**
 * What a normaliser needs besides the event, and what it answers.
 *
 * A normaliser turns one source event into at most one Observation, or says why not:
 * - `ignored`: decoded fine but not something driftwatch uses (file kprobes, k8s_audit, Falco
 *   internal messages, tcp_close/tcp_sendmsg, unknown Tetragon event types);
 * - `state`: consumed for the caches only (process_exit; `procFS` execs that announce processes
 *   older than the sensor, which must never be taken for new executions);
 * - `malformed`: not a valid event of the source.
 * It has no I/O: state lives in the lineage cache and the identity resolver it is given.
 */
import type { Observation, ProcessContext, SourceKind } from '../../common/model.js';
import type { LineageCache, ProcessRecord } from '../lineage/cache.js';
import type { WorkloadResolver } from '../identity/resolver.js';

export type Outcome = 'ignored' | 'state' | 'malformed';

export type NormaliseResult = Observation | Outcome;

export interface NormaliseContext {
  source: SourceKind;
  /** `cluster` of the config: the first part of every WorkloadId. */
  cluster: string;
  /** This agent's node: used when the event does not name one. */
  node: string;
  lineage: LineageCache;
  identity: WorkloadResolver;
  /** Event time when the event has none (ms). */
  now?: () => number;
}

/** The process context of an observation, from its lineage record. */
export function processContext(
  ctx: NormaliseContext,
  rec: ProcessRecord,
  uid: number | null,
  user: string | null,
  parentExe: string | null,
): ProcessContext {
  const lineage = ctx.lineage.resolve(rec);
  return {
    exe: rec.exe,
    args: rec.args ?? '',
    pid: rec.pid,
    uid,
    user,
    execId: rec.execId,
    parentExe: parentExe ?? lineage.ancestors[0]?.exe ?? null,
    ancestors: lineage.ancestors,
    lineage: lineage.complete ? 'complete' : 'partial',
    inInitTree: lineage.inInitTree,
    sessionId: lineage.sessionId,
  };
}
