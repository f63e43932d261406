/**
 * Falco alert → Observation. One mapping for the body Falco POSTs with `json_output: true`
 * (HTTP output, JSON file/stdout output) and the `falco.outputs.response` of the legacy gRPC
 * output: the same keys, but on gRPC every output field is a string (`<NA>` for unknown, ports
 * and pids as decimal text) and `time` is a Timestamp — values.ts reads both alike.
 *
 * Classification (by `evt.type`, which driftwatch's own rules always print):
 * | evt.type | result |
 * |---|---|
 * | execve, execveat | process observation |
 * | connect | egress: local = fd.cip:fd.cport, peer = fd.sip:fd.sport |
 * | accept, accept4 | ingress: local = fd.sip:fd.sport, peer = fd.cip:fd.cport |
 * | listen | listen on fd.sip:fd.sport |
 * | anything else (openat…) | ignored |
 * Rules of other rule files that do not print evt.type: a connection tuple in `fd.name`
 * (`cip:cport->sip:sport`) is a connection (ingress when `fd.is_server` says so, else egress:
 * such rules are connect rules, e.g. the stock "Contact K8S API Server From Container"); no
 * `fd.name` at all but a process is a spawn (e.g. "Terminal shell in container"); an `fd.name`
 * that is not a tuple (files) is ignored. Falco's own `internal` messages are read for its loss
 * reports (sensor-loss.ts); other sources (`k8s_audit`, plugins) are ignored. Unknown values
 * (JSON null, gRPC `<NA>`) are null, never 0 or "".
 */
import { normaliseIp, type L4Protocol, type NetworkDirection, type Observation } from '../../common/model.js';
import type { ProcessRecord } from '../lineage/cache.js';
import type { WorkloadResolution } from '../identity/resolver.js';
import { processContext, reject, remember, resolveIdentity, seal, type NormaliseContext, type NormaliseResult } from './context.js';
import { falcoLossReport } from './sensor-loss.js';
import { fieldInt, fieldText, imageDigest, timestampToMs, type TimestampLike } from './values.js';

export interface FalcoAlert {
  hostname?: string | null;
  output_fields?: Readonly<Record<string, unknown>> | null;
  rule?: string | null;
  source?: string | null;
  time?: TimestampLike;
}

/** Every output field the normaliser reads (the rules file must print all of them). */
export const FALCO_FIELDS = [
  'evt.type',
  'proc.exepath',
  'proc.exe',
  'proc.name',
  'proc.args',
  'proc.cmdline',
  'proc.pid',
  'proc.vpid',
  'proc.ppid',
  'proc.pexepath',
  'proc.pname',
  'user.uid',
  'user.name',
  'fd.name',
  'fd.l4proto',
  'fd.sip',
  'fd.sport',
  'fd.cip',
  'fd.cport',
  'fd.sip.name',
  'fd.cip.name',
  'fd.is_server',
  'container.id',
  'container.name',
  'container.image.repository',
  'container.image.tag',
  'container.image.digest',
  'k8s.ns.name',
  'k8s.pod.name',
  'k8s.pod.labels',
] as const;

/**
 * Fields the rules file does not need to print: alternatives that only other producers (older
 * rules, the k8smeta plugin, Docker-era fields) fill in.
 */
export const FALCO_OPTIONAL_FIELDS = ['container.full_id', 'k8smeta.ns.name', 'k8smeta.pod.name', 'k8smeta.deployment.name', 'k8smeta.rs.name'] as const;

type Fields = Readonly<Record<string, unknown>>;

export function normaliseFalco(alert: FalcoAlert, ctx: NormaliseContext): NormaliseResult {
  if (alert === null || typeof alert !== 'object' || Array.isArray(alert)) return reject(ctx, 'not-an-event');
  const f = alert.output_fields;
  if (f === null || typeof f !== 'object' || typeof alert.rule !== 'string') return reject(ctx, 'missing-fields');
  const source = alert.source || 'syscall';
  if (source === 'internal') return falcoLossReport(alert.rule, f, ctx);
  if (source !== 'syscall') return 'ignored';

  const evtType = fieldText(f['evt.type']);
  const fdName = fieldText(f['fd.name']);
  let kind: 'process' | NetworkDirection;
  switch (evtType) {
    case 'execve':
    case 'execveat':
      kind = 'process';
      break;
    case 'connect':
      kind = 'egress';
      break;
    case 'accept':
    case 'accept4':
      kind = 'ingress';
      break;
    case 'listen':
      kind = 'listen';
      break;
    case null:
      if (fdName === null) kind = 'process';
      else if (fdName.includes('->')) kind = fieldText(f['fd.is_server']) === 'true' ? 'ingress' : 'egress';
      else return 'ignored';
      break;
    default:
      return 'ignored';
  }

  const exe = fieldText(f['proc.exepath']) ?? fieldText(f['proc.exe']) ?? fieldText(f['proc.name']) ?? firstWord(fieldText(f['proc.cmdline']));
  if (exe === null) return reject(ctx, 'missing-process');
  const time = timestampToMs(alert.time);
  const node = alert.hostname || ctx.node;
  const containerId = containerIdOf(f);
  const pid = fieldInt(f['proc.pid']);
  const key = pid !== null ? `${node}#${pid}` : null;
  const ppid = fieldInt(f['proc.ppid']);

  // An exec (re)defines the process; a connection reuses what the exec taught, or learns the
  // process from this event (first seen through a later event: its container predates us).
  let rec: ProcessRecord | undefined = kind !== 'process' && key !== null ? ctx.lineage.get(key) : undefined;
  if (!rec) {
    rec = remember(ctx, {
      key: key ?? `${node}#?`,
      execId: null,
      parentKey: ppid !== null ? `${node}#${ppid}` : null,
      exe,
      args: argsOf(f),
      pid,
      containerId,
      containerPid: fieldInt(f['proc.vpid']),
      inInitTree: null,
      procFs: false,
      fromExec: kind === 'process',
    });
    if (kind !== 'process') ctx.lineage.markContainerPreexisting(containerId);
  }

  const identity = identityOf(f, node, containerId, ctx);
  const parentExe = fieldText(f['proc.pexepath']) ?? fieldText(f['proc.pname']);
  const base = {
    source: ctx.source,
    time: time ?? (ctx.now ?? Date.now)(),
    workload: identity.workload,
    identitySource: identity.identitySource,
    node,
    pod: identity.identitySource === 'host' ? null : podOf(f),
    run: identity.run,
    containerId,
    image: imageOf(f),
    containerStart: null,
  };
  const process = processContext(ctx, rec, fieldInt(f['user.uid']), fieldText(f['user.name']), parentExe);
  if (kind === 'process') {
    return seal({ kind: 'process', ...base, preexisting: ctx.lineage.isContainerPreexisting(containerId), process }, rec);
  }

  const protocol = l4(fieldText(f['fd.l4proto']));
  if (!protocol) return 'ignored';
  // A listening socket's fd.name is just `ip:port`.
  const tuple = fdName ? (parseTuple(fdName) ?? (kind === 'listen' ? parseEndpointAsServer(fdName) : null)) : null;
  const cip = normaliseIp(fieldText(f['fd.cip']) ?? tuple?.cip);
  const cport = fieldInt(f['fd.cport']) ?? tuple?.cport ?? null;
  const sip = normaliseIp(fieldText(f['fd.sip']) ?? tuple?.sip);
  const sport = fieldInt(f['fd.sport']) ?? tuple?.sport ?? null;
  const obs: Observation = {
    kind: 'network',
    ...base,
    preexisting: !rec.fromExec || ctx.lineage.isContainerPreexisting(containerId),
    direction: kind,
    protocol,
    localIp: kind === 'egress' ? cip : sip,
    localPort: kind === 'egress' ? cport : sport,
    peerIp: kind === 'egress' ? sip : kind === 'ingress' ? cip : null,
    peerPort: kind === 'egress' ? sport : kind === 'ingress' ? cport : null,
    peerName: kind === 'egress' ? fieldText(f['fd.sip.name']) : kind === 'ingress' ? fieldText(f['fd.cip.name']) : null,
    process,
  };
  return seal(obs, rec);
}

function argsOf(f: Fields): string {
  const args = fieldText(f['proc.args']);
  if (args !== null) return args;
  // proc.cmdline = comm + ' ' + args.
  const cmdline = fieldText(f['proc.cmdline']);
  if (cmdline === null) return '';
  const i = cmdline.indexOf(' ');
  return i < 0 ? '' : cmdline.slice(i + 1);
}

function firstWord(s: string | null): string | null {
  if (s === null) return null;
  const i = s.indexOf(' ');
  return i < 0 ? s : s.slice(0, i) || null;
}

function containerIdOf(f: Fields): string | null {
  const id = fieldText(f['container.full_id']) ?? fieldText(f['container.id']);
  return id === null || id === 'host' ? null : id;
}

function podOf(f: Fields): string | null {
  return fieldText(f['k8s.pod.name']) ?? fieldText(f['k8smeta.pod.name']);
}

function identityOf(f: Fields, node: string, containerId: string | null, ctx: NormaliseContext): WorkloadResolution {
  const pod = podOf(f);
  const namespace = fieldText(f['k8s.ns.name']) ?? fieldText(f['k8smeta.ns.name']);
  if (containerId === null || pod === null || namespace === null) {
    return resolveIdentity(ctx, { cluster: ctx.cluster, node, namespace: null, pod: null, container: null, containerId: null });
  }
  const deployment = fieldText(f['k8smeta.deployment.name']);
  const rs = deployment === null ? fieldText(f['k8smeta.rs.name']) : null;
  const containerName = fieldText(f['container.name']);
  return resolveIdentity(ctx, {
    cluster: ctx.cluster,
    node,
    namespace,
    pod,
    container: containerName === 'host' ? null : containerName,
    containerId,
    workload: deployment ?? rs,
    workloadKind: deployment !== null ? 'Deployment' : rs !== null ? 'ReplicaSet' : null,
    labels: fieldText(f['k8s.pod.labels']),
  });
}

function imageOf(f: Fields): { name: string | null; digest: string | null } {
  const repo = fieldText(f['container.image.repository']);
  const tag = fieldText(f['container.image.tag']);
  const digest = fieldText(f['container.image.digest']);
  return {
    name: repo === null ? null : tag === null ? repo : `${repo}:${tag}`,
    digest: digest === null ? null : (imageDigest(digest) ?? `sha256:${digest}`),
  };
}

function l4(proto: string | null): L4Protocol | null {
  if (proto === null || proto === 'tcp') return 'tcp';
  if (proto === 'udp') return 'udp';
  return null;
}

const TUPLE = /^\[?(.+?)\]?:(\d+)->\[?(.+?)\]?:(\d+)$/;

const ENDPOINT = /^\[?(.+?)\]?:(\d+)$/;

function parseEndpointAsServer(name: string): { cip: null; cport: null; sip: string; sport: number } | null {
  const m = ENDPOINT.exec(name);
  return m ? { cip: null, cport: null, sip: m[1]!, sport: Number(m[2]) } : null;
}

/** Falco's `fd.name` of a connected socket: `cip:cport->sip:sport` (IPv6 possibly bracketed). */
export function parseTuple(name: string): { cip: string; cport: number; sip: string; sport: number } | null {
  const m = TUPLE.exec(name);
  if (!m) return null;
  return { cip: m[1]!, cport: Number(m[2]), sip: m[3]!, sport: Number(m[4]) };
}
