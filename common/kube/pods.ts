/**
 * The Kubernetes API view of pods: a list+watch of this node's pods (`spec.nodeName=<node>`, the
 * agent: never the whole cluster) or of every pod (the collector, which names peers by pod IP),
 * with each pod's controller resolved to the workload a human means: ReplicaSet → its Deployment,
 * Job → its CronJob (looked up once per owner and cached; when the lookup is denied or fails, the
 * pod-template-hash / scheduled-time naming rules decide).
 *
 * RBAC needed: get/list/watch pods, get replicasets (apps), get jobs (batch).
 */
import { AppsV1Api, BatchV1Api, CoreV1Api, KubeConfig, type V1Pod } from '@kubernetes/client-node';
import { WatchedList } from './client.js';
import { once, type Component } from '../lifecycle.js';
import type { Logger } from '../logger.js';
import { normaliseIp, type WorkloadKind } from '../model.js';
import { cronJobOfJob, deploymentOfReplicaSet, stripToKey, type InferredWorkload } from './naming.js';

export { stripToKey };

export interface PodInfo {
  namespace: string;
  name: string;
  labels: Readonly<Record<string, string>>;
  /** The owning workload; null when the owner is of a kind driftwatch does not model. */
  workload: InferredWorkload | null;
  /** container id (first 12 hex chars, runtime prefix stripped) → container name. */
  containersById: ReadonlyMap<string, string>;
  /** The pod's only container when it has exactly one (Falco without container.name). */
  soleContainer: string | null;
  /**
   * The pod's own addresses (normalised): none for a hostNetwork pod (its address is the
   * node's), before one is allocated, or once the pod has finished (its address is free again).
   */
  ips: readonly string[];
  /** Being deleted: it may still talk, but a new pod with its address takes precedence. */
  terminating: boolean;
  /** `spec.nodeName`: null until scheduled. */
  node: string | null;
  /** `status.phase` (Pending, Running, Succeeded, Failed, Unknown); null when not reported. */
  phase: string | null;
  /** Kind of the controlling owner reference (`DaemonSet`, `ReplicaSet`, `Node` for a static pod…); null for a bare pod. */
  controllerKind: string | null;
  /** A kubelet mirror of a static pod (annotation `kubernetes.io/config.mirror`). */
  mirror: boolean;
}

export interface KubePodIndexOptions {
  /** Watch only this node's pods (the agent); absent = every pod in the cluster (the collector). */
  node?: string;
  /** Owner lookups in flight at once (a cluster-wide first list can name thousands of owners). */
  maxLookups?: number;
}

const DIRECT_KINDS: ReadonlySet<string> = new Set<WorkloadKind>(['StatefulSet', 'DaemonSet', 'ReplicationController', 'DeploymentConfig']);

export class KubePodIndex implements Component {
  readonly name = 'kubernetes-pods';
  private readonly pods = new Map<string, Map<string, PodInfo>>();
  /** Pod address → the pod holding it. */
  private readonly byIp = new Map<string, PodInfo>();
  private readonly owners = new Map<string, Promise<InferredWorkload | null>>();
  /** Latest event per pod: an owner lookup that finishes after a newer event is discarded. */
  private readonly generation = new Map<string, number>();
  private nextGeneration = 1;
  private readonly apps: AppsV1Api;
  private readonly batch: BatchV1Api;
  private readonly watched: WatchedList<V1Pod>;
  private readonly maxLookups: number;
  private lookupsInFlight = 0;
  private readonly lookupQueue: (() => void)[] = [];
  /** Called after a pod is added, changed or deleted (the resolver drops what it cached for it). */
  onChange: (namespace: string, pod: string) => void = () => {};

  constructor(kubeConfig: KubeConfig, logger: Logger, opts: KubePodIndexOptions = {}) {
    const core = kubeConfig.makeApiClient(CoreV1Api);
    this.apps = kubeConfig.makeApiClient(AppsV1Api);
    this.batch = kubeConfig.makeApiClient(BatchV1Api);
    this.maxLookups = opts.maxLookups ?? 16;
    const fieldSelector = opts.node !== undefined ? `spec.nodeName=${opts.node}` : undefined;
    this.watched = new WatchedList<V1Pod>({
      kubeConfig,
      path: '/api/v1/pods',
      list: () => core.listPodForAllNamespaces(fieldSelector !== undefined ? { fieldSelector } : {}),
      ...(fieldSelector !== undefined ? { fieldSelector } : {}),
      what: 'pod',
      logger,
      upsert: (pod) => void this.upsert(pod),
      remove: (pod) => this.remove(pod),
    });
  }

  /** True once the first list has been applied and while the watch is healthy. */
  get synced(): boolean {
    return this.watched.synced;
  }

  /** Since when a once-synced watch has been failing (epoch ms); null while synced or never synced. */
  get unsyncedSince(): number | null {
    return this.watched.unsyncedSince;
  }

  get(namespace: string, pod: string): PodInfo | undefined {
    return this.pods.get(namespace)?.get(pod);
  }

  /** The pod holding a (normalised) address. */
  podWithIp(ip: string): PodInfo | undefined {
    return this.byIp.get(ip);
  }

  /** Every pod held. */
  *all(): IterableIterator<PodInfo> {
    for (const ns of this.pods.values()) yield* ns.values();
  }

  async start(): Promise<void> {
    // Not awaited to the end: a cluster that is unreachable must not block the process's start.
    this.watched.start();
  }

  private async upsert(pod: V1Pod): Promise<void> {
    const namespace = pod.metadata?.namespace ?? '';
    const name = pod.metadata?.name ?? '';
    if (!name) return;
    const gen = this.nextGeneration++;
    this.generation.set(`${namespace}/${name}`, gen);
    const labels = pod.metadata?.labels ?? {};
    const containersById = new Map<string, string>();
    for (const s of [...(pod.status?.containerStatuses ?? []), ...(pod.status?.initContainerStatuses ?? [])]) {
      if (s.containerID) containersById.set(stripToKey(s.containerID), s.name);
    }
    const specContainers = pod.spec?.containers ?? [];
    const info: PodInfo = {
      namespace,
      name,
      labels,
      workload: null,
      containersById,
      soleContainer: specContainers.length === 1 ? specContainers[0]!.name : null,
      ips: podIps(pod),
      terminating: Boolean(pod.metadata?.deletionTimestamp),
      node: pod.spec?.nodeName || null,
      phase: pod.status?.phase ?? null,
      controllerKind: (pod.metadata?.ownerReferences?.find((r) => r.controller) ?? pod.metadata?.ownerReferences?.[0])?.kind ?? null,
      mirror: pod.metadata?.annotations?.['kubernetes.io/config.mirror'] !== undefined,
    };
    info.workload = await this.ownerOf(pod, namespace, name, labels);
    if (this.generation.get(`${namespace}/${name}`) !== gen) return;
    let ns = this.pods.get(namespace);
    if (!ns) this.pods.set(namespace, (ns = new Map()));
    const previous = ns.get(name);
    if (previous) this.releaseIps(previous);
    ns.set(name, info);
    for (const ip of info.ips) {
      const holder = this.byIp.get(ip);
      // Addresses are reused: a live pod keeps an address against a terminating one that still lists it.
      if (!holder || !info.terminating || holder.terminating) this.byIp.set(ip, info);
    }
    this.onChange(namespace, name);
  }

  private remove(pod: V1Pod): void {
    const namespace = pod.metadata?.namespace ?? '';
    const name = pod.metadata?.name ?? '';
    this.generation.delete(`${namespace}/${name}`);
    const ns = this.pods.get(namespace);
    const info = ns?.get(name);
    if (info) this.releaseIps(info);
    ns?.delete(name);
    if (ns?.size === 0) this.pods.delete(namespace);
    this.onChange(namespace, name);
  }

  /** Forgets the addresses this pod version holds (not those another pod has taken since). */
  private releaseIps(info: PodInfo): void {
    for (const ip of info.ips) {
      const holder = this.byIp.get(ip);
      if (holder && holder.namespace === info.namespace && holder.name === info.name) this.byIp.delete(ip);
    }
  }

  private async ownerOf(pod: V1Pod, namespace: string, name: string, labels: Record<string, string>): Promise<InferredWorkload | null> {
    const ref = pod.metadata?.ownerReferences?.find((r) => r.controller) ?? pod.metadata?.ownerReferences?.[0];
    if (!ref) return { kind: 'Pod', name };
    if (ref.kind === 'ReplicaSet') {
      const viaRule = deploymentOfReplicaSet(ref.name, labels['pod-template-hash']);
      return this.lookupOwner(`rs/${namespace}/${ref.name}`, async () => {
        const rs = await this.apps.readNamespacedReplicaSet({ name: ref.name, namespace });
        const dep = rs.metadata?.ownerReferences?.find((r) => r.kind === 'Deployment');
        return dep ? { kind: 'Deployment', name: dep.name } : { kind: 'ReplicaSet', name: ref.name };
      }, viaRule ? { kind: 'Deployment', name: viaRule } : { kind: 'ReplicaSet', name: ref.name });
    }
    if (ref.kind === 'Job') {
      const viaRule = cronJobOfJob(ref.name);
      return this.lookupOwner(`job/${namespace}/${ref.name}`, async () => {
        const job = await this.batch.readNamespacedJob({ name: ref.name, namespace });
        const cron = job.metadata?.ownerReferences?.find((r) => r.kind === 'CronJob');
        return cron ? { kind: 'CronJob', name: cron.name } : { kind: 'Job', name: ref.name };
      }, viaRule ? { kind: 'CronJob', name: viaRule } : { kind: 'Job', name: ref.name });
    }
    if (DIRECT_KINDS.has(ref.kind)) return { kind: ref.kind as WorkloadKind, name: ref.name };
    return null;
  }

  /** One lookup per owner object; a failed lookup falls back to the naming rule (and is cached). */
  private lookupOwner(key: string, lookup: () => Promise<InferredWorkload>, fallback: InferredWorkload): Promise<InferredWorkload | null> {
    let p = this.owners.get(key);
    if (!p) {
      p = this.limited(lookup).catch(() => fallback);
      this.owners.set(key, p);
      if (this.owners.size > 10_000) this.owners.delete(this.owners.keys().next().value as string);
    }
    return p;
  }

  /** Runs `fn` when fewer than maxLookups are in flight (a finished lookup hands its slot on). */
  private async limited<T>(fn: () => Promise<T>): Promise<T> {
    if (this.lookupsInFlight >= this.maxLookups) await new Promise<void>((resolve) => this.lookupQueue.push(resolve));
    else this.lookupsInFlight++;
    try {
      return await fn();
    } finally {
      const next = this.lookupQueue.shift();
      if (next) next();
      else this.lookupsInFlight--;
    }
  }

  close = once(async () => {
    await this.watched.close();
  });
}

const FINISHED_PHASES: ReadonlySet<string> = new Set(['Succeeded', 'Failed']);

function podIps(pod: V1Pod): string[] {
  if (pod.spec?.hostNetwork || FINISHED_PHASES.has(pod.status?.phase ?? '')) return [];
  const ips = new Set<string>();
  for (const entry of pod.status?.podIPs ?? []) {
    const ip = normaliseIp(entry.ip);
    if (ip) ips.add(ip);
  }
  const primary = normaliseIp(pod.status?.podIP);
  if (primary) ips.add(primary);
  return [...ips];
}
