/**
 * A node's worth of Tetragon traffic, as pre-encoded `GetEventsResponse` messages shaped like the
 * real ones in ../shared/fixtures/tetragon: every message starts from a recorded event (its
 * capabilities, namespaces, credentials and kprobe details stay as Tetragon wrote them) and only
 * the identity is replaced — workload, pod, container, image, exe, arguments, pids, exec_ids,
 * socket tuple and time.
 *
 * Workload `w` runs 100 executables and talks to 100 Service addresses: 200 baseline items. One
 * process lifecycle (w, j) is `exec` of executable j, a `tcp_connect` kprobe to peer j, and
 * `process_exit`; its parent is the workload's entrypoint (container PID 1), so lineage chains
 * complete as they do in a real pod. A lifecycle is encoded once as a template; each replay gets
 * a fresh exec_id written into a copy (same length, so the encoding stays valid), which keeps the
 * lineage cache filling and evicting as on a busy node without re-encoding anything.
 */
import { readFileSync } from 'node:fs';
import type protobuf from 'protobufjs';
import { sourceProtos, splitLengthPrefixed } from '../../agent/sources/protos.js';
import { packagePath } from '../../common/paths.js';
import { child, field, without } from './protowire.js';

export const ITEMS_PER_WORKLOAD = 200;
/** Lifecycles per workload: each covers one executable and one peer. */
export const LIFECYCLES_PER_WORKLOAD = ITEMS_PER_WORKLOAD / 2;
export const NODE = 'bench-node';
const PORTS = [443, 80, 5432, 6379, 8080];
/** exec_id = base64 of `bench-node:<14-digit generation>:<7-digit pid>`: a fixed length. */
const GENERATION_DIGITS = 14;

function fixture(file: string, index: number): Buffer {
  return splitLengthPrefixed(readFileSync(packagePath('..', 'shared', 'fixtures', 'tetragon', file)))[index]!;
}

/** Process fields this generator sets; every other field of the recorded process is kept as is. */
const PROCESS_VARIED = [1, 2, 5, 6, 8, 10, 11, 12, 16];

interface Recorded {
  /** Recorded process fields besides the varied ones (cap, ns, credentials, cwd, flags, uid…). */
  processRest: Buffer;
  /** GetEventsResponse fields besides the event, node_name and time (cluster_name…). */
  responseRest: Buffer;
  /** process_kprobe fields besides process, parent and args (function_name, return, action, policy…). */
  kprobeRest: Buffer;
  /** process_exit fields besides process and parent (signal, status, time). */
  exitRest: Buffer;
}

function recorded(): Recorded {
  const exec = fixture('k8s_workload_exec_exit.bin', 0);
  const exit = fixture('k8s_workload_exec_exit.bin', 2);
  const kprobe = fixture('process_kprobe_tcp.bin', 0);
  return {
    processRest: without(child(child(exec, 1), 1), PROCESS_VARIED),
    responseRest: without(exec, [1, 5, 9, 1000, 1001]),
    kprobeRest: without(child(kprobe, 9), [1, 2, 4]),
    exitRest: without(child(exit, 5), [1, 2]),
  };
}

export interface Workload {
  index: number;
  namespace: string;
  name: string;
  pod: string;
  containerId: string;
  imageName: string;
  imageId: string;
  podIp: string;
  entrypointExecId: string;
  entrypointPid: number;
}

export function workload(w: number): Workload {
  const hex = (seed: number, n: number): string => {
    let s = '';
    let x = seed * 2654435761 + 12345;
    while (s.length < n) {
      x = (x * 1103515245 + 12345) % 2 ** 31;
      s += x.toString(16).padStart(8, '0');
    }
    return s.slice(0, n);
  };
  return {
    index: w,
    namespace: `team-${w % 25}`,
    name: `svc-${w}`,
    pod: `svc-${w}-7d9f8b6c5d-${hex(w + 7, 5)}`,
    containerId: `containerd://${hex(w + 1, 64)}`,
    imageName: `registry.example.com/team-${w % 25}/svc-${w}:1.${w % 9}.0`,
    imageId: `registry.example.com/team-${w % 25}/svc-${w}@sha256:${hex(w + 3, 64)}`,
    podIp: `10.244.${(w >> 8) & 255}.${w & 255}`,
    entrypointExecId: Buffer.from(`${NODE}:${String(w).padStart(GENERATION_DIGITS, '9')}:${String(100_000 + w).padStart(7, '0')}`).toString('base64'),
    entrypointPid: 100_000 + w,
  };
}

export function exePath(w: number, j: number): string {
  return `/opt/svc-${w}/bin/worker-${j}`;
}

export function peer(w: number, j: number): { ip: string; port: number } {
  // Service ClusterIPs (10.96.0.0/12): each one an exact baseline item.
  return { ip: `10.${96 + ((w >> 8) & 15)}.${w & 255}.${j + 1}`, port: PORTS[j % PORTS.length]! };
}

export function execIdOf(generation: number, pid: number): string {
  return Buffer.from(`${NODE}:${String(generation).padStart(GENERATION_DIGITS, '0')}:${String(pid % 10_000_000).padStart(7, '0')}`).toString('base64');
}

/** One process lifecycle, encoded, with where its exec_id sits in each message. */
export interface Lifecycle {
  messages: Buffer[];
  /** Byte offsets of the exec_id in each message. */
  execIdAt: number[][];
  pid: number;
}

export class TetragonTraffic {
  private readonly rec = recorded();
  private readonly types = sourceProtos();
  private readonly proc: protobuf.Type;
  private readonly pod: protobuf.Type;
  private readonly arg: protobuf.Type;
  private readonly ts: protobuf.Type;
  private readonly workloads = new Map<number, Workload>();
  private readonly exeTime: number;
  /** Container start: long before any event, so no item counts as start-up behaviour. */
  private readonly containerStartMs: number;

  constructor(containerStartMs: number) {
    const root = this.types.tetragonResponse.root;
    this.proc = root.lookupType('tetragon.Process');
    this.pod = root.lookupType('tetragon.Pod');
    this.arg = root.lookupType('tetragon.KprobeArgument');
    this.ts = root.lookupType('google.protobuf.Timestamp');
    this.containerStartMs = containerStartMs;
    this.exeTime = containerStartMs + 60_000;
  }

  workload(w: number): Workload {
    let wl = this.workloads.get(w);
    if (!wl) this.workloads.set(w, (wl = workload(w)));
    return wl;
  }

  private timestamp(ms: number): Uint8Array {
    return this.ts.encode({ seconds: Math.floor(ms / 1000), nanos: (ms % 1000) * 1e6 }).finish();
  }

  private podBytes(wl: Workload, containerPid: number): Uint8Array {
    return this.pod
      .encode(
        this.pod.fromObject({
          namespace: wl.namespace,
          name: wl.pod,
          container: {
            id: wl.containerId,
            name: 'app',
            image: { id: wl.imageId, name: wl.imageName },
            start_time: { seconds: Math.floor(this.containerStartMs / 1000), nanos: 0 },
            pid: { value: containerPid },
          },
          pod_labels: { app: wl.name, 'pod-template-hash': '7d9f8b6c5d' },
          workload: wl.name,
          workload_kind: 'Deployment',
        }),
      )
      .finish();
  }

  private processBytes(wl: Workload, p: { execId: string; pid: number; binary: string; args: string; parentExecId: string; containerPid: number }): Buffer {
    const known = this.proc
      .encode(
        this.proc.fromObject({
          exec_id: p.execId,
          pid: { value: p.pid },
          tid: { value: p.pid },
          binary: p.binary,
          arguments: p.args,
          start_time: { seconds: Math.floor(this.exeTime / 1000), nanos: 0 },
          docker: wl.containerId.slice('containerd://'.length, 'containerd://'.length + 31),
          parent_exec_id: p.parentExecId,
        }),
      )
      .finish();
    return Buffer.concat([known, field(10, this.podBytes(wl, p.containerPid)), this.rec.processRest]);
  }

  private response(eventField: number, event: Buffer, timeMs: number): Buffer {
    return Buffer.concat([field(eventField, event), field(1000, Buffer.from(NODE)), field(1001, this.timestamp(timeMs)), this.rec.responseRest]);
  }

  /**
   * The lifecycle (w, j): exec → tcp_connect → exit, at event time `timeMs` (+1, +2 ms). `variant`
   * makes a different executable and peer than the baseline's (a new item: a deviation), run from
   * `variantDir` (`/tmp`: a writable path, a high-severity deviation; the workload's own bin
   * directory: a medium one, which waits for the grouping decision).
   */
  lifecycle(w: number, j: number, generation: number, timeMs: number, variant?: string, variantDir = '/tmp'): Lifecycle {
    const wl = this.workload(w);
    const pid = 200_000 + ((w * LIFECYCLES_PER_WORKLOAD + j) % 800_000);
    const execId = execIdOf(generation, pid);
    const binary = variant ? `${variantDir}/${variant}` : exePath(w, j);
    const parentExe = `/opt/svc-${w}/bin/server`;
    const process = this.processBytes(wl, { execId, pid, binary, args: `--job ${j} --config /etc/svc-${w}/config.yaml`, parentExecId: wl.entrypointExecId, containerPid: 40 + j });
    const parent = this.processBytes(wl, { execId: wl.entrypointExecId, pid: wl.entrypointPid, binary: parentExe, args: '--listen :8080', parentExecId: '', containerPid: 1 });
    const p = variant ? { ip: `203.0.113.${(w + j) & 255}`, port: 4444 } : peer(w, j);
    const sock = this.arg
      .encode(
        this.arg.fromObject({
          sock_arg: {
            family: 'AF_INET',
            type: 'SOCK_STREAM',
            protocol: 'IPPROTO_TCP',
            saddr: wl.podIp,
            daddr: p.ip,
            sport: 32768 + ((pid * 7) % 28000),
            dport: p.port,
            cookie: String(18446635049337231936n - BigInt(pid)),
            state: 'TCP_SYN_SENT',
          },
        }),
      )
      .finish();
    const exec = this.response(1, Buffer.concat([field(1, process), field(2, parent)]), timeMs);
    const connect = this.response(9, Buffer.concat([field(1, process), field(2, parent), field(4, sock), this.rec.kprobeRest]), timeMs + 1);
    const exit = this.response(5, Buffer.concat([field(1, process), field(2, parent), this.rec.exitRest]), timeMs + 2);
    const needle = Buffer.from(execId);
    const messages = [exec, connect, exit];
    return { messages, execIdAt: messages.map((m) => offsetsOf(m, needle)), pid };
  }
}

function offsetsOf(haystack: Buffer, needle: Buffer): number[] {
  const out: number[] = [];
  for (let at = haystack.indexOf(needle); at >= 0; at = haystack.indexOf(needle, at + 1)) out.push(at);
  return out;
}

/** The lifecycle's messages with a new exec_id (a new process as far as any reader can tell). */
export function replay(l: Lifecycle, generation: number): Buffer[] {
  const id = Buffer.from(execIdOf(generation, l.pid));
  return l.messages.map((m, i) => {
    const copy = Buffer.allocUnsafe(m.length);
    m.copy(copy);
    for (const at of l.execIdAt[i]!) id.copy(copy, at);
    return copy;
  });
}
