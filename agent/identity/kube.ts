/**
 * The Kubernetes API view of this node's pods: a list+watch of `spec.nodeName=<node>` (never the
 * whole cluster), with each pod's controller resolved to the workload a human means:
 * ReplicaSet → its Deployment, Job → its CronJob (looked up once per owner and cached; when the
 * lookup is denied or fails, the pod-template-hash / scheduled-time naming rules decide).
 *
 * RBAC needed: get/list/watch pods, get replicasets (apps), get jobs (batch).
 */
import { AppsV1Api, BatchV1Api, CoreV1Api, KubeConfig, ListWatch, Watch, type V1Pod } from '@kubernetes/client-node';
import { Backoff, sleep } from '../../common/backoff.js';
import { once, type Component } from '../../common/lifecycle.js';
import type { Logger } from '../../common/logger.js';
import type { WorkloadKind } from '../../common/model.js';
import { cronJobOfJob, deploymentOfReplicaSet, type InferredWorkload } from './naming.js';

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
}

const DIRECT_KINDS: ReadonlySet<string> = new Set<WorkloadKind>(['StatefulSet', 'DaemonSet', 'ReplicationController', 'DeploymentConfig']);

export class KubePodIndex implements Component {
  readonly name = 'kubernetes-pods';
  private readonly pods = new Map<string, Map<string, PodInfo>>();
  private readonly owners = new Map<string, Promise<InferredWorkload | null>>();
  /** Latest event per pod: an owner lookup that finishes after a newer event is discarded. */
  private readonly generation = new Map<string, number>();
  private nextGeneration = 1;
  private readonly core: CoreV1Api;
  private readonly apps: AppsV1Api;
  private readonly batch: BatchV1Api;
  private informer: ListWatch<V1Pod> | undefined;
  private readonly abort = new AbortController();
  private readonly backoff = new Backoff({ initialMs: 500, maxMs: 30_000 });
  private restarting = false;
  /** True once the first list has been applied and while the watch is healthy. */
  synced = false;
  /** Called after a pod is added, changed or deleted (the resolver drops what it cached for it). */
  onChange: (namespace: string, pod: string) => void = () => {};

  constructor(
    private readonly kubeConfig: KubeConfig,
    private readonly node: string,
    private readonly logger: Logger,
  ) {
    this.core = kubeConfig.makeApiClient(CoreV1Api);
    this.apps = kubeConfig.makeApiClient(AppsV1Api);
    this.batch = kubeConfig.makeApiClient(BatchV1Api);
  }

  get(namespace: string, pod: string): PodInfo | undefined {
    return this.pods.get(namespace)?.get(pod);
  }

  async start(): Promise<void> {
    const fieldSelector = `spec.nodeName=${this.node}`;
    const informer = new ListWatch<V1Pod>(
      '/api/v1/pods',
      new Watch(this.kubeConfig),
      () => this.core.listPodForAllNamespaces({ fieldSelector }),
      false,
      undefined,
      fieldSelector,
    );
    this.informer = informer;
    informer.on('add', (pod) => void this.upsert(pod));
    informer.on('update', (pod) => void this.upsert(pod));
    informer.on('delete', (pod) => this.remove(pod));
    informer.on('connect', () => {
      this.synced = true;
    });
    informer.on('error', (err) => void this.restart(err));
    // Not awaited to the end: a cluster that is unreachable must not block the agent's start.
    informer.start().catch((err: unknown) => void this.restart(err));
  }

  /** ListWatch stops on errors other than 410: relist with backoff until closed. */
  private async restart(err: unknown): Promise<void> {
    this.synced = false;
    if (this.restarting || this.abort.signal.aborted) return;
    this.restarting = true;
    try {
      const delay = this.backoff.next();
      this.logger.warn('kubernetes pod watch failed; retrying', { error: String((err as Error)?.message ?? err), retryInMs: delay });
      await sleep(delay, this.abort.signal);
      if (this.abort.signal.aborted) return;
      await this.informer?.start();
      this.backoff.reset();
    } catch (e) {
      this.restarting = false;
      return this.restart(e);
    } finally {
      this.restarting = false;
    }
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
    };
    info.workload = await this.ownerOf(pod, namespace, name, labels);
    if (this.generation.get(`${namespace}/${name}`) !== gen) return;
    let ns = this.pods.get(namespace);
    if (!ns) this.pods.set(namespace, (ns = new Map()));
    ns.set(name, info);
    this.onChange(namespace, name);
  }

  private remove(pod: V1Pod): void {
    const namespace = pod.metadata?.namespace ?? '';
    const name = pod.metadata?.name ?? '';
    this.generation.delete(`${namespace}/${name}`);
    this.pods.get(namespace)?.delete(name);
    this.onChange(namespace, name);
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
      p = lookup().catch(() => fallback);
      this.owners.set(key, p);
      if (this.owners.size > 10_000) this.owners.delete(this.owners.keys().next().value as string);
    }
    return p;
  }

  close = once(async () => {
    this.abort.abort();
    this.synced = false;
    await this.informer?.stop();
  });
}

/** `containerd://<64 hex>` → its first 12 hex characters (what both sources can be compared on). */
export function stripToKey(containerId: string): string {
  const i = containerId.indexOf('://');
  const id = i >= 0 ? containerId.slice(i + 3) : containerId;
  return id.slice(0, 12);
}
