/**
 * Tetragon `GetEventsResponse` → Observation. One mapping for both encodings: the object that
 * protobufjs decodes from the gRPC stream (keepCase) and the protojson object of a JSON line
 * (`tetra getevents -o json`, the export file). The types below describe what both have in
 * common; values.ts hides where they differ (wrappers, timestamps, 64-bit ints, null vs absent).
 *
 * | event | result |
 * |---|---|
 * | process_exec | process observation; with the `procFS` flag: lineage only, container marked pre-existing |
 * | process_exit | lineage only (the record stays resolvable for a grace period) |
 * | process_kprobe `tcp_connect` | egress (`args[].sock_arg`: saddr:sport local, daddr:dport remote) |
 * | process_kprobe `inet_csk_accept` (return probe) | ingress (`return.sock_arg`) |
 * | process_kprobe `tcp_set_state` SYN_RECV → ESTABLISHED (upstream tcp-accept policy) | ingress |
 * | process_kprobe `inet_csk_listen_start` | listen |
 * | process_kprobe `udp_sendmsg` / `udpv6_sendmsg` on a connected socket | UDP egress (an unconnected socket has no peer in `sock_arg`: ignored) |
 * | process_kprobe `udp_recvmsg` / `udpv6_recvmsg` with a `bytes_arg` (DNS answers, port 53) | names for the workload's later egress peers (agent/dns) |
 * | other kprobes (tcp_close, tcp_sendmsg, file hooks…) | ignored (their process still feeds lineage) |
 * | rate_limit_info, process_throttle | the sensor's own loss reports (sensor-loss.ts) |
 * | anything else | ignored |
 */
import { normaliseIp, type ImageRef, type L4Protocol, type NetworkDirection, type Observation } from '../../common/model.js';
import type { ProcessRecord } from '../lineage/cache.js';
import type { WorkloadResolution } from '../identity/resolver.js';
import { processContext, reject, remember as rememberProcess, resolveIdentity, seal, type NormaliseContext, type NormaliseResult } from './context.js';
import { tetragonLossReport, type TgRateLimitInfo, type TgThrottle } from './sensor-loss.js';
import {
  imageDigest,
  stripRuntimePrefix,
  timestampToMs,
  unwrapBool,
  unwrapU32,
  type LongLike,
  type TimestampLike,
  type Wrapped,
} from './values.js';

type Str = string | null | undefined;

export interface TgImage {
  id?: Str;
  name?: Str;
}
export interface TgContainer {
  id?: Str;
  name?: Str;
  image?: TgImage | null;
  start_time?: TimestampLike;
  pid?: Wrapped<number>;
}
export interface TgPod {
  namespace?: Str;
  name?: Str;
  container?: TgContainer | null;
  pod_labels?: Record<string, string> | null;
  workload?: Str;
  workload_kind?: Str;
}
export interface TgProcess {
  exec_id?: Str;
  pid?: Wrapped<number>;
  uid?: Wrapped<number>;
  binary?: Str;
  arguments?: Str;
  flags?: Str;
  start_time?: TimestampLike;
  pod?: TgPod | null;
  docker?: Str;
  parent_exec_id?: Str;
  user?: { name?: Str } | null;
  in_init_tree?: Wrapped<boolean>;
}
export interface TgSock {
  family?: Str;
  protocol?: Str;
  saddr?: Str;
  daddr?: Str;
  sport?: number | null;
  dport?: number | null;
  cookie?: string | number | LongLike | null;
  state?: Str;
}
export interface TgKprobeArg {
  sock_arg?: TgSock | null;
  int_arg?: number | null;
  /** base64 in protojson, bytes from the gRPC decoder. */
  bytes_arg?: string | Uint8Array | null;
}
export interface TgExec {
  process?: TgProcess | null;
  parent?: TgProcess | null;
  ancestors?: readonly TgProcess[] | null;
}
export interface TgKprobe extends TgExec {
  function_name?: Str;
  args?: readonly TgKprobeArg[] | null;
  return?: TgKprobeArg | null;
}
export interface TetragonEvent {
  process_exec?: TgExec | null;
  process_exit?: TgExec | null;
  process_kprobe?: TgKprobe | null;
  process_throttle?: TgThrottle | null;
  rate_limit_info?: TgRateLimitInfo | null;
  node_name?: Str;
  time?: TimestampLike;
}

const TCP_ESTABLISHED = 1;

export function normaliseTetragon(ev: TetragonEvent, ctx: NormaliseContext): NormaliseResult {
  if (ev === null || typeof ev !== 'object') return reject(ctx, 'not-an-event');
  const node = ev.node_name || ctx.node;
  const exec = ev.process_exec;
  if (exec) return onExec(ev, exec, node, ctx);
  const kprobe = ev.process_kprobe;
  if (kprobe) return onKprobe(ev, kprobe, node, ctx);
  const exit = ev.process_exit;
  if (exit) {
    const p = exit.process;
    if (!p?.exec_id) return reject(ctx, 'missing-exec-id');
    known(exit, p, ctx);
    ctx.lineage.exit(p.exec_id);
    return 'state';
  }
  if (ev.rate_limit_info || ev.process_throttle) return tetragonLossReport(ev.rate_limit_info, ev.process_throttle, ctx);
  // Other event types (tracepoints, LSM, enterprise-only connect events…) are not used.
  return ev.node_name || ev.time ? 'ignored' : reject(ctx, 'not-an-event');
}

function onExec(ev: TetragonEvent, exec: TgExec, node: string, ctx: NormaliseContext): NormaliseResult {
  const p = exec.process;
  if (!p || typeof p.binary !== 'string' || p.binary === '') return reject(ctx, 'missing-process');
  const ancestors = exec.ancestors;
  if (ancestors) for (let i = ancestors.length - 1; i >= 0; i--) rememberOther(ancestors[i]!, ctx);
  const unknownParent = exec.parent ? rememberOther(exec.parent, ctx) : null;
  const procFs = isProcFs(p);
  const rec = remember(p, ctx, !procFs, procFs);
  if (procFs) {
    // Announced by Tetragon's start-up /proc scan: the process predates the sensor.
    ctx.lineage.markContainerPreexisting(rec.containerId);
    return 'state';
  }
  // A parent inside the same container that we never saw start: the container ran before us.
  if (unknownParent && unknownParent.containerId !== null && unknownParent.containerId === rec.containerId) {
    ctx.lineage.markContainerPreexisting(rec.containerId);
  }
  const identity = identityOf(p, node, ctx);
  return seal(
    {
      kind: 'process',
      ...common(ev, p, node, identity, rec, ctx, ctx.lineage.isContainerPreexisting(rec.containerId)),
      process: processContext(ctx, rec, unwrapU32(p.uid), p.user?.name || null, exec.parent?.binary || null),
    },
    rec,
  );
}

function onKprobe(ev: TetragonEvent, kp: TgKprobe, node: string, ctx: NormaliseContext): NormaliseResult {
  const p = kp.process;
  if (!p || typeof p.binary !== 'string' || p.binary === '') return reject(ctx, 'missing-process');
  const rec = known(kp, p, ctx);
  let direction: NetworkDirection;
  let sock: TgSock | null | undefined;
  switch (kp.function_name) {
    case 'tcp_connect':
      direction = 'egress';
      sock = firstSock(kp.args);
      break;
    case 'inet_csk_accept':
      direction = 'ingress';
      sock = kp.return?.sock_arg;
      break;
    case 'inet_csk_listen_start':
      direction = 'listen';
      sock = firstSock(kp.args);
      break;
    case 'udp_sendmsg':
    case 'udpv6_sendmsg':
      // Connected sockets only: sendto() on an unconnected one has its peer in the message.
      sock = firstSock(kp.args);
      if (sock && (!sock.dport || !sock.daddr || sock.daddr === '0.0.0.0' || sock.daddr === '::')) return 'ignored';
      direction = 'egress';
      break;
    case 'udp_recvmsg':
    case 'udpv6_recvmsg':
      return onDnsAnswer(ev, kp, p, node, ctx);
    case 'tcp_set_state': {
      // Upstream tcp-accept policy: a passive open reaches ESTABLISHED from SYN_RECV.
      sock = firstSock(kp.args);
      const newState = kp.args?.[1]?.int_arg;
      if (!sock || sock.state !== 'TCP_SYN_RECV' || newState !== TCP_ESTABLISHED) return 'ignored';
      direction = 'ingress';
      break;
    }
    default:
      return 'ignored';
  }
  if (!sock) return reject(ctx, 'missing-socket');
  const protocol = l4(sock.protocol);
  if (!protocol) return 'ignored';
  const identity = identityOf(p, node, ctx);
  const obs: Observation = {
    kind: 'network',
    ...common(ev, p, node, identity, rec, ctx, !rec.fromExec || ctx.lineage.isContainerPreexisting(rec.containerId)),
    direction,
    protocol,
    localIp: normaliseIp(sock.saddr),
    localPort: sock.sport || null,
    peerIp: direction === 'listen' ? null : normaliseIp(sock.daddr),
    peerPort: direction === 'listen' ? null : sock.dport || null,
    peerName: null,
    process: processContext(ctx, rec, unwrapU32(p.uid), p.user?.name || null, kp.parent?.binary || null),
  };
  if (direction === 'egress' && ctx.dns) obs.peerName = ctx.dns.nameOf(identity.workload, obs.peerIp, obs.time);
  return seal(obs, rec);
}

/** A DNS answer the workload received: remembered for its later connections, no observation. */
function onDnsAnswer(ev: TetragonEvent, kp: TgKprobe, p: TgProcess, node: string, ctx: NormaliseContext): NormaliseResult {
  const payload = kp.args?.find((a) => a?.bytes_arg)?.bytes_arg;
  if (!ctx.dns || !payload) return 'ignored';
  const identity = identityOf(p, node, ctx);
  const time = timestampToMs(ev.time) ?? (ctx.now ?? Date.now)();
  const bytes = typeof payload === 'string' ? Buffer.from(payload, 'base64') : payload;
  return ctx.dns.record(identity.workload, bytes, time) === 'recorded' ? 'state' : 'ignored';
}

/** The cache record of an event's process; learnt from the event when this agent never saw its exec. */
function known(ev: TgExec, p: TgProcess, ctx: NormaliseContext): ProcessRecord {
  const existing = p.exec_id ? ctx.lineage.get(p.exec_id) : undefined;
  if (existing) return existing;
  if (ev.ancestors) for (let i = ev.ancestors.length - 1; i >= 0; i--) rememberOther(ev.ancestors[i]!, ctx);
  if (ev.parent) rememberOther(ev.parent, ctx);
  const rec = remember(p, ctx, false, isProcFs(p));
  // First seen through a later event: the container ran before we watched it.
  ctx.lineage.markContainerPreexisting(rec.containerId);
  return rec;
}

/** Caches a process the event mentions (parent, ancestor) when unknown; returns it only if it was. */
function rememberOther(p: TgProcess, ctx: NormaliseContext): ProcessRecord | null {
  if (!p.exec_id || typeof p.binary !== 'string' || !p.binary || ctx.lineage.get(p.exec_id)) return null;
  return remember(p, ctx, false, isProcFs(p));
}

function remember(p: TgProcess, ctx: NormaliseContext, fromExec: boolean, procFs: boolean): ProcessRecord {
  return rememberProcess(ctx, {
    key: p.exec_id || `pid:${unwrapU32(p.pid) ?? 0}`,
    execId: p.exec_id || null,
    parentKey: p.parent_exec_id || null,
    exe: p.binary ?? '',
    args: p.arguments ?? '',
    pid: unwrapU32(p.pid),
    containerId: containerIdOf(p),
    containerPid: unwrapU32(p.pod?.container?.pid),
    inInitTree: unwrapBool(p.in_init_tree),
    procFs,
    fromExec,
  });
}

function isProcFs(p: TgProcess): boolean {
  return typeof p.flags === 'string' && p.flags.includes('procFS');
}

function containerIdOf(p: TgProcess): string | null {
  const id = p.pod?.container?.id;
  if (id) return stripRuntimePrefix(id);
  return p.docker || null;
}

function identityOf(p: TgProcess, node: string, ctx: NormaliseContext): WorkloadResolution {
  const pod = p.pod;
  if (!pod) return resolveIdentity(ctx, { cluster: ctx.cluster, node, namespace: null, pod: null, container: null, containerId: null });
  return resolveIdentity(ctx, {
    cluster: ctx.cluster,
    node,
    namespace: pod.namespace ?? null,
    pod: pod.name ?? null,
    container: pod.container?.name || null,
    containerId: containerIdOf(p),
    workload: pod.workload,
    workloadKind: pod.workload_kind,
    labels: pod.pod_labels,
  });
}

function common(
  ev: TetragonEvent,
  p: TgProcess,
  node: string,
  identity: WorkloadResolution,
  rec: ProcessRecord,
  ctx: NormaliseContext,
  preexisting: boolean,
): Omit<Observation, 'kind' | 'process' | 'direction' | 'protocol' | 'localIp' | 'localPort' | 'peerIp' | 'peerPort' | 'peerName'> {
  const container = p.pod?.container;
  return {
    source: ctx.source,
    time: timestampToMs(ev.time) ?? timestampToMs(p.start_time) ?? (ctx.now ?? Date.now)(),
    workload: identity.workload,
    identitySource: identity.identitySource,
    node,
    pod: p.pod?.name || null,
    run: identity.run,
    containerId: rec.containerId,
    image: imageOf(container?.image),
    containerStart: timestampToMs(container?.start_time),
    preexisting,
  };
}

function imageOf(image: TgImage | null | undefined): ImageRef {
  if (!image) return { name: null, digest: null };
  return { name: image.name || null, digest: imageDigest(image.id) };
}

function firstSock(args: readonly TgKprobeArg[] | null | undefined): TgSock | null {
  if (!args) return null;
  for (const a of args) if (a?.sock_arg) return a.sock_arg;
  return null;
}

function l4(protocol: Str): L4Protocol | null {
  if (protocol === 'IPPROTO_TCP' || !protocol) return 'tcp';
  if (protocol === 'IPPROTO_UDP') return 'udp';
  return null;
}
