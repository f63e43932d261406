/**
 * What a normaliser needs besides the event, and what it answers.
 *
 * A normaliser turns one source event into at most one Observation, or says why not:
 * - `ignored`: decoded fine but not something driftwatch uses (file kprobes, k8s_audit, Falco
 *   internal messages, tcp_close/tcp_sendmsg, unknown Tetragon event types);
 * - `state`: consumed for the caches only (process_exit; `procFS` execs that announce processes
 *   older than the sensor, which must never be taken for new executions);
 *   Also the sensor's own loss reports (Falco drop alerts and metrics snapshots, Tetragon
 *   rate_limit_info and throttle events): they add to the source's `sensor*` counters;
 * - `malformed`: not a valid event of the source; `reject()` records why (ctx.rejection).
 * It has no I/O: state lives in the lineage cache and the identity resolver it is given.
 *
 * Nothing an observed process controls may make its event disappear: text beyond the limits of
 * common/field-limits.ts is cut with a marker and the observation flagged `truncated` — in the
 * lineage cache already (`remember`), so ancestors are bounded too, and finally in `seal`.
 */
import { clipText, clipObservation, FIELD_LIMITS } from '../../common/field-limits.js';
import type { Observation, ProcessContext, RejectReason, SourceCounters, SourceKind } from '../../common/model.js';
import type { LineageCache, ProcessInfo, ProcessRecord } from '../lineage/cache.js';
import type { IdentityInput, WorkloadResolution, WorkloadResolver } from '../identity/resolver.js';
import type { DnsAnswers } from '../dns/answers.js';

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
  /** The source's counters: loss reports of the sensor add to them. */
  counters?: SourceCounters;
  /** The node's DNS answers (names for egress peers); without it peers have no name. */
  dns?: DnsAnswers;
  /** Why the last `malformed` result was returned (set by `reject`). */
  rejection?: RejectReason;
}

/** A normaliser's `malformed` answer, with the reason recorded for the source's counters. */
export function reject(ctx: NormaliseContext, reason: RejectReason): 'malformed' {
  ctx.rejection = reason;
  return 'malformed';
}

/** Lineage records (and their Ancestor views) whose exe or args were cut. */
const clippedRecords = new WeakSet<object>();
/** Nothing was ever cut: skip the per-ancestor lookups (the common case). */
let anyClipped = false;

/** Caches a process, its text (exe, args, ids) cut to the limits first. */
export function remember(ctx: NormaliseContext, info: ProcessInfo): ProcessRecord {
  const { path, args, id } = FIELD_LIMITS;
  const clipped = info.exe.length > path || (info.args?.length ?? 0) > args || info.key.length > id || (info.execId?.length ?? 0) > id || (info.parentKey?.length ?? 0) > id;
  if (clipped) {
    info.exe = clipText(info.exe, path);
    info.args = clipNullable(info.args, args);
    info.key = clipText(info.key, id);
    info.execId = clipNullable(info.execId, id);
    info.parentKey = clipNullable(info.parentKey, id);
  }
  const rec = ctx.lineage.upsert(info);
  if (clipped) {
    anyClipped = true;
    clippedRecords.add(rec);
    clippedRecords.add(rec.asAncestor);
  }
  return rec;
}

/**
 * Resolves a workload from identity inputs cut to the limits first (the resolver caches by them);
 * a workload resolved from cut inputs is remembered, so its observations are flagged.
 */
export function resolveIdentity(ctx: NormaliseContext, input: IdentityInput): WorkloadResolution {
  const { name, id } = FIELD_LIMITS;
  const clipped =
    input.node.length > name ||
    (input.namespace?.length ?? 0) > name ||
    (input.pod?.length ?? 0) > name ||
    (input.container?.length ?? 0) > name ||
    (input.workload?.length ?? 0) > name ||
    (input.containerId?.length ?? 0) > id;
  if (clipped) {
    input.node = clipText(input.node, name);
    input.namespace = clipNullable(input.namespace, name);
    input.pod = clipNullable(input.pod, name);
    input.container = clipNullable(input.container, name);
    input.workload = clipNullable(input.workload ?? null, name);
    input.containerId = clipNullable(input.containerId, id);
  }
  const resolution = ctx.identity.resolve(input);
  if (clipped) {
    anyClipped = true;
    clippedRecords.add(resolution.workload);
  }
  return resolution;
}

const clipNullable = (v: string | null, max: number): string | null => (v === null ? null : clipText(v, max));

/**
 * The last step of every observation: cuts what is still oversized (names, ids, peer names…) and
 * sets `truncated` when anything about it was cut, in it or in its process's lineage.
 */
export function seal<T extends Observation>(obs: T, rec: ProcessRecord): T {
  let truncated = false;
  if (anyClipped) truncated = clippedRecords.has(rec) || clippedRecords.has(obs.workload) || obs.process.ancestors.some((a) => clippedRecords.has(a));
  obs.truncated = clipObservation(obs) || truncated;
  return obs;
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
