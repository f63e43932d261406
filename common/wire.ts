/**
 * The agent↔collector wire: protobufjs types loaded from proto/driftwatch/v1, the grpc-js service
 * definition with protobufjs (de)serialisers, and the Observation ↔ message mapping.
 */
import protobuf from 'protobufjs';
import { join } from 'node:path';
import type { ServiceDefinition } from '@grpc/grpc-js';
import type { EdgeBaseline } from './edge-baseline.js';
import { isSourceKind, WORKLOAD_KINDS, type IdentitySource, type SourceCounters, type Observation, type ProcessContext, type SourceKind, type WorkloadId, type WorkloadKind } from './model.js';
import { clipObservation } from './field-limits.js';
import { PROTO_DIR } from './paths.js';

const root = protobuf.loadSync(join(PROTO_DIR, 'driftwatch', 'v1', 'driftwatch.proto'));
root.resolveAll();
const AgentMessageType = root.lookupType('driftwatch.v1.AgentMessage');
const CollectorMessageType = root.lookupType('driftwatch.v1.CollectorMessage');
const ObservationType = root.lookupType('driftwatch.v1.Observation');

// ---- message shapes (as protobufjs decodes them with keepCase: false → camelCase) ----

export interface WireWorkload {
  cluster: string;
  namespace: string;
  kind: string;
  name: string;
  container: string;
}

export interface WireAncestor {
  exe: string;
  args?: string | null;
  pid?: number | null;
  execId?: string | null;
}

export interface WireProcess {
  exe: string;
  args: string;
  pid?: number | null;
  uid?: number | null;
  user?: string | null;
  execId?: string | null;
  parentExe?: string | null;
  ancestors: WireAncestor[];
  lineagePartial: boolean;
  initTree: number;
  sessionId?: string | null;
}

export interface WireNetwork {
  direction: string;
  protocol: string;
  localIp?: string | null;
  localPort?: number | null;
  peerIp?: string | null;
  peerPort?: number | null;
  peerName?: string | null;
}

export interface WireObservation {
  source: string;
  timeMs: number;
  workload: WireWorkload;
  identitySource: string;
  node: string;
  pod?: string | null;
  run?: string | null;
  containerId?: string | null;
  imageName?: string | null;
  imageDigest?: string | null;
  containerStartMs?: number | null;
  preexisting: boolean;
  process: WireProcess;
  network?: WireNetwork | null;
  truncated?: boolean;
}

export interface WireSourceCounters extends SourceCounters {
  source: string;
  connected: boolean;
  lastEventMs: number;
}

export interface WireEdgeBaseline {
  workload: WireWorkload;
  hash: string;
  phase: string;
  allow: string[];
  learningDedupWindowMs: number;
  alwaysSend: string[];
}

export interface AgentMessage {
  hello?: { node: string; agentVersion: string; sources: string[]; instanceId: string; cluster: string } | null;
  batch?: { seq: number | Long; observations: WireObservation[] } | null;
  counters?: { sources: WireSourceCounters[]; shipDropped: number | Long } | null;
  workloads?: { workloads: WireWorkload[]; hashes?: string[] } | null;
  edgeAck?: { version: number | Long } | null;
}

export interface CollectorMessage {
  ack?: { seq: number | Long } | null;
  snapshot?: { version: number | Long; baselines: WireEdgeBaseline[] } | null;
  delta?: { version: number | Long; upserts: WireEdgeBaseline[]; removed: WireWorkload[] } | null;
}

/** protobufjs represents uint64 as Long when the long package is present, else number. */
export interface Long {
  toNumber(): number;
}

export function toNumber(v: number | Long | null | undefined): number {
  if (v === null || v === undefined) return 0;
  return typeof v === 'number' ? v : v.toNumber();
}

// ---- grpc-js service definition ----

function serialize(type: protobuf.Type) {
  return (value: object): Buffer => Buffer.from(type.encode(value as protobuf.Message).finish());
}

function deserialize<T>(type: protobuf.Type) {
  return (bytes: Buffer): T => type.decode(bytes) as unknown as T;
}

export const INGEST_SERVICE = {
  connect: {
    path: '/driftwatch.v1.Ingest/Connect',
    requestStream: true,
    responseStream: true,
    requestSerialize: serialize(AgentMessageType),
    requestDeserialize: deserialize<AgentMessage>(AgentMessageType),
    responseSerialize: serialize(CollectorMessageType),
    responseDeserialize: deserialize<CollectorMessage>(CollectorMessageType),
  },
} satisfies ServiceDefinition;

export const encodeAgentMessage = serialize(AgentMessageType);
export const decodeAgentMessage = deserialize<AgentMessage>(AgentMessageType);
export const encodeObservationMessage = serialize(ObservationType);
export const decodeObservationMessage = deserialize<WireObservation>(ObservationType);

/**
 * The bytes of `AgentMessage { batch: { seq, observations } }` from observations already encoded
 * one by one (the agent queues them as bytes: compact, and their size is known). Decodes exactly
 * as `encodeAgentMessage({ batch: … })` of the same observations would.
 */
export function encodeBatchMessage(seq: number, observations: readonly Uint8Array[]): Buffer {
  const w = protobuf.Writer.create();
  w.uint32((2 << 3) | 2).fork(); // AgentMessage.batch = 2
  w.uint32(1 << 3).uint64(seq); // ObservationBatch.seq = 1
  for (const o of observations) w.uint32((2 << 3) | 2).bytes(o); // ObservationBatch.observations = 2
  w.ldelim();
  const out = w.finish();
  return Buffer.isBuffer(out) ? out : Buffer.from(out.buffer, out.byteOffset, out.byteLength);
}

// ---- Observation ↔ wire ----

const orUndefined = <T>(v: T | null): T | undefined => (v === null ? undefined : v);

function processToWire(p: ProcessContext): WireProcess {
  return {
    exe: p.exe,
    args: p.args,
    pid: orUndefined(p.pid),
    uid: orUndefined(p.uid),
    user: orUndefined(p.user),
    execId: orUndefined(p.execId),
    parentExe: orUndefined(p.parentExe),
    ancestors: p.ancestors.map((a) => ({ exe: a.exe, args: orUndefined(a.args), pid: orUndefined(a.pid), execId: orUndefined(a.execId) })),
    lineagePartial: p.lineage === 'partial',
    initTree: p.inInitTree === null ? 0 : p.inInitTree ? 1 : 2,
    sessionId: orUndefined(p.sessionId),
  };
}

export function observationToWire(o: Observation): WireObservation {
  const wire: WireObservation = {
    source: o.source,
    timeMs: o.time,
    workload: o.workload,
    identitySource: o.identitySource,
    node: o.node,
    pod: orUndefined(o.pod),
    run: orUndefined(o.run),
    containerId: orUndefined(o.containerId),
    imageName: orUndefined(o.image.name),
    imageDigest: orUndefined(o.image.digest),
    containerStartMs: orUndefined(o.containerStart),
    preexisting: o.preexisting,
    process: processToWire(o.process),
    truncated: o.truncated === true,
  };
  if (o.kind === 'network') {
    wire.network = {
      direction: o.direction,
      protocol: o.protocol,
      localIp: orUndefined(o.localIp),
      localPort: orUndefined(o.localPort),
      peerIp: orUndefined(o.peerIp),
      peerPort: orUndefined(o.peerPort),
      peerName: orUndefined(o.peerName),
    };
  }
  return wire;
}

/** protobufjs leaves unset `optional` fields undefined (or null on some paths): both are "unknown". */
const opt = <T>(v: T | null | undefined): T | null => (v === undefined ? null : v);

export function workloadFromWire(w: WireWorkload | null | undefined): WorkloadId {
  return {
    cluster: w?.cluster ?? '',
    namespace: w?.namespace ?? '',
    kind: (w?.kind ?? 'Pod') as WorkloadKind,
    name: w?.name ?? '',
    container: w?.container ?? '',
  };
}

/**
 * The Observation a wire message describes, with oversized text cut and flagged (the collector
 * keeps what an older or foreign agent sent too long, instead of losing it). Call
 * validateWireObservation first.
 */
export function observationFromWire(w: WireObservation): Observation {
  const p = w.process;
  const process: ProcessContext = {
    exe: p?.exe ?? '',
    args: p?.args ?? '',
    pid: opt(p?.pid),
    uid: opt(p?.uid),
    user: opt(p?.user),
    execId: opt(p?.execId),
    parentExe: opt(p?.parentExe),
    ancestors: (p?.ancestors ?? []).map((a) => ({ exe: a.exe, args: opt(a.args), pid: opt(a.pid), execId: opt(a.execId) })),
    lineage: p?.lineagePartial ? 'partial' : 'complete',
    inInitTree: p?.initTree === 1 ? true : p?.initTree === 2 ? false : null,
    sessionId: opt(p?.sessionId),
  };
  const common = {
    source: w.source as SourceKind,
    time: w.timeMs,
    workload: workloadFromWire(w.workload),
    identitySource: w.identitySource as IdentitySource,
    node: w.node,
    pod: opt(w.pod),
    run: opt(w.run),
    containerId: opt(w.containerId),
    image: { name: opt(w.imageName), digest: opt(w.imageDigest) },
    containerStart: opt(w.containerStartMs),
    preexisting: w.preexisting,
    truncated: w.truncated === true,
    process,
  };
  const n = w.network;
  let o: Observation;
  if (n) {
    o = {
      ...common,
      kind: 'network',
      direction: n.direction as 'egress' | 'ingress' | 'listen',
      protocol: n.protocol as 'tcp' | 'udp',
      localIp: opt(n.localIp),
      localPort: opt(n.localPort),
      peerIp: opt(n.peerIp),
      peerPort: opt(n.peerPort),
      peerName: opt(n.peerName),
    };
  } else o = { ...common, kind: 'process' };
  clipObservation(o);
  return o;
}

export function edgeBaselineToWire(b: EdgeBaseline): WireEdgeBaseline {
  return { workload: b.workload, hash: b.hash, phase: b.phase, allow: b.allow, learningDedupWindowMs: b.learningDedupWindowMs, alwaysSend: b.alwaysSend };
}

export function edgeBaselineFromWire(w: WireEdgeBaseline): EdgeBaseline {
  return {
    workload: workloadFromWire(w.workload),
    hash: w.hash,
    phase: w.phase as EdgeBaseline['phase'],
    allow: w.allow ?? [],
    learningDedupWindowMs: w.learningDedupWindowMs ?? 0,
    alwaysSend: w.alwaysSend ?? [],
  };
}

const IDENTITY_SOURCES: ReadonlySet<string> = new Set(['source', 'kubernetes-api', 'inferred', 'host']);
const KINDS: ReadonlySet<string> = new Set(WORKLOAD_KINDS);
/** No event driftwatch cares about predates this (2000-01-01). */
const OLDEST_EVENT_MS = 946_684_800_000;

/**
 * Why the collector refuses an observation: only what makes it meaningless or would let one agent
 * harm the others. A closed set (the `reason` label of
 * `driftwatch_collector_observations_total{result="invalid"}` and of the health alert). Text that
 * is merely too long is never a reason: observationFromWire cuts and flags it.
 */
export const WIRE_REJECT_REASONS = ['missing-workload', 'bad-workload-kind', 'bad-source', 'bad-event-time', 'missing-process', 'bad-direction', 'bad-protocol'] as const;
export type WireRejectReason = (typeof WIRE_REJECT_REASONS)[number];

/**
 * Validates what an agent sent before it reaches the store: the collector trusts no input. Event
 * times must lie between 2000 and `latestMs` (the collector's clock plus the allowed skew), so one
 * agent with a wrong clock cannot end every learning window in the cluster. A container start out
 * of that range is dropped (unknown: no start-up grace), not the observation.
 */
export function validateWireObservation(w: WireObservation, latestMs: number): WireRejectReason | null {
  const wl = w.workload;
  if (!wl || typeof wl.name !== 'string' || !wl.name) return 'missing-workload';
  if (!KINDS.has(wl.kind)) return 'bad-workload-kind';
  if (!isSourceKind(w.source) || !IDENTITY_SOURCES.has(w.identitySource)) return 'bad-source';
  if (typeof w.timeMs !== 'number' || !Number.isFinite(w.timeMs) || w.timeMs < OLDEST_EVENT_MS || w.timeMs > latestMs) return 'bad-event-time';
  if (w.containerStartMs !== null && w.containerStartMs !== undefined && !(w.containerStartMs >= OLDEST_EVENT_MS && w.containerStartMs <= latestMs)) w.containerStartMs = null;
  const p = w.process;
  if (!p || typeof p.exe !== 'string') return 'missing-process';
  if (w.network && !['egress', 'ingress', 'listen'].includes(w.network.direction)) return 'bad-direction';
  if (w.network && !['tcp', 'udp'].includes(w.network.protocol)) return 'bad-protocol';
  return null;
}
