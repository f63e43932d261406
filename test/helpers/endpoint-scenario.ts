/**
 * Tetragon protojson events (the shapes of ../shared/fixtures/tetragon and of the shipped
 * TracingPolicy's hooks) for workloads whose external peers rotate, as the agent reads them from
 * `tetra getevents -o json` output:
 *
 * - `process_exec` of each workload's main process;
 * - `process_kprobe udp_recvmsg` with a `sock_arg` (peer port 53) and a `bytes_arg` holding the DNS
 *   answer in wire format (base64, as protojson prints bytes);
 * - `process_kprobe tcp_connect` / `udp_sendmsg` with the connection's `sock_arg`.
 *
 * Deterministic: addresses and ports come from counters, never from a clock or a PRNG.
 */
import { dnsResponse, type AnswerSpec } from './dns-wire.js';

export type TetragonLine = Record<string, unknown>;

export interface Workload {
  namespace: string;
  name: string;
  container: string;
  exe: string;
  args: string;
  podIp: string;
  node: string;
  /** The container image (a release); default: one fixed digest, tag 1.0. */
  image?: { digest: string; tag: string };
}

interface Running {
  w: Workload;
  /** When the pod's main process started (the container's start time is a second before). */
  startedAt: number;
  pod: string;
  containerId: string;
  execId: string;
  pid: number;
}

const IMAGE_DIGEST = 'sha256:' + '7'.repeat(64);

export class EndpointRecorder {
  private readonly lines: { at: number; seq: number; line: TetragonLine }[] = [];
  private seq = 0;
  private pid = 5000;
  private port = 40000;
  private readonly running = new Map<Workload, Running>();

  /** Starts the workload's main process (one pod). */
  start(at: number, w: Workload): void {
    const n = this.running.size + 1;
    const r: Running = {
      w,
      startedAt: at,
      pod: `${w.name}-7c9d8f6b5-${'abcde'.slice(0, 5 - (n % 3))}${n}`,
      containerId: n.toString(16).padStart(64, 'c'),
      execId: Buffer.from(`${w.node}:${at}:${this.pid}`).toString('base64'),
      pid: this.pid++,
    };
    this.running.set(w, r);
    this.emit(at, w.node, { process_exec: { process: this.proc(r, at), parent: this.shim(r, at) } });
  }

  /** Runs another executable in the workload's container (a child of its main process). */
  exec(at: number, w: Workload, exe: string, args: string): void {
    const r = this.get(w);
    const child: Running = { ...r, execId: Buffer.from(`${w.node}:${at}:${this.pid}`).toString('base64'), pid: this.pid++ };
    const proc = { ...this.proc(child, at), binary: exe, arguments: args, parent_exec_id: r.execId };
    this.emit(at, w.node, { process_exec: { process: proc, parent: this.proc(r, at) } });
  }

  /** The workload receives a DNS answer from its resolver (kube-dns, port 53). */
  dnsAnswer(at: number, w: Workload, answer: AnswerSpec, resolver = '10.96.0.10'): void {
    const r = this.get(w);
    this.kprobe(at, r, 'udp_recvmsg', [
      { sock_arg: { family: 'AF_INET', type: 'SOCK_DGRAM', protocol: 'IPPROTO_UDP', saddr: w.podIp, daddr: resolver, sport: this.port++, dport: 53, cookie: '18446600000000000000', state: 'TCP_ESTABLISHED' } },
      { bytes_arg: dnsResponse(answer).toString('base64') },
    ]);
  }

  connect(at: number, w: Workload, daddr: string, dport: number): void {
    const r = this.get(w);
    this.kprobe(at, r, 'tcp_connect', [{ sock_arg: { family: daddr.includes(':') ? 'AF_INET6' : 'AF_INET', type: 'SOCK_STREAM', protocol: 'IPPROTO_TCP', saddr: w.podIp, daddr, sport: this.port++, dport, cookie: '18446600000000000064', state: 'TCP_SYN_SENT' } }]);
  }

  /** A datagram sent on a connected UDP socket. */
  udpSend(at: number, w: Workload, daddr: string, dport: number): void {
    const r = this.get(w);
    this.kprobe(at, r, 'udp_sendmsg', [{ sock_arg: { family: 'AF_INET', type: 'SOCK_DGRAM', protocol: 'IPPROTO_UDP', saddr: w.podIp, daddr, sport: this.port++, dport, cookie: '18446600000000000128', state: 'TCP_ESTABLISHED' } }]);
  }

  /** Every event, in event-time order, one JSON object a line. */
  jsonl(): string {
    return this.lines
      .sort((a, b) => a.at - b.at || a.seq - b.seq)
      .map((l) => JSON.stringify(l.line))
      .join('\n')
      .concat('\n');
  }

  private get(w: Workload): Running {
    const r = this.running.get(w);
    if (!r) throw new Error(`workload ${w.name} not started`);
    return r;
  }

  private kprobe(at: number, r: Running, fn: string, args: Record<string, unknown>[]): void {
    this.emit(at, r.w.node, { process_kprobe: { process: this.proc(r, at), parent: this.shim(r, at), function_name: fn, args, action: 'KPROBE_ACTION_POST', policy_name: 'driftwatch-tcp' } });
  }

  private proc(r: Running, at: number): Record<string, unknown> {
    const w = r.w;
    return {
      exec_id: r.execId,
      pid: r.pid,
      uid: 1000,
      cwd: '/app',
      binary: w.exe,
      arguments: w.args,
      flags: 'execve clone',
      start_time: new Date(at).toISOString(),
      pod: {
        namespace: w.namespace,
        name: r.pod,
        container: { id: `containerd://${r.containerId}`, name: w.container, image: { id: `registry.example/${w.name}@${w.image?.digest ?? IMAGE_DIGEST}`, name: `registry.example/${w.name}:${w.image?.tag ?? '1.0'}` }, start_time: new Date(r.startedAt - 1000).toISOString(), pid: 1 },
        workload: w.name,
        workload_kind: 'Deployment',
      },
      docker: r.containerId.slice(0, 31),
      parent_exec_id: Buffer.from(`${w.node}:shim:${r.containerId.slice(0, 8)}`).toString('base64'),
      in_init_tree: true,
    };
  }

  private shim(r: Running, at: number): Record<string, unknown> {
    return { exec_id: Buffer.from(`${r.w.node}:shim:${r.containerId.slice(0, 8)}`).toString('base64'), pid: 900, uid: 0, binary: '/usr/bin/containerd-shim-runc-v2', flags: 'execve clone', start_time: new Date(at - 2000).toISOString() };
  }

  private emit(at: number, node: string, body: TetragonLine): void {
    this.lines.push({ at, seq: this.seq++, line: { ...body, node_name: node, time: new Date(at).toISOString() } });
  }
}
