/**
 * Workload identity: who a process belongs to, as the baseline scope
 * (cluster / namespace / kind / name / container). In order of trust:
 *
 * 1. the source itself (Tetragon `pod.workload` + `workload_kind`; Falco `k8smeta.*`);
 * 2. the Kubernetes API (this node's pods, owners followed: ReplicaSet → Deployment,
 *    Job → CronJob) — see kube.ts;
 * 3. naming conventions and labels (naming.ts), marked `inferred`.
 *
 * A process outside any pod gets the node's host identity (kind `Host`, name = node).
 *
 * `resolve()` is on the hot path: results are cached per cluster → namespace → pod → container in nested
 * maps (no key concatenation per lookup) and the WorkloadId objects are frozen and shared.
 */
import type { KubeConfig } from '@kubernetes/client-node';
import type { AgentConfig } from '../../common/config/schema.js';
import { kubeConfigFor } from '../../common/kube/client.js';
import { once, type Component, type Readiness } from '../../common/lifecycle.js';
import type { Logger } from '../../common/logger.js';
import { WORKLOAD_KINDS, type IdentitySource, type WorkloadId, type WorkloadKind } from '../../common/model.js';
import { KubePodIndex, stripToKey } from '../../common/kube/pods.js';
import { containerNameFromRuntimeName, cronJobOfJob, inferWorkload, parseFalcoLabels } from '../../common/kube/naming.js';

export interface IdentityInput {
  cluster: string;
  node: string;
  /** null = not in a pod (host process). */
  namespace: string | null;
  pod: string | null;
  /** Kubernetes container name when the source has it. */
  container: string | null;
  containerId: string | null;
  /** Owner as the source reports it (Tetragon pod.workload / workload_kind). */
  workload?: string | null;
  workloadKind?: string | null;
  /** Pod labels: a map (Tetragon) or Falco's `k1:v1,k2:v2` text; only read on a cache miss. */
  labels?: Readonly<Record<string, string>> | string | null;
}

export interface WorkloadResolution {
  readonly workload: Readonly<WorkloadId>;
  readonly identitySource: IdentitySource;
}

export interface WorkloadResolver extends Component {
  resolve(input: IdentityInput): WorkloadResolution;
  /** Ready when it can answer from its best available path (API synced, or no API configured). */
  readiness(): Readiness;
}

const KNOWN_KINDS: ReadonlySet<string> = new Set(WORKLOAD_KINDS);
/** Bound of the resolution cache; it is cleared when exceeded (pods on one node are few). */
const MAX_CACHED = 20_000;

export class IdentityResolver implements WorkloadResolver {
  readonly name = 'identity';
  /** cluster → namespace → pod → container → resolution (one cluster in practice). */
  private readonly cache = new Map<string, Map<string, Map<string, Map<string, WorkloadResolution>>>>();
  private readonly hosts = new Map<string, Map<string, WorkloadResolution>>();
  private cached = 0;

  constructor(private readonly pods: KubePodIndex | null) {
    if (pods) pods.onChange = (namespace, pod) => this.forget(namespace, pod);
  }

  async start(): Promise<void> {
    await this.pods?.start();
  }

  close = once(async () => {
    await this.pods?.close();
  });

  readiness(): Readiness {
    if (!this.pods) return { name: this.name, ready: true, detail: 'kubernetes API not used' };
    return this.pods.synced
      ? { name: this.name, ready: true }
      : { name: this.name, ready: false, detail: 'kubernetes pod watch not synced (identities are inferred meanwhile)' };
  }

  resolve(input: IdentityInput): WorkloadResolution {
    const { namespace, pod } = input;
    if (namespace === null || pod === null || namespace === '' || pod === '') return this.host(input.cluster, input.node);
    const containerKey = input.container ?? (input.containerId ? `#${stripToKey(input.containerId)}` : '');
    let byNamespace = this.cache.get(input.cluster);
    if (!byNamespace) this.cache.set(input.cluster, (byNamespace = new Map()));
    let byPod = byNamespace.get(namespace);
    if (!byPod) byNamespace.set(namespace, (byPod = new Map()));
    let byContainer = byPod.get(pod);
    if (!byContainer) byPod.set(pod, (byContainer = new Map()));
    let hit = byContainer.get(containerKey);
    if (hit) return hit;
    hit = this.compute(input, namespace, pod);
    if (++this.cached > MAX_CACHED) {
      this.cache.clear();
      this.cached = 1;
      this.cache.set(input.cluster, new Map([[namespace, new Map([[pod, (byContainer = new Map())]])]]));
    }
    byContainer.set(containerKey, hit);
    return hit;
  }

  private host(cluster: string, node: string): WorkloadResolution {
    let byNode = this.hosts.get(cluster);
    if (!byNode) this.hosts.set(cluster, (byNode = new Map()));
    let h = byNode.get(node);
    if (!h) {
      h = Object.freeze({
        workload: Object.freeze({ cluster, namespace: '', kind: 'Host' as const, name: node, container: '' }),
        identitySource: 'host' as const,
      });
      byNode.set(node, h);
    }
    return h;
  }

  private compute(input: IdentityInput, namespace: string, pod: string): WorkloadResolution {
    const api = this.pods?.get(namespace, pod);
    const container = this.containerName(input, api?.containersById, api?.soleContainer ?? null);
    const make = (kind: WorkloadKind, name: string, identitySource: IdentitySource): WorkloadResolution =>
      Object.freeze({ workload: Object.freeze({ cluster: input.cluster, namespace, kind, name, container }), identitySource });

    const fromSource = sourceWorkload(input.workloadKind, input.workload);
    if (fromSource) return make(fromSource.kind, fromSource.name, 'source');
    if (api?.workload) return make(api.workload.kind, api.workload.name, 'kubernetes-api');
    const labels = typeof input.labels === 'string' ? parseFalcoLabels(input.labels) : (input.labels ?? api?.labels ?? null);
    const inferred = inferWorkload(pod, labels);
    return make(inferred.kind, inferred.name, 'inferred');
  }

  private containerName(input: IdentityInput, byId: ReadonlyMap<string, string> | undefined, sole: string | null): string {
    if (input.container) return containerNameFromRuntimeName(input.container);
    if (input.containerId && byId) {
      const name = byId.get(stripToKey(input.containerId));
      if (name) return name;
    }
    return sole ?? '';
  }

  private forget(namespace: string, pod: string): void {
    for (const byNamespace of this.cache.values()) {
      const byPod = byNamespace.get(namespace);
      const byContainer = byPod?.get(pod);
      if (!byPod || !byContainer) continue;
      this.cached -= byContainer.size;
      byPod.delete(pod);
    }
  }
}

/**
 * The owner the source reports, when it is one driftwatch models. Tetragon already rewrites
 * ReplicaSet → Deployment and a CronJob's Job → CronJob; a bare Job named like a CronJob run is
 * still mapped to the CronJob so every run shares one baseline.
 */
function sourceWorkload(kind: string | null | undefined, name: string | null | undefined): { kind: WorkloadKind; name: string } | null {
  if (!kind || !name || !KNOWN_KINDS.has(kind) || kind === 'Host') return null;
  if (kind === 'Job') {
    const cron = cronJobOfJob(name);
    if (cron) return { kind: 'CronJob', name: cron };
  }
  return { kind: kind as WorkloadKind, name };
}

export interface IdentityResolverOptions {
  /** Overrides `agent.kubernetes` (tests, or a caller that already has one). */
  kubeConfig?: KubeConfig;
}

/**
 * The resolver for an agent config. `agent.kubernetes.mode`: `off` = naming rules only;
 * `in-cluster` = the pod's service account; `kubeconfig` = `agent.kubernetes.kubeconfig` (or the
 * default kubeconfig); `auto` = in-cluster when running in a pod, else off.
 */
export function createIdentityResolver(agent: AgentConfig, logger: Logger, opts: IdentityResolverOptions = {}): IdentityResolver {
  const kc = opts.kubeConfig ?? kubeConfigFor(agent.kubernetes);
  const pods = kc && agent.node ? new KubePodIndex(kc, logger, { node: agent.node }) : null;
  if (kc && !agent.node) logger.warn('agent.node is empty: not watching the Kubernetes API (identities are inferred)');
  return new IdentityResolver(pods);
}
