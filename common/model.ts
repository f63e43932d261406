/**
 * The canonical model shared by agent and collector.
 *
 * Every source (Tetragon gRPC/JSON, Falco HTTP/gRPC/JSON) is normalised into one of the two
 * observation shapes below. Everything downstream (edge filter, shipping, learning, deviations,
 * alerts, UI) only ever sees these types, never a source's own event format.
 *
 * Conventions:
 * - `time` is the source's own event timestamp in milliseconds since the epoch. Every window in
 *   driftwatch (learning, dedup, grace periods, rate limits) is measured in event time, so that
 *   replaying a recording gives exactly the result of living it.
 * - Unknown is `null`, never 0 or "" (a uid of 0 is root, not "unknown").
 * - IP addresses are normalised: IPv4-mapped IPv6 (`::ffff:a.b.c.d`) is the IPv4 address.
 */

/**
 * The kind of source an observation came from (`tetragon-grpc`, `falco-http`, …). The kinds are
 * listed once, by the agent's source registry (agent/sources/index.ts); everything else takes any
 * kind of this form, so adding a source changes no shared code. The collector only stores the kind
 * as a label, and the form keeps what an agent may send there short and plain.
 */
export type SourceKind = string;
export const SOURCE_KIND_PATTERN = /^[a-z][a-z0-9-]{0,62}$/;
export const isSourceKind = (value: unknown): value is SourceKind => typeof value === 'string' && SOURCE_KIND_PATTERN.test(value);

export const WORKLOAD_KINDS = [
  'Deployment',
  'StatefulSet',
  'DaemonSet',
  'CronJob',
  'Job',
  'ReplicaSet',
  'ReplicationController',
  'DeploymentConfig',
  'Pod',
  /** A process outside any pod: one identity per node (name = node name). */
  'Host',
] as const;
export type WorkloadKind = (typeof WORKLOAD_KINDS)[number];

/** Workloads whose pods run to completion: they learn per run (collector/baselines/runs.ts), not per start-up. */
export function isRunToCompletion(kind: WorkloadKind): boolean {
  return kind === 'Job' || kind === 'CronJob';
}

/**
 * Scope of a baseline: one per workload container. Never per pod or per node, so restarts,
 * rescheduling and scale-out never create a new baseline.
 */
export interface WorkloadId {
  cluster: string;
  namespace: string;
  kind: WorkloadKind;
  name: string;
  container: string;
}

/** How the workload identity was obtained; `inferred` ones came from naming conventions. */
export type IdentitySource = 'source' | 'kubernetes-api' | 'inferred' | 'host';

export interface ImageRef {
  /** As written in the pod spec, e.g. `docker.io/library/nginx:1.27`; null when unknown. */
  name: string | null;
  /** `sha256:…` only (no repository part); null when unknown. */
  digest: string | null;
}

interface ObservationCommon {
  source: SourceKind;
  /** Event time, ms since the epoch (the source's timestamp). */
  time: number;
  workload: WorkloadId;
  identitySource: IdentitySource;
  node: string;
  /** Pod name; null for host processes. */
  pod: string | null;
  /**
   * The run of a run-to-completion workload (Job, CronJob) the pod belongs to: its Job's uid, else
   * its Job's name (common/kube/naming.ts `jobRunOf`); null or absent for other workloads and from
   * older agents (the collector then derives it from the pod name).
   */
  run?: string | null;
  /** Container id without runtime prefix, the first 12 hex characters are the comparable part. */
  containerId: string | null;
  image: ImageRef;
  /** When this container started (ms), when the source tells; feeds the start-up grace period. */
  containerStart: number | null;
  /**
   * True when the process predates the sensor (Tetragon `procFS` flag, or first seen through a
   * later event): such a container's baseline can only be partial.
   */
  preexisting: boolean;
  /**
   * Some text was longer than driftwatch keeps (common/field-limits.ts) and was cut, ending with
   * `…[truncated N bytes]`: in this observation's own fields or in its process's ancestors.
   * Absent in observations stored by older versions (= false).
   */
  truncated?: boolean;
}

/** One element of a process's ancestry, nearest parent first. */
export interface Ancestor {
  exe: string;
  args: string | null;
  pid: number | null;
  /** Tetragon exec_id when known; opaque. */
  execId: string | null;
}

export interface ProcessContext {
  exe: string;
  args: string;
  pid: number | null;
  uid: number | null;
  user: string | null;
  execId: string | null;
  parentExe: string | null;
  /**
   * Ancestor chain up to the container entrypoint (nearest first). Empty when unknown.
   * `lineage` says whether the chain is complete.
   */
  ancestors: Ancestor[];
  lineage: 'complete' | 'partial';
  /**
   * Whether the process descends from the container's PID 1 (false = entered via `kubectl exec`
   * or `docker exec`); null when the source cannot tell.
   */
  inInitTree: boolean | null;
  /**
   * For processes outside the init tree: the exec id (or a stable synthetic id) of the process
   * that entered the container, so one interactive session groups all of its commands.
   */
  sessionId: string | null;
}

export interface ProcessObservation extends ObservationCommon {
  kind: 'process';
  process: ProcessContext;
}

export type NetworkDirection = 'egress' | 'ingress' | 'listen';
export type L4Protocol = 'tcp' | 'udp';

export interface NetworkObservation extends ObservationCommon {
  kind: 'network';
  direction: NetworkDirection;
  protocol: L4Protocol;
  localIp: string | null;
  localPort: number | null;
  /** Null for `listen`. */
  peerIp: string | null;
  peerPort: number | null;
  /** DNS name of the peer when the source provides one (never a reverse lookup). */
  peerName: string | null;
  /** The process that owns the socket. */
  process: ProcessContext;
}

export type Observation = ProcessObservation | NetworkObservation;

/**
 * Why a source's input did not become an observation although it was meant to (the `malformed`
 * count, by reason). A closed set: it labels metrics and health alerts.
 */
export const REJECT_REASONS = [
  /** Not decodable: invalid protobuf or JSON. */
  'undecodable',
  /** Larger than the source accepts (Falco HTTP body, a JSON line). */
  'too-large',
  /** A Falco HTTP post that is not JSON (Falco without `json_output: true`). */
  'not-json',
  /** Decoded, but not an event of the source (not an object, no event at all). */
  'not-an-event',
  /** An exec or connection event without its process (binary / executable path). */
  'missing-process',
  /** A Tetragon exit without the exec id it ends. */
  'missing-exec-id',
  /** A network kprobe without its socket. */
  'missing-socket',
  /** A Falco alert without `output_fields` or `rule`. */
  'missing-fields',
  /** The normaliser failed on this input (a shape it does not expect). */
  'normaliser-error',
] as const;
export type RejectReason = (typeof REJECT_REASONS)[number];

/** Counters a source keeps; shipped periodically to the collector. */
export interface SourceCounters {
  /** Events read from the source. */
  seen: number;
  /** Observations produced. */
  observed: number;
  /** Dropped locally because the baseline already allows them. */
  matchedBaseline: number;
  /** Dropped because a queue was full (back-pressure gave up) or the source lost them. */
  dropped: number;
  /** Could not be decoded or normalised. */
  malformed: number;
  /** Decoded fine but of a kind driftwatch does not use (e.g. file kprobes, k8s_audit). */
  ignored: number;
  /** `malformed` by reason (the counts add up to `malformed`). */
  rejected: Partial<Record<RejectReason, number>>;
  /**
   * Events the sensor itself reported losing before the agent could read them: Falco's kernel
   * drops (`Falco internal: syscall event drop`, `scap.n_drops` of metrics snapshots) and its
   * output queue drops, Tetragon's export rate limit (`rate_limit_info`).
   */
  sensorLost: number;
  /** Events the sensor reported handling over the windows its loss reports cover (0: unknown). */
  sensorEvents: number;
  /** Losses without a count: Tetragon THROTTLE_START (a cgroup's exec/exit events are held back). */
  sensorThrottled: number;
  /** Times the stream from the sensor was lost and came back (Tetragon, Falco gRPC): nothing is replayed. */
  sensorGaps: number;
  /** Milliseconds those gaps lasted in all (from losing the stream to having one again). */
  sensorGapMs: number;
}

export function emptyCounters(): SourceCounters {
  return { seen: 0, observed: 0, matchedBaseline: 0, dropped: 0, malformed: 0, ignored: 0, rejected: {}, sensorLost: 0, sensorEvents: 0, sensorThrottled: 0, sensorGaps: 0, sensorGapMs: 0 };
}

/** A stable, human-readable key of a workload (used for maps, logs and URLs). */
export function workloadKey(w: WorkloadId): string {
  return `${w.cluster}/${w.namespace}/${w.kind}/${w.name}/${w.container}`;
}

export function parseWorkloadKey(key: string): WorkloadId | null {
  const parts = key.split('/');
  if (parts.length !== 5) return null;
  const [cluster, namespace, kind, name, container] = parts as [string, string, string, string, string];
  if (!(WORKLOAD_KINDS as readonly string[]).includes(kind)) return null;
  return { cluster, namespace, kind: kind as WorkloadKind, name, container };
}

/** Normalise an IP address: IPv4-mapped IPv6 becomes IPv4; IPv6 lower-cased. */
export function normaliseIp(ip: string | null | undefined): string | null {
  if (ip === null || ip === undefined || ip === '') return null;
  const lower = ip.toLowerCase();
  if (lower.startsWith('::ffff:') && lower.includes('.')) return lower.slice(7);
  return lower;
}
