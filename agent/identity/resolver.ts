/**
 * Workload identity: who a process belongs to, as the baseline scope
 * (cluster / namespace / kind / name / container). In order of trust:
 *
 * 1. the source itself (Tetragon `pod.workload` + `workload_kind`; Falco `k8smeta.*`);
 * 2. the Kubernetes API (this node's pods, owners followed: ReplicaSet → Deployment,
 *    Job → CronJob) — see kube.ts; it also overrules a source that names a Job, because a Job
 *    started by hand from a CronJob (`kubectl create job --from=cronjob/x`) is owned by that
 *    CronJob while its pods' own owner, all a source sees, is the Job;
 * 3. naming conventions and labels (naming.ts), marked `inferred`.
 *
 * A process outside any pod gets the node's host identity (kind `Host`, name = node).
 *
 * `resolve()` is on the hot path: results are cached per cluster → namespace → pod → container in nested
 * maps (no key concatenation per lookup) and the WorkloadId objects are frozen and shared.
 *
 * The Kubernetes API is used on demand: the pod watch (and the Kubernetes client library, some
 * 65 MB of resident memory) is loaded the first time an event does not carry its own workload and
 * container name. Tetragon's events always do, so an agent reading only Tetragon never loads it.
 */
import type { KubeConfig } from '@kubernetes/client-node';
import type { AgentConfig } from '../../common/config/schema.js';
import { once, type Component, type Readiness } from '../../common/lifecycle.js';
import type { Logger } from '../../common/logger.js';
import { isRunToCompletion, WORKLOAD_KINDS, type IdentitySource, type WorkloadId, type WorkloadKind } from '../../common/model.js';
import type { KubePodIndex } from '../../common/kube/pods.js';
import { kubernetesAccess } from '../../common/kube/access.js';
import { containerNameFromRuntimeName, cronJobOfJob, inferWorkload, jobRunOf, parseFalcoLabels, stripToKey } from '../../common/kube/naming.js';

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
  /** Run-to-completion workloads: the run (Job) the pod belongs to; null for the others. */
  readonly run: string | null;
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

  /** The pod watch, once an event needed it. */
  private pods: KubePodIndex | null = null;
  private loading: Promise<void> | null = null;
  private closed = false;

  /** `loadPods`: how to get this node's pod watch when first needed; null = never use the API. */
  constructor(
    private readonly loadPods: (() => Promise<KubePodIndex>) | null,
    private readonly logger?: Logger,
  ) {}

  async start(): Promise<void> {
    // Nothing to do until an event needs the API (see the module comment).
  }

  close = once(async () => {
    this.closed = true;
    await this.loading;
    await this.pods?.close();
  });

  readiness(): Readiness {
    if (!this.loadPods) return { name: this.name, ready: true, detail: 'kubernetes API not used' };
    if (!this.loading) return { name: this.name, ready: true, detail: 'kubernetes API not needed so far (every event named its workload)' };
    return this.pods?.synced
      ? { name: this.name, ready: true }
      : { name: this.name, ready: false, detail: 'kubernetes pod watch not synced (identities are inferred meanwhile)' };
  }

  /** Starts the pod watch once; identities resolved before it syncs are replaced as pods arrive. */
  private needApi(): void {
    if (!this.loadPods || this.loading || this.closed) return;
    this.loading = this.loadPods()
      .then(async (pods) => {
        if (this.closed) return;
        pods.onChange = (namespace, pod) => this.forget(namespace, pod);
        this.pods = pods;
        await pods.start();
      })
      .catch((err: unknown) => {
        this.logger?.error('kubernetes pod watch could not start; identities are inferred', { error: String(err) });
      });
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
        run: null,
      });
      byNode.set(node, h);
    }
    return h;
  }

  private compute(input: IdentityInput, namespace: string, pod: string): WorkloadResolution {
    const fromSource = sourceWorkload(input.workloadKind, input.workload);
    const sourceSaysJob = fromSource?.kind === 'Job';
    if (!fromSource || !input.container || sourceSaysJob) this.needApi();
    const api = this.pods?.get(namespace, pod);
    const container = this.containerName(input, api?.containersById, api?.soleContainer ?? null);
    const labels = typeof input.labels === 'string' ? parseFalcoLabels(input.labels) : (input.labels ?? api?.labels ?? null);
    const make = (kind: WorkloadKind, name: string, identitySource: IdentitySource): WorkloadResolution =>
      Object.freeze({
        workload: Object.freeze({ cluster: input.cluster, namespace, kind, name, container }),
        identitySource,
        run: isRunToCompletion(kind) ? jobRunOf(labels, pod) : null,
      });

    if (fromSource && !(sourceSaysJob && api?.workload)) return make(fromSource.kind, fromSource.name, 'source');
    if (api?.workload) return make(api.workload.kind, api.workload.name, 'kubernetes-api');
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
  if (!opts.kubeConfig && kubernetesAccess(agent.kubernetes) === 'off') return new IdentityResolver(null, logger);
  if (!agent.node) {
    logger.warn('agent.node is empty: not watching the Kubernetes API (identities are inferred)');
    return new IdentityResolver(null, logger);
  }
  const node = agent.node;
  return new IdentityResolver(async () => {
    const [{ kubeConfigFor }, { KubePodIndex }] = await Promise.all([import('../../common/kube/client.js'), import('../../common/kube/pods.js')]);
    const kc = opts.kubeConfig ?? kubeConfigFor(agent.kubernetes);
    if (!kc) throw new Error('no Kubernetes API configuration');
    return new KubePodIndex(kc, logger, { node });
  }, logger);
}
