/**
 * Names in-cluster peers from the Kubernetes API (issue 4): a pod address → the workload that
 * owns it (`<namespace>/<kind>/<name>`, the same identity the agent gives that pod's own
 * processes), a Service ClusterIP → `<namespace>/<name>`. The engine's ItemDeriver asks on every
 * network observation in the pod / service ranges, so lookups are one Map read.
 *
 * When it cannot answer (API not listed yet, or unreachable) it returns null and the engine falls
 * back to the classes (`class|pod-cidr`, the bare ClusterIP). A watch that fails after having been
 * synced keeps answering from what it holds for `staleGraceMs`: an API server restart must not turn
 * every pod-to-pod connection of an active baseline into a deviation, while addresses reused long
 * after the view went stale must not be named after their previous owner.
 */
import type { KubeConfig } from '@kubernetes/client-node';
import { KubePodIndex, type PodInfo } from '../../common/kube/pods.js';
import { inferWorkload } from '../../common/kube/naming.js';
import type { CollectorConfig } from '../../common/config/schema.js';
import type { PeerResolver } from '../../common/items/derive.js';
import { kubeConfigFor } from '../../common/kube/client.js';
import { once, type Component, type Readiness } from '../../common/lifecycle.js';
import type { Logger } from '../../common/logger.js';
import type { PodsView } from '../health/agent-missing.js';
import { KubeServiceIndex } from './services.js';

export interface KubePeerResolver extends PeerResolver, Component {
  /** Ready when its answers are current (or when no API is used). */
  readiness(): Readiness;
  /** The cluster's pods as watched (the health monitor's agent-missing check); null without an API. */
  podsView(): PodsView | null;
}

export interface PeerResolverOptions {
  /** Overrides `collector.kubernetes` (tests, or a caller that already has one). */
  kubeConfig?: KubeConfig;
  /** How long a failed watch keeps answering from its last view (default 5 min). */
  staleGraceMs?: number;
  now?: () => number;
}

const NAME = 'kubernetes-peers';
const DEFAULT_STALE_GRACE_MS = 5 * 60_000;

interface Freshness {
  readonly synced: boolean;
  readonly unsyncedSince: number | null;
}

export class KubernetesPeerResolver implements KubePeerResolver {
  readonly name = NAME;
  /** Per pod version (PodInfo objects are replaced on every change): its workload, built once. */
  private readonly workloadNames = new WeakMap<PodInfo, string>();
  private readonly staleGraceMs: number;
  private readonly now: () => number;

  constructor(
    private readonly pods: KubePodIndex,
    private readonly services: KubeServiceIndex,
    opts: Omit<PeerResolverOptions, 'kubeConfig'> = {},
  ) {
    this.staleGraceMs = opts.staleGraceMs ?? DEFAULT_STALE_GRACE_MS;
    this.now = opts.now ?? Date.now;
  }

  async start(): Promise<void> {
    await this.pods.start();
    await this.services.start();
  }

  close = once(async () => {
    await this.services.close();
    await this.pods.close();
  });

  workloadOf(ip: string): string | null {
    if (!this.answers(this.pods)) return null;
    const pod = this.pods.podWithIp(ip);
    if (!pod) return null;
    let name = this.workloadNames.get(pod);
    if (name === undefined) {
      // An owner of a kind driftwatch does not model: named as the agent names that pod's processes.
      const workload = pod.workload ?? inferWorkload(pod.name, pod.labels);
      name = `${pod.namespace}/${workload.kind}/${workload.name}`;
      this.workloadNames.set(pod, name);
    }
    return name;
  }

  serviceOf(ip: string): string | null {
    if (!this.answers(this.services)) return null;
    return this.services.serviceWithIp(ip) ?? null;
  }

  podsView(): PodsView {
    return this.pods;
  }

  readiness(): Readiness {
    const behind = [this.pods.synced ? null : 'pods', this.services.synced ? null : 'services'].filter((x) => x !== null);
    if (behind.length === 0) return { name: this.name, ready: true };
    return { name: this.name, ready: false, detail: `kubernetes ${behind.join(' and ')} watch not synced (peers are named by address class meanwhile)` };
  }

  private answers(index: Freshness): boolean {
    if (index.synced) return true;
    const since = index.unsyncedSince;
    return since !== null && this.now() - since < this.staleGraceMs;
  }
}

/** `collector.kubernetes.mode` off, or `auto` outside a cluster: nothing is resolved. */
class NoPeerResolver implements KubePeerResolver {
  readonly name = NAME;
  async start(): Promise<void> {}
  async close(): Promise<void> {}
  workloadOf(): string | null {
    return null;
  }
  serviceOf(): string | null {
    return null;
  }
  podsView(): null {
    return null;
  }
  readiness(): Readiness {
    return { name: this.name, ready: true, detail: 'kubernetes API not used' };
  }
}

/**
 * The resolver for a collector config (`collector.kubernetes`, modes as for the agent: see
 * common/kube.ts). Watches every pod and Service in the cluster.
 */
export function createPeerResolver(config: Readonly<CollectorConfig>, logger: Logger, opts: PeerResolverOptions = {}): KubePeerResolver {
  const kc = opts.kubeConfig ?? kubeConfigFor(config.kubernetes);
  if (!kc) return new NoPeerResolver();
  return new KubernetesPeerResolver(new KubePodIndex(kc, logger), new KubeServiceIndex(kc, logger), opts);
}
